// Every way a snapshot session can go wrong, injected by the lab at each step: afterwards no
// snapshot of ours remains, post-thaw ran whenever pre-freeze ran, the repository verifies clean,
// and the error or warning says what happened.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { backupVm } from '../../backend/backup/backup-vm.ts';
import type { AppAwareSettings } from '../../backend/api/contract.ts';
import { startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

let env: BackupEnv;
let guest: { id: string; credentials: { username: string; password: string } };
before(async () => {
  env = await startBackupEnv();
  guest = { id: 'lab-guest', credentials: { username: env.lab.guestUsername, password: env.lab.guestPassword } };
});
afterEach(async () => { await env.lab.control.clearFaults(); await env.lab.control.resetGuest(); });
after(async () => { await env?.close(); });

const scripts = (policy: 'fail' | 'fallback'): AppAwareSettings => ({
  quiesce: true, onQuiesceFailure: policy, vssBackupType: 'copy',
  preFreeze: { content: '#!/bin/sh\nsync\nexec /usr/local/bin/db-freeze\n', timeoutSec: 30 },
  postThaw: { content: '#!/bin/sh\nexec /usr/local/bin/db-thaw\n', timeoutSec: 30 },
});

async function snapshots(vm: string) { return env.vs.snapshots.list({ type: 'VirtualMachine', value: await env.vmId(vm) }); }
async function programs() { return (await env.lab.control.guestCalls()).filter((c) => c.kind === 'program'); }
const isFreeze = (c: { arguments?: string }) => /pre-freeze/.test(c.arguments ?? '');
const isThaw = (c: { arguments?: string }) => /post-thaw/.test(c.arguments ?? '');

test('pre-freeze runs before the snapshot and post-thaw after it, while the snapshot exists', async () => {
  const vmId = await env.vmId('linux-db01');
  await env.lab.control.setGuestExitCode({ match: 'pre-freeze', exitCode: 0, delayMs: 600 });
  await env.lab.control.setGuestExitCode({ match: 'post-thaw', exitCode: 0, delayMs: 600 });
  const samples: { at: number; n: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) { samples.push({ at: Date.now(), n: (await snapshots('linux-db01')).length }); await new Promise((r) => setTimeout(r, 25)); }
  })();
  const r = await backupVm(env, { vmId, settings: scripts('fail'), guest }).finally(async () => { polling = false; await poller; });
  const calls = await programs();
  const pre = calls.find(isFreeze)!;
  const post = calls.find(isThaw)!;
  assert.ok(pre && post, JSON.stringify(calls));
  const tPre = Date.parse(pre.time);
  const tPost = Date.parse(post.time);
  assert.ok(tPre < tPost);
  assert.ok(samples.filter((s) => s.at > tPre + 50 && s.at < tPre + 550).every((s) => s.n === 0), 'a snapshot existed while pre-freeze ran');
  assert.ok(samples.some((s) => s.at > tPost + 50 && s.at < tPost + 550 && s.n === 1), 'no snapshot while post-thaw ran');
  assert.equal(r.consistency, 'application');
  assert.match(pre.content ?? (await env.lab.control.guestCalls()).find((c) => c.kind === 'upload' && /pre-freeze/.test(c.guestFilePath ?? ''))?.content ?? '', /db-freeze/);
  assert.deepEqual(await snapshots('linux-db01'), []);
});

test('pre-freeze fails, policy "fail": no snapshot, the error says why, post-thaw still ran', async () => {
  await env.lab.control.setGuestExitCode({ match: 'pre-freeze', exitCode: 3 });
  await assert.rejects(backupVm(env, { vmId: await env.vmId('linux-db01'), settings: scripts('fail'), guest }), /pre-freeze failed: the pre-freeze script exited with code 3/);
  assert.deepEqual(await snapshots('linux-db01'), []);
  assert.equal((await programs()).filter(isThaw).length, 1);
});

test('pre-freeze fails, policy "fallback": crash-consistent restore point with a warning', async () => {
  await env.lab.control.setGuestExitCode({ match: 'pre-freeze', exitCode: 1 });
  const r = await backupVm(env, { vmId: await env.vmId('linux-db01'), settings: scripts('fallback'), guest });
  assert.equal(r.consistency, 'crash');
  assert.ok(r.warnings.some((w) => /Pre-freeze script failed .*crash-consistent/.test(w)), r.warnings.join('; '));
  assert.equal((await programs()).filter(isThaw).length, 1);
  assert.deepEqual(await snapshots('linux-db01'), []);
});

test('quiesce fails (ApplicationQuiesceFault): "fail" reports it, "fallback" takes a crash-consistent snapshot', async () => {
  const vmId = await env.vmId('win-app01');
  const base: AppAwareSettings = { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'full' };
  await env.lab.control.injectFault({ method: 'CreateSnapshotEx_Task', fault: 'ApplicationQuiesceFault', vm: 'win-app01' });
  await assert.rejects(backupVm(env, { vmId, settings: base }), /ApplicationQuiesceFault/);
  assert.deepEqual(await snapshots('win-app01'), []);
  await env.lab.control.injectFault({ method: 'CreateSnapshotEx_Task', fault: 'ApplicationQuiesceFault', vm: 'win-app01' });
  const r = await backupVm(env, { vmId, settings: { ...base, onQuiesceFailure: 'fallback' } });
  assert.equal(r.consistency, 'crash');
  assert.ok(r.warnings.some((w) => /Quiescing failed/.test(w)));
  assert.deepEqual(await snapshots('win-app01'), []);
});

test('VSS without writer manifests → filesystem-consistent, as reported', async () => {
  await env.lab.control.injectFault({ method: 'CreateSnapshotEx_Task', fault: 'NoWriterManifests', vm: 'win-app01' });
  const r = await backupVm(env, { vmId: await env.vmId('win-app01'), settings: { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy' } });
  assert.equal(r.consistency, 'filesystem');
});

test('snapshot creation fails: error, nothing left, post-thaw ran', async () => {
  await env.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01' });
  await assert.rejects(backupVm(env, { vmId: await env.vmId('linux-db01'), settings: scripts('fail'), guest }), /FileFault/);
  assert.deepEqual(await snapshots('linux-db01'), []);
  assert.equal((await programs()).filter(isThaw).length, 1);
});

test('reading the disk keeps failing: backup fails, snapshot removed, no restore point, repository verifies clean', async () => {
  const before = (await env.repo.listRestorePoints()).length;
  await env.lab.control.writeDisk('linux-db01', 0, 1 << 20, Buffer.alloc(4096, 7)); // something to read
  await env.lab.control.injectFault({ method: 'DatastoreGet', fault: 'ReadFault', path: 'linux-db01-flat.vmdk', afterBytes: 1000, count: -1 });
  await assert.rejects(backupVm(env, { vmId: await env.vmId('linux-db01'), settings: scripts('fail'), guest }), /ShortRead|connection|broke/i);
  assert.deepEqual(await snapshots('linux-db01'), []);
  assert.equal((await env.repo.listRestorePoints()).length, before);
  const report = await env.repo.verify();
  assert.equal(report.ok, true, JSON.stringify(report));
});

test('a read that fails once is retried and the backup succeeds', async () => {
  await env.lab.control.injectFault({ method: 'DatastoreGet', fault: 'ReadFault', path: 'linux-db01-flat.vmdk', afterBytes: 1000, count: 1 });
  const r = await backupVm(env, { vmId: await env.vmId('linux-db01'), settings: { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy' } });
  assert.equal(r.consistency, 'filesystem');
  assert.ok(r.bytesRead > 0, 'the backup read the changed area');
  // The lab drops a fault rule once it has fired: the cut read happened and was retried.
  assert.equal((await env.lab.control.faults()).some((f) => f.method === 'DatastoreGet'), false);
});

test('snapshot removal fails once, or leaves consolidation needed: retried and consolidated', async () => {
  const vm = { type: 'VirtualMachine', value: await env.vmId('linux-db01') };
  await env.lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: 'TaskInProgress', vm: 'linux-db01' });
  await backupVm(env, { vmId: vm.value, settings: { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy' } });
  assert.deepEqual(await snapshots('linux-db01'), []);
  await env.lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: 'LeaveConsolidationNeeded', vm: 'linux-db01' });
  await backupVm(env, { vmId: vm.value, settings: { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy' } });
  assert.equal(await env.vs.snapshots.consolidationNeeded(vm), false);
});
