// Changed Block Tracking against the lab vCenter: areas computed by the lab from the disk file's contents.
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ChangeTrackingInvalidError, mergeExtents, mor, type DiskChangeExtent, type MoRef, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

function covers(areas: DiskChangeExtent[], start: number, length: number): boolean {
  let pos = start;
  for (const a of areas) {
    if (a.start <= pos && a.start + a.length > pos) pos = a.start + a.length;
    if (pos >= start + length) return true;
  }
  return pos >= start + length;
}

describe('vsphere: changed block tracking', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  let vm: MoRef;
  const diskMiB = 1100; // > 1 GiB: the lab answers QueryChangedDiskAreas in 1 GiB pages
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession({ diskMiB }));
    vm = mor('VirtualMachine', labVms['linux-db01']!.moref);
  });
  after(() => stopLabSession(lab, vs));

  it('mergeExtents sorts and merges', () => {
    assert.deepEqual(mergeExtents([{ start: 10, length: 5 }, { start: 0, length: 10 }, { start: 30, length: 1 }, { start: 31, length: 0 }]),
      [{ start: 0, length: 15 }, { start: 30, length: 1 }]);
  });

  it('a query without CBT enabled → ChangeTrackingInvalid with the reset advice', async () => {
    const s = await vs.snapshots.create(vm, { name: 'no-cbt' });
    try {
      const d = s.disks[0]!;
      await assert.rejects(vs.cbt.changedAreas(vm, { snapshot: s.node.ref, deviceKey: d.key, changeId: '*', capacityBytes: d.capacityBytes }),
        (err: unknown) => err instanceof ChangeTrackingInvalidError && /Reset CBT/.test(err.hint));
    } finally {
      await vs.snapshots.remove(s.node.ref);
    }
  });

  it('reports every written byte, block-aligned, nothing far beyond, over several pages', async () => {
    assert.equal(await vs.cbt.setEnabled(vm, true), true);
    const s1 = await vs.snapshots.create(vm, { name: 'full' });
    const d1 = s1.disks[0]!;
    assert.equal(d1.capacityBytes, diskMiB * MiB);
    assert.ok(d1.changeId, 'the snapshot disk has a changeId');
    await vs.snapshots.remove(s1.node.ref);

    const writes = [
      { offset: 0, length: 10 },
      { offset: 5 * MiB + 100, length: 70_000 }, // spans two blocks
      { offset: 1024 * MiB - 100, length: 200 }, // crosses the 1 GiB page boundary
      { offset: 1050 * MiB, length: 3 * BLOCK }, // aligned, three blocks
      { offset: diskMiB * MiB - 10, length: 10 }, // last bytes of the disk
    ];
    for (const [i, w] of writes.entries()) {
      await lab.control.writeDisk('linux-db01', 0, w.offset, Buffer.alloc(w.length, 0x41 + i));
    }
    const s2 = await vs.snapshots.create(vm, { name: 'incr' });
    try {
      const pages: number[] = [];
      const areas = await vs.cbt.changedAreas(vm, {
        snapshot: s2.node.ref, deviceKey: d1.key, changeId: d1.changeId!, capacityBytes: d1.capacityBytes,
        onPage: (p) => pages.push(p.startOffset),
      });
      assert.ok(pages.length >= 2, `paged: ${pages.join(',')}`);
      for (const w of writes) assert.ok(covers(areas, w.offset, w.length), `covers ${w.offset}+${w.length}: ${JSON.stringify(areas)}`);
      for (const a of areas) {
        assert.equal(a.start % BLOCK, 0, 'block-aligned start');
        assert.equal(a.length % BLOCK, 0, 'block-aligned length');
        const near = writes.some((w) => a.start < w.offset + w.length + BLOCK && w.offset < a.start + a.length + BLOCK);
        assert.ok(near, `area ${a.start}+${a.length} is near a write`);
      }
      const total = areas.reduce((n, a) => n + a.length, 0);
      assert.ok(total <= 12 * BLOCK, `reported ${total} bytes`);

      // "*" = allocated areas, covering the data written so far.
      const alloc = await vs.cbt.changedAreas(vm, { snapshot: s2.node.ref, deviceKey: d1.key, changeId: '*', capacityBytes: d1.capacityBytes });
      for (const w of writes) assert.ok(covers(alloc, w.offset, w.length));

      // The next incremental starts from the changeId in s2's config: nothing changed since.
      const d2 = s2.disks[0]!;
      assert.notEqual(d2.changeId, d1.changeId);
      const s3 = await vs.snapshots.create(vm, { name: 'incr2' });
      try {
        const none = await vs.cbt.changedAreas(vm, { snapshot: s3.node.ref, deviceKey: d2.key, changeId: d2.changeId!, capacityBytes: d2.capacityBytes });
        assert.deepEqual(none, []);
      } finally {
        await vs.snapshots.remove(s3.node.ref);
      }
    } finally {
      await vs.snapshots.remove(s2.node.ref);
    }
  });

  it('writes the lab did not track (straight into the flat file) and writes merged at consolidation are still reported', async () => {
    assert.equal(await vs.cbt.setEnabled(vm, true), true);
    const s1 = await vs.snapshots.create(vm, { name: 'base' });
    const d1 = s1.disks[0]!;
    // While s1 exists the guest writes into the delta; removing s1 merges the delta into the base file.
    await lab.control.writeDisk('linux-db01', 0, 7 * MiB, Buffer.alloc(BLOCK, 0x51));
    await vs.snapshots.remove(s1.node.ref);
    const s2 = await vs.snapshots.create(vm, { name: 'after-merge' });
    const d2 = s2.disks[0]!;
    try {
      const areas = await vs.cbt.changedAreas(vm, { snapshot: s2.node.ref, deviceKey: d1.key, changeId: d1.changeId!, capacityBytes: d1.capacityBytes });
      assert.deepEqual(areas, [{ start: 7 * MiB, length: BLOCK }]);
    } finally {
      await vs.snapshots.remove(s2.node.ref);
    }
    // A write that bypasses the lab (like a tool editing the -flat file) is found by the next epoch too.
    const fh = await open(labVms['linux-db01']!.disks[0]!.flatPath, 'r+');
    await fh.write(Buffer.alloc(100, 0x52), 0, 100, 9 * MiB + 10);
    await fh.close();
    await lab.control.writeDisk('linux-db01', 0, 11 * MiB, Buffer.alloc(10, 0x53)); // and a tracked one after it
    const s3 = await vs.snapshots.create(vm, { name: 'after-direct' });
    try {
      const areas = await vs.cbt.changedAreas(vm, { snapshot: s3.node.ref, deviceKey: d2.key, changeId: d2.changeId!, capacityBytes: d2.capacityBytes });
      assert.deepEqual(areas, [{ start: 9 * MiB, length: BLOCK }, { start: 11 * MiB, length: BLOCK }]);
    } finally {
      await vs.snapshots.remove(s3.node.ref);
    }
  });

  it('an unknown/too old changeId → ChangeTrackingInvalid; reset() brings CBT back', async () => {
    const s = await vs.snapshots.create(vm, { name: 'bad-id' });
    const d = s.disks[0]!;
    try {
      await assert.rejects(vs.cbt.changedAreas(vm, { snapshot: s.node.ref, deviceKey: d.key, changeId: '52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/1', capacityBytes: d.capacityBytes }),
        ChangeTrackingInvalidError);
    } finally {
      await vs.snapshots.remove(s.node.ref);
    }
    await vs.cbt.reset(vm);
    assert.equal(await vs.cbt.isEnabled(vm), true);
    assert.deepEqual(await vs.snapshots.list(vm), [], 'the reset snapshot is gone');
  });
});
