// The mass-encryption check judges a rewritten file by both of its versions (issue 11). Three restore
// points of a real ext4 volume (mke2fs -d): day 1 holds 40 random-content files under an extension
// that says nothing (.bin: no known compressed format) and 40 text files; on day 2 every .bin file is
// rewritten with other random bytes (a normal day for a folder of archives or media); on day 3 every
// text file is overwritten in place with random bytes (ransomware). The first point's catalog has no
// content samples (nothing to compare with), so the earlier versions must be read from the previous
// point: day 2 raises no warning, day 3 does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { CatalogStore } from '../../backend/file-restore/catalog/store.ts';
import { buildCatalog } from '../../backend/file-restore/catalog/build.ts';
import { tempDir } from '../repository/helpers.ts';

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const VM = { id: 'vm-7', name: 'archive-server' };
const text = (seed: number, n: number) => Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `line ${seed}-${i} of a plain report, nothing odd\n`).join('').slice(0, n));

type Version = { bytes: Buffer; day: number };

/** An ext4 image of `files` (path → bytes and the day they were last written: their mtime), made by mke2fs -d. */
function ext4(dir: string, name: string, files: Map<string, Version>): string {
  const src = join(dir, `${name}-src`);
  for (const [p, v] of files) {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), v.bytes);
    const at = new Date(Date.UTC(2026, 10, v.day, 9));
    utimesSync(join(src, p), at, at);
  }
  const img = join(dir, `${name}.img`);
  execFileSync('truncate', ['-s', '16M', img]);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, img], { env: { ...process.env, PATH } });
  return img;
}

test('rewritten high-entropy files (.bin archives) raise no warning; text files overwritten with random bytes do — earlier versions sampled from the previous point', async (t) => {
  const dir = tempDir(t, 'sp-massenc-test-');
  const day1 = new Map<string, Version>();
  for (let i = 0; i < 40; i++) day1.set(`archive/data-${i}.bin`, { bytes: randomBytes(3000 + i), day: 1 });
  for (let i = 0; i < 40; i++) day1.set(`docs/note-${i}.txt`, { bytes: text(i, 2500 + i), day: 1 });
  const day2 = new Map(day1);
  for (let i = 0; i < 40; i++) day2.set(`archive/data-${i}.bin`, { bytes: randomBytes(5000 + i), day: 2 });
  const day3 = new Map(day2);
  for (let i = 0; i < 40; i++) day3.set(`docs/note-${i}.txt`, { bytes: randomBytes(2600 + i), day: 3 });
  const images = [ext4(dir, 'day1', day1), ext4(dir, 'day2', day2), ext4(dir, 'day3', day3)];

  const repo = await Repository.init(join(dir, 'repo'), { chunkSize: 64 * 1024 });
  t.after(() => repo.close());
  const points: RestorePoint[] = [];
  for (const img of images) {
    const w = await repo.beginRestorePoint({ vm: VM, consistency: 'crash' });
    const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 16 << 20 });
    await d.writeFile(img);
    points.push(await w.commit());
  }
  const store = new CatalogStore(join(dir, 'data'));
  const first = await buildCatalog(repo, store, points[0]!);
  assert.equal(first.header.volumes[0]!.files, 80);
  assert.equal(first.header.volumes[0]!.sampled, 0, 'the first point has nothing to compare with: no samples');

  const normal = await buildCatalog(repo, store, points[1]!, { previous: { rp: points[0]!, catalog: store.open(VM.id, points[0]!.id)! } });
  assert.equal(normal.diff!.totals.changed, 40, 'every archive rewritten');
  assert.equal(normal.massEncryption!.rewrittenHighEntropy, 0, JSON.stringify(normal.massEncryption));
  assert.equal(normal.massEncryption!.warning, false, normal.massEncryption!.summary);
  assert.ok(normal.diff!.changed.every((c) => c.before.entropy !== undefined && c.before.entropy / 32 > 7.5), 'each archive\'s earlier version was sampled (high entropy)');

  const attack = await buildCatalog(repo, store, points[2]!, { previous: { rp: points[1]!, catalog: store.open(VM.id, points[1]!.id)! } });
  assert.equal(attack.diff!.totals.changed, 40, 'every note overwritten');
  assert.equal(attack.massEncryption!.rewrittenHighEntropy, 40, JSON.stringify(attack.massEncryption));
  assert.equal(attack.massEncryption!.warning, true, attack.massEncryption!.summary);
  assert.match(attack.massEncryption!.summary, /Possible mass encryption: 40 of 80 files \(50%\)/);
});
