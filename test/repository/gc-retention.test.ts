// GC (also while backups run in the same process), retention (keep-last, GFS) and locked points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { decideRetention } from '../../backend/repository/retention.ts';
import { tempDir, sparseRandomImage, sha256File } from './helpers.ts';

const MiB = 1024 * 1024;
type E = Error & { code?: string };

async function backup(repo: Repository, vmId: string, img: string, parent?: string): Promise<RestorePoint> {
  const w = await repo.beginRestorePoint({ vm: { id: vmId, name: vmId }, consistency: 'crash', parent });
  await (await w.addDisk({ key: '0', label: 'd', capacity: statSync(img).size })).writeFile(img);
  return w.commit();
}

test('GC reclaims deleted restore points, repacks partly dead packs, keeps everything referenced', async (t) => {
  const dir = tempDir(t);
  const a = sparseRandomImage(join(dir, 'a.img'), 16, [[0, 16 * MiB]]);
  const b = sparseRandomImage(join(dir, 'b.img'), 8, [[0, 8 * MiB]]);
  const repo = await Repository.init(join(dir, 'repo'), { packSize: 32 * MiB });
  t.after(() => repo.close());
  const rpA = await backup(repo, 'vm-a', a);
  // rpHalf shares the second half of a's chunks (CBT-style: the first half is rewritten with new data).
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-a', name: 'vm-a' }, consistency: 'crash', parent: rpA.id });
  const d = await w.addDisk({ key: '0', label: 'd', capacity: 16 * MiB });
  const fresh = randomBytes(4 * MiB);
  await d.write(0, fresh);
  const rpHalf = await w.commit();
  const rpB = await backup(repo, 'vm-b', b);
  const before = await repo.stats();
  assert.equal((await repo.gc()).reclaimedBytes, 0, 'nothing to reclaim while everything is referenced');

  await repo.deleteRestorePoint(rpA.id);
  const g = await repo.gc();
  // a's first 4 chunks (4 MiB) are dead, 12 MiB live in the same pack -> repacked.
  assert.ok(g.deletedChunks === 4, `deleted ${g.deletedChunks}`);
  assert.ok(g.repackedPacks >= 1, 'the partly dead pack was repacked');
  assert.ok(g.reclaimedBytes >= 4 * MiB && g.reclaimedBytes < 4.1 * MiB, `reclaimed ${g.reclaimedBytes}`);
  const after = await repo.stats();
  assert.equal(after.packBytes, before.packBytes - g.reclaimedBytes);
  assert.equal((await repo.verify()).ok, true);
  const want = Buffer.concat([fresh, readFileSync(a).subarray(4 * MiB)]);
  assert.ok((await repo.read(rpHalf.id, '0', 0, 16 * MiB)).equals(want));
  await repo.restoreDisk(rpB.id, '0', join(dir, 'o.img'));
  assert.equal(sha256File(join(dir, 'o.img')), sha256File(b));

  await repo.deleteRestorePoint(rpHalf.id);
  const g2 = await repo.gc();
  assert.ok(g2.deletedPacks >= 1 && g2.reclaimedBytes >= 16 * MiB, JSON.stringify(g2));
  assert.equal((await repo.stats()).chunks, 8);
});

test('GC while a backup runs in the same process loses nothing (incl. chunks it dedups against garbage)', async (t) => {
  const dir = tempDir(t);
  const img = sparseRandomImage(join(dir, 'x.img'), 24, [[0, 24 * MiB]]);
  const other = sparseRandomImage(join(dir, 'y.img'), 24, [[0, 24 * MiB]]);
  const repo = await Repository.init(join(dir, 'repo'), { packSize: 4 * MiB });
  t.after(() => repo.close());
  const old = await backup(repo, 'vm-x', img);
  await repo.deleteRestorePoint(old.id); // img's chunks are now garbage in the index
  const data = readFileSync(img);
  const data2 = readFileSync(other);
  // Backup 1 dedups against the garbage chunk by chunk; backup 2 writes new packs; GC runs repeatedly in between.
  const w1 = await repo.beginRestorePoint({ vm: { id: 'vm-x', name: 'x' }, consistency: 'crash' });
  const d1 = await w1.addDisk({ key: '0', label: 'd', capacity: 24 * MiB });
  const w2 = await repo.beginRestorePoint({ vm: { id: 'vm-y', name: 'y' }, consistency: 'crash' });
  const d2 = await w2.addDisk({ key: '0', label: 'd', capacity: 24 * MiB });
  const gcs: Promise<unknown>[] = [];
  for (let i = 0; i < 24; i++) {
    await d1.write(i * MiB, data.subarray(i * MiB, (i + 1) * MiB));
    await d2.write(i * MiB, data2.subarray(i * MiB, (i + 1) * MiB));
    if (i % 4 === 1) gcs.push(repo.gc());
    if (i % 4 === 3) await Promise.all(gcs.splice(0));
  }
  gcs.push(repo.gc().catch((e: E) => { if (e.code !== 'EBUSY') throw e; }));
  const [rp1, rp2] = await Promise.all([w1.commit(), w2.commit()]);
  await Promise.all(gcs);
  await repo.gc();
  const v = await repo.verify();
  assert.equal(v.ok, true, JSON.stringify(v.damaged.slice(0, 3)));
  assert.ok((await repo.read(rp1.id, '0', 0, 24 * MiB)).equals(data));
  assert.ok((await repo.read(rp2.id, '0', 0, 24 * MiB)).equals(data2));
  // GC running concurrently with writeFile too.
  const w3 = await repo.beginRestorePoint({ vm: { id: 'vm-x', name: 'x' }, consistency: 'crash' });
  await repo.deleteRestorePoint(rp1.id);
  const d3 = await w3.addDisk({ key: '0', label: 'd', capacity: 24 * MiB });
  // A second GC starts once writeFile has stored its first chunks, i.e. in the middle of it.
  let midway!: () => void;
  const writing = new Promise<void>((r) => { midway = r; });
  await Promise.all([
    d3.writeFile(img, { onProgress: () => midway() }).finally(() => midway()),
    repo.gc(),
    writing.then(() => repo.gc().catch(() => {})),
  ]);
  const rp3 = await w3.commit();
  await repo.gc();
  assert.equal((await repo.verify()).ok, true);
  assert.ok((await repo.read(rp3.id, '0', 0, 24 * MiB)).equals(data));
});

function fakePoint(vmId: string, at: Date): RestorePoint {
  return { id: `rp-${vmId}-${at.toISOString()}`, vm: { id: vmId, name: vmId }, consistency: 'crash', createdAt: at.toISOString(), completedAt: at.toISOString(), chunkSize: MiB, disks: [], logicalBytes: 0, nonZeroBytes: 0, newStoredBytes: 0 };
}

test('retention: keep-last and GFS pick the right points per VM; locked points are kept', () => {
  // One backup a day at 22:00 UTC from 2025-01-01 to 2026-03-18 (a Wednesday), plus an extra one at 10:00 on the last day.
  const points: RestorePoint[] = [];
  for (let d = new Date(Date.UTC(2025, 0, 1, 22)); d <= new Date(Date.UTC(2026, 2, 18, 22)); d = new Date(d.getTime() + 86400000)) points.push(fakePoint('vm-a', d));
  points.push(fakePoint('vm-a', new Date(Date.UTC(2026, 2, 18, 10))));
  points.push(fakePoint('vm-b', new Date(Date.UTC(2020, 5, 1))));
  const locked = { ...fakePoint('vm-a', new Date(Date.UTC(2025, 1, 14, 3))), lockedUntil: '2999-01-01T00:00:00.000Z' };
  points.push(locked);

  const day = (y: number, m: number, d: number) => `rp-vm-a-${new Date(Date.UTC(y, m - 1, d, 22)).toISOString()}`;
  const r = decideRetention(points, { keepDaily: 3, keepWeekly: 3, keepMonthly: 4, keepYearly: 2 });
  const kept = new Set(r.keep.filter((k) => k.vmId === 'vm-a').map((k) => k.id));
  const expected = new Set([
    day(2026, 3, 18), day(2026, 3, 17), day(2026, 3, 16), // daily: newest of the 3 newest days (the 10:00 one loses to 22:00)
    day(2026, 3, 15), day(2026, 3, 8), // weekly: newest of this week (= 18th) and of the two weeks before (Sundays)
    day(2026, 2, 28), day(2026, 1, 31), // monthly: Mar (18th), Feb, Jan, Dec
    day(2025, 12, 31), // monthly Dec + yearly 2025
    locked.id,
  ]);
  assert.deepEqual([...kept].sort(), [...expected].sort());
  assert.ok(r.keep.find((k) => k.id === locked.id)!.reasons.some((x) => /locked/.test(x)));
  assert.deepEqual(r.keep.filter((k) => k.vmId === 'vm-b').length, 1, 'vm-b keeps its only point (yearly/monthly/daily)');
  assert.equal(r.keep.length + r.remove.length, points.length);

  const last = decideRetention(points, { keepLast: 2 });
  assert.deepEqual(last.keep.filter((k) => k.vmId === 'vm-a').map((k) => k.id).sort(),
    [day(2026, 3, 18), `rp-vm-a-${new Date(Date.UTC(2026, 2, 18, 10)).toISOString()}`, locked.id].sort());
  assert.throws(() => decideRetention(points, {}), /at least one keep rule/);
});

test('locked restore points refuse delete and survive prune; dry run deletes nothing', async (t) => {
  const dir = tempDir(t);
  const img = sparseRandomImage(join(dir, 'x.img'), 2, [[0, 2 * MiB]]);
  const repo = await Repository.init(join(dir, 'repo'));
  t.after(() => repo.close());
  const a: RestorePoint[] = [];
  for (let i = 0; i < 4; i++) a.push(await backup(repo, 'vm-a', img));
  const b1 = await backup(repo, 'vm-b', img);
  const until = new Date(Date.now() + 86400000);
  await repo.lock(a[0].id, until);
  await assert.rejects(repo.lock(a[0].id, new Date(Date.now() + 3600000)), (e: E) => e.code === 'ELOCKEDRP');
  await assert.rejects(repo.deleteRestorePoint(a[0].id), (e: E) => e.code === 'ELOCKEDRP' && e.message.includes(until.toISOString()));
  const dry = await repo.applyRetention({ keepLast: 1 }, { dryRun: true });
  assert.deepEqual(dry.remove.map((r) => r.id).sort(), [a[1].id, a[2].id].sort());
  assert.equal((await repo.listRestorePoints()).length, 5);
  await repo.applyRetention({ keepLast: 1 });
  assert.deepEqual((await repo.listRestorePoints()).map((r) => r.id).sort(), [a[0].id, a[3].id, b1.id].sort());
  await repo.gc();
  assert.equal((await repo.verify()).ok, true);
});
