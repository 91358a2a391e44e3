// A backup snapshot that vSphere would not remove, or whose disks it would not consolidate, is
// retried in the background, and vCenter shows a warning event on the VM that says which step
// failed; once the retry succeeds the VM has no snapshot and nothing left to consolidate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { backupVm } from '../../backend/backup/backup-vm.ts';
import { CleanupRetrier } from '../../backend/sources/snapshot/cleanup-retry.ts';
import { DEFAULT_SETTINGS, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';
import { until } from '../helpers/wait.ts';

let env: BackupEnv;
let cleanup: CleanupRetrier;
before(async () => { env = await startBackupEnv(); cleanup = new CleanupRetrier([100, 200]); });
after(async () => { cleanup?.stop(); await env?.close(); });

const events = async (vmId: string) => (await env.vs.events.query({ type: 'VirtualMachine', value: vmId })).map((e) => e.fullFormattedMessage ?? e.message ?? '');

test('a snapshot vSphere would not remove is removed in the background, with a warning event first', async () => {
  const vmId = await env.vmId('web-off01');
  const ref = { type: 'VirtualMachine', value: vmId };
  await env.lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: 'TaskInProgress', vm: 'web-off01', count: 3 });
  const r = await backupVm({ ...env, cleanup }, { vmId, settings: DEFAULT_SETTINGS });
  assert.ok(r.warnings.some((w) => /The backup snapshot could not be removed .*keeps retrying in the background/.test(w)), r.warnings.join(' | '));
  assert.ok((await events(vmId)).some((m) => /Stillpoint warning: The backup snapshot could not be removed/.test(m)), 'a warning event on the VM');
  await until('the background retry to remove the snapshot', async () => (await env.vs.snapshots.list(ref)).length === 0);
  await until('the "cleaned up" event', async () => (await events(vmId)).some((m) => /cleaned up in the background/.test(m)));
});

test('when only consolidation failed, the warning says so, and the retry consolidates', async () => {
  const vmId = await env.vmId('linux-db01');
  const ref = { type: 'VirtualMachine', value: vmId };
  await env.lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: 'LeaveConsolidationNeeded', vm: 'linux-db01', count: 1 });
  await env.lab.control.injectFault({ method: 'ConsolidateVMDisks_Task', fault: 'TaskInProgress', vm: 'linux-db01', count: 1 });
  const r = await backupVm({ ...env, cleanup }, { vmId, settings: DEFAULT_SETTINGS });
  const w = r.warnings.find((x) => /snapshot/.test(x)) ?? '';
  assert.match(w, /was removed, but the VM's disks could not be consolidated/);
  assert.doesNotMatch(w, /could not be removed/);
  assert.deepEqual(await env.vs.snapshots.list(ref), [], 'the snapshot itself is gone');
  await until('the background retry to consolidate', async () => !(await env.vs.snapshots.consolidationNeeded(ref)));
});
