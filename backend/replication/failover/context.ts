// What every failover operation needs: the DR vCenter, the VM locks (a replica and its source are
// never in two operations, nor in a replication run, at once), a vCenter task on the replica with
// progress, and the replica read from vCenter.
import { Conflict, NotFound } from '../../common/errors.ts';
import { childLog } from '../../common/log.ts';
import { TASK_TYPES } from '../../model/vcenter-tasks.ts';
import type { VmLocks } from '../../sources/snapshot/vm-lock.ts';
import type { GuestCredentials, MoRef, VcTask, VSphere } from '../../vsphere/index.ts';
import { listPoints, type RecoveryPoint } from '../recovery-points.ts';
import { replicaByRef, type ReplicaStatus } from '../replica-state.ts';
import { say } from '../../common/service-text.ts';

export const log = childLog('failover');

export interface FailoverDeps {
  vs: VSphere;
  locks: VmLocks;
  /** The data folder (permanent failovers, plans). */
  dataDir: string;
}

export interface OpRequest {
  /** The replica VM's bare moref in this vCenter. */
  replicaMoref: string;
  /** Site-qualified id of the replica VM, for locks and messages (defaults to the moref). */
  replicaId?: string;
  runId?: string;
  initiatedBy?: string;
  signal?: AbortSignal;
  onProgress?: (phase: string, percent: number) => void;
  guest?: GuestCredentials;
}

export type PointRef = RecoveryPoint & { ref: MoRef };

/** The replica, or 404 when that VM is no (longer a) replica. */
export async function loadReplica(vs: VSphere, moref: string): Promise<ReplicaStatus> {
  const r = await replicaByRef(vs, { type: 'VirtualMachine', value: moref });
  if (!r) throw new NotFound('Replica', moref, 'list replicas with GET /api/replicas (a permanently failed-over replica is a VM now, not a replica).');
  return r;
}

/** A recovery point by id or name; the latest when none is asked for. */
export async function choosePoint(vs: VSphere, replica: ReplicaStatus, wanted?: string): Promise<PointRef> {
  const points = await listPoints(vs, replica.replica);
  if (!points.length) throw new Conflict(`Replica '${replica.replicaName}' has no recovery point yet: replicate its source first.`);
  if (!wanted) return points[points.length - 1]!;
  const p = points.find((x) => x.id === wanted || x.name === wanted);
  if (!p) throw new NotFound('Recovery point', wanted, `replica '${replica.replicaName}' has ${points.map((x) => `${x.id} (${x.name})`).join(', ')}.`);
  return p;
}

/** Takes the replica and its source for this operation (Conflict naming who holds one). */
export function takeReplica(locks: VmLocks, replicaId: string, sourceVmId: string | undefined, owner: string): () => void {
  const releaseReplica = locks.tryAcquire(replicaId, owner);
  if (!sourceVmId) return releaseReplica;
  try {
    const releaseSource = locks.tryAcquire(sourceVmId, owner);
    return () => { releaseSource(); releaseReplica(); };
  } catch (e) {
    releaseReplica();
    throw e;
  }
}

/** A vCenter task on the replica (Recent Tasks); undefined when the plugin's task types are not registered. */
export async function startTask(vs: VSphere, vm: MoRef, initiatedBy: string | undefined): Promise<VcTask | undefined> {
  return vs.tasks.create({ obj: vm, taskTypeId: TASK_TYPES.failover, initiatedBy: initiatedBy ?? 'Stillpoint', cancelable: false })
    .then(async (t) => { await t.running(); return t; })
    .catch((e) => { log.debug({ err: (e as Error).message }, 'no vCenter task (is the plugin registered?)'); return undefined; });
}

/** Progress to the caller and the vCenter task. */
export function reporter(req: OpRequest, task: () => VcTask | undefined): (phase: string, percent: number) => void {
  return (phase, percent) => {
    req.onProgress?.(phase, percent);
    void task()?.progress(Math.min(99, Math.round(percent))).catch(() => undefined);
  };
}

/** Runs an operation under its vCenter task: succeeded or failed with the error, plus a user event on the replica. */
export async function underTask<T>(vs: VSphere, vm: MoRef, req: OpRequest, what: string, body: (report: (phase: string, percent: number) => void) => Promise<T>, done: (r: T) => string): Promise<T> {
  let task: VcTask | undefined;
  const report = reporter(req, () => task);
  task = await startTask(vs, vm, req.initiatedBy);
  try {
    const r = await body(report);
    await vs.events.logUserEvent(vm, `Stillpoint: ${done(r)}`).catch(() => undefined);
    if (task) await task.succeed().catch(() => undefined);
    report(say('phase.done'), 100);
    return r;
  } catch (e) {
    await vs.events.logUserEvent(vm, `Stillpoint: ${what} failed: ${(e as Error).message}`).catch(() => undefined);
    if (task) await task.fail((e as Error).message).catch(() => undefined);
    throw e;
  }
}
