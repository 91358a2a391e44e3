// Registers, updates, inspects and removes the Stillpoint extension in vCenter
// (ExtensionManager). Update keeps the key and raises the version, as vCenter compares versions to
// decide whether the vSphere Client reloads the plugin.
import { VSphere } from '../backend/vsphere/index.ts';
import type { Extension } from '../backend/vsphere/index.ts';
import { definedAlarms, ensureAlarms, removeAlarms } from '../backend/alarms/definitions.ts';
import { buildExtension, EXTENSION_KEY, validateExtensionInput, type ExtensionInput } from './extension.ts';

export interface VcenterTarget { url: string; username: string; password: string; thumbprint?: string }

export interface PluginStatus {
  registered: boolean;
  key: string;
  version?: string;
  manifestUrl?: string;
  serverThumbprint?: string;
  tasks?: string[];
  /** Stillpoint's alarms defined on vCenter's root folder. */
  alarms?: string[];
}

async function withVcenter<T>(t: VcenterTarget, fn: (vs: VSphere) => Promise<T>): Promise<T> {
  const vs = await VSphere.connect({ url: t.url, username: t.username, password: t.password, ...(t.thumbprint ? { thumbprint: t.thumbprint } : {}) });
  try { return await fn(vs); } finally { await vs.close(); }
}

export function statusOf(e: Extension | undefined): PluginStatus {
  if (!e) return { registered: false, key: EXTENSION_KEY };
  const server = e.server?.find((s) => s.type === 'MANIFEST_SERVER') ?? e.server?.[0];
  return {
    registered: true, key: e.key, version: e.version,
    ...(server ? { manifestUrl: server.url, ...(server.serverThumbprint ? { serverThumbprint: server.serverThumbprint } : {}) } : {}),
    tasks: (e.taskList ?? []).map((t) => t.taskID),
  };
}

export async function registerPlugin(t: VcenterTarget, input: ExtensionInput): Promise<PluginStatus> {
  validateExtensionInput(input);
  return withVcenter(t, async (vs) => {
    if (await vs.extensions.find(EXTENSION_KEY)) {
      throw new Error(`Stillpoint is registered in this vCenter already: use \`stillpoint plugin update\` to change it, or unregister it first.`);
    }
    await vs.extensions.register(buildExtension(input) as Extension);
    const alarms = await ensureAlarms(vs);
    return { ...statusOf(await vs.extensions.find(EXTENSION_KEY)), alarms };
  });
}

/** Updates the registration; without an explicit version the last of the four numbers goes up by one. */
export async function updatePlugin(t: VcenterTarget, input: Omit<ExtensionInput, 'version'> & { version?: string }): Promise<PluginStatus> {
  return withVcenter(t, async (vs) => {
    const current = await vs.extensions.find(EXTENSION_KEY);
    if (!current) throw new Error('Stillpoint is not registered in this vCenter: use `stillpoint plugin register` first.');
    const version = input.version ?? bumpVersion(current.version);
    await vs.extensions.update(buildExtension({ ...input, version }) as Extension);
    const alarms = await ensureAlarms(vs);
    return { ...statusOf(await vs.extensions.find(EXTENSION_KEY)), alarms };
  });
}

export async function unregisterPlugin(t: VcenterTarget): Promise<PluginStatus> {
  return withVcenter(t, async (vs) => {
    if (!(await vs.extensions.find(EXTENSION_KEY))) throw new Error('Stillpoint is not registered in this vCenter: nothing to unregister.');
    await removeAlarms(vs);
    await vs.extensions.unregister(EXTENSION_KEY);
    return statusOf(undefined);
  });
}

export async function pluginStatus(t: VcenterTarget): Promise<PluginStatus> {
  return withVcenter(t, async (vs) => {
    const e = await vs.extensions.find(EXTENSION_KEY);
    return e ? { ...statusOf(e), alarms: await definedAlarms(vs) } : statusOf(undefined);
  });
}

export function bumpVersion(v: string): string {
  const parts = v.split('.').map((x) => Number.parseInt(x, 10));
  while (parts.length < 4) parts.push(0);
  if (parts.some((n) => !Number.isFinite(n))) return '1.0.0.1';
  parts[3]! += 1;
  return parts.slice(0, 4).join('.');
}
