// Changed Block Tracking: enable/disable (ReconfigVM_Task changeTrackingEnabled), the paged
// QueryChangedDiskAreas loop up to the disk's capacity, and the reset path for invalid change tracking.
import { ChangeTrackingInvalidError, VSphereError } from './faults.ts';
import { ApiWrapper } from './property-collector.ts';
import { Snapshots } from './snapshot.ts';
import { waitForTask, type WaitTaskOptions } from './task.ts';
import type { DiskChangeExtent, DiskChangeInfo, MoRef } from './types.ts';

export type ChangedAreasOptions = {
  /** Snapshot the areas are relative to (required for running VMs). */
  snapshot?: MoRef;
  deviceKey: number;
  /** Change id from the previous backup's snapshot, or "*" for all allocated areas. */
  changeId: string;
  capacityBytes: number;
  /** Called once per page (progress for huge disks). */
  onPage?: (page: DiskChangeInfo) => void;
};

/** Merges touching/overlapping extents (input sorted or not); returns sorted, disjoint extents. */
export function mergeExtents(extents: DiskChangeExtent[]): DiskChangeExtent[] {
  const s = [...extents].filter((e) => e.length > 0).sort((a, b) => a.start - b.start);
  const out: DiskChangeExtent[] = [];
  for (const e of s) {
    const last = out[out.length - 1];
    if (last && e.start <= last.start + last.length) {
      last.length = Math.max(last.length, e.start + e.length - last.start);
    } else {
      out.push({ start: e.start, length: e.length });
    }
  }
  return out;
}

export class ChangeTracking extends ApiWrapper {
  async isEnabled(vm: MoRef): Promise<boolean> {
    const p = await this.pc.retrieveOne<{ 'config.changeTrackingEnabled'?: boolean }>(vm, ['config.changeTrackingEnabled']);
    return !!p['config.changeTrackingEnabled'];
  }

  /**
   * Turns CBT on or off. vSphere applies it at the next stun/unstun (a snapshot create/remove or a power
   * cycle), so callers re-read `isEnabled` and take a snapshot before relying on change ids.
   */
  async setEnabled(vm: MoRef, enabled: boolean, opts: WaitTaskOptions = {}): Promise<boolean> {
    const task = await this.client.call<MoRef>('ReconfigVM_Task', { _this: vm, spec: { changeTrackingEnabled: enabled } });
    await waitForTask(this.client, task, opts);
    return this.isEnabled(vm);
  }

  /** Disable, stun/unstun via a temporary snapshot, enable: the recovery when change tracking is invalid. */
  async reset(vm: MoRef, opts: WaitTaskOptions = {}): Promise<void> {
    const snaps = new Snapshots(this.client, this.pc);
    await this.setEnabled(vm, false, opts);
    const s = await snaps.create(vm, { ...opts, name: 'stillpoint-cbt-reset', description: 'Stillpoint: CBT reset (temporary)' });
    await snaps.remove(s.node.ref, opts);
    await this.setEnabled(vm, true, opts);
  }

  /** One QueryChangedDiskAreas page. */
  async queryPage(vm: MoRef, opts: Omit<ChangedAreasOptions, 'capacityBytes' | 'onPage'> & { startOffset: number }): Promise<DiskChangeInfo> {
    try {
      const r = await this.client.call<DiskChangeInfo>('QueryChangedDiskAreas', {
        _this: vm, snapshot: opts.snapshot, deviceKey: opts.deviceKey, startOffset: opts.startOffset, changeId: opts.changeId,
      });
      return { startOffset: Number(r.startOffset), length: Number(r.length), changedArea: r.changedArea ?? [] };
    } catch (err) {
      throw classifyCbtError(err, opts.deviceKey, opts.changeId);
    }
  }

  /**
   * All changed (or, with changeId "*", allocated) areas of a disk: pages from offset 0, each next page
   * starting at the previous page's startOffset+length, until the capacity. Sorted and merged.
   */
  async changedAreas(vm: MoRef, opts: ChangedAreasOptions): Promise<DiskChangeExtent[]> {
    const all: DiskChangeExtent[] = [];
    let offset = 0;
    while (offset < opts.capacityBytes) {
      const page = await this.queryPage(vm, { ...opts, startOffset: offset });
      opts.onPage?.(page);
      for (const a of page.changedArea ?? []) all.push({ start: Number(a.start), length: Number(a.length) });
      const next = page.startOffset + page.length;
      if (!(next > offset)) {
        throw new VSphereError('InvalidChangeInfo', `QueryChangedDiskAreas made no progress at offset ${offset} (disk ${opts.deviceKey})`,
          'vCenter returned an empty page; reset CBT for this VM and take a full backup.');
      }
      offset = next;
    }
    return mergeExtents(all);
  }
}

function classifyCbtError(err: unknown, deviceKey: number, changeId: string): unknown {
  if (!(err instanceof VSphereError)) return err;
  const text = `${err.message} ${JSON.stringify(err.detail ?? {})}`;
  const cbtish = /change ?tracking|changeId|ctk|CBT/i.test(text);
  if ((err.fault === 'FileFault' || err.fault === 'InvalidArgument' || err.fault === 'NotFound' || err.fault === 'InvalidState') && cbtish) {
    return new ChangeTrackingInvalidError(`disk ${deviceKey}, changeId ${changeId}: ${err.message}`, err.detail, err);
  }
  if (err.fault === 'FileFault') {
    // What vSphere answers when the disk has no (valid) change tracking, e.g. CBT was never activated by a stun.
    return new ChangeTrackingInvalidError(`disk ${deviceKey}: change tracking is not enabled or not valid (${err.message})`, err.detail, err);
  }
  if (err.fault === 'FileFault' && changeId !== '*') {
    return new ChangeTrackingInvalidError(`disk ${deviceKey}, changeId ${changeId}: ${err.message}`, err.detail, err);
  }
  return err;
}
