// What a replica looks like now, read from vCenter: its marks, last sync and recovery points.
import type { Consistency } from '../model/consistency.ts';
import type { MoRef, VSphere } from '../vsphere/index.ts';
import { findReplica, findReplicas, type FoundReplica, type ReplicaSyncState } from './marks.ts';
import { listPoints, type RecoveryPoint } from './recovery-points.ts';

export interface ReplicaStatus {
  replica: MoRef;
  replicaName: string;
  sourceUuid: string;
  sourceVmId?: string;
  sourceName?: string;
  host?: string;
  state: ReplicaSyncState;
  lastSync?: string;
  durationMs?: number;
  bytes?: number;
  consistency?: Consistency;
  error?: string;
  points: RecoveryPoint[];
}

async function status(vs: VSphere, r: FoundReplica): Promise<ReplicaStatus> {
  const [points, info] = await Promise.all([listPoints(vs, r.ref), vs.vms.get(r.ref)]);
  const hosts = info.host ? await vs.inventory.hosts() : [];
  const s = r.sync;
  // A replica with no run outcome (marked by hand or by a run that died) is ready only if it has a point.
  const state: ReplicaSyncState = s?.state ?? (points.length ? 'ready' : 'error');
  return {
    replica: r.ref, replicaName: r.name, sourceUuid: r.sourceUuid, state,
    ...(s?.sourceVmId ? { sourceVmId: s.sourceVmId } : {}), ...(s?.sourceName ? { sourceName: s.sourceName } : {}),
    ...(info.host ? { host: hosts.find((h) => h.ref.value === info.host!.value)?.name ?? info.host.value } : {}),
    ...(s?.lastSync ? { lastSync: s.lastSync } : {}), ...(s?.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
    ...(s?.bytes !== undefined ? { bytes: s.bytes } : {}), ...(s?.consistency ? { consistency: s.consistency } : {}),
    ...(s?.error ? { error: s.error } : {}),
    points: points.map(({ ref: _r, ...p }) => p),
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
