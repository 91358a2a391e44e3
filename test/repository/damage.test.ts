// Damage detection: a flipped byte, a truncated pack and a missing pack are found by verify, named by
// restore point and disk, and give clear errors on restore; undamaged restore points keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, openSync, readSync, writeSync, closeSync, truncateSync, renameSync } from 'node:fs';
import { Repository } from '../../backend/repository/repository.ts';
import { RECORD_HEADER } from '../../backend/repository/format.ts';
import { tempDir, sparseRandomImage, sha256File, packFiles } from './helpers.ts';

const MiB = 1024 * 1024;

async function setup(t: { after: (fn: () => void) => void }, passphrase?: string) {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  const a = sparseRandomImage(join(dir, 'a.img'), 12, [[0, 10 * MiB]]);
  const b = sparseRandomImage(join(dir, 'b.img'), 12, [[MiB, 8 * MiB]]);
  const repo = await Repository.init(repoDir, { packSize: 4 * MiB, passphrase });
  const backup = async (img: string, vmId: string) => {
    const w = await repo.beginRestorePoint({ vm: { id: vmId, name: vmId }, consistency: 'crash' });
    await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB })).writeFile(img);
    await (await w.addDisk({ key: '2001', label: 'Hard disk 2', capacity: 2 * MiB })).write(0, Buffer.alloc(2 * MiB, 7));
    return w.commit();
  };
  const rpA = await backup(a, 'vm-a');
  const packsA = packFiles(repoDir);
  const rpB = await backup(b, 'vm-b');
  const packsB = packFiles(repoDir).filter((p) => !packsA.includes(p));
  await repo.close();
  return { dir, repoDir, a, b, rpA, rpB, packsA, packsB };
}

for (const passphrase of [undefined, 'pw']) {
  test(`a flipped byte in a pack is found by full verify and named by restore point and disk${passphrase ? ' (encrypted)' : ''}`, async (t) => {
    const s = await setup(t, passphrase);
    // Flip one byte inside the payload of a large record (random data: vm-a's disk 2000) in vm-a's packs.
    let target: { pack: string; at: number } | undefined;
    for (const pack of s.packsA) {
      const fd = openSync(pack, 'r');
      const h = Buffer.alloc(RECORD_HEADER);
      for (let off = 0; off < statSync(pack).size && !target; ) {
        readSync(fd, h, 0, RECORD_HEADER, off);
        const len = h.readUInt32BE(12);
        if (len > 100_000) target = { pack, at: off + RECORD_HEADER + 1000 };
        off += RECORD_HEADER + len;
      }
      closeSync(fd);
      if (target) break;
    }
    assert.ok(target);
    const fd = openSync(target.pack, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, target.at);
    byte[0] ^= 0x40;
    writeSync(fd, byte, 0, 1, target.at);
    closeSync(fd);

    const repo = await Repository.open(s.repoDir, { passphrase });
    t.after(() => repo.close());
    const quick = await repo.verify({ quick: true });
    assert.equal(quick.ok, true, 'quick verify only checks index/pack consistency');
    let calls = 0;
    const v = await repo.verify({ onProgress: () => { calls++; } });
    assert.ok(calls > 0);
    assert.equal(v.ok, false);
    assert.equal(v.damaged.length, 1);
    assert.deepEqual(v.affected.map((x) => x.restorePoint), [s.rpA.id]);
    assert.deepEqual(v.affected[0].disks.map((d) => [d.key, d.damagedChunks]), [['2000', 1]]);
    await repo.restoreDisk(s.rpB.id, '2000', join(s.dir, 'out.img'));
    assert.equal(sha256File(join(s.dir, 'out.img')), sha256File(s.b), 'an unaffected restore point restores');
    const outA = join(s.dir, 'out-a.img');
    await assert.rejects(repo.restoreDisk(s.rpA.id, '2000', outA), (e: Error & { code?: string }) =>
      e.code === 'EDAMAGED' && /damaged/.test(e.message) && /repo verify/.test(e.message));
    // A refused restore leaves nothing behind: no file under the name asked for (which used to hold
    // partial data of the right size), and no temporary file next to it.
    assert.equal(existsSync(outA), false, 'no output file after a refused restore');
    assert.deepEqual(readdirSync(s.dir).filter((f) => f.includes('out-a.img')), [], 'no partial file left next to it');
    await repo.restoreDisk(s.rpB.id, '2000', join(s.dir, 'out.img'));
    assert.equal(sha256File(join(s.dir, 'out.img')), sha256File(s.b), 'and still restores after the failure');
    await repo.restoreDisk(s.rpA.id, '2001', join(s.dir, 'out2.img')); // the other disk of the damaged point is fine
  });
}

test('a truncated pack and a missing pack give clear errors and are reported by quick verify', async (t) => {
  const s = await setup(t);
  const victim = s.packsB[0];
  truncateSync(victim, Math.floor(statSync(victim).size / 2));
  let repo = await Repository.open(s.repoDir);
  let v = await repo.verify({ quick: true });
  assert.equal(v.ok, false);
  assert.ok(v.damaged.every((d) => /truncated/.test(d.problem)), JSON.stringify(v.damaged[0]));
  assert.deepEqual(v.affected.map((x) => x.restorePoint), [s.rpB.id]);
  await assert.rejects(repo.restoreDisk(s.rpB.id, '2000', join(s.dir, 'o.img')), /truncated.*repo verify/s);
  await repo.restoreDisk(s.rpA.id, '2000', join(s.dir, 'o.img'));
  assert.equal(sha256File(join(s.dir, 'o.img')), sha256File(s.a));
  await repo.close();

  renameSync(victim, victim + '.gone');
  repo = await Repository.open(s.repoDir);
  t.after(() => repo.close());
  v = await repo.verify({ quick: true });
  assert.ok(v.damaged.length > 0 && v.damaged.every((d) => /missing/.test(d.problem)));
  await assert.rejects(repo.read(s.rpB.id, '2000', 0, 12 * MiB), /missing/);
});

/** Flips `n` bytes inside the payload of the first large record (random data) of `packs`; returns the chunk's id. */
function flipInRecord(packs: string[], n = 3): { pack: string; id: string } {
  for (const pack of packs) {
    const fd = openSync(pack, 'r+');
    try {
      const h = Buffer.alloc(RECORD_HEADER);
      for (let off = 0; off < statSync(pack).size;) {
        readSync(fd, h, 0, RECORD_HEADER, off);
        const len = h.readUInt32BE(12);
        if (len > 100_000) {
          const b = Buffer.alloc(n);
          const at = off + RECORD_HEADER + 1000;
          readSync(fd, b, 0, n, at);
          for (let i = 0; i < n; i++) b[i] ^= 0x5a;
          writeSync(fd, b, 0, n, at);
          return { pack, id: h.toString('hex', 16, 48) };
        }
        off += RECORD_HEADER + len;
      }
    } finally { closeSync(fd); }
  }
  throw new Error('no large record');
}

for (const passphrase of [undefined, 'pw']) {
  test(`verify marks a damaged chunk and the next backup of the same data stores it again, repairing old and new points${passphrase ? ' (encrypted)' : ''}`, async (t) => {
    const s = await setup(t, passphrase);
    const bad = flipInRecord(s.packsA);
    let repo = await Repository.open(s.repoDir, { passphrase });
    t.after(() => repo.close());
    const v1 = await repo.verify();
    assert.equal(v1.ok, false);
    assert.deepEqual(v1.damaged.map((d) => d.id), [bad.id]);
    assert.deepEqual(v1.affected.map((a) => [a.restorePoint, a.disks.map((d) => d.key)]), [[s.rpA.id, ['2000']]]);
    assert.equal(v1.marked, 1);
    assert.match(v1.repair!, /marked.*next backup.*stores good copies/s);
    await repo.close(); // the marker is durable

    repo = await Repository.open(s.repoDir, { passphrase });
    // The next backup of the unchanged VM, incremental to the damaged point (what `repo backup` does).
    const w = await repo.beginRestorePoint({ vm: { id: 'vm-a', name: 'vm-a' }, consistency: 'crash', parent: s.rpA.id });
    await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB })).writeFile(s.a);
    await (await w.addDisk({ key: '2001', label: 'Hard disk 2', capacity: 2 * MiB })).write(0, Buffer.alloc(2 * MiB, 7));
    const rp = await w.commit();
    assert.equal(rp.disks[0].newChunks, 1, 'the damaged chunk is stored again, nothing else');
    assert.deepEqual(rp.metadata?.warnings ?? rp.warnings ?? [], []);

    const v2 = await repo.verify();
    assert.equal(v2.ok, true, JSON.stringify(v2.damaged));
    assert.deepEqual(v2.affected, []);
    assert.equal(v2.marked, 0);
    for (const id of [rp.id, s.rpA.id]) { // the new point and the old one sharing the chunk
      const out = join(s.dir, `${id}.img`);
      await repo.restoreDisk(id, '2000', out);
      assert.equal(sha256File(out), sha256File(s.a), id);
      assert.ok((await repo.read(id, '2000', 0, 12 * MiB)).equals(readFileSync(s.a)), `${id} by random access`);
      const img = await repo.openDiskImage(id, '2000');
      assert.ok((await img.readAt(0, 12 * MiB)).equals(readFileSync(s.a)), `${id} as a disk image`);
      await img.close();
    }
    await repo.gc(); // the damaged copy is garbage now
    assert.equal((await repo.verify()).ok, true);
  });
}

test('damage left to the parent (CBT) is named in a warning; patching it is refused; an aborted repair keeps the marker', async (t) => {
  const s = await setup(t);
  const bad = flipInRecord(s.packsA);
  const data = readFileSync(s.a);
  let badOffset = -1;
  for (let o = 0; o < data.length; o += MiB) if (createHash('sha256').update(data.subarray(o, o + MiB)).digest('hex') === bad.id) badOffset = o;
  assert.ok(badOffset >= 0);
  const repo = await Repository.open(s.repoDir);
  t.after(() => repo.close());
  assert.equal((await repo.verify()).marked, 1);

  // An incremental writing one changed chunk elsewhere and leaving the rest to the parent.
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-a', name: 'vm-a' }, consistency: 'crash', parent: s.rpA.id });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB });
  assert.deepEqual(d.damagedParentChunks(), [badOffset]);
  await assert.rejects(d.patch(badOffset, [{ at: 0, data: Buffer.alloc(10, 1) }]), (e: Error & { code?: string }) => e.code === 'EDAMAGED' && /damaged/.test(e.message) && /whole/.test(e.message));
  const other = badOffset === 0 ? MiB : 0;
  await d.write(other, data.subarray(other, other + MiB));
  const cbt = await w.commit();
  const warnings = cbt.warnings ?? [];
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`1 chunk taken unchanged from the parent restore point ${s.rpA.id} is damaged`));
  const v = await repo.verify();
  assert.deepEqual(v.affected.map((a) => a.restorePoint).sort(), [s.rpA.id, cbt.id].sort());

  // A backup that stores the chunk again (its pack sealed and indexed) but is aborted: the damage and its marker come back.
  const w2 = await repo.beginRestorePoint({ vm: { id: 'vm-a', name: 'vm-a' }, consistency: 'crash', parent: cbt.id });
  await (await w2.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB })).writeFile(s.a);
  await (await w2.addDisk({ key: '9', label: 'new', capacity: 8 * MiB })).write(0, randomBytes(8 * MiB));
  await w2.abort();
  const v2 = await repo.verify();
  assert.deepEqual(v2.damaged.map((x) => x.id), [bad.id]);
  assert.match(v2.damaged[0].problem, /fails its check/, 'the damaged entry is back, not a missing one');
  assert.deepEqual(v2.affected.map((a) => a.restorePoint).sort(), [s.rpA.id, cbt.id].sort());

  // The next full read of the disk repairs all of them.
  const w3 = await repo.beginRestorePoint({ vm: { id: 'vm-a', name: 'vm-a' }, consistency: 'crash', parent: cbt.id });
  await (await w3.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB })).writeFile(s.a);
  const full = await w3.commit();
  assert.deepEqual(full.warnings ?? [], []);
  const v3 = await repo.verify();
  assert.equal(v3.ok, true, JSON.stringify(v3.damaged));
  await repo.restoreDisk(s.rpA.id, '2000', join(s.dir, 'old.img'));
  assert.equal(sha256File(join(s.dir, 'old.img')), sha256File(s.a));
});
