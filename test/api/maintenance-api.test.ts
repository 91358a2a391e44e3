// Repository maintenance through the API: when GC and verify run next, running one now as a run of
// its own (only for users who may manage the repository), and clear refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, JobRun } from '../../backend/api/contract.ts';

let t: TestService;
let token: string;
before(async () => { t = await startTestService(); token = await t.login(); });
after(async () => { await t?.stop(); });

test('GC and verify are scheduled, and an administrator runs verify now as a run of its own', async () => {
  const sched = await t.call<{ kind: string; nextRun?: string }[]>('GET', '/api/maintenance', { token });
  assert.equal(sched.status, 200, JSON.stringify(sched.body));
  assert.deepEqual(sched.body.map((m) => m.kind), ['gc', 'verify']);
  assert.ok(sched.body.every((m) => m.nextRun && Date.parse(m.nextRun) > Date.now()), JSON.stringify(sched.body));

  const started = await t.call<JobRun>('POST', '/api/maintenance/verify/run', { token });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.equal(started.body.kind, 'verify');
  const run = await t.waitRun(token, started.body.id);
  assert.equal(run.status, 'success', JSON.stringify(run));
  assert.match(run.message ?? '', /matched its hash/);
  assert.deepEqual(run.vms, []);
});

test('maintenance refuses an unknown task and a user without Global.Settings', async () => {
  const bad = await t.call<ApiError>('POST', '/api/maintenance/defrag/run', { token });
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  const refused = await t.call<ApiError>('POST', '/api/maintenance/gc/run', { token: await t.login('restricted') });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(refused.body.message, /Global\.Settings/);
});
