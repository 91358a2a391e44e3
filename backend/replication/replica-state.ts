// What a replica looks like now, read from vCenter: its marks, last sync, recovery points and, while it
// runs at the DR site, its failover (a custom attribute on the replica, so the state survives the
// service). Permanent failovers are kept in the data folder: the source is then out of replication.
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../common/durable.ts';
import type { Consistency } from '../model/consistency.ts';
import type { MoRef, VSphere } from '../vsphere/index.ts';
import { findReplica, findReplicas, type FoundReplica, type ReplicaSyncState } from './marks.ts';
import { listPoints, type RecoveryPoint } from './recovery-points.ts';

/** ready, syncing and error come from replication runs; failedOver while the replica runs as the VM. */
export type ReplicaStateName = ReplicaSyncState | 'failedOver';

/** Custom attribute on the replica: the failover in effect (FailoverRecord as JSON), empty when none. */
export const FAILOVER_FIELD = 'Stillpoint failover';

/** A network adapter of the replica as it was before the failover (undo puts it back). */
export interface NicState { key: number; network?: string; connected: boolean; startConnected: boolean }

export interface FailoverRecord {
  mode: 'normal' | 'planned';
  /** The recovery point the replica was started from. */
  pointId: string;
  pointName: string;
  at: string;
  by: string;
  runId?: string;
  /** The replica's NICs before the failover. */
  nics: NicState[];
  /** CBT change id of each replica disk at the failover: failback sends what changed since. */
  changeIds: { key: number; changeId: string }[];
  /** Set by a failback that has switched back and waits for commit or undo. */
  failback?: {
    at: string; sourceVmId: string; sourceSnapshot: string; replicaSnapshot?: string; changedBytes: number;
    /** How the data went to production. */
    transport?: 'full-upload' | 'hot-add';
    /** A failback to a new VM (sourceVmId is its moref): the source the replica had before, put back by undo. */
    newVm?: { name: string; previousSourceUuid: string; previousSourceVmId?: string; previousSourceName?: string; previousSync?: string; newSourceVmId: string; jobs: string[] };
  };
}

export async function readFailover(vs: VSphere, replica: MoRef): Promise<FailoverRecord | undefined> {
  const text = (await vs.customFields.values(replica))[FAILOVER_FIELD];
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as FailoverRecord;
    return v && typeof v.pointId === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Records the failover in effect on the replica; undefined clears it (the replica is a replica again). */
export async function writeFailover(vs: VSphere, replica: MoRef, rec: FailoverRecord | undefined): Promise<void> {
  await vs.customFields.setByName(replica, FAILOVER_FIELD, rec ? JSON.stringify(rec) : '');
}

export interface ReplicaStatus {
  replica: MoRef;
  replicaName: string;
  sourceUuid: string;
  sourceVmId?: string;
  sourceName?: string;
  host?: string;
  state: ReplicaStateName;
  lastSync?: string;
  durationMs?: number;
  bytes?: number;
  consistency?: Consistency;
  error?: string;
  points: RecoveryPoint[];
  failover?: FailoverRecord;
}

async function status(vs: VSphere, r: FoundReplica): Promise<ReplicaStatus> {
  const [points, info, failover] = await Promise.all([listPoints(vs, r.ref), vs.vms.get(r.ref), readFailover(vs, r.ref).catch(() => undefined)]);
  const hosts = info.host ? await vs.inventory.hosts() : [];
  const s = r.sync;
  // A replica with no run outcome (marked by hand or by a run that died) is ready only if it has a point.
  const state: ReplicaStateName = failover ? 'failedOver' : s?.state ?? (points.length ? 'ready' : 'error');
  return {
    replica: r.ref, replicaName: r.name, sourceUuid: r.sourceUuid, state,
    ...(s?.sourceVmId ? { sourceVmId: s.sourceVmId } : {}), ...(s?.sourceName ? { sourceName: s.sourceName } : {}),
    ...(info.host ? { host: hosts.find((h) => h.ref.value === info.host!.value)?.name ?? info.host.value } : {}),
    ...(s?.lastSync ? { lastSync: s.lastSync } : {}), ...(s?.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
    ...(s?.bytes !== undefined ? { bytes: s.bytes } : {}), ...(s?.consistency ? { consistency: s.consistency } : {}),
    ...(s?.error && !failover ? { error: s.error } : {}),
    points: points.map(({ ref: _r, ...p }) => p),
    ...(failover ? { failover } : {}),
  };
}

/** The replica of the VM with this instance UUID, or undefined when it has none. */
export async function replicaOf(vs: VSphere, sourceUuid: string): Promise<ReplicaStatus | undefined> {
  const r = await findReplica(vs, sourceUuid);
  return r ? status(vs, r) : undefined;
}

/** Every replica in this vCenter. */
export async function allReplicas(vs: VSphere): Promise<ReplicaStatus[]> {
  return Promise.all((await findReplicas(vs)).map((r) => status(vs, r)));
}

/** The replica behind a replica VM reference, or undefined when that VM is not (any more) a replica. */
export async function replicaByRef(vs: VSphere, replica: MoRef): Promise<ReplicaStatus | undefined> {
  const r = (await findReplicas(vs)).find((x) => x.ref.value === replica.value);
  return r ? status(vs, r) : undefined;
}

/** Whether a replica is failed over, read from vCenter: replication must not write into it then. */
export async function isFailedOver(vs: VSphere, replica: MoRef): Promise<boolean> {
  return (await readFailover(vs, replica).catch(() => undefined)) !== undefined;
}

// --- permanent failovers (data folder)

export interface PermanentFailover { sourceVmId: string; sourceUuid: string; sourceName?: string; vmId: string; vmName: string; at: string; by: string }

const permanentFile = (dataDir: string) => join(dataDir, 'permanent-failovers.json');

export function permanentFailovers(dataDir: string): PermanentFailover[] {
  return readJson<PermanentFailover[]>(permanentFile(dataDir)) ?? [];
}

export function recordPermanentFailover(dataDir: string, p: PermanentFailover): void {
  const all = permanentFailovers(dataDir).filter((x) => x.sourceVmId !== p.sourceVmId);
  writeFileDurable(permanentFile(dataDir), JSON.stringify([...all, p], null, 2));
}

/**
 * Whether the VM (its site-qualified id or instance UUID) was permanently failed over: its replica is
 * the VM now, and replication jobs leave the source out.
 */
export function isPermanentlyFailedOver(dataDir: string, sourceId: string): boolean {
  return permanentFailovers(dataDir).some((p) => p.sourceVmId === sourceId || p.sourceUuid === sourceId);
}
