// A job's retention prunes only that job's own restore points: an on-demand backup ("Back up now",
// even with the job's settings) and another job's points of the same VM survive, and the retention
// run's history names every point it removed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { Job, JobInput, JobRun, RestorePoint } from '../../backend/api/contract.ts';
import { until } from '../helpers/wait.ts';

let t: TestService;
let token: string;
let vmId: string;
before(async () => {
  t = await startTestService();
  token = await t.login();
  vmId = (await t.lab.control.vms())['web-off01']!.moref;
});
after(async () => { await t?.stop(); });

const jobInput = (name: string, keepLast: number): JobInput => ({
  name, vmIds: [vmId], schedule: { cron: null }, retention: { keepLast }, concurrency: 1, enabled: true,
  appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' },
});

test('retention keeps on-demand points and other jobs\' points, and lists what it removed', async () => {
  const a = (await t.call<Job>('POST', '/api/jobs', { token, body: jobInput('A keeps 1', 1) })).body;
  const b = (await t.call<Job>('POST', '/api/jobs', { token, body: jobInput('B keeps 5', 5) })).body;
  const wait = async (path: string, body?: unknown) => t.waitRun(token, (await t.call<JobRun>('POST', path, { token, ...(body ? { body } : {}) })).body.id);
  const retentionOf = async (job: Job, after: string) => until(`the retention run of ${job.name}`, async () =>
    (await t.call<JobRun[]>('GET', '/api/runs?limit=200', { token })).body.find((r) => r.kind === 'retention' && r.forJob?.id === job.id && r.startedAt >= after && r.endedAt));

  const onDemand = await wait('/api/backups', { vmIds: [vmId] }); // settings of job A (the first job holding the VM), but on demand
  const fromB = await wait(`/api/jobs/${b.id}/run`);
  const a1 = await wait(`/api/jobs/${a.id}/run`);
  await retentionOf(a, a1.startedAt);
  const a2 = await wait(`/api/jobs/${a.id}/run`);
  const ret = await retentionOf(a, a2.startedAt);

  const points = new Set((await t.call<RestorePoint[]>('GET', `/api/vms/${vmId}/restore-points`, { token })).body.map((p) => p.id));
  const id = (r: JobRun) => r.vms[0]!.restorePointId!;
  assert.ok(points.has(id(onDemand)), 'the on-demand point survives job A\'s retention');
  assert.ok(points.has(id(fromB)), 'job B\'s point survives job A\'s retention');
  assert.ok(points.has(id(a2)), 'job A keeps its newest point');
  assert.ok(!points.has(id(a1)), 'job A\'s older point is removed');
  assert.equal(ret.status, 'success', JSON.stringify(ret));
  assert.match(ret.message ?? '', new RegExp(`Removed 1 restore point.*${id(a1)}`), ret.message);
  assert.doesNotMatch(ret.message ?? '', new RegExp(`${id(onDemand)}|${id(fromB)}`));
});
