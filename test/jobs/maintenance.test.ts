// Repository maintenance runs on its own schedule with its own history, on a real repository: the
// scheduler starts GC and verify at their cron times, each is a run of its own kind, and a verify
// that finds damage fails with the restore points it affects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Repository } from '../../backend/repository/repository.ts';
import { JobRunner } from '../../backend/jobs/runner.ts';
import { JobStore } from '../../backend/jobs/store.ts';
import { Scheduler } from '../../backend/jobs/scheduler.ts';
import { registerMaintenance } from '../../backend/jobs/maintenance.ts';
import { SecretBox } from '../../backend/common/secrets.ts';
import type { Run } from '../../backend/model/job.ts';
import { tempDir } from '../repository/helpers.ts';
import { until } from '../helpers/wait.ts';

async function setup(t: { after: (fn: () => void) => void }) {
  const dir = tempDir(t);
  const repo = await Repository.init(join(dir, 'repo'));
  t.after(() => void repo.close());
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'app01' }, consistency: 'crash' });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 4 * repo.chunkSize });
  for (let i = 0; i < 4; i++) await d.write(i * repo.chunkSize, randomBytes(repo.chunkSize));
  const rp = await w.commit();
  const store = new JobStore(join(dir, 'data'), SecretBox.forDataDir(join(dir, 'data')));
  const events: Run[] = [];
  const runner = new JobRunner({ store, publish: (e) => { if (e.type === 'run') events.push(e.run); }, vmName: async (id) => id, jobVms: async (j) => j.vmIds });
  registerMaintenance(runner, { repo: async () => repo, jobVms: async (j) => j.vmIds });
  return { dir, repo, rp, store, runner, events };
}

const ended = (store: JobStore, kind: string) => store.runs({ limit: 100 }).find((r) => r.kind === kind && r.endedAt);

test('the scheduler starts GC and verify at their cron times, each a run of its own with a message', async (t) => {
  const { store, runner, events } = await setup(t);
  const scheduler = new Scheduler(store, runner, () => {}, { gc: '* * * * * *', verify: '* * * * * *' });
  t.after(() => scheduler.stop());
  scheduler.refresh();
  assert.deepEqual(scheduler.maintenance().map((m) => m.kind), ['gc', 'verify']);
  const gc = await until('a scheduled GC run', () => ended(store, 'gc'), { timeoutMs: 10_000 });
  const verify = await until('a scheduled verify run', () => ended(store, 'verify'), { timeoutMs: 10_000 });
  scheduler.stop();
  await runner.drain(false);
  assert.equal(gc.status, 'success', JSON.stringify(gc));
  assert.match(gc.message ?? '', /Reclaimed/);
  assert.equal(gc.initiatedBy, 'Stillpoint scheduler');
  assert.deepEqual(gc.vms, []);
  assert.equal(verify.status, 'success', JSON.stringify(verify));
  assert.ok(events.some((e) => e.kind === 'verify' && e.status === 'running'), 'verify progress was published');
});

test('a verify run that finds damage fails and names the restore point it affects', async (t) => {
  const { dir, rp, store, runner } = await setup(t);
  const packs = join(dir, 'repo', 'packs');
  const sub = readdirSync(packs).find((x) => statSync(join(packs, x)).isDirectory())!;
  const pack = join(packs, sub, readdirSync(join(packs, sub))[0]!);
  const fd = openSync(pack, 'r+');
  writeSync(fd, Buffer.from([0xde, 0xad, 0xbe]), 0, 3, 200);
  closeSync(fd);
  runner.runTask('verify', 'test');
  const run = await until('the verify run', () => ended(store, 'verify'));
  assert.equal(run.status, 'failed', JSON.stringify(run));
  assert.match(run.message ?? '', new RegExp(`damaged chunk.*${rp.id} \\(app01\\)`));
});
