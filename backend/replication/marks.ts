// How a replica is recognised in vCenter, so its state survives the service (no local file): custom
// attributes on the replica VM naming its source VM's instance UUID and its last sync, and an annotation
// telling an admin not to power it on.
import type { Consistency } from '../model/consistency.ts';
import type { DiskSyncState } from './transport/change-plan.ts';
import type { TransportName } from './transport/replica-writer.ts';
import type { MoRef, VSphere } from '../vsphere/index.ts';

/** Custom attribute: the instance UUID of the source VM. Its presence marks a VM as a Stillpoint replica. */
export const REPLICA_OF_FIELD = 'Stillpoint replica of';
/** Custom attribute: the last run's outcome as JSON (ReplicaSync). */
export const REPLICA_SYNC_FIELD = 'Stillpoint replica sync';

export const replicaAnnotation = (sourceName: string, sourceUuid: string): string =>
  `Stillpoint replica of VM '${sourceName}' (instance UUID ${sourceUuid}). Do not power on or change it: ` +
  'replication writes its disks and keeps its recovery points as snapshots. Start it only through a failover.';

export type ReplicaSyncState = 'ready' | 'syncing' | 'error';

/** What the last run left on the replica. */
export interface ReplicaSync {
  state: ReplicaSyncState;
  sourceVmId: string;
  sourceName: string;
  /** When the last successful run's snapshot of the source was taken. */
  lastSync?: string;
  durationMs?: number;
  bytes?: number;
  consistency?: Consistency;
  /** The last run's problem (state error). */
  error?: string;
  at: string;
  /** How the last successful run wrote the replica. */
  transport?: TransportName;
  /** The recovery point the last successful run made: its changeIds are good only while the replica is there. */
  pointId?: string;
  /** Per source disk, the changeId the next run asks CBT from. */
  disks?: DiskSyncState[];
}

export async function writeSync(vs: VSphere, replica: MoRef, sync: ReplicaSync): Promise<void> {
  await vs.customFields.setByName(replica, REPLICA_SYNC_FIELD, JSON.stringify(sync));
}

export function parseSync(text: string | undefined): ReplicaSync | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as ReplicaSync;
    return v && typeof v === 'object' && typeof v.state === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export interface FoundReplica { ref: MoRef; name: string; sourceUuid: string; sync?: ReplicaSync }

/** Every VM of this vCenter marked as a replica (one property read over all VMs). */
export async function findReplicas(vs: VSphere): Promise<FoundReplica[]> {
  const defs = await vs.customFields.list();
  const of = defs.find((d) => d.name === REPLICA_OF_FIELD);
  if (!of) return [];
  const sync = defs.find((d) => d.name === REPLICA_SYNC_FIELD);
  const all = await vs.pc.retrieveAllOfType<{ name?: string; customValue?: { key: number; value?: string }[] }>('VirtualMachine', ['name', 'customValue']);
  const out: FoundReplica[] = [];
  for (const vm of all) {
    const values = vm.props.customValue ?? [];
    const source = values.find((v) => Number(v.key) === of.key)?.value;
    if (!source) continue;
    const s = sync ? parseSync(values.find((v) => Number(v.key) === sync.key)?.value) : undefined;
    out.push({ ref: vm.ref, name: vm.props.name ?? vm.ref.value, sourceUuid: source, ...(s ? { sync: s } : {}) });
  }
  return out;
}

/** The replica of the VM with this instance UUID; a clear error when two VMs claim to be it. */
export async function findReplica(vs: VSphere, sourceUuid: string): Promise<FoundReplica | undefined> {
  const found = (await findReplicas(vs)).filter((r) => r.sourceUuid === sourceUuid);
  if (found.length > 1) {
    throw new Error(`${found.length} VMs are marked as replicas of the VM with instance UUID ${sourceUuid} (${found.map((f) => `${f.name} (${f.ref.value})`).join(', ')}): ` +
      `remove the '${REPLICA_OF_FIELD}' attribute from all but one, then replicate again.`);
  }
  return found[0];
}
