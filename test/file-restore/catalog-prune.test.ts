// File catalogs of deleted restore points go when the points go (issue 11): a job's retention run
// removes each deleted point's catalog at once, and a GC run removes the catalogs of points deleted
// behind the service's back (`stillpoint repo prune` on the folder). Real repository, real ext4 disks
// (mke2fs -d), the maintenance runs through the job runner as the service runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import type { RestorePointMetadata } from '../../backend/repository/catalog.ts';
import { JobRunner } from '../../backend/jobs/runner.ts';
import { JobStore } from '../../backend/jobs/store.ts';
import { registerMaintenance } from '../../backend/jobs/maintenance.ts';
import { SecretBox } from '../../backend/common/secrets.ts';
import { CatalogService } from '../../backend/file-restore/catalog/service.ts';
import { buildCatalog } from '../../backend/file-restore/catalog/build.ts';
import type { Job } from '../../backend/model/job.ts';
import { tempDir } from '../repository/helpers.ts';
import { until } from '../helpers/wait.ts';

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const VM = { id: 'vm-1', name: 'files01' };
const JOB = { id: 'job-7', name: 'Nightly files', retention: { keepLast: 1 } } as Job;

function metadata(origin: RestorePointMetadata['origin']): RestorePointMetadata {
  return {
    source: { vcenter: { instanceUuid: 'b7c3d0e2-5f4a-4e1b-9c8d-7a6b5c4d3e2f' }, vm: { moref: 'vm-1', name: VM.name } },
    origin, consistency: { consistency: 'crash', reason: 'test' }, warnings: [], layouts: {},
  } as RestorePointMetadata;
}

test('retention removes a deleted point\'s catalog at once; GC removes catalogs of points deleted elsewhere', async (t) => {
  const dir = tempDir(t, 'sp-catalog-prune-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'docs'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(src, 'docs', `note-${i}.txt`), `note ${i}\n`.repeat(200));
  const img = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', '16M', img]);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, img], { env: { ...process.env, PATH } });

  const repo = await Repository.init(join(dir, 'repo'), { chunkSize: 64 * 1024 });
  t.after(() => repo.close());
  const backup = async (origin: RestorePointMetadata['origin']): Promise<RestorePoint> => {
    const w = await repo.beginRestorePoint({ vm: VM, metadata: metadata(origin) });
    const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 16 << 20 });
    await d.writeFile(img);
    return w.commit();
  };
  const data = join(dir, 'data');
  const store = new JobStore(data, SecretBox.forDataDir(data));
  const runner = new JobRunner({ store, publish: () => undefined, vmName: async () => VM.name, jobVms: async () => [VM.id] });
  const catalogs = new CatalogService({ dataDir: data, repo: async () => repo, startRun: async () => { throw new Error('catalogs are built by the test'); } });
  registerMaintenance(runner, { repo: async () => repo, jobVms: async () => [VM.id], catalogs });
  t.after(() => runner.drain(false));

  const points: RestorePoint[] = [];
  for (let i = 0; i < 3; i++) points.push(await backup({ kind: 'job', jobId: JOB.id, jobName: JOB.name, runId: `run-${i}` }));
  for (const p of points) await buildCatalog(repo, catalogs.store, p);
  assert.ok(points.every((p) => catalogs.store.has(VM.id, p.id)));

  // Retention keeps the last point: the two others and their catalogs go in the same run.
  const retention = runner.runTask('retention', 'test', JOB);
  const r = await until('the retention run', () => { const x = store.run(retention.id); return x.endedAt ? x : undefined; });
  assert.equal(r.status, 'success', JSON.stringify(r));
  assert.match(r.message ?? '', /Removed 2 restore points/);
  assert.deepEqual(points.map((p) => catalogs.store.has(VM.id, p.id)), [false, false, true]);
  const v = await catalogs.versions(VM.id, 'note-1.txt', 'test');
  assert.deepEqual(v.restorePoints.map((p) => [p.id, p.catalog]), [[points[2]!.id, 'ready']]);
  assert.equal(v.matches.length, 1);

  // A point deleted on the repository folder directly (as `stillpoint repo prune` does): the next GC run takes its catalog.
  const other = await backup({ kind: 'on-demand', initiatedBy: 'test' });
  await buildCatalog(repo, catalogs.store, other);
  await repo.deleteRestorePoint(other.id);
  assert.ok(existsSync(catalogs.store.path(VM.id, other.id)), 'nothing told the service yet');
  const gc = runner.runTask('gc', 'test');
  const g = await until('the GC run', () => { const x = store.run(gc.id); return x.endedAt ? x : undefined; });
  assert.equal(g.status, 'success', JSON.stringify(g));
  assert.match(g.message ?? '', /Removed 1 file catalog of deleted restore points/);
  assert.equal(catalogs.store.has(VM.id, other.id), false);
  assert.equal(catalogs.store.has(VM.id, points[2]!.id), true, 'the kept point keeps its catalog');
});
