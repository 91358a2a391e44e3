// Which ranges of a source disk a run after the seed sends: the areas CBT reports changed since the
// last run's changeId (stored with the replica's state), when CBT can be trusted: the source tracks
// changes, the last run left a changeId for this disk at the same capacity, and the replica is still
// at the recovery point that run made. Otherwise every range is compared by digest.
import { alignToChunks } from '../../pipeline/read-plan.ts';
import { ChangeTrackingInvalidError, type DiskChangeExtent, type DiskInfo, type MoRef, type VSphere } from '../../vsphere/index.ts';
import type { PlanReason } from './replica-writer.ts';

/** What a run leaves about each source disk, to plan the next run. */
export interface DiskSyncState { key: number; capacity: number; changeId?: string }

export interface DiskPlan { ranges: DiskChangeExtent[]; reason: PlanReason; why?: string; cbtInvalid?: boolean }

/** vSphere's change bitmap granularity on the lab and a common one on ESXi: ranges are widened to it. */
export const CBT_BLOCK = 64 * 1024;

export async function planDisk(vs: VSphere, vm: MoRef, snapshot: MoRef, disk: DiskInfo, o: {
  previous: DiskSyncState[] | undefined;
  /** The replica is at the recovery point the previous run made (nothing else changed it since). */
  atPreviousPoint: boolean;
  grown: boolean;
}): Promise<DiskPlan> {
  const whole = [{ start: 0, length: disk.capacityBytes }];
  const digest = (why: string, cbtInvalid = false): DiskPlan => ({ ranges: whole, reason: 'digest', why, ...(cbtInvalid ? { cbtInvalid } : {}) });
  if (o.grown) return digest(`${disk.label} grew`);
  if (!disk.changeId) return digest(`change tracking is off on ${disk.label}`);
  const prev = o.previous?.find((d) => d.key === disk.key);
  if (!prev?.changeId) return digest(`no changeId of ${disk.label} from the previous run`);
  if (prev.capacity !== disk.capacityBytes) return digest(`${disk.label} changed size`);
  if (!o.atPreviousPoint) return digest('the replica is not at the recovery point of the previous run');
  try {
    const areas = await vs.cbt.changedAreas(vm, { snapshot, deviceKey: disk.key, changeId: prev.changeId, capacityBytes: disk.capacityBytes });
    return { ranges: alignToChunks(areas, CBT_BLOCK, disk.capacityBytes), reason: 'cbt' };
  } catch (e) {
    if (!(e instanceof ChangeTrackingInvalidError)) throw e;
    return digest(`change tracking of ${disk.label} is invalid (${e.message})`, true);
  }
}
