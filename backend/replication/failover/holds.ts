// While a replica is failed over, its source VM stays taken (VmLocks): a replication run of the source
// (on demand or by a job) would revert the running replica to its latest point and overwrite it, so it
// is refused with the holder's name until the failover is undone, made permanent or failed back and
// committed. Holds are in memory: the service re-takes them at start from the replicas' failover marks.
import type { VmLocks } from '../../sources/snapshot/vm-lock.ts';
import type { VSphere } from '../../vsphere/index.ts';
import { allReplicas } from '../replica-state.ts';

const holds = new WeakMap<VmLocks, Map<string, () => void>>();

const of = (locks: VmLocks) => { let m = holds.get(locks); if (!m) { m = new Map(); holds.set(locks, m); } return m; };

/** Takes the source for as long as its replica is failed over (no-op when held already or taken by someone else). */
export function holdFailedOver(locks: VmLocks, sourceVmId: string | undefined, replicaName: string): void {
  if (!sourceVmId) return;
  const m = of(locks);
  if (m.has(sourceVmId) || locks.holder(sourceVmId)) return;
  m.set(sourceVmId, locks.tryAcquire(sourceVmId, `failover to its replica '${replicaName}' (undo it, make it permanent or fail back first)`));
}

/** Gives the source back (before an operation that takes it, or when the failover ends). */
export function releaseFailedOver(locks: VmLocks, sourceVmId: string | undefined): void {
  if (!sourceVmId) return;
  const m = of(locks);
  m.get(sourceVmId)?.();
  m.delete(sourceVmId);
}

/** At service start: hold the source of every failed-over replica of this vCenter (ids as replication recorded them). */
export async function restoreHolds(vs: VSphere, locks: VmLocks): Promise<number> {
  let n = 0;
  for (const r of await allReplicas(vs)) {
    if (r.state !== 'failedOver' || !r.sourceVmId) continue;
    holdFailedOver(locks, r.sourceVmId, r.replicaName);
    n++;
  }
  return n;
}

/**
 * Runs an operation on a failed-over replica with its source's hold given back for the duration
 * (the operation takes the source itself); afterwards the source is held again when `stillHeld` says
 * the replica is still failed over (always after a failure). `heldAfter`: the VM held after a success
 * when that is another one (undoing a failback to a new VM holds the previous source again).
 */
export async function withHoldReleased<T>(locks: VmLocks, sourceVmId: string | undefined, replicaName: string, body: () => Promise<T>, stillHeld: (r: T) => boolean, heldAfter?: string): Promise<T> {
  releaseFailedOver(locks, sourceVmId);
  let held = true;
  let which = sourceVmId;
  try {
    const r = await body();
    held = stillHeld(r);
    which = heldAfter ?? sourceVmId;
    return r;
  } finally {
    if (held) holdFailedOver(locks, which, replicaName);
  }
}
