// AlarmManager: alarm definitions (CreateAlarm, GetAlarm, ReconfigureAlarm, RemoveAlarm) and the
// alarms triggered on entities (GetAlarmState, triggeredAlarmState), as vCenter's Alarms views show them.
import type { VimClient } from './client.ts';
import type { PropertyCollector } from './property-collector.ts';
import type { MoRef } from './types.ts';

export type AlarmStatus = 'gray' | 'green' | 'yellow' | 'red';

/** One trigger of an event alarm: an event of this type turns the alarm to `status` (green resets it). */
export interface EventTrigger {
  /** "EventEx" for extension events, else a vim25 event class (e.g. "VmPoweredOffEvent"). */
  eventType: string;
  /** For EventEx: the extension's event type id. */
  eventTypeId?: string;
  /** The entity type the alarm watches ("VirtualMachine", "Datacenter", …). */
  objectType?: string;
  status: AlarmStatus;
}

export interface AlarmDefinition {
  name: string;
  /** A stable name vCenter keeps next to the (translatable) name: how we find our alarms again. */
  systemName?: string;
  description: string;
  enabled: boolean;
  triggers: EventTrigger[];
}

export interface AlarmInfo extends AlarmDefinition {
  ref: MoRef;
  entity: MoRef;
  lastModifiedTime?: Date;
}

export interface TriggeredAlarm {
  key: string;
  alarm: MoRef;
  entity: MoRef;
  overallStatus: AlarmStatus;
  time: Date;
  acknowledged: boolean;
}

type WireAlarmInfo = {
  name: string; systemName?: string; description: string; enabled: boolean; key: string; alarm: MoRef; entity: MoRef;
  lastModifiedTime?: Date; expression?: { _type?: string; expression?: WireExpression[] } & WireExpression;
};
type WireExpression = { _type?: string; eventType?: string; eventTypeId?: string; objectType?: string; status?: AlarmStatus };
type WireState = { key: string; alarm: MoRef; entity: MoRef; overallStatus: AlarmStatus; time: Date; acknowledged?: boolean };

/** The AlarmSpec on the wire: an OrAlarmExpression of event expressions. */
function spec(d: AlarmDefinition): Record<string, unknown> {
  return {
    _type: 'AlarmSpec',
    name: d.name,
    ...(d.systemName ? { systemName: d.systemName } : {}),
    description: d.description,
    enabled: d.enabled,
    expression: {
      _type: 'OrAlarmExpression',
      expression: d.triggers.map((t) => ({
        _type: 'EventAlarmExpression', eventType: t.eventType,
        ...(t.eventTypeId ? { eventTypeId: t.eventTypeId } : {}), ...(t.objectType ? { objectType: t.objectType } : {}), status: t.status,
      })),
    },
    setting: { toleranceRange: 0, reportingFrequency: 300 },
  };
}

function triggersOf(e: WireAlarmInfo['expression']): EventTrigger[] {
  if (!e) return [];
  const list = e._type === 'OrAlarmExpression' || e.expression ? e.expression ?? [] : [e];
  return list.filter((x) => x.eventType).map((x) => ({
    eventType: x.eventType!, ...(x.eventTypeId ? { eventTypeId: x.eventTypeId } : {}), ...(x.objectType ? { objectType: x.objectType } : {}),
    status: x.status ?? 'red',
  }));
}

export class Alarms {
  readonly client: VimClient;
  readonly pc: PropertyCollector;

  constructor(client: VimClient, pc: PropertyCollector) {
    this.client = client;
    this.pc = pc;
  }

  get manager(): MoRef {
    const m = this.client.serviceContent.alarmManager as MoRef | undefined;
    if (!m) throw new Error('this endpoint has no AlarmManager (an ESXi host, not vCenter): alarms need vCenter');
    return m;
  }

  async create(entity: MoRef, d: AlarmDefinition): Promise<MoRef> {
    return this.client.call<MoRef>('CreateAlarm', { _this: this.manager, entity, spec: spec(d) });
  }

  async reconfigure(alarm: MoRef, d: AlarmDefinition): Promise<void> {
    await this.client.call('ReconfigureAlarm', { _this: alarm, spec: spec(d) });
  }

  async remove(alarm: MoRef): Promise<void> {
    await this.client.call('RemoveAlarm', { _this: alarm });
  }

  /** The alarms defined on an entity (every alarm without one), with their definitions. */
  async list(entity?: MoRef): Promise<AlarmInfo[]> {
    const refs = (await this.client.call<MoRef[] | undefined>('GetAlarm', { _this: this.manager, ...(entity ? { entity } : {}) })) ?? [];
    const infos = await Promise.all(refs.map(async (ref) => {
      const p = await this.pc.retrieveOne<{ info?: WireAlarmInfo }>(ref, ['info']).catch(() => ({} as { info?: WireAlarmInfo }));
      return p.info ? { ref, i: p.info } : undefined;
    }));
    return infos.flatMap((x) => (x ? [{
      ref: x.ref, entity: x.i.entity, name: x.i.name, ...(x.i.systemName ? { systemName: x.i.systemName } : {}),
      description: x.i.description ?? '', enabled: x.i.enabled, triggers: triggersOf(x.i.expression),
      ...(x.i.lastModifiedTime ? { lastModifiedTime: x.i.lastModifiedTime } : {}),
    }] : []));
  }

  /** The alarms triggered on an entity now (red or yellow). */
  async triggered(entity: MoRef): Promise<TriggeredAlarm[]> {
    const r = (await this.client.call<WireState[] | undefined>('GetAlarmState', { _this: this.manager, entity })) ?? [];
    return r.map((s) => ({ key: s.key, alarm: s.alarm, entity: s.entity, overallStatus: s.overallStatus, time: s.time, acknowledged: s.acknowledged === true }));
  }
}
