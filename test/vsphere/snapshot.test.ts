// Snapshots, quiescing, consolidation and task faults against the lab vCenter.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ApplicationQuiesceError, mor, TaskInProgressError, type VSphere, type MoRef } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: snapshots', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  const ref = (name: string): MoRef => mor('VirtualMachine', labVms[name]!.moref);
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
  });
  afterEach(async () => {
    await lab.control.clearFaults();
    for (const name of Object.keys(labVms)) {
      for (const s of await vs.snapshots.list(ref(name))) await vs.snapshots.remove(s.ref, { removeChildren: true }).catch(() => undefined);
    }
  });
  after(() => stopLabSession(lab, vs));

  it('creates a quiesced snapshot and reads back quiesced + backupManifest + disks', async () => {
    const progress: number[] = [];
    const s = await vs.snapshots.create(ref('win-app01'), {
      name: 'stillpoint-test', description: 'stillpoint:job=1', quiesce: true, onProgress: (p) => progress.push(p),
    });
    assert.equal(s.node.name, 'stillpoint-test');
    assert.equal(s.node.description, 'stillpoint:job=1');
    assert.equal(s.node.quiesced, true);
    assert.ok(s.node.backupManifest, 'Tools wrote a VSS manifest');
    assert.ok(progress.includes(100));
    assert.equal(s.disks.length, 1);
    assert.equal(s.disks[0]!.key, labVms['win-app01']!.disks[0]!.key);
    assert.match(s.disks[0]!.fileName, /^\[prod-ds1\] win-app01\//);
    const tree = await vs.snapshots.tree(ref('win-app01'));
    assert.equal(tree.roots.length, 1);
    assert.equal(tree.current?.value, s.node.ref.value);
    const vm = await vs.inventory.vm(ref('win-app01'));
    assert.equal(vm.snapshots[0]!.ref.value, s.node.ref.value);
    await vs.snapshots.remove(s.node.ref);
    assert.deepEqual(await vs.snapshots.list(ref('win-app01')), []);
    assert.equal(await vs.snapshots.consolidationNeeded(ref('win-app01')), false);
  });

  it('quiesce is silently ignored without Tools: quiesced=false is read back', async () => {
    const s = await vs.snapshots.create(ref('app-notools01'), { name: 'q', quiesce: true });
    assert.equal(s.node.quiesced, false);
    assert.equal(s.node.backupManifest, undefined);
  });

  it('CreateSnapshotEx_Task with a Windows VSS quiesce spec (VSS_BT_FULL)', async () => {
    const s = await vs.snapshots.create(ref('win-app01'), {
      name: 'vss-full',
      windowsQuiesce: { vssBackupType: 'FULL', vssBackupContext: 'ctx_backup', vssBootableSystemState: true, vssPartialFileSupport: false, timeout: 10 },
    });
    assert.equal(s.node.quiesced, true);
    assert.ok(s.node.backupManifest);
  });

  it('a snapshot tree with children; revert; removeMatching our leftovers', async () => {
    const vm = ref('linux-db01');
    const a = await vs.snapshots.create(vm, { name: 'a', description: 'other tool' });
    const b = await vs.snapshots.create(vm, { name: 'b', description: 'stillpoint' });
    const tree = await vs.snapshots.tree(vm);
    assert.equal(tree.roots[0]!.name, 'a');
    assert.equal(tree.roots[0]!.children[0]!.name, 'b');
    const removed = await vs.snapshots.removeMatching(vm, (n) => n.description === 'stillpoint');
    assert.equal(removed, 1);
    assert.deepEqual((await vs.snapshots.list(vm)).map((n) => n.ref.value), [a.node.ref.value]);
    await vs.snapshots.revert(a.node.ref);
    assert.equal((await vs.snapshots.tree(vm)).current?.value, a.node.ref.value);
  });

  it('ApplicationQuiesceFault → typed error that says what to do', async () => {
    await lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'ApplicationQuiesceFault', vm: 'win-app01' });
    await assert.rejects(vs.snapshots.create(ref('win-app01'), { name: 'x', quiesce: true }), (err: unknown) => {
      assert.ok(err instanceof ApplicationQuiesceError, String(err));
      assert.match(err.hint, /pre-freeze|VSS/);
      assert.match(err.hint, /crash-consistent/);
      return true;
    });
  });

  it('TaskInProgress → typed error', async () => {
    await lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'TaskInProgress', vm: 'win-app01' });
    await assert.rejects(vs.snapshots.create(ref('win-app01'), { name: 'x' }), TaskInProgressError);
  });

  it('consolidation needed after remove → ConsolidateVMDisks_Task clears it', async () => {
    const vm = ref('linux-db01');
    const s = await vs.snapshots.create(vm, { name: 'c' });
    await lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: 'LeaveConsolidationNeeded', vm: 'linux-db01' });
    await vs.snapshots.remove(s.node.ref);
    assert.equal(await vs.snapshots.consolidationNeeded(vm), true);
    assert.equal((await vs.inventory.vm(vm)).consolidationNeeded, true);
    assert.equal(await vs.snapshots.consolidateIfNeeded(vm), true);
    assert.equal(await vs.snapshots.consolidationNeeded(vm), false);
  });
});
