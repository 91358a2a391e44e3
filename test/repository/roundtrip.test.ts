// Round trips of real file-system images, dedup, incrementals and random reads.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, copyFileSync, readFileSync, openSync, readSync, closeSync, createReadStream, readdirSync, readlinkSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Repository } from '../../backend/repository/repository.ts';
import { tempDir, sourceTree, ext4Image, ntfsImage, fatImage, gptImage, sparseRandomImage, sha256File, mutate } from './helpers.ts';

const MiB = 1024 * 1024;
const vm = { id: 'vm-7', name: 'web01', uuid: '5012aaaa-bbbb-cccc-dddd-eeeeffff0000' };

async function backupImage(repo: Repository, image: string, opts: { parent?: string; key?: string; vmId?: string } = {}) {
  const w = await repo.beginRestorePoint({ vm: { ...vm, id: opts.vmId ?? vm.id }, consistency: 'filesystem', notes: 'test', vmConfig: { cpus: 2, memoryMiB: 4096 }, parent: opts.parent });
  const d = await w.addDisk({ key: opts.key ?? '2000', label: 'Hard disk 1', capacity: statSync(image).size, changeId: '52 de 1/7', file: '[ds1] web01/web01.vmdk' });
  await d.writeFile(image);
  return w.commit();
}

test('images made by real tools round-trip byte-identical (ext4, NTFS, FAT, GPT, sparse+random, odd size)', async (t) => {
  const dir = tempDir(t);
  const src = sourceTree(dir);
  const images = [
    ext4Image(join(dir, 'ext4.img'), 40, src),
    ntfsImage(dir, join(dir, 'ntfs.img'), 32, src),
    fatImage(join(dir, 'fat.img'), 24, src),
    gptImage(dir, join(dir, 'gpt.img'), 32, src),
    sparseRandomImage(join(dir, 'sparse.img'), 48, [[0, 4096], [5 * MiB + 123, 3 * MiB], [40 * MiB, 2 * MiB]]),
  ];
  // A size that is not a multiple of the chunk size (last chunk short).
  const odd = join(dir, 'odd.img');
  copyFileSync(images[0], odd);
  (await import('node:fs')).truncateSync(odd, 40 * MiB - 12345);
  images.push(odd);
  const repo = await Repository.init(join(dir, 'repo'), { packSize: 8 * MiB });
  t.after(() => repo.close());
  for (const img of images) {
    const rp = await backupImage(repo, img, { vmId: img });
    assert.equal(rp.disks[0].capacity, statSync(img).size);
    const out = join(dir, 'out.img');
    let last = 0;
    await repo.restoreDisk(rp.id, '2000', out, (done, total) => { assert.ok(done >= last && done <= total); last = done; });
    assert.equal(last, statSync(img).size, 'progress reaches the total');
    assert.equal(sha256File(out), sha256File(img), `${img} restores byte-identical`);
    // Zero chunks are restored as holes.
    if (img.endsWith('sparse.img')) assert.ok(statSync(out).blocks * 512 < 16 * MiB, 'sparse restore');
  }
  const got = await repo.getRestorePoint((await repo.listRestorePoints())[0].id);
  assert.deepEqual(got.vmConfig, { cpus: 2, memoryMiB: 4096 });
  assert.equal(got.consistency, 'filesystem');
  assert.equal(got.disks[0].changeId, '52 de 1/7');
  assert.equal(got.vm.uuid, vm.uuid);
  const v = await repo.verify();
  assert.equal(v.ok, true, JSON.stringify(v.damaged));
});

test('unchanged re-backup stores ~0 bytes, a 5% change stores ~5%, clones dedup to one', async (t) => {
  const dir = tempDir(t);
  const src = sourceTree(dir, { randomBytes: 20 * MiB });
  const img = ext4Image(join(dir, 'a.img'), 64, src);
  const repo = await Repository.init(join(dir, 'repo'), { packSize: 16 * MiB });
  t.after(() => repo.close());
  const first = await backupImage(repo, img);
  assert.ok(first.newStoredBytes > 20 * MiB, 'first backup stores the data');
  const second = await backupImage(repo, img, { parent: first.id });
  assert.equal(second.newStoredBytes, 0, 'unchanged re-backup with parent stores nothing');
  const third = await backupImage(repo, img); // no parent: dedup through the index
  assert.equal(third.newStoredBytes, 0, 'unchanged re-backup without parent stores nothing');

  const changedBytes = mutate(img, 0.05);
  const fourth = await backupImage(repo, img, { parent: third.id });
  const size = statSync(img).size;
  // Random data does not compress; 1 MiB chunks round changes up to whole chunks.
  assert.ok(fourth.newStoredBytes >= changedBytes * 0.9, `stored ${fourth.newStoredBytes} for ${changedBytes} changed`);
  assert.ok(fourth.newStoredBytes <= size * 0.05 * 3, `stored ${fourth.newStoredBytes} ≤ 15% of ${size}`);
  const out = join(dir, 'out.img');
  await repo.restoreDisk(fourth.id, '2000', out);
  assert.equal(sha256File(out), sha256File(img));
  await repo.restoreDisk(first.id, '2000', out);
  assert.notEqual(sha256File(out), sha256File(img), 'old restore point still has the old data');

  // Two clones of one image in two VMs: the second stores nothing.
  const clone = join(dir, 'clone.img');
  copyFileSync(img, clone);
  const c1 = await backupImage(repo, clone, { vmId: 'vm-clone' });
  assert.equal(c1.newStoredBytes, 0);
  const before = (await repo.stats()).packBytes;
  const c2 = await backupImage(repo, clone, { vmId: 'vm-clone-2' });
  assert.equal(c2.newStoredBytes, 0);
  assert.equal((await repo.stats()).packBytes, before);
});

/** An encrypted repository holding one backup of a random image with these data islands. */
async function backedUp(t: TestContext, sizeMiB: number, islands: [number, number][]) {
  const dir = tempDir(t);
  const img = sparseRandomImage(join(dir, 'd.img'), sizeMiB, islands);
  const repo = await Repository.init(join(dir, 'repo'), { passphrase: 'correct horse' });
  t.after(() => repo.close());
  return { dir, img, repo, full: await backupImage(repo, img) };
}

test('CBT incremental: writing only changed ranges gives a logically full restore point', async (t) => {
  const { dir, img, repo, full } = await backedUp(t, 24, [[0, 24 * MiB]]);
  // Change chunks 3 and 17 (and write a short tail change), back up only those ranges.
  const fd = openSync(img, 'r+');
  const a = randomBytes(MiB), b = randomBytes(2 * MiB);
  (await import('node:fs')).writeSync(fd, a, 0, MiB, 3 * MiB);
  (await import('node:fs')).writeSync(fd, b, 0, 2 * MiB, 17 * MiB);
  closeSync(fd);
  const w = await repo.beginRestorePoint({ vm, consistency: 'application', parent: full.id });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 24 * MiB, changeId: 'next' });
  await d.write(17 * MiB, b);
  await d.write(3 * MiB, a); // any order
  await assert.rejects(d.write(100, a), /multiple of the chunk size/);
  const inc = await w.commit();
  assert.ok(inc.newStoredBytes >= 3 * MiB && inc.newStoredBytes < 3.2 * MiB, String(inc.newStoredBytes));
  const out = join(dir, 'out.img');
  await repo.restoreDisk(inc.id, '2000', out);
  assert.equal(sha256File(out), sha256File(img));

  // writeStream + a disk that grew: the new tail has no parent data and reads as zeros when not written.
  const w2 = await repo.beginRestorePoint({ vm, consistency: 'crash', parent: inc.id });
  const d2 = await w2.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 30 * MiB });
  const d3 = await w2.addDisk({ key: '2001', label: 'Hard disk 2', capacity: 24 * MiB });
  await d3.writeStream(createReadStream(img, { highWaterMark: 333333 }));
  const rp2 = await w2.commit();
  const restored = await repo.read(rp2.id, '2000', 0, 30 * MiB);
  assert.ok(restored.subarray(0, 24 * MiB).equals(readFileSync(img)));
  assert.ok(restored.subarray(24 * MiB).equals(Buffer.alloc(6 * MiB)));
  assert.ok((await repo.read(rp2.id, '2001', 0, 24 * MiB)).equals(readFileSync(img)));
  assert.equal(d2.count, 30);
});

test('patching chunks: small areas laid over the parent\'s chunks (or zeros) restore to the changed image', async (t) => {
  const { dir, img, repo, full } = await backedUp(t, 12, [[0, 8 * MiB]]);
  const changes: [number, Buffer][] = [[2 * MiB + 4096, randomBytes(65536)], [2 * MiB + 900_000, randomBytes(1000)], [6 * MiB, randomBytes(10)], [10 * MiB + 5, randomBytes(70_000)]];
  const fd = openSync(img, 'r+');
  for (const [at, data] of changes) (await import('node:fs')).writeSync(fd, data, 0, data.length, at);
  closeSync(fd);
  const w = await repo.beginRestorePoint({ vm, consistency: 'crash', parent: full.id });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 12 * MiB });
  assert.ok(d.patchable);
  await d.patch(2 * MiB, [{ at: 4096, data: changes[0]![1] }, { at: 900_000, data: changes[1]![1] }]);
  await d.patch(6 * MiB, [{ at: 0, data: changes[2]![1] }]);
  await d.patch(10 * MiB, [{ at: 5, data: changes[3]![1] }]); // the parent has zeros there
  await assert.rejects(d.patch(3 * MiB, [{ at: MiB - 1, data: Buffer.alloc(2) }]), /outside the chunk/);
  await assert.rejects(d.patch(100, []), /not the start of a chunk/);
  await assert.rejects(d.patch(12 * MiB, []), /not the start of a chunk/);
  const inc = await w.commit();
  assert.ok(inc.newStoredBytes < 2.5 * MiB, `three new chunks, ${inc.newStoredBytes} bytes`);
  const packFds = readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).endsWith('.pack'); } catch { return false; } });
  assert.deepEqual(packFds, [], 'the workers closed the parent packs they read');
  const out = join(dir, 'out.img');
  await repo.restoreDisk(inc.id, '2000', out);
  assert.equal(sha256File(out), sha256File(img));
  assert.equal((await repo.verify({})).ok, true);
});

test('restores to targets on different file systems in one session (tmpfs, then the disk) are byte-identical', async (t) => {
  const { dir, img, repo, full } = await backedUp(t, 12, [[0, 9 * MiB + 4096]]);
  const shm = mkdtempSync('/dev/shm/sp-restore-');
  t.after(() => rmSync(shm, { recursive: true, force: true }));
  for (const out of [join(shm, 'a.img'), join(dir, 'b.img'), join(shm, 'c.img'), join(dir, 'd.img')]) {
    await repo.restoreDisk(full.id, '2000', out);
    assert.equal(sha256File(out), sha256File(img), out);
  }
});

test('random reads at unaligned offsets match the image', async (t) => {
  const dir = tempDir(t);
  const src = sourceTree(dir);
  const img = ext4Image(join(dir, 'r.img'), 32, src);
  const repo = await Repository.init(join(dir, 'repo'), {});
  t.after(() => repo.close());
  const rp = await backupImage(repo, img);
  const fd = openSync(img, 'r');
  const size = statSync(img).size;
  for (let k = 0; k < 200; k++) {
    const off = Math.floor(Math.random() * size);
    const len = Math.floor(Math.random() * (k % 10 === 0 ? 3 * MiB : 70000)) + 1;
    const want = Buffer.alloc(Math.min(len, size - off));
    readSync(fd, want, 0, want.length, off);
    const got = await repo.read(rp.id, '2000', off, len);
    assert.ok(got.equals(want), `read at ${off}+${len}`);
  }
  closeSync(fd);

  // Restore into a stream consumed slowly through a pass-through (as an upload would): same bytes.
  const pass = new PassThrough({ highWaterMark: 64 * 1024 });
  const pieces: Buffer[] = []; // kept, like a socket keeps buffers until they are sent
  const consumed = (async () => {
    let n = 0;
    for await (const piece of pass) { pieces.push(piece as Buffer); if (++n % 7 === 0) await new Promise((r) => setTimeout(r, 1)); }
  })();
  await repo.restoreDisk(rp.id, '2000', pass);
  pass.end();
  await consumed;
  const hash = createHash('sha256');
  for (const p of pieces) hash.update(p);
  assert.equal(hash.digest('hex'), sha256File(img));
});
