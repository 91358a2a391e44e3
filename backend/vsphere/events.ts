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

  /** Recent events of an entity (EventManager.QueryEvents with an entity filter), newest last as vCenter returns them. */
  async query(entity: MoRef, opts: { types?: string[]; maxCount?: number } = {}): Promise<VimEvent[]> {
    const r = await this.client.call<VimEvent[] | undefined>('QueryEvents', {
      _this: this.manager,
      filter: { entity: { entity, recursion: 'self' }, type: opts.types, maxCount: opts.maxCount },
    });
    return r ?? [];
  }
}
