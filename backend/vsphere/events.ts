// Events: EventManager.LogUserEvent (a line in the object's Monitor > Events in the vSphere Client) and
// QueryEvents for reading them back.
import type { VimClient } from './client.ts';
import type { MoRef } from './types.ts';

export type VimEvent = {
  _type?: string; key: number; chainId: number; createdTime: Date; userName: string; fullFormattedMessage?: string;
  message?: string; vm?: { name: string; vm: MoRef }; [k: string]: unknown;
};

export class Events {
  readonly client: VimClient;

  constructor(client: VimClient) {
    this.client = client;
  }

  get manager(): MoRef {
    const em = this.client.serviceContent.eventManager;
    if (!em) throw new Error('this endpoint has no EventManager');
    return em;
  }

  async logUserEvent(entity: MoRef, msg: string): Promise<void> {
    await this.client.call('LogUserEvent', { _this: this.manager, entity, msg });
  }

  /** An extension event (EventEx with one of our event type ids), which vCenter alarms can trigger on. */
  async post(e: ExtensionEvent): Promise<void> {
    await postExtensionEvent(this.client, this.manager, e);
  }

  /** The newest events anywhere in the inventory (vCenter's Monitor > Events), newest last. */
  async recent(maxCount = 50): Promise<VimEvent[]> {
    const r = await this.client.call<VimEvent[] | undefined>('QueryEvents', { _this: this.manager, filter: { maxCount } });
    return r ?? [];
  }

  /** Recent events of an entity (EventManager.QueryEvents with an entity filter), newest last as vCenter returns them. */
  async query(entity: MoRef, opts: { types?: string[]; maxCount?: number } = {}): Promise<VimEvent[]> {
    const r = await this.client.call<VimEvent[] | undefined>('QueryEvents', {
      _this: this.manager,
      filter: { entity: { entity, recursion: 'self' }, type: opts.types, maxCount: opts.maxCount },
    });
    return r ?? [];
  }
}

/** The entity an extension event is about, with its name (vCenter shows it in the event's line). */
export type EventEntity = { ref: MoRef; name: string };

export interface ExtensionEvent {
  /** One of the extension's declared event type ids, e.g. com.stillpoint.plugin.BackupFailed. */
  eventTypeId: string;
  entity: EventEntity;
  /** The event's text as the vSphere Client shows it. */
  message: string;
  severity?: 'info' | 'warning' | 'error' | 'user';
}

const ENTITY_ARG: Record<string, string> = { VirtualMachine: 'vm', HostSystem: 'host', Datacenter: 'datacenter', Datastore: 'ds' };

/** EventManager.PostEvent of an EventEx: alarms defined on the extension's event type ids trigger on it. */
export async function postExtensionEvent(client: VimClient, manager: MoRef, e: ExtensionEvent): Promise<void> {
  const field = ENTITY_ARG[e.entity.ref.type];
  const arg = field ? { [field]: { name: e.entity.name, [field === 'datacenter' ? 'datacenter' : field === 'ds' ? 'datastore' : field]: e.entity.ref } } : {};
  await client.call('PostEvent', {
    _this: manager,
    eventToPost: {
      _type: 'EventEx', key: 0, chainId: 0, createdTime: new Date(), userName: '', ...arg,
      fullFormattedMessage: e.message, eventTypeId: e.eventTypeId, severity: e.severity ?? 'info', message: e.message,
      objectId: e.entity.ref.value, objectType: e.entity.ref.type, objectName: e.entity.name,
    },
  });
}
