// Bugs found while reshaping the engine, each pinned by a test against the real service and lab:
// "Back up now" ignored folder-based jobs' settings, POST /api/backups dropped its jobId, the replica
// route the UI calls did not exist, and retention ran as the tail of a backup run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, Job, JobInput, JobRun, ReplicaState } from '../../backend/api/contract.ts';
import { until } from '../helpers/wait.ts';

let t: TestService;
let token: string;
let ids: Record<string, string>;
before(async () => {
  t = await startTestService();
  token = await t.login();
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
});
after(async () => { await t?.stop(); });

const jobInput = (over: Partial<JobInput>): JobInput => ({
  name: 'j', vmIds: [], schedule: { cron: null }, retention: {}, concurrency: 1, enabled: true,
  appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, ...over,
});

test('"Back up now" of a VM protected only through a folder-based job uses that job\'s settings', async () => {
  const folders = await t.call<{ id: string; name: string }[]>('GET', '/api/inventory/folders', { token });
  const vmFolder = folders.body.find((f) => f.name === 'vm');
  assert.ok(vmFolder, JSON.stringify(folders.body));
  // The job says: no quiescing. With the defaults linux-db01 (Tools running) would be filesystem-consistent.
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: jobInput({ name: 'by-folder, no quiesce', folderIds: [vmFolder.id], appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  try {
    const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [ids['linux-db01']!] } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const run = await t.waitRun(token, started.body.id);
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.equal(run.vms[0]!.consistency, 'crash', 'the folder job\'s "quiesce: false" applied');
  } finally {
    await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
  }
});

test('POST /api/backups with a jobId runs as part of that job, and refuses VMs outside it', async () => {
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: jobInput({ name: 'named job', vmIds: [ids['web-off01']!] }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  try {
    const outside = await t.call<ApiError>('POST', '/api/backups', { token, body: { vmIds: [ids['linux-db01']!], jobId: created.body.id } });
    assert.equal(outside.status, 400, JSON.stringify(outside.body));
    assert.match(outside.body.message, /not in job/);

    const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [ids['web-off01']!], jobId: created.body.id } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.jobId, created.body.id);
    assert.equal(started.body.jobName, 'named job');
    const run = await t.waitRun(token, started.body.id);
    assert.equal(run.jobId, created.body.id);
    const job = await t.call<Job>('GET', `/api/jobs/${created.body.id}`, { token });
    assert.equal(job.body.lastRun?.id, run.id, 'the job shows the run as its last run');
  } finally {
    await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
  }
});

test('GET /api/vms/:id/replica answers state "none" for a VM without replica, 404 for an unknown VM', async () => {
  const none = await t.call<ReplicaState>('GET', `/api/vms/${ids['win-app01']!}/replica`, { token });
  assert.equal(none.status, 200, JSON.stringify(none.body));
  assert.deepEqual(none.body, { vmId: ids['win-app01']!, state: 'none' });
  const unknown = await t.call<ApiError>('GET', '/api/vms/vm-999999/replica', { token });
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
});

test('a job\'s retention is a maintenance run of its own, listing what it removed; the backup run ends without it', async () => {
  const created = await t.call<Job>('POST', '/api/jobs', { token, body: jobInput({ name: 'keep one', vmIds: [ids['web-off01']!], retention: { keepLast: 1 } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  try {
    const runJob = async () => t.waitRun(token, (await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token })).body.id);
    const first = await runJob();
    const second = await runJob();
    assert.equal(second.kind, 'backup');
    // web-off01 is powered off: its points are crash-consistent, which the run reports as a warning.
    assert.equal(second.status, 'warning', JSON.stringify(second));
    const retention = await until('the retention run of the job', async () => {
      const runs = (await t.call<JobRun[]>('GET', '/api/runs?limit=100', { token })).body;
      return runs.find((r) => r.kind === 'retention' && r.forJob?.id === created.body.id && r.endedAt && r.startedAt >= second.startedAt);
    });
    assert.equal(retention.status, 'success', JSON.stringify(retention));
    assert.equal(retention.jobId, undefined, 'a maintenance run is not one of the job\'s own runs');
    const firstPoint = first.vms[0]!.restorePointId!;
    assert.match(retention.message ?? '', new RegExp(`Removed 1 restore point.*${firstPoint}`));
    const gone = await t.call('GET', `/api/restore-points/${firstPoint}`, { token });
    assert.equal(gone.status, 404);
  } finally {
    await t.call('DELETE', `/api/jobs/${created.body.id}`, { token });
  }
});
