// Stillpoint's vCenter alarms: defined on the root folder when the plugin is registered, so they show
// in vCenter's Alarms views and admins can hang their own actions (mail, SNMP, scripts) on them.
// Each alarm watches our extension events (EventEx with our event type ids, see model/vcenter-tasks.ts):
// the bad event turns it red or yellow, the matching good event resets it to green.
import { EVENT_TYPES } from '../model/vcenter-tasks.ts';
import type { AlarmDefinition, AlarmInfo } from '../vsphere/alarms.ts';
import type { VSphere } from '../vsphere/index.ts';

const ev = (eventTypeId: string, objectType: string, status: 'red' | 'yellow' | 'green') => ({ eventType: 'EventEx', eventTypeId, objectType, status });

/** Every Stillpoint alarm's name starts with this: how re-registration and unregistration find them
 * (vCenter keeps systemName for its own predefined alarms, so user-visible names are the key). */
export const ALARM_NAME_PREFIX = 'Stillpoint: ';

export const ALARMS: readonly AlarmDefinition[] = [
  {
    name: 'Stillpoint: backup failed', enabled: true,
    description: 'The last Stillpoint backup of this VM failed. See the VM\'s Stillpoint tab (Runs) for the error and what to do; the next good backup resets the alarm.',
    triggers: [ev(EVENT_TYPES.backupFailed, 'VirtualMachine', 'red'), ev(EVENT_TYPES.backupSucceeded, 'VirtualMachine', 'green'), ev(EVENT_TYPES.backupWarning, 'VirtualMachine', 'green')],
  },
  {
    name: 'Stillpoint: backup finished with warnings', enabled: true,
    description: 'The last Stillpoint backup of this VM finished with warnings (e.g. crash-consistent instead of application-consistent). A backup without warnings resets the alarm.',
    triggers: [ev(EVENT_TYPES.backupWarning, 'VirtualMachine', 'yellow'), ev(EVENT_TYPES.backupSucceeded, 'VirtualMachine', 'green')],
  },
  {
    name: 'Stillpoint: RPO exceeded', enabled: true,
    description: 'This VM is in a scheduled Stillpoint job but has no good restore point or replica within its protection window. A good backup resets the alarm.',
    triggers: [ev(EVENT_TYPES.rpoExceeded, 'VirtualMachine', 'red'), ev(EVENT_TYPES.rpoMet, 'VirtualMachine', 'green'), ev(EVENT_TYPES.backupSucceeded, 'VirtualMachine', 'green'), ev(EVENT_TYPES.backupWarning, 'VirtualMachine', 'green')],
  },
  {
    name: 'Stillpoint: replica RPO exceeded', enabled: true,
    description: 'This VM\'s replica (or the replica of this VM) has no recovery point within its replication job\'s RPO. Check the replication job\'s last runs; the next good replication resets the alarm.',
    triggers: [ev(EVENT_TYPES.replicaRpoExceeded, 'VirtualMachine', 'red'), ev(EVENT_TYPES.replicaRpoMet, 'VirtualMachine', 'green')],
  },
  {
    name: 'Stillpoint: repository nearly full', enabled: true,
    description: 'The Stillpoint backup repository is nearly full: shorten retention, run garbage collection or give the repository more space.',
    triggers: [ev(EVENT_TYPES.repositoryNearlyFull, 'Datacenter', 'red'), ev(EVENT_TYPES.repositorySpaceOk, 'Datacenter', 'green')],
  },
  {
    name: 'Stillpoint: verify found damage', enabled: true,
    description: 'Verifying the Stillpoint repository found damaged or missing data. Run a new full backup of the affected VMs and check the repository\'s disk.',
    triggers: [ev(EVENT_TYPES.verifyDamage, 'Datacenter', 'red'), ev(EVENT_TYPES.verifyClean, 'Datacenter', 'green')],
  },
];

function ours(a: AlarmInfo): boolean { return a.name.startsWith(ALARM_NAME_PREFIX); }

/** Creates Stillpoint's alarms on the root folder, or brings existing ones up to date (idempotent). */
export async function ensureAlarms(vs: VSphere): Promise<string[]> {
  const root = vs.client.serviceContent.rootFolder;
  const existing = (await vs.alarms.list(root)).filter(ours);
  for (const d of ALARMS) {
    const found = existing.find((a) => a.name === d.name);
    if (found) await vs.alarms.reconfigure(found.ref, d);
    else await vs.alarms.create(root, d);
  }
  // Alarms an older version defined and this one no longer does.
  for (const a of existing) if (!ALARMS.some((d) => d.name === a.name)) await vs.alarms.remove(a.ref);
  return ALARMS.map((d) => d.name);
}

/** Removes Stillpoint's alarms (unregistering the plugin). */
export async function removeAlarms(vs: VSphere): Promise<number> {
  const existing = (await vs.alarms.list(vs.client.serviceContent.rootFolder)).filter(ours);
  for (const a of existing) await vs.alarms.remove(a.ref);
  return existing.length;
}

/** The names of Stillpoint's alarms defined in this vCenter. */
export async function definedAlarms(vs: VSphere): Promise<string[]> {
  return (await vs.alarms.list(vs.client.serviceContent.rootFolder)).filter(ours).map((a) => a.name);
}
