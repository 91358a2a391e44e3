// File catalog of restore points (issue 11): real ext4 and FAT images (mke2fs -d, debugfs, mkfs.fat +
// mcopy) backed up as the disks of three restore points of one VM — day 1, a normal day (two files
// changed, one removed, one renamed in place, a new zip) and an attack (60% of the files replaced by
// random bytes under '.locked', a few rewritten in place) — catalogued through the catalog service
// and the job runner. Checks: versions of a file across points, the exact diff, the mass-encryption
// warning both ways (on the run and as a VM event), the consistency each filesystem reports.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync, readSync, writeFileSync, writeSync, closeSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { JobStore } from '../../backend/jobs/store.ts';
import { JobRunner } from '../../backend/jobs/runner.ts';
import { SecretBox } from '../../backend/common/secrets.ts';
import { CatalogService, type CatalogParams } from '../../backend/file-restore/catalog/service.ts';
import type { Run } from '../../backend/model/job.ts';
import { CatalogStore } from '../../backend/file-restore/catalog/store.ts';
import { buildCatalog } from '../../backend/file-restore/catalog/build.ts';
import { tempDir } from '../repository/helpers.ts';
import { diffCatalogs } from '../../backend/file-restore/catalog/diff.ts';
import { assessMassEncryption } from '../../backend/file-restore/catalog/mass-encryption.ts';
import type { CatalogEntry } from '../../backend/file-restore/catalog/format.ts';

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const VM = { id: 'vm-42', name: 'fileserver' };

/** Text of about `n` bytes: low entropy, like documents. */
const text = (seed: number, n: number) => Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `line ${seed}-${i} of a plain report, nothing odd\n`).join('').slice(0, n));

interface Fixture { dir: string; repo: Repository; service: CatalogService; runner: JobRunner; store: JobStore; events: { vmId: string; text: string }[]; points: RestorePoint[] }

/** Day 1 tree: 50 text files in three folders plus report.xlsx. */
function day1(src: string): string[] {
  const files: string[] = [];
  for (const [dir, n] of [['docs', 20], ['projects/alpha', 15], ['projects/beta', 15]] as const) {
    mkdirSync(join(src, dir), { recursive: true });
    for (let i = 0; i < n; i++) { const p = `${dir}/note-${i}.txt`; writeFileSync(join(src, p), text(files.length, 2000 + 97 * i)); files.push(p); }
  }
  writeFileSync(join(src, 'docs/report.xlsx'), text(999, 3000));
  files.push('docs/report.xlsx');
  return files;
}

function debugfs(dir: string, img: string, cmds: string[]): void {
  const f = join(dir, 'cmds');
  writeFileSync(f, cmds.join('\n') + '\n');
  sh('debugfs', ['-w', '-f', f, img]);
}

async function backup(repo: Repository, disks: { key: string; label: string; file: string; size: number }[]): Promise<RestorePoint> {
  const w = await repo.beginRestorePoint({ vm: VM, consistency: 'crash' });
  for (const d of disks) { const dw = await w.addDisk({ key: d.key, label: d.label, capacity: d.size }); await dw.writeFile(d.file); }
  return w.commit();
}

async function waitRun(store: JobStore, id: string): Promise<Run> {
  const until = Date.now() + 60_000;
  for (;;) {
    const r = store.run(id);
    if (r.status !== 'running' && r.status !== 'queued') return r;
    if (Date.now() > until) throw new Error(`run ${id} did not finish`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** Built once per file: three points of one VM, backed up in order. */
async function build(): Promise<Fixture> {
  const t = { after: (fn: () => unknown) => { cleanups.push(fn); } };
  {
    const dir = tempDir(t, 'sp-catalog-test-');
    const src = join(dir, 'src');
    const files = day1(src);
    const ext = join(dir, 'a.img');
    sh('truncate', ['-s', '16M', ext]);
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, ext]);
    const fat = join(dir, 'fat-a.img');
    sh('mkfs.fat', ['-C', fat, String(8 * 1024)]);
    sh('mcopy', ['-s', '-i', fat, join(src, 'docs'), '::/']);

    // A normal day: two notes grow, one is deleted, one renamed (same inode), a new zip archive.
    const b = join(dir, 'b.img');
    copyFileSync(ext, b);
    writeFileSync(join(dir, 'grown1'), text(1, 5000));
    writeFileSync(join(dir, 'grown2'), text(2, 6000));
    sh('zip', ['-q', '-j', join(dir, 'backup.zip'), join(dir, 'grown1')]);
    writeFileSync(join(dir, 'rand.bin'), randomBytes(6000));
    sh('zip', ['-q', '-j', '-0', join(dir, 'backup.zip'), join(dir, 'rand.bin')]);
    debugfs(dir, b, [
      'cd /docs', 'rm note-1.txt', `write ${join(dir, 'grown1')} note-1.txt`, 'rm note-2.txt', `write ${join(dir, 'grown2')} note-2.txt`,
      'rm note-3.txt', 'ln note-4.txt renamed-4.txt', 'unlink note-4.txt', `write ${join(dir, 'backup.zip')} backup.zip`,
    ]);
    // The FAT volume of day 2: dirty (the guest was running when the snapshot was taken).
    const fatB = join(dir, 'fat-b.img');
    copyFileSync(fat, fatB);
    const fd = openSync(fatB, 'r+');
    const boot = Buffer.alloc(512);
    readSync(fd, boot, 0, 512, 0);
    const flagAt = boot.toString('latin1', 82, 87) === 'FAT32' ? 0x41 : 0x25;
    writeSync(fd, Buffer.from([boot[flagAt]! | 1]), 0, 1, flagAt);
    closeSync(fd);

    // The attack: 30 of the 50 day-2 files replaced by random bytes under '.locked', 4 more rewritten in place.
    const c = join(dir, 'c.img');
    copyFileSync(b, c);
    const day2 = files.filter((f) => f !== 'docs/note-3.txt' && f !== 'docs/note-4.txt').concat('docs/renamed-4.txt');
    const victims = day2.filter((f) => f.endsWith('.txt')).slice(0, 34);
    const cmds: string[] = [];
    victims.forEach((f, i) => {
      const rnd = join(dir, `enc-${i}`);
      writeFileSync(rnd, randomBytes(3000 + i));
      const [d, name] = [f.slice(0, f.lastIndexOf('/')), f.slice(f.lastIndexOf('/') + 1)];
      cmds.push(`cd /${d}`, `rm ${name}`, `write ${rnd} ${i < 30 ? `${name}.locked` : name}`);
    });
    debugfs(dir, c, [...cmds, 'cd /docs', 'rm report.xlsx', `write ${join(dir, 'enc-0')} report.xlsx.locked`]);
    sh('debugfs', ['-w', '-R', 'feature needs_recovery', c]);

    const repo = await Repository.init(join(dir, 'repo'), { chunkSize: 64 * 1024 });
    const store = new JobStore(join(dir, 'data'), SecretBox.forDataDir(join(dir, 'data')));
    const runner = new JobRunner({ store, publish: () => undefined, vmName: async () => VM.name, jobVms: async () => [] });
    const events: { vmId: string; text: string }[] = [];
    const service = new CatalogService({
      dataDir: join(dir, 'data'), repo: async () => repo,
      startRun: (rp, by) => runner.start<CatalogParams>({ kind: 'catalog', vmIds: [rp.vm.id], initiatedBy: by, concurrency: 1, params: { restorePointId: rp.id } }),
      vmEvent: async (vmId, t) => { events.push({ vmId, text: t }); },
    });
    runner.registerVmKind(service.kind());
    t.after(async () => { await runner.drain(); await repo.close(); });

    const points: RestorePoint[] = [];
    // Three days, backed up in order (restore points are ordered by when they were taken).
    for (const [e, f] of [[ext, fat], [b, fatB], [c, fatB]] as const) {
      points.push(await backup(repo, [{ key: '2000', label: 'Hard disk 1', file: e, size: 16 << 20 }, { key: '2001', label: 'Hard disk 2', file: f, size: 8 << 20 }]));
    }
    return { dir, repo, service, runner, store, events, points };
  }
}

let fixture: Fixture;
before(async () => { fixture = await build(); });
const setup = async (): Promise<Fixture> => fixture;

test('a catalog per point, built as a catalog run: volumes, files, consistency each filesystem reports', async () => {
  const f = await setup();
  const [a, b] = f.points;
  const s = await f.service.request(a!, 'tester');
  assert.ok(s.runId && (s.state === 'queued' || s.state === 'building'));
  const run = await waitRun(f.store, s.runId!);
  assert.equal(run.kind, 'catalog');
  assert.equal(run.status, 'success', run.vms[0]?.message);
  const ready = f.service.status(a!);
  assert.equal(ready.state, 'ready');
  assert.equal(ready.files, 51 + 21, 'ext4: 51 files; FAT: the docs folder again (20 notes + report)');
  const [v1, v2] = ready.volumes!;
  assert.deepEqual([v1!.id, v1!.fsType, v1!.consistency?.clean, v1!.files], ['2000', 'ext', true, 51]);
  assert.deepEqual([v2!.id, v2!.fsType, v2!.consistency?.clean, v2!.files], ['2001', 'fat', true, 21]);
  assert.equal(v1!.sampled, 0, 'the first catalog samples nothing: with no previous point there is nothing for the mass-encryption check to compare');
  assert.ok(existsSync(join(f.dir, 'data', 'catalogs')) && !readdirSync(join(f.dir, 'repo')).some((n) => n.includes('cat')), 'catalogs live in the data dir, nothing in the repository');

  // Day 2: the FAT volume is dirty and the run says so (a warning, never a failure).
  const run2 = await waitRun(f.store, (await f.service.request(b!, 'tester')).runId!);
  assert.equal(run2.status, 'warning');
  assert.match(run2.vms[0]!.warnings.join('\n'), /Hard disk 2.*dirty/);
  const st2 = f.service.status(b!);
  assert.equal(st2.volumes![1]!.consistency!.clean, false);
  assert.match(st2.volumes![1]!.consistency!.summary, /dirty/);
  assert.equal(st2.volumes![0]!.sampled, 4, 'only new and changed paths are sampled again: two grown notes, the zip, the renamed note');
  assert.equal(st2.comparedWith?.restorePointId, a!.id);
  assert.equal(st2.comparedWith?.massEncryption.warning, false, 'a normal day with a new zip raises no warning');
  assert.equal(f.events.length, 0);
});

test('changes between two points: added, removed, changed and renamed, exact, grouped by folder', async () => {
  const f = await setup();
  const [a, b] = f.points;
  await f.service.settled(b!.id);
  const { diff, massEncryption } = await f.service.changes(a!, b!, 'tester');
  assert.deepEqual(diff.added.map((x) => `${x.volume}:${x.path}`), ['2000:docs/backup.zip']);
  assert.deepEqual(diff.removed.map((x) => `${x.volume}:${x.path}`), ['2000:docs/note-3.txt']);
  assert.deepEqual(diff.changed.map((x) => `${x.volume}:${x.path}:${x.before.size}->${x.after.size}`), ['2000:docs/note-1.txt:2097->5000', '2000:docs/note-2.txt:2194->6000']);
  assert.deepEqual(diff.renamed.map((x) => `${x.volume}:${x.from}->${x.to}`), ['2000:docs/note-4.txt->docs/renamed-4.txt']);
  assert.deepEqual(diff.folders.map((x) => [x.volume, x.folder, x.added, x.removed, x.changed, x.renamed]), [['2000', 'docs', 1, 1, 2, 1]]);
  assert.equal(diff.totals.changedBytes, (5000 - 2097) + (6000 - 2194));
  assert.equal(diff.totals.removedBytes, 2000 + 97 * 3);
  assert.equal(massEncryption.warning, false);
});

test('mass encryption: 60% of the files replaced by random bytes under .locked → warning on the run and a VM event, with numbers', async () => {
  const f = await setup();
  const [, b, c] = f.points;
  await f.service.settled(b!.id);
  const run = await waitRun(f.store, (await f.service.request(c!, 'tester')).runId!);
  assert.equal(run.status, 'warning');
  const w = run.vms[0]!.warnings.join('\n');
  assert.match(w, /Possible mass encryption: 35 of 51 files \(69%\) on Hard disk 1.*4 rewritten with random-looking content, 31 replaced by files with a new extension \.locked \(31\)/);
  assert.match(w, /Hard disk 1: ext: journal needs recovery/, 'the ext4 volume with needs_recovery is reported not clean');
  assert.equal(f.events.length, 1);
  assert.equal(f.events[0]!.vmId, VM.id);
  assert.match(f.events[0]!.text, /^Stillpoint warning: Possible mass encryption: 35 of 51 files \(69%\)/);
  const st = f.service.status(c!);
  const m = st.comparedWith!.massEncryption;
  assert.deepEqual([m.warning, m.rewrittenHighEntropy, m.renamedUnknownExtension, m.affected, m.filesBefore], [true, 4, 31, 35, 51 + 21]);
  assert.deepEqual(m.volumes.map((v) => [v.volume, v.affected, v.filesBefore]), [['2000', 35, 51], ['2001', 0, 21]]);
  assert.equal(st.volumes![0]!.consistency!.clean, false);
});

test('versions of a file across every restore point, by name and by glob', async () => {
  const f = await setup();
  const [a, b, c] = f.points;
  await f.service.settled(c!.id);
  const r = await f.service.versions(VM.id, 'REPORT.xlsx', 'tester');
  assert.deepEqual(r.restorePoints.map((p) => [p.id, p.catalog]), [[c!.id, 'ready'], [b!.id, 'ready'], [a!.id, 'ready']]);
  // ext4 and FAT each hold a report.xlsx; on ext4 it is gone in the attacked point.
  assert.deepEqual(r.matches.map((m) => `${m.restorePointId}:${m.volume}:${m.path}`).sort(), [
    `${a!.id}:2000:docs/report.xlsx`, `${a!.id}:2001:docs/report.xlsx`, `${b!.id}:2000:docs/report.xlsx`, `${b!.id}:2001:docs/report.xlsx`, `${c!.id}:2001:docs/report.xlsx`,
  ].sort());
  const ext = r.versions.find((v) => v.volume === '2000')!;
  assert.deepEqual([ext.size, ext.restorePoints, ext.firstSeen, ext.lastSeen], [3000, [a!.id, b!.id], a!.createdAt, b!.createdAt]);
  assert.ok(ext.mtime && Date.parse(ext.mtime) > 0);

  const locked = await f.service.versions(VM.id, 'docs/*.locked', 'tester');
  assert.equal(locked.matches.length, 19, 'the 18 notes of docs and report.xlsx, in the attacked point only');
  assert.ok(locked.matches.every((m) => m.restorePointId === c!.id && m.volume === '2000'));
});

test('a point without a catalog (an older point, a moved repository) gets one built on demand by a search', async () => {
  const f = await setup();
  const [a, , c] = f.points;
  await f.service.settled(c!.id);
  rmSync(f.service.store.path(VM.id, a!.id));
  const r = await f.service.versions(VM.id, 'report.xlsx', 'tester');
  const state = r.restorePoints.find((p) => p.id === a!.id)!.catalog;
  assert.ok(state === 'queued' || state === 'building', state);
  assert.ok(r.matches.every((m) => m.restorePointId !== a!.id), 'its files are not searched until it is ready');
  await f.service.settled(a!.id);
  assert.equal(f.service.status(a!).state, 'ready');
  const again = await f.service.versions(VM.id, 'report.xlsx', 'tester');
  assert.equal(again.matches.filter((m) => m.restorePointId === a!.id).length, 2);
});

test('volumes whose walk runs over its time bound are recorded with the reason, the build still completes; with room it catalogues them', async () => {
  const f = await setup();
  const [a] = f.points;
  const store = new CatalogStore(join(f.dir, 'bounded'));
  // 2 ms is less than any worker needs to start and open a volume: both run over their bound.
  const r = await buildCatalog(f.repo, store, a!, { volumeTimeoutMs: 2 });
  assert.deepEqual(r.header.volumes.map((v) => [v.id, v.fsType, v.files]), [['2000', 'ext', 0], ['2001', 'fat', 0]]);
  for (const v of r.header.volumes) assert.match(v.error ?? '', /took longer than 2 ms and was stopped/);
  const ok = await buildCatalog(f.repo, store, a!, { volumeTimeoutMs: 60_000, maxHeapMb: 256 });
  assert.deepEqual(ok.header.volumes.map((v) => [v.id, v.files, v.error]), [['2000', 51, undefined], ['2001', 21, undefined]]);
});

test('mass encryption past the sampling cap: the rewritten share of the sampled changed files is extrapolated to all of them', () => {
  // 100 documents all rewritten; the build sampled 40 of them (scan.ts caps samples per volume): 30 random-looking, 10 not.
  const vols = [{ id: '2000', name: 'Hard disk 1' }];
  const path = (i: number) => `docs/f${String(i).padStart(3, '0')}.txt`;
  // Each one's earlier version sampled as text (the build reads it from the previous point when the previous catalog has none).
  const before: CatalogEntry[] = Array.from({ length: 100 }, (_, i) => ({ volume: 0, path: path(i), type: 'file' as const, size: 2000, mtime: 1, fileId: 100 + i, entropy: 150 }));
  const after: CatalogEntry[] = before.map(({ entropy: _, ...e }, i) => ({ ...e, size: 3000, mtime: 2, ...(i % 5 < 2 ? { entropy: i % 10 < 2 && i % 20 >= 10 ? 150 : 254 } : {}) }));
  const sampled = after.filter((e) => e.entropy !== undefined);
  assert.equal(sampled.length, 40);
  const high = sampled.filter((e) => e.entropy === 254).length;
  const diff = diffCatalogs({ volumes: vols, entries: before }, { volumes: vols, entries: after });
  const a = assessMassEncryption({ volumes: vols, entries: before }, diff);
  assert.equal(a.rewrittenHighEntropy, Math.round((high * 100) / 40), `${high} of 40 sampled are high-entropy`);
  assert.equal(a.affected, a.rewrittenHighEntropy);
  assert.equal(a.warning, true);
  // Every changed file sampled: counted as they are, nothing extrapolated.
  const all = before.map((e, i) => ({ ...e, size: 3000, mtime: 2, entropy: i < 30 ? 254 : 150 }));
  const b = assessMassEncryption({ volumes: vols, entries: before }, diffCatalogs({ volumes: vols, entries: before }, { volumes: vols, entries: all }));
  assert.equal(b.rewrittenHighEntropy, 30);
});
