// Backups through the API as the UI and CLI use them: a run with live progress, the restore point
// with its consistency, the vCenter side (task, event, "Last backup"), jobs and their validation,
// and one VM never in two snapshot sessions at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import type { ApiError, Dashboard, GuestCredential, Job, JobInput, JobRun, RestorePoint, VmSummary } from '../../backend/api/contract.ts';
import { TASK_TYPES } from '../../plugin/extension.ts';
import { LAST_BACKUP_FIELD } from '../../backend/backup/backup-vm.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';

let t: TestService;
let token: string;
let vs: VSphere;
let ids: Record<string, string>;
before(async () => {
  t = await startTestService();
  token = await t.login();
  vs = await connectToLab(t.lab);
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
});
after(async () => { await vs?.close(); await t?.stop(); });

const job = (over: Partial<JobInput> = {}): JobInput => ({
  name: 'nightly', vmIds: [ids['linux-db01']!], schedule: { cron: '0 22 * * 1-5' }, retention: { keepLast: 7 },
  appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 2, enabled: true, ...over,
});

test('Back up now: run succeeds, restore point is application-consistent, vCenter shows task, event and Last backup', async () => {
  const vmId = ids['win-app01']!;
  const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const run = await t.waitRun(token, started.body.id);
  assert.equal(run.status, 'success', JSON.stringify(run));
  assert.equal(run.vms[0]!.consistency, 'application');
  assert.ok(run.vms[0]!.bytesRead > 0);

  const points = await t.call<RestorePoint[]>('GET', `/api/vms/${vmId}/restore-points`, { token });
  assert.equal(points.body.length, 1);
  assert.equal(points.body[0]!.consistency, 'application');
  assert.equal(points.body[0]!.id, run.vms[0]!.restorePointId);
  assert.equal((await t.call<RestorePoint>('GET', `/api/restore-points/${points.body[0]!.id}`, { token })).body.vmId, vmId);

  const vm = { type: 'VirtualMachine', value: vmId };
  const fields = await vs.customFields.values(vm);
  assert.match(fields[LAST_BACKUP_FIELD] ?? '', /success \(application-consistent\)/);
  const events = await vs.events.query(vm);
  assert.ok(events.some((e) => /Stillpoint: backup of win-app01 finished, application-consistent/.test(e.fullFormattedMessage ?? '')), JSON.stringify(events.map((e) => e.fullFormattedMessage)));
  const tm = vs.client.serviceContent.taskManager!;
  const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: { value: string; type: string }[] }>(tm, ['recentTask']);
  const infos = await Promise.all((recentTask ?? []).map((r) => vs.pc.retrieveOne<{ info: { descriptionId: string; state: string; entity?: { value: string } } }>(r, ['info'])));
  assert.ok(infos.some((i) => i.info.descriptionId === TASK_TYPES.backup && i.info.state === 'success' && i.info.entity?.value === vmId),
    `no successful ${TASK_TYPES.backup} task: ${JSON.stringify(infos.map((i) => i.info.descriptionId))}`);

  const list = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  const summary = list.body.find((v) => v.id === vmId)!;
  assert.equal(summary.lastBackup?.status, 'success');
  assert.equal(summary.lastBackup?.consistency, 'application');
  const dash = await t.call<Dashboard>('GET', '/api/dashboard', { token });
  assert.equal(dash.status, 200);
  assert.ok(dash.body.last24h.success >= 1);
  assert.ok(dash.body.repository.restorePoints >= 1);
});

test('jobs: validation names the bad field; a created job is scheduled, protects its VMs and runs', async () => {
  const bad = [
    [{ ...job(), schedule: { cron: '61 * * * *' } }, /cron.*minute/],
    [{ ...job(), concurrency: 9 }, /concurrency must be at most 8/],
    [{ ...job(), extra: 1 }, /extra is not a known field/],
    [{ ...job(), vmIds: ['vm-abc'] }, /vmIds\[0\] has an invalid format/],
    [{ ...job(), appAware: { quiesce: true, onQuiesceFailure: 'maybe', vssBackupType: 'copy' } }, /onQuiesceFailure must be one of/],
    [{ ...job(), appAware: { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy', preFreeze: { content: 'sync', timeoutSec: 10 } } }, /guest credentials/],
  ] as const;
  for (const [body, re] of bad) {
    const r = await t.call<ApiError>('POST', '/api/jobs', { token, body });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.message, re);
  }
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: job() });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.ok(created.body.nextRun && Date.parse(created.body.nextRun) > Date.now());
  assert.equal(new Date(created.body.nextRun).getHours(), 22);
  const dup = await t.call<ApiError>('POST', '/api/jobs', { token, body: job() });
  assert.equal(dup.status, 409);
  const vms = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  // In a scheduled job is shown apart; protected means a good point within the window (service/protection.ts).
  assert.equal(vms.body.find((v) => v.id === ids['linux-db01'])!.inScheduledJob, true);
  const run = await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token });
  assert.equal(run.status, 202);
  const done = await t.waitRun(token, run.body.id);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.equal((await t.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.id === ids['linux-db01'])!.protected, true);
  assert.equal(done.jobId, created.body.id);
  assert.equal((await t.call<Job>('GET', `/api/jobs/${created.body.id}`, { token })).body.lastRun?.status, 'success');
});

test('a scheduled job runs by itself; disabling it clears the next run', async () => {
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'every-2s', schedule: { cron: '*/2 * * * * *' } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const allRuns = async () => (await t.call<JobRun[]>('GET', '/api/runs', { token })).body;
  const backupsOf = (runs: JobRun[], jobId: string) => runs.filter((r) => r.jobId === jobId && r.kind === 'backup');
  const ended = (r: JobRun) => r.status !== 'running' && r.status !== 'queued';
  const runs = await until('the scheduler to run the job', async () => {
    const r = backupsOf(await allRuns(), created.body.id).filter(ended);
    return r.length ? r : undefined;
  }, { timeoutMs: 20_000, everyMs: 200 }).catch(() => [] as JobRun[]);
  assert.ok(runs.length >= 1, 'the scheduler never ran the job');
  assert.equal(runs[0]!.status, 'success', JSON.stringify(runs[0]));
  const offAt = Date.now();
  const off = await t.call<Job>('PUT', `/api/jobs/${created.body.id}`, { token, body: job({ name: 'every-2s', schedule: { cron: '*/2 * * * * *' }, enabled: false }) });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.body.nextRun, undefined);
  // Wait for a run the scheduler may have started just before, then nothing more starts.
  const waitIdle = () => until('no run to be running', async () => { const r = await allRuns(); return r.some((x) => !ended(x)) ? undefined : r; }, { timeoutMs: 60_000, everyMs: 100 });
  const before = backupsOf(await waitIdle(), created.body.id).length;
  // A job on the same schedule (another VM) shows the scheduler's ticks: once it has run twice since the
  // disable, the disabled job would have been started too.
  const control = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'every-2s-control', vmIds: [ids['web-off01']!], schedule: { cron: '*/2 * * * * *' } }) });
  assert.equal(control.status, 201, JSON.stringify(control.body));
  try {
    await until('two scheduled runs of the control job after the disable', async () =>
      backupsOf(await allRuns(), control.body.id).filter((r) => ended(r) && Date.parse(r.startedAt) > offAt).length >= 2,
    { timeoutMs: 60_000, everyMs: 200 });
  } finally {
    await t.call('PUT', `/api/jobs/${control.body.id}`, { token, body: job({ name: 'every-2s-control', vmIds: [ids['web-off01']!], schedule: { cron: '*/2 * * * * *' }, enabled: false }) });
    await waitIdle();
    await t.call('DELETE', `/api/jobs/${control.body.id}`, { token });
  }
  assert.equal(backupsOf(await waitIdle(), created.body.id).length, before);
  await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
});

test('two jobs with the same VM at once: both complete, never two snapshots on the VM', async () => {
  const vmId = ids['linux-db01']!;
  const a = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'a', schedule: { cron: null } }) });
  const b = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'b', schedule: { cron: null } }) });
  // Slow snapshot creation down so the two runs overlap, and removal so each snapshot lives long enough to be seen.
  await t.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: '', delayMs: 400, count: -1 });
  await t.lab.control.injectFault({ method: 'RemoveSnapshot_Task', fault: '', delayMs: 300, count: -1 });
  let maxSnapshots = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const n = (await vs.snapshots.list({ type: 'VirtualMachine', value: vmId })).length;
      maxSnapshots = Math.max(maxSnapshots, n);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const [ra, rb] = await Promise.all([
      t.call<JobRun>('POST', `/api/jobs/${a.body.id}/run`, { token }),
      t.call<JobRun>('POST', `/api/jobs/${b.body.id}/run`, { token }),
    ]);
    const [da, db] = await Promise.all([t.waitRun(token, ra.body.id), t.waitRun(token, rb.body.id)]);
    assert.equal(da.status, 'success', JSON.stringify(da));
    assert.equal(db.status, 'success', JSON.stringify(db));
    // The runs overlapped in time, so only the VM lock kept the snapshots apart.
    assert.ok(Date.parse(da.startedAt) < Date.parse(db.endedAt!) && Date.parse(db.startedAt) < Date.parse(da.endedAt!));
  } finally {
    polling = false;
    await poller;
    await t.lab.control.clearFaults();
  }
  assert.equal(maxSnapshots, 1);
});

test('a manual backup while a job holds the VM is refused at once (409), naming the holder; once released it runs', async () => {
  const vmId = ids['linux-db01']!;
  const guest = { username: t.lab.guestUsername, password: t.lab.guestPassword };
  const cred = await t.call<GuestCredential>('POST', '/api/credentials', { token, body: { name: 'holder-guest', ...guest } });
  assert.equal(cred.status, 201, JSON.stringify(cred.body));
  // The job's pre-freeze script "runs" in the guest until the test ends it: meanwhile the job holds the VM.
  const holder = await t.call<Job>('POST', '/api/jobs', { token, body: job({
    name: 'holder', schedule: { cron: null }, enabled: false,
    appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy', guestCredentialId: cred.body.id, preFreeze: { content: '#!/bin/sh\nsync\n', timeoutSec: 3600 } },
  }) });
  assert.equal(holder.status, 201, JSON.stringify(holder.body));
  await t.lab.control.setGuestExitCode({ vm: 'linux-db01', match: 'pre-freeze', exitCode: 0, delayMs: 3_600_000 });
  try {
    const started = await t.call<JobRun>('POST', `/api/jobs/${holder.body.id}/run`, { token });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const freeze = await until('the job\'s pre-freeze script to run in linux-db01', async () =>
      (await t.lab.control.guestCalls()).find((c) => c.kind === 'program' && c.vm === 'linux-db01' && /pre-freeze/.test(c.arguments ?? '')));
    await until('the job run to report the pre-freeze phase', async () =>
      /pre-freeze/.test((await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token })).body.vms[0]!.phase),
    { describe: async () => JSON.stringify((await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token })).body) });

    const manualRuns = async () => (await t.call<JobRun[]>('GET', '/api/runs', { token })).body.filter((r) => r.kind === 'backup' && !r.jobId && r.vms.some((v) => v.vmId === vmId)).length;
    const manualBefore = await manualRuns();
    const busy = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
    assert.equal(busy.status, 409, JSON.stringify(busy.body));
    assert.match(busy.body.message, /in use/i);
    assert.ok(busy.body.message.includes(vmId), busy.body.message);
    assert.ok(busy.body.message.includes(holder.body.id) || busy.body.message.includes(holder.body.name), `names the holding job: ${busy.body.message}`);
    assert.equal(await manualRuns(), manualBefore, 'the refused backup started no run');

    // Release: end the script (as if killed, exit code 1); the job falls back to a crash-consistent snapshot and finishes.
    await vs.guest.terminate({ type: 'VirtualMachine', value: vmId }, guest, freeze.pid!);
    const done = await t.waitRun(token, started.body.id);
    assert.equal(done.status, 'warning', JSON.stringify(done));
    assert.equal(done.vms[0]!.consistency, 'crash', JSON.stringify(done));
    assert.ok(done.vms[0]!.warnings.some((w) => /pre-freeze/i.test(w)), JSON.stringify(done.vms[0]!.warnings));
  } finally {
    await t.lab.control.resetGuest();
  }
  const free = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
  assert.equal(free.status, 202, `the VM is free again: ${JSON.stringify(free.body)}`);
  assert.equal((await t.waitRun(token, free.body.id)).status, 'success');
  await t.call('DELETE', `/api/jobs/${holder.body.id}`, { token });
  await t.call('DELETE', `/api/credentials/${cred.body.id}`, { token });
});

test('a folder-based job backs up the VMs in the folder at run time', async () => {
  const folders = await t.call<{ id: string; name: string; path: string }[]>('GET', '/api/inventory/folders', { token });
  assert.equal(folders.status, 200);
  const vmFolder = folders.body.find((f) => f.name === 'vm');
  assert.ok(vmFolder, JSON.stringify(folders.body));
  const bad = await t.call<ApiError>('POST', '/api/jobs', { token, body: job({ name: 'f0', vmIds: [], folderIds: ['group-v999999'] }) });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /not a VM folder/);
  const empty = await t.call<ApiError>('POST', '/api/jobs', { token, body: job({ name: 'f0', vmIds: [] }) });
  assert.equal(empty.status, 400);
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'by-folder', vmIds: [], folderIds: [vmFolder.id], schedule: { cron: null } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const vms = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  const run = await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token });
  const done = await t.waitRun(token, run.body.id);
  assert.deepEqual(done.vms.map((v) => v.vmId).sort(), vms.body.map((v) => v.id).sort());
  assert.notEqual(done.status, 'failed', JSON.stringify(done));
  const after = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  const good = new Set(done.vms.filter((v) => v.status === 'success' || v.status === 'warning').map((v) => v.vmId));
  assert.ok(good.size > 0 && after.every((v) => v.protected === good.has(v.id)), 'the folder\'s VMs with a good point from this run count as protected');
  await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
});

test('cancelling a running backup removes the snapshot and records the run as cancelled', async () => {
  const vmId = ids['linux-db01']!;
  await t.lab.control.writeDisk('linux-db01', 0, 3 << 20, Buffer.alloc(1 << 20, 9)); // something to read
  await t.lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'linux-db01-flat.vmdk', delayMs: 3000, count: -1 });
  try {
    const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
    await until('the backup to read the disk', async () => (await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token })).body.vms[0]!.phase.startsWith('reading'), { timeoutMs: 10_000 });
    const c = await t.call<JobRun>('POST', `/api/runs/${started.body.id}/cancel`, { token });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    const done = await t.waitRun(token, started.body.id);
    assert.equal(done.status, 'cancelled', JSON.stringify(done));
    assert.match(done.vms[0]!.message ?? '', /Cancelled/);
    assert.deepEqual(await vs.snapshots.list({ type: 'VirtualMachine', value: vmId }), []);
    const again = await t.call<ApiError>('POST', `/api/runs/${started.body.id}/cancel`, { token });
    assert.equal(again.status, 409);
  } finally {
    await t.lab.control.clearFaults();
  }
});

test('backup input errors: unknown VM, malformed id, empty list', async () => {
  const r1 = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: ['vm-999999'] } });
  assert.equal(r1.status, 404);
  const r2 = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: ['42'] } });
  assert.equal(r2.status, 400);
  const r3 = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: [] } });
  assert.equal(r3.status, 400);
  assert.match(r3.body.message, /at least 1 item/);
});
