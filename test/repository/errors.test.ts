// Clear errors: wrong/missing passphrase, not a repository, lock held by a live process (and stale
// locks taken over), a read-only open that writes nothing and refuses changes, full disk (a real
// 20 MiB tmpfs) leaving the repository consistent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { Repository } from '../../backend/repository/repository.ts';
import { tempDir, sparseRandomImage, sha256File, ROOT } from './helpers.ts';

const MiB = 1024 * 1024;
type E = Error & { code?: string };

test('wrong or missing passphrase, missing and non-repository folders give clear errors', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'enc');
  const repo = await Repository.init(repoDir, { passphrase: 'right one' });
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'secret-vm' }, consistency: 'crash', notes: 'db password is hunter2' });
  await (await w.addDisk({ key: '0', label: 'd', capacity: MiB })).write(0, Buffer.alloc(MiB, 3));
  const rp = await w.commit();
  await repo.close();
  // Catalog metadata is sealed: VM names and notes are not in the index files in clear text.
  const raw = execFileSync('sh', ['-c', `cat ${repoDir}/index/*.log ${repoDir}/index/*.ldb 2>/dev/null || true`]).toString('latin1');
  assert.ok(!raw.includes('hunter2') && !raw.includes('secret-vm'));

  await assert.rejects(Repository.open(repoDir, { passphrase: 'wrong' }), (e: E) => e.code === 'EPASSPHRASE' && /wrong passphrase/.test(e.message) && /STILLPOINT_PASSPHRASE/.test(e.message));
  await assert.rejects(Repository.open(repoDir), (e: E) => e.code === 'ENEEDPASS');
  await assert.rejects(Repository.open(join(dir, 'nope')), (e: E) => e.code === 'ENOTREPO' && /does not exist/.test(e.message) && /repo init/.test(e.message));
  mkdirSync(join(dir, 'empty'));
  await assert.rejects(Repository.open(join(dir, 'empty')), (e: E) => e.code === 'ENOTREPO' && /no config.json/.test(e.message));
  await assert.rejects(Repository.init(repoDir), (e: E) => e.code === 'EEXIST');
  const ok = await Repository.open(repoDir, { passphrase: 'right one' });
  assert.equal((await ok.getRestorePoint(rp.id)).notes, 'db password is hunter2');
  assert.ok((await ok.read(rp.id, '0', 0, 10)).equals(Buffer.alloc(10, 3)));
  await ok.close();
});

test('one process per repository: a live holder is named, a dead or silent one is taken over', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  await (await Repository.init(repoDir)).close();
  const holder = spawn(process.execPath, ['-e', `
    const { Repository } = await import(${JSON.stringify(join(ROOT, 'backend/repository/repository.ts'))});
    await Repository.open(${JSON.stringify(repoDir)}, { command: 'test holder' });
    console.log('ready'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, STILLPOINT_LOG_LEVEL: 'silent' } });
  t.after(() => holder.kill('SIGKILL'));
  await new Promise<void>((r) => holder.stdout.once('data', () => r()));
  await assert.rejects(Repository.open(repoDir), (e: E) => e.code === 'ELOCKED' && e.message.includes(`pid ${holder.pid}`) && /test holder/.test(e.message));
  await assert.rejects(Repository.open(repoDir, { readOnly: true }), (e: E) => e.code === 'ELOCKED' && e.message.includes(`pid ${holder.pid}`), 'reading too waits for the holder');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const repo = await Repository.open(repoDir); // dead pid on this host: taken over
  await repo.close();

  // Another host's lock: stale when its heartbeat is old, respected while fresh.
  const other = { pid: 1, host: hostname() + '-other', startedAt: new Date().toISOString(), token: 'x' };
  writeFileSync(join(repoDir, 'lock'), JSON.stringify({ ...other, heartbeat: new Date().toISOString() }));
  await assert.rejects(Repository.open(repoDir), (e: E) => e.code === 'ELOCKED' && e.message.includes(other.host));
  writeFileSync(join(repoDir, 'lock'), JSON.stringify({ ...other, heartbeat: new Date(Date.now() - 3600_000).toISOString() }));
  const r2 = await Repository.open(repoDir);
  assert.equal(JSON.parse(readFileSync(join(repoDir, 'lock'), 'utf8')).pid, process.pid);
  await r2.close();
});

test('a read-only open (repo ls, stats) lists and reads without a lock object or any write of its own, and refuses changes', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir);
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'web01' }, consistency: 'crash' });
  await (await w.addDisk({ key: '0', label: 'd', capacity: MiB })).write(0, Buffer.alloc(MiB, 7));
  const rp = await w.commit();
  await repo.close();
  const outside = () => Object.fromEntries(['config.json', 'points', `points/${rp.id}`, 'packs'].map((n) => [n, statSync(join(repoDir, n)).mtimeMs]));
  const before = outside();

  const ro = await Repository.open(repoDir, { readOnly: true });
  assert.equal(ro.readOnly, true);
  assert.equal(existsSync(join(repoDir, 'lock')), false, 'no lock object while it is open');
  assert.deepEqual((await ro.listRestorePoints()).map((p) => p.id), [rp.id]);
  assert.ok((await ro.read(rp.id, '0', 100, 10)).equals(Buffer.alloc(10, 7)));
  assert.equal((await ro.stats()).restorePoints, 1);
  for (const change of [() => ro.beginRestorePoint({ vm: { id: 'vm-1', name: 'web01' }, consistency: 'crash' }), () => ro.deleteRestorePoint(rp.id),
    () => ro.lock(rp.id, new Date(Date.now() + 3600_000)), () => ro.gc(), () => ro.verify(), () => ro.applyRetention({ keepLast: 0 })]) {
    await assert.rejects(change(), (e: E) => e.code === 'EREADONLY' && /read-only/.test(e.message));
  }
  assert.equal((await ro.applyRetention({ keepLast: 1 }, { dryRun: true })).keep.length, 1, 'a dry run only reads');
  await ro.close();
  assert.deepEqual(outside(), before, 'nothing outside the index was written');
  assert.equal(existsSync(join(repoDir, 'lock')), false);

  // A writer opens it afterwards as usual.
  const rw = await Repository.open(repoDir);
  await rw.deleteRestorePoint(rp.id);
  await rw.close();
});

test('full disk (20 MiB tmpfs): clear ENOSPC error, repository stays consistent and usable', async (t) => {
  const dir = tempDir(t);
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
  let repo: Repository | undefined;
  try {
  const repoDir = join(mnt, 'repo');
  const small = sparseRandomImage(join(dir, 'small.img'), 8, [[0, 6 * MiB]]);
  const big = sparseRandomImage(join(dir, 'big.img'), 40, [[0, 40 * MiB]]);
  repo = await Repository.init(repoDir, { packSize: 4 * MiB });
  const backup = async (img: string, cap: number) => {
    const w = await repo!.beginRestorePoint({ vm: { id: 'vm', name: 'vm' }, consistency: 'crash' });
    try {
      await (await w.addDisk({ key: '0', label: 'd', capacity: cap })).writeFile(img);
      return await w.commit();
    } catch (e) { await w.abort(); throw e; }
  };
  const first = await backup(small, 8 * MiB);
  await assert.rejects(backup(big, 40 * MiB), (e: E) => e.code === 'ENOSPC' && /full/.test(e.message) && /unchanged/.test(e.message));
  await repo.close();

  repo = await Repository.open(repoDir);
  assert.deepEqual((await repo.listRestorePoints()).map((r) => r.id), [first.id]);
  const v = await repo.verify();
  assert.equal(v.ok, true, JSON.stringify(v.damaged.slice(0, 2)));
  await repo.gc(); // drops chunks of sealed packs of the failed backup
  await repo.restoreDisk(first.id, '0', join(dir, 'out.img'));
  assert.equal(sha256File(join(dir, 'out.img')), sha256File(small));
  const again = await backup(small, 8 * MiB); // still usable for backups
  assert.equal(again.newStoredBytes, 0);
  } finally {
    await repo?.close();
    execFileSync('umount', [mnt]);
  }
});
