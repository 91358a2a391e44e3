// ExtensionManager: register/update/find/unregister the Stillpoint extension (remote plugin + task types).
import type { VimClient } from './client.ts';
import type { MoRef } from './types.ts';

export type ExtensionDescription = { label: string; summary: string };
export type ExtensionServerInfo = { url: string; description: ExtensionDescription; company: string; type: string; adminEmail: string[]; serverThumbprint?: string };
export type ExtensionClientInfo = { version: string; description: ExtensionDescription; company: string; type: string; url: string };
export type ExtensionResourceInfo = { locale: string; module: string; data: { key: string; value: string }[] };

export type Extension = {
  description: ExtensionDescription;
  key: string;
  company?: string;
  type?: string;
  version: string;
  subjectName?: string;
  server?: ExtensionServerInfo[];
  client?: ExtensionClientInfo[];
  taskList?: { taskID: string }[];
  eventList?: { eventID: string; eventTypeSchema?: string }[];
  faultList?: { faultID: string }[];
  privilegeList?: { privID: string; privGroupName: string }[];
  resourceList?: ExtensionResourceInfo[];
  lastHeartbeatTime?: Date;
  shownInSolutionManager?: boolean;
  [k: string]: unknown;
};

/** Extension in wire order with the required fields filled in. */
function wire(e: Extension): Record<string, unknown> {
  return {
    ...e,
    description: { label: e.description.label, summary: e.description.summary },
    server: e.server?.map((s) => ({ ...s, description: { label: s.description.label, summary: s.description.summary } })),
    client: e.client?.map((c) => ({ ...c, description: { label: c.description.label, summary: c.description.summary } })),
    lastHeartbeatTime: e.lastHeartbeatTime ?? new Date(),
  };
}

export class Extensions {
  readonly client: VimClient;

  constructor(client: VimClient) {
    this.client = client;
  }

  get manager(): MoRef {
    const m = this.client.serviceContent.extensionManager;
    if (!m) throw new Error('this endpoint has no ExtensionManager');
    return m;
  }

  async find(key: string): Promise<Extension | undefined> {
    return (await this.client.call<Extension | undefined>('FindExtension', { _this: this.manager, extensionKey: key })) ?? undefined;
  }

  async register(ext: Extension): Promise<void> {
    await this.client.call('RegisterExtension', { _this: this.manager, extension: wire(ext) });
  }

  async update(ext: Extension): Promise<void> {
    await this.client.call('UpdateExtension', { _this: this.manager, extension: wire(ext) });
  }

  /** Registers, or updates when the key is already registered. Returns which one happened. */
  async upsert(ext: Extension): Promise<'registered' | 'updated'> {
    if (await this.find(ext.key)) {
      await this.update(ext);
      return 'updated';
    }
    await this.register(ext);
    return 'registered';
  }

  async unregister(key: string): Promise<void> {
    await this.client.call('UnregisterExtension', { _this: this.manager, extensionKey: key });
  }
}
