// The vCenter extension that registers Stillpoint as a remote plugin: the manifest server (with its
// certificate thumbprint), the client entry of type vsphere-client-remote, and the task types and
// events the service creates, which vCenter requires to be declared before TaskManager.CreateTask
// accepts them.

import { EVENT_TYPES, EXTENSION_KEY, TASK_TYPES } from '../backend/model/vcenter-tasks.ts';

export { EVENT_TYPES, EXTENSION_KEY, TASK_TYPES };
export const COMPANY = 'Stillpoint';

const TASK_LABELS: Record<keyof typeof TASK_TYPES, [string, string]> = {
  backup: ['Back up VM (Stillpoint)', 'VM sichern (Stillpoint)'],
  restore: ['Restore VM (Stillpoint)', 'VM wiederherstellen (Stillpoint)'],
  restoreFiles: ['Restore files into the guest (Stillpoint)', 'Dateien im Gast wiederherstellen (Stillpoint)'],
  replicate: ['Replicate VM (Stillpoint)', 'VM replizieren (Stillpoint)'],
  failover: ['Fail over VM (Stillpoint)', 'Failover der VM (Stillpoint)'],
  verify: ['Verify backup repository (Stillpoint)', 'Sicherungs-Repository prüfen (Stillpoint)'],
};

export interface ExtensionInput {
  /** Full URL of plugin.json on the plugin server, e.g. https://stillpoint.example.com:8443/plugin.json */
  manifestUrl: string;
  /** SHA-256 thumbprint of the plugin server certificate, "AA:BB:…" */
  serverThumbprint: string;
  /** Plugin version, four dotted numbers (vCenter compares it on update). */
  version: string;
  adminEmail?: string;
}

export function validateExtensionInput(i: ExtensionInput): void {
  let u: URL;
  try { u = new URL(i.manifestUrl); } catch { throw new Error(`'${i.manifestUrl}' is not a URL: give the full https URL of plugin.json on the plugin server.`); }
  if (u.protocol !== 'https:') throw new Error(`The manifest URL must use https (vCenter ignores plain http plugins): ${i.manifestUrl}`);
  if (!u.pathname.endsWith('.json')) throw new Error(`The manifest URL must point at the manifest file (…/plugin.json): ${i.manifestUrl}`);
  if (!/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(i.serverThumbprint)) {
    throw new Error(`'${i.serverThumbprint}' is not a SHA-256 thumbprint (32 colon-separated hex bytes): read it with \`openssl x509 -noout -fingerprint -sha256 -in server.crt\`.`);
  }
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(i.version)) throw new Error(`Version '${i.version}' must be four dotted numbers, e.g. 1.0.0.0.`);
}

/** The vim25 Extension data object (field order as in the WSDL). */
export function buildExtension(i: ExtensionInput, now = new Date()) {
  validateExtensionInput(i);
  const description = (label: string, summary: string) => ({ label, summary });
  return {
    description: description('Stillpoint', 'Application-aware backup and replication for vSphere VMs'),
    key: EXTENSION_KEY,
    company: COMPANY,
    version: i.version,
    server: [{
      url: i.manifestUrl,
      description: description('Stillpoint plugin server', 'Serves the Stillpoint plugin manifest, UI and API'),
      company: COMPANY,
      type: 'MANIFEST_SERVER',
      adminEmail: [i.adminEmail ?? 'admin@localhost'],
      serverThumbprint: i.serverThumbprint,
    }],
    client: [{
      version: i.version,
      description: description('Stillpoint', 'Stillpoint vSphere Client plugin'),
      company: COMPANY,
      type: 'vsphere-client-remote',
      url: i.manifestUrl,
    }],
    taskList: Object.values(TASK_TYPES).map((taskID) => ({ taskID })),
    eventList: Object.values(EVENT_TYPES).map((eventID) => ({ eventID })),
    resourceList: [
      { locale: 'en', module: 'task', data: Object.entries(TASK_TYPES).map(([k, id]) => ({ key: `${id}.label`, value: TASK_LABELS[k as keyof typeof TASK_TYPES][0] })) },
      { locale: 'de', module: 'task', data: Object.entries(TASK_TYPES).map(([k, id]) => ({ key: `${id}.label`, value: TASK_LABELS[k as keyof typeof TASK_TYPES][1] })) },
    ],
    lastHeartbeatTime: now,
    shownInSolutionManager: true,
  };
}
