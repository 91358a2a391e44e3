// Backups through the API as the UI and CLI use them: a run with live progress, the restore point
// with its consistency, the vCenter side (task, event, "Last backup"), jobs and their validation,
// and one VM never in two snapshot sessions at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import type { ApiError, Dashboard, Job, JobInput, JobRun, RestorePoint, VmSummary } from '../../backend/api/contract.ts';
import { TASK_TYPES } from '../../plugin/extension.ts';
import { LAST_BACKUP_FIELD } from '../../backend/backup/backup-vm.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';

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
  assert.equal(vms.body.find((v) => v.id === ids['linux-db01'])!.protected, true);
  const run = await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token });
  assert.equal(run.status, 202);
  const done = await t.waitRun(token, run.body.id);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.equal(done.jobId, created.body.id);
  assert.equal((await t.call<Job>('GET', `/api/jobs/${created.body.id}`, { token })).body.lastRun?.status, 'success');
});

test('a scheduled job runs by itself; disabling it clears the next run', async () => {
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: job({ name: 'every-2s', schedule: { cron: '*/2 * * * * *' } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const t0 = Date.now();
  let runs: JobRun[] = [];
  while (Date.now() - t0 < 20_000) {
    runs = (await t.call<JobRun[]>('GET', '/api/runs', { token })).body.filter((r) => r.jobId === created.body.id && r.status !== 'running');
    if (runs.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(runs.length >= 1, 'the scheduler never ran the job');
  assert.equal(runs[0]!.status, 'success', JSON.stringify(runs[0]));
  const off = await t.call<Job>('PUT', `/api/jobs/${created.body.id}`, { token, body: job({ name: 'every-2s', schedule: { cron: '*/2 * * * * *' }, enabled: false }) });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.body.nextRun, undefined);
  // Wait for a run the scheduler may have started just before, then nothing more starts.
  const waitIdle = async () => { for (;;) { const r = (await t.call<JobRun[]>('GET', '/api/runs', { token })).body; if (!r.some((x) => x.status === 'running')) return r; await new Promise((res) => setTimeout(res, 100)); } };
  const before = (await waitIdle()).filter((r) => r.jobId === created.body.id).length;
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal((await waitIdle()).filter((r) => r.jobId === created.body.id).length, before);
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
  // A manual backup while a job holds the VM is refused at once, naming the holder.
  const slow = await t.call<JobRun>('POST', `/api/jobs/${a.body.id}/run`, { token });
  const busy = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
  await t.waitRun(token, slow.body.id);
  if (busy.status === 409) assert.match(busy.body.message, /in use/i);
  else assert.equal(busy.status, 202); // the job had not taken the VM yet
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
  assert.ok(vms.body.every((v) => v.protected), 'every VM in the folder counts as protected');
  const run = await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token });
  const done = await t.waitRun(token, run.body.id);
  assert.deepEqual(done.vms.map((v) => v.vmId).sort(), vms.body.map((v) => v.id).sort());
  assert.notEqual(done.status, 'failed', JSON.stringify(done));
  await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
});

test('cancelling a running backup removes the snapshot and records the run as cancelled', async () => {
  const vmId = ids['linux-db01']!;
  await t.lab.control.writeDisk('linux-db01', 0, 3 << 20, Buffer.alloc(1 << 20, 9)); // something to read
  await t.lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'linux-db01-flat.vmdk', delayMs: 3000, count: -1 });
  try {
    const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
    for (let i = 0; i < 200; i++) {
      const r = await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token });
      if (r.body.vms[0]!.phase.startsWith('reading')) break;
      await new Promise((res) => setTimeout(res, 50));
    }
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
