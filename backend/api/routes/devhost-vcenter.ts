// Dev host only (demo and browser tests): vCenter's own Recent Tasks, Events and triggered Alarms,
// read from the lab vCenter with the signed-in user's session, so the dev host shows them where the
// vSphere Client does. Not mounted outside the dev host (config.devHost).
import type { RouteDef } from '../routes.ts';
import type { Schema } from '../schema.ts';
import { siteSession } from './operations.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { EXTENSION_KEY } from '../../model/vcenter-tasks.ts';

export interface VcTaskRow { key: string; name: string; entity?: string; state: string; progress?: number; startTime?: string; completeTime?: string; error?: string; initiatedBy?: string }
export interface VcEventRow { key: number; type: string; eventTypeId?: string; time: string; message: string; entity?: string; user?: string; severity?: string }
export interface VcAlarmRow { alarm: string; entity: string; entityType: string; status: string; time: string; acknowledged: boolean }

type TaskInfo = {
  key: string; name?: string; descriptionId?: string; entityName?: string; state: string; progress?: number; startTime?: Date; completeTime?: Date;
  error?: { localizedMessage?: string }; reason?: { userName?: string };
};

const MaxQuery: Schema = { type: 'object', additionalProperties: false, properties: { max: { type: 'integer', minimum: 1, maximum: 200 }, locale: { type: 'string', enum: ['en', 'de'] } } };

/** Our extension's task labels (its resourceList), as the vSphere Client names extension tasks. */
async function taskLabels(vs: VSphere, locale: string): Promise<Map<string, string>> {
  const ext = await vs.extensions.find(EXTENSION_KEY).catch(() => undefined);
  const res = ext?.resourceList?.find((r) => r.module === 'task' && r.locale === locale) ?? ext?.resourceList?.find((r) => r.module === 'task');
  return new Map((res?.data ?? []).map((d) => [d.key.replace(/\.label$/, ''), d.value]));
}

const iso = (d: Date | string | undefined) => (d ? new Date(d).toISOString() : undefined);

export function devhostVcenterRoutes(): RouteDef[] {
  const vsOf = (user: Parameters<typeof siteSession>[0]) => siteSession(user, '').vs;
  return [
    {
      method: 'get', path: '/devhost/vcenter/tasks', tag: 'dev host', query: MaxQuery, summary: 'Dev host: vCenter\'s Recent Tasks (TaskManager.recentTask)',
      handler: async ({ user, query }): Promise<VcTaskRow[]> => {
        const vs = vsOf(user);
        const q = query as { max?: number; locale?: string };
        const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: MoRef[] }>(vs.client.serviceContent.taskManager!, ['recentTask']);
        const refs = (recentTask ?? []).slice(-(q.max ?? 50));
        const [labels, infos] = await Promise.all([
          taskLabels(vs, q.locale ?? 'en'),
          Promise.all(refs.map((r) => vs.pc.retrieveOne<{ info?: TaskInfo }>(r, ['info']).then((x) => x.info, () => undefined))),
        ]);
        return infos.flatMap((i) => (i ? [{
          key: i.key, name: labels.get(i.descriptionId ?? '') ?? i.descriptionId ?? i.name ?? 'Task', ...(i.entityName ? { entity: i.entityName } : {}),
          state: i.state, ...(i.progress !== undefined ? { progress: i.progress } : {}), ...(i.startTime ? { startTime: iso(i.startTime)! } : {}),
          ...(i.completeTime ? { completeTime: iso(i.completeTime)! } : {}), ...(i.error?.localizedMessage ? { error: i.error.localizedMessage } : {}),
          ...(i.reason?.userName ? { initiatedBy: i.reason.userName } : {}),
        }] : [])).reverse();
      },
    },
    {
      method: 'get', path: '/devhost/vcenter/events', tag: 'dev host', query: MaxQuery, summary: 'Dev host: vCenter\'s newest events (EventManager.QueryEvents)',
      handler: async ({ user, query }): Promise<VcEventRow[]> => {
        const events = await vsOf(user).events.recent((query as { max?: number }).max ?? 50);
        return events.map((e) => {
          const entity = (e.vm?.name ?? (e as { objectName?: string }).objectName ?? (e as { datacenter?: { name?: string } }).datacenter?.name) as string | undefined;
          return {
            key: e.key, type: e._type ?? 'Event', ...(typeof e.eventTypeId === 'string' ? { eventTypeId: e.eventTypeId } : {}), time: iso(e.createdTime)!,
            message: e.fullFormattedMessage ?? e.message ?? '', ...(entity ? { entity } : {}), ...(e.userName ? { user: e.userName } : {}),
            ...(typeof e.severity === 'string' ? { severity: e.severity } : {}),
          };
        }).sort((a, b) => b.key - a.key);
      },
    },
    {
      method: 'get', path: '/devhost/vcenter/alarms', tag: 'dev host', summary: 'Dev host: triggered alarms on every VM and datacenter (triggeredAlarmState)',
      handler: async ({ user }): Promise<VcAlarmRow[]> => {
        const vs = vsOf(user);
        type Ent = { name: string; triggeredAlarmState?: { alarm: MoRef; overallStatus: string; time: Date; acknowledged?: boolean }[] };
        const [vms, dcs, alarms] = await Promise.all([
          vs.pc.retrieveAllOfType<Ent>('VirtualMachine', ['name', 'triggeredAlarmState']),
          vs.pc.retrieveAllOfType<Ent>('Datacenter', ['name', 'triggeredAlarmState']),
          vs.alarms.list().catch(() => []),
        ]);
        const names = new Map(alarms.map((a) => [a.ref.value, a.name]));
        return [...vms, ...dcs].flatMap((e) => (e.props.triggeredAlarmState ?? []).map((s) => ({
          alarm: names.get(s.alarm.value) ?? s.alarm.value, entity: e.props.name, entityType: e.ref.type, status: s.overallStatus,
          time: iso(s.time)!, acknowledged: s.acknowledged === true,
        }))).sort((a, b) => b.time.localeCompare(a.time));
      },
    },
  ];
}
