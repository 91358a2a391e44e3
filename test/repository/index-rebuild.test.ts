// Index damage: a truncated LevelDB file of each kind (*.ldb, *.log, MANIFEST-*, CURRENT) makes the
// repository say that its index is damaged and name `repo rebuild-index`; the rebuild (from the packs'
// record headers and the points/ objects) gives back every restore point with its metadata and lock,
// byte-identical restores and a clean verify. Repositories made before point objects: open writes
// the objects; a damaged index of such a repository gives back what LevelDB's repairer can read and
// names what it cannot. A chunk stored twice (a damaged copy and the good one) is indexed at the good copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cpSync, readdirSync, statSync, truncateSync, rmSync, existsSync, openSync, readSync, writeSync, closeSync, renameSync, mkdirSync, readFileSync } from 'node:fs';
import { Level } from 'level';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { RECORD_HEADER } from '../../backend/repository/format.ts';
import { tempDir, sparseRandomImage, sha256File, mutate, cli, packFiles } from './helpers.ts';

const MiB = 1024 * 1024;
const PASS = 'rebuild pass';
const env = { STILLPOINT_PASSPHRASE: PASS };
type E = Error & { code?: string };

async function backup(repo: Repository, vm: string, disks: [key: string, img: string][], parent?: string, notes?: string): Promise<RestorePoint> {
  const w = await repo.beginRestorePoint({ vm: { id: vm, name: vm }, consistency: 'crash', parent, notes });
  for (const [key, img] of disks) await (await w.addDisk({ key, label: `disk ${key}`, capacity: statSync(img).size })).writeFile(img);
  return w.commit();
}

function indexFiles(repoDir: string): string[] { return readdirSync(join(repoDir, 'index')).sort(); }

/** Restores every disk of every point and compares it with the image it was made of. */
async function assertRestores(t: { after: (fn: () => void) => void }, repo: Repository, want: Map<string, Map<string, string>>): Promise<void> {
  const out = tempDir(t, 'sp-rebuild-out-');
  for (const [rp, disks] of want) {
    for (const [key, img] of disks) {
      const f = join(out, `${rp}-${key}.img`);
      await repo.restoreDisk(rp, key, f);
      assert.equal(sha256File(f), sha256File(img), `${rp} disk ${key}`);
      rmSync(f);
    }
  }
}

test('each kind of truncated index file: a message naming rebuild-index, then the rebuild gives back every point', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  const a = sparseRandomImage(join(dir, 'a.img'), 16, [[0, 6 * MiB], [9 * MiB, 3 * MiB]]);
  const a2 = join(dir, 'a2.img');
  cpSync(a, a2);
  mutate(a2, 0.2, 7);
  const b = sparseRandomImage(join(dir, 'b.img'), 12, [[MiB, 7 * MiB]]);
  const small = sparseRandomImage(join(dir, 'small.img'), 4, [[0, 2 * MiB]]);

  // Session 1 (ends up in a table file): A, B and D. Session 2 (stays in the log): C, a lock on A, D deleted.
  let repo = await Repository.init(repoDir, { passphrase: PASS, packSize: 4 * MiB });
  const A = await backup(repo, 'vm-a', [['2000', a], ['2001', small]], undefined, 'first of vm-a');
  const B = await backup(repo, 'vm-b', [['2000', b]]);
  const D = await backup(repo, 'vm-d', [['2000', small]]);
  await repo.close();
  repo = await Repository.open(repoDir, { passphrase: PASS });
  const C = await backup(repo, 'vm-a', [['2000', a2], ['2001', small]], A.id);
  await repo.lock(A.id, new Date('2031-01-01T00:00:00Z'));
  await repo.deleteRestorePoint(D.id);
  await repo.close();
  const files = indexFiles(repoDir);
  for (const re of [/\.ldb$/, /\.log$/, /^MANIFEST-/, /^CURRENT$/]) assert.ok(files.some((f) => re.test(f)), `${re} in ${files}`);
  assert.ok(statSync(join(repoDir, 'index', files.find((f) => f.endsWith('.log'))!)).size > 0, 'session 2 is in the log');
  assert.deepEqual(readdirSync(join(repoDir, 'points')).sort(), [A.id, B.id, C.id].sort(), 'one object per point, none for the deleted one');
  for (const f of readdirSync(join(repoDir, 'points'))) {
    const raw = readFileSync(join(repoDir, 'points', f)).toString('latin1');
    assert.ok(!raw.includes('first of vm-a') && !raw.includes('vm-a'), 'point objects are sealed like the records');
  }

  const want = new Map([[A.id, new Map([['2000', a], ['2001', small]])], [B.id, new Map([['2000', b]])], [C.id, new Map([['2000', a2], ['2001', small]])]]);
  for (const [kind, pick, size] of [
    ['table', (f: string) => f.endsWith('.ldb'), (n: number) => Math.floor(n / 2)],
    ['log', (f: string) => f.endsWith('.log'), () => 0],
    ['manifest', (f: string) => f.startsWith('MANIFEST-'), (n: number) => Math.floor(n / 2)],
    ['current', (f: string) => f === 'CURRENT', (n: number) => n - 1],
  ] as const) {
    await t.test(kind, async () => {
      const c = join(dir, `copy-${kind}`);
      cpSync(repoDir, c, { recursive: true });
      const victim = join(c, 'index', indexFiles(c).find(pick)!);
      truncateSync(victim, size(statSync(victim).size));

      const damaged = (e: E) => e.code === 'EINDEX' && /index of the repository .* is damaged/.test(e.message) && e.message.includes(`stillpoint repo rebuild-index ${c}`);
      await assert.rejects(Repository.open(c, { passphrase: PASS }), damaged);
      // ls reads the point objects, not the index: it still lists what the repository holds (D was deleted).
      const listed = cli(['ls', c, '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout).map((p: { id: string }) => p.id), [C.id, B.id, A.id]);
      for (const args of [['verify', c], ['restore', c, A.id, join(dir, 'x.img'), '--disk', '2000']]) {
        const r = cli(args, env);
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
        assert.match(r.stderr, /is damaged .*stillpoint repo rebuild-index/s, `${args[0]}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /LEVEL_|permissions/);
      }

      const rb = cli(['rebuild-index', c, '--json'], env);
      assert.equal(rb.code, 0, rb.stderr + rb.stdout);
      const report = JSON.parse(rb.stdout);
      assert.equal(report.previous, kind === 'log' ? 'readable' : 'damaged');
      assert.ok(existsSync(report.movedTo) && report.movedTo.startsWith(join(c, 'index.')), 'the old index is kept');
      assert.deepEqual(report.restorePoints, [A.id, B.id, C.id].sort());
      assert.deepEqual(report.lost, []);
      assert.deepEqual(report.incomplete, []);
      // The log lost D's deletion: its record is back in the old index, but it has no object, so it stays deleted.
      assert.deepEqual(report.dropped, kind === 'log' ? [D.id] : []);

      const r = await Repository.open(c, { passphrase: PASS });
      try {
        const list = await r.listRestorePoints();
        assert.deepEqual(list.map((p) => p.id), [C.id, B.id, A.id]);
        const a1 = list.find((p) => p.id === A.id)!;
        assert.equal(a1.lockedUntil, '2031-01-01T00:00:00.000Z', 'the lock made in the lost log is kept');
        assert.equal(a1.notes, 'first of vm-a');
        assert.deepEqual(a1.disks, A.disks);
        assert.equal(list.find((p) => p.id === C.id)!.parent, A.id);
        await assert.rejects(r.deleteRestorePoint(A.id), (e: E) => e.code === 'ELOCKEDRP');
        const v = await r.verify();
        assert.equal(v.ok, true, JSON.stringify(v.damaged.slice(0, 3)));
        await assertRestores(t, r, want);
      } finally { await r.close(); }
      const ls = cli(['ls', c, '--json'], env);
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(JSON.parse(ls.stdout).length, 3);
    });
  }
});

/** Makes a repository look like one from before point objects: no points/ and no 'mpoints' in the index. */
async function makeOld(repoDir: string): Promise<void> {
  const db = new Level<Buffer, Buffer>(join(repoDir, 'index'), { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  await db.del(Buffer.from('mpoints'), { sync: true });
  await db.close();
  rmSync(join(repoDir, 'points'), { recursive: true });
}

test('repositories made before point objects: open writes them; a damaged index gives back what can be read and names the rest', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  const a = sparseRandomImage(join(dir, 'a.img'), 12, [[0, 5 * MiB]]);
  const b = sparseRandomImage(join(dir, 'b.img'), 12, [[2 * MiB, 5 * MiB]]);
  let repo = await Repository.init(repoDir, { passphrase: PASS, packSize: 4 * MiB });
  const A = await backup(repo, 'vm-a', [['0', a]]);
  await repo.close();
  const before = indexFiles(repoDir);
  repo = await Repository.open(repoDir, { passphrase: PASS });
  const sessionOne = indexFiles(repoDir).filter((f) => f.endsWith('.ldb') && !before.includes(f)); // the log of session 1, as a table
  assert.equal(sessionOne.length, 1, String(indexFiles(repoDir)));
  const B = await backup(repo, 'vm-b', [['0', b]]);
  await repo.lock(A.id, new Date('2031-01-01T00:00:00Z')); // A's record now also lives in session 2's table
  await repo.close();
  await makeOld(repoDir);

  await t.test('open writes the missing objects', async () => {
    const c = join(dir, 'opened');
    cpSync(repoDir, c, { recursive: true });
    const r = await Repository.open(c, { passphrase: PASS });
    await r.close();
    assert.deepEqual(readdirSync(join(c, 'points')).sort(), [A.id, B.id].sort());
    rmSync(join(c, 'index'), { recursive: true }); // now even a lost index comes back whole
    const rb = await Repository.rebuildIndex(c, { passphrase: PASS });
    assert.equal(rb.previous, 'missing');
    assert.deepEqual(rb.restorePoints, [A.id, B.id].sort());
    const r2 = await Repository.open(c, { passphrase: PASS });
    t.after(() => r2.close());
    assert.equal((await r2.getRestorePoint(A.id)).lockedUntil, '2031-01-01T00:00:00.000Z');
    assert.equal((await r2.verify()).ok, true);
    await assertRestores(t, r2, new Map([[A.id, new Map([['0', a]])], [B.id, new Map([['0', b]])]]));
  });

  await t.test('rebuild-index exports from a readable index first', async () => {
    const c = join(dir, 'readable');
    cpSync(repoDir, c, { recursive: true });
    const rb = await Repository.rebuildIndex(c, { passphrase: PASS });
    assert.equal(rb.previous, 'readable');
    assert.equal(rb.exported, 2);
    assert.deepEqual(rb.restorePoints, [A.id, B.id].sort());
    assert.deepEqual(rb.lost, []);
    const r = await Repository.open(c, { passphrase: PASS });
    t.after(() => r.close());
    assert.equal((await r.verify()).ok, true);
    await assertRestores(t, r, new Map([[A.id, new Map([['0', a]])], [B.id, new Map([['0', b]])]]));
  });

  await t.test('a damaged index without objects: salvage what LevelDB can repair, name the rest', async () => {
    const c = join(dir, 'damaged');
    cpSync(repoDir, c, { recursive: true });
    const first = join(c, 'index', sessionOne[0]!); // A's chunk entries, digest lists and first record
    truncateSync(first, Math.floor(statSync(first).size / 2));
    await assert.rejects(Repository.open(c, { passphrase: PASS }), (e: E) => e.code === 'EINDEX' && /rebuild-index/.test(e.message));
    const rb = cli(['rebuild-index', c], env);
    assert.equal(rb.code, 1, 'something was not recovered');
    assert.match(rb.stdout, new RegExp(`not recovered: ${A.id}: its digest lists are incomplete in the damaged index`));
    assert.match(rb.stdout, /chunks? in the packs belong to no recovered restore point/);
    assert.match(rb.stdout, /moved the previous index \(damaged\) to .*index\.damaged-/);
    const r = await Repository.open(c, { passphrase: PASS });
    t.after(() => r.close());
    assert.deepEqual((await r.listRestorePoints()).map((p) => p.id), [B.id]);
    assert.deepEqual(readdirSync(join(c, 'points')), [B.id], 'the recovered point has its object now');
    assert.equal((await r.verify()).ok, true);
    await assertRestores(t, r, new Map([[B.id, new Map([['0', b]])]]));
  });
});

/** Flips bytes inside the first large record of a pack; returns the pack file. */
function damageOneRecord(repoDir: string): string {
  for (const p of packFiles(repoDir)) {
    const fd = openSync(p, 'r+');
    try {
      const h = Buffer.alloc(RECORD_HEADER);
      readSync(fd, h, 0, RECORD_HEADER, 0);
      if (h.readUInt32BE(12) < 100_000) continue;
      const x = Buffer.alloc(3);
      readSync(fd, x, 0, 3, RECORD_HEADER + 500);
      for (let i = 0; i < 3; i++) x[i] ^= 0xff;
      writeSync(fd, x, 0, 3, RECORD_HEADER + 500);
      return p;
    } finally { closeSync(fd); }
  }
  throw new Error('no large record');
}

test('a chunk stored twice (damaged copy, then the good one) is indexed at the good copy; an unreadable point object is set aside', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  const a = sparseRandomImage(join(dir, 'a.img'), 8, [[0, 8 * MiB]]);
  let repo = await Repository.init(repoDir, { packSize: 64 * MiB });
  const A = await backup(repo, 'vm-a', [['0', a]]);
  await repo.close();
  // Damaged while A's pack is the only one (pack names are random, so "the first pack" must be A's).
  const damagedPack = damageOneRecord(repoDir);
  repo = await Repository.open(repoDir);
  const E1 = await backup(repo, 'vm-e', [['0', sparseRandomImage(join(dir, 'e.img'), 2, [[0, 2 * MiB]])]]);
  assert.equal((await repo.verify()).marked, 1);
  const A2 = await backup(repo, 'vm-a', [['0', a]], A.id); // stores the good copy in a new pack
  assert.equal(A2.newStoredBytes > 0, true);
  await repo.close();

  // The damaged copy's pack sorts first, so the rebuild meets the damaged copy first.
  mkdirSync(join(repoDir, 'packs', '00'), { recursive: true });
  renameSync(damagedPack, join(repoDir, 'packs', '00', '0000000000000000.pack'));
  // And one point object is damaged.
  const obj = join(repoDir, 'points', E1.id);
  const bytes = readFileSync(obj);
  bytes[bytes.length - 40] ^= 1;
  const fd = openSync(obj, 'r+');
  writeSync(fd, bytes, 0, bytes.length, 0);
  closeSync(fd);
  rmSync(join(repoDir, 'index'), { recursive: true });
  await assert.rejects(Repository.open(repoDir), (e: E) => e.code === 'EINDEX' && /index folder is missing/.test(e.message) && /rebuild-index/.test(e.message));

  const rb = await Repository.rebuildIndex(repoDir);
  assert.equal(rb.duplicates, 1);
  assert.deepEqual(rb.restorePoints, [A.id, A2.id].sort());
  assert.equal(rb.lost.length, 1);
  assert.equal(rb.lost[0]!.restorePoint, E1.id);
  assert.match(rb.lost[0]!.problem, /checksum.*moved to points\.damaged\//);
  assert.ok(existsSync(join(repoDir, 'points.damaged', E1.id)));
  repo = await Repository.open(repoDir); // no object without a record is left behind
  t.after(() => repo.close());
  const v = await repo.verify();
  assert.equal(v.ok, true, JSON.stringify(v.damaged));
  await assertRestores(t, repo, new Map([[A.id, new Map([['0', a]])], [A2.id, new Map([['0', a]])]]));
});
