// DiskImage: random reads of a restore point's disk against the original image bytes, reads that
// span chunks, zero chunks without I/O, reads past the end, one decode for concurrent readers of a
// chunk, read-ahead, a bounded cache, encrypted repositories, and reading from a worker thread and a
// child process through a descriptor (no index, no lock), reused chunk buffers under concurrent readers,
// read-ahead decoded on a thread of its own, and reads into shared buffers filled by those threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { Repository } from '../../backend/repository/repository.ts';
import { DiskImage, inlineDecoder, inlineFiller, threadDecoder, type DiskImageDescriptor } from '../../backend/repository/disk-image.ts';
import { tempDir, ROOT } from './helpers.ts';

const KiB = 1024;
const CS = 64 * KiB; // small chunks: many of them in a small image
const DISK_IMAGE = join(ROOT, 'backend/repository/disk-image.ts');

/** ~10 MiB, not a multiple of the chunk size: random islands, compressible text, zero runs, two equal chunks. */
function makeImage(path: string): Buffer {
  const size = 160 * CS + 12345;
  const b = Buffer.alloc(size);
  randomBytes(3 * CS).copy(b, 0);
  randomBytes(CS / 2).copy(b, 10 * CS + 1000);
  const text = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n'.repeat(40000));
  text.copy(b, 20 * CS, 0, Math.min(text.length, 30 * CS));
  randomBytes(CS).copy(b, 70 * CS);
  b.copy(b, 71 * CS, 70 * CS, 71 * CS); // equal to chunk 70: one stored chunk, two places
  randomBytes(40 * CS).copy(b, 100 * CS);
  randomBytes(12345).copy(b, 160 * CS); // the short last chunk
  writeFileSync(path, b);
  return b;
}

async function backup(repo: Repository, img: string, size: number) {
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'img' }, consistency: 'crash' });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: size });
  await d.writeFile(img);
  return w.commit();
}

/** xorshift, so a failing offset can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
}

async function randomReads(img: DiskImage, want: Buffer, n: number, seed: number): Promise<void> {
  const r = rng(seed);
  for (let k = 0; k < n; k++) {
    const offset = r(want.length + CS);
    const length = [1, 512, 4096, CS - 1, CS, CS + 1, 3 * CS + 17, r(5 * CS)][r(8)]!;
    const got = await img.readAt(offset, length);
    const exp = want.subarray(Math.min(offset, want.length), Math.min(want.length, offset + length));
    assert.ok(got.equals(exp), `read ${offset}+${length} (seed ${seed}, #${k})`);
  }
}

test('random, spanning, zero and past-the-end reads equal the original image; concurrent readers share decodes', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'disk.img');
  const want = makeImage(path);
  const repo = await Repository.init(join(dir, 'repo'), { chunkSize: CS, packSize: 2 * 1024 * KiB });
  t.after(() => repo.close());
  const rp = await backup(repo, path, want.length);

  const img = await repo.openDiskImage(rp.id, '2000', { cacheBytes: 8 * CS });
  assert.equal(img.capacity, want.length);
  assert.equal(img.chunkSize, CS);
  await randomReads(img, want, 400, 1);

  // Spanning: from inside chunk 2 to inside chunk 6, and a whole-disk read.
  assert.ok((await img.readAt(2 * CS + 100, 4 * CS + 5)).equals(want.subarray(2 * CS + 100, 6 * CS + 105)));
  assert.ok((await img.readAt(0, want.length + 999)).equals(want), 'whole disk, cut at the end');

  // Zero chunks: answered without reading or decoding anything.
  const before = img.stats.decodes;
  const zeros = await img.readAt(4 * CS, 5 * CS);
  assert.ok(zeros.equals(Buffer.alloc(5 * CS)));
  assert.equal(img.stats.decodes, before, 'zero chunks cost no decode');

  // Past the end: cut, then empty.
  assert.ok((await img.readAt(want.length - 10, 100)).equals(want.subarray(want.length - 10)));
  assert.equal((await img.readAt(want.length, 10)).length, 0);
  assert.equal((await img.readAt(want.length + CS, 10)).length, 0);
  await assert.rejects(img.readAt(-1, 10), (e: { code?: string }) => e.code === 'EINVAL');
  await img.close();

  // 32 concurrent readers of one chunk: one decode. Chunks 70 and 71 are the same stored chunk.
  let decodes = 0;
  const base = inlineDecoder(undefined);
  const counting = await repo.openDiskImage(rp.id, '2000', { decoder: (...a) => { decodes++; return base(...a); } });
  const reads = await Promise.all(Array.from({ length: 32 }, (_, k) => counting.readAt((k % 2 ? 71 : 70) * CS + k * 100, 1000)));
  reads.forEach((b, k) => assert.ok(b.equals(want.subarray((k % 2 ? 71 : 70) * CS + k * 100, (k % 2 ? 71 : 70) * CS + k * 100 + 1000))));
  assert.equal(decodes, 1, 'concurrent reads of one chunk decode it once');

  // 32 concurrent random readers, each checking its own reads.
  await Promise.all(Array.from({ length: 32 }, (_, k) => randomReads(counting, want, 40, 100 + k)));
  await counting.close();

  // Sequential reading gets read-ahead: later chunks are already decoded when asked for.
  const seq = await repo.openDiskImage(rp.id, '2000', { readAhead: 4, cacheBytes: 16 * CS });
  const h = createHash('sha256');
  for (let o = 0; o < want.length; o += 16 * KiB) h.update(await seq.readAt(o, 16 * KiB));
  assert.equal(h.digest('hex'), createHash('sha256').update(want).digest('hex'));
  assert.ok(seq.stats.readAheads > 10, `read-ahead started ${seq.stats.readAheads} decodes`);
  assert.ok(seq.stats.hits > seq.stats.decodes, 'most chunk reads hit the cache');
  await seq.close();

  // The cache is bounded: with room for 2 chunks, going back to chunk 0 decodes it again.
  const small = await repo.openDiskImage(rp.id, '2000', { cacheBytes: 2 * CS, readAhead: 0 });
  await small.readAt(0, 10);
  for (let i = 100; i < 110; i++) await small.readAt(i * CS, 10);
  const d0 = small.stats.decodes;
  await small.readAt(0, 10);
  assert.equal(small.stats.decodes, d0 + 1, 'evicted chunk decoded again');
  await small.close();
  await assert.rejects(small.readAt(0, 1), (e: { code?: string }) => e.code === 'ECLOSED');

  // A plain repository's descriptor has no keys; its table holds a slot per chunk.
  const img2 = await repo.openDiskImage(rp.id, '2000');
  const desc = img2.descriptor();
  assert.equal(desc.keys, undefined);
  assert.ok(desc.table.byteLength > 161 * 4);
  assert.equal(desc.capacity, want.length);
  await img2.close();
});

test('GC keeps the packs of an open image, even after its restore point is deleted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'disk.img');
  const want = makeImage(path);
  const repo = await Repository.init(join(dir, 'repo'), { chunkSize: CS, packSize: 1024 * KiB });
  t.after(() => repo.close());
  const rp = await backup(repo, path, want.length);
  const img = await repo.openDiskImage(rp.id, '2000', { cacheBytes: CS });
  await repo.deleteRestorePoint(rp.id);
  const g1 = await repo.gc();
  assert.equal(g1.deletedPacks, 0, 'packs of the open image stay');
  await randomReads(img, want, 100, 7);
  await img.close();
  const g2 = await repo.gc();
  assert.ok(g2.deletedPacks > 0 && g2.reclaimedBytes > 0, 'reclaimed once the image is closed');
});

const WORKER = `
  const { parentPort, workerData } = await import('node:worker_threads');
  const { createHash } = await import('node:crypto');
  const { DiskImage } = await import(${JSON.stringify(DISK_IMAGE)});
  const img = DiskImage.fromDescriptor(workerData, { cacheBytes: 4 << 20 });
  const h = createHash('sha256');
  const step = 100000; // not chunk-aligned
  for (let o = 0; o < img.capacity; o += step) h.update(await img.readAt(o, step));
  const stats = img.stats;
  await img.close();
  parentPort.postMessage({ sha256: h.digest('hex'), stats });
`;

async function inWorker(desc: DiskImageDescriptor): Promise<{ sha256: string; stats: { decodes: number } }> {
  const w = new Worker(WORKER, { eval: true, workerData: desc, transferList: [desc.table] });
  try {
    return await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); w.once('exit', (c) => reject(new Error(`worker exited ${c}`))); });
  } finally {
    await w.terminate();
  }
}

const CHILD = `
  const { DiskImage } = await import(${JSON.stringify(DISK_IMAGE)});
  const { createHash } = await import('node:crypto');
  process.once('message', async (desc) => {
    const img = DiskImage.fromDescriptor(desc);
    const h = createHash('sha256');
    for (let o = 0; o < img.capacity; o += 1 << 20) h.update(await img.readAt(o, 1 << 20));
    await img.close();
    process.send(h.digest('hex'), () => process.exit(0));
  });
`;

async function inChild(desc: DiskImageDescriptor, dir: string): Promise<string> {
  const script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const c = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  c.send(desc);
  return new Promise((resolve, reject) => { c.once('message', (m) => resolve(m as string)); c.once('error', reject); c.once('exit', (code) => code && reject(new Error(`child exited ${code}`))); });
}

test('encrypted repository: random reads, and a worker thread and a child process read the image through a descriptor', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'disk.img');
  const want = makeImage(path);
  const sha = createHash('sha256').update(want).digest('hex');
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir, { passphrase: 'disk image pass', chunkSize: CS, packSize: 2 * 1024 * KiB });
  t.after(() => repo.close());
  const rp = await backup(repo, path, want.length);
  const img = await repo.openDiskImage(rp.id, '2000');
  await randomReads(img, want, 200, 3);
  await Promise.all(Array.from({ length: 32 }, (_, k) => randomReads(img, want, 10, 300 + k)));

  // The repository is open in this process (it holds the lock and the LevelDB index): the worker needs neither.
  const desc = img.descriptor();
  assert.ok(desc.keys, 'the descriptor carries the keys of an encrypted repository');
  assert.equal(JSON.stringify(desc.storage), JSON.stringify({ kind: 'local', path: repoDir }));
  const r = await inWorker(desc);
  assert.equal(r.sha256, sha, 'worker thread reads the original bytes');
  assert.ok(r.stats.decodes > 0);
  assert.equal(desc.table.byteLength, 0, 'the table was transferred, not copied');
  assert.equal(await inChild(img.descriptor(), dir), sha, 'child process reads the original bytes');

  // A descriptor with a wrong key fails with EDAMAGED instead of returning garbage.
  const bad = img.descriptor();
  bad.keys!.encKey[0]! ^= 1;
  const wrong = DiskImage.fromDescriptor(bad);
  await assert.rejects(wrong.readAt(0, 10), (e: { code?: string }) => e.code === 'EDAMAGED');
  await wrong.close();
  await img.close();
});

test('a damaged record reads as EDAMAGED naming the pack; other chunks still read', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'disk.img');
  const want = makeImage(path);
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir, { chunkSize: CS, packSize: 64 * 1024 * KiB });
  t.after(() => repo.close());
  const rp = await backup(repo, path, want.length);
  const img = await repo.openDiskImage(rp.id, '2000', { readAhead: 0 });
  // Flip a byte in the middle of every pack: one random-data record breaks, the rest stays readable.
  for await (const o of repo.storage.list('packs/')) {
    const file = join(repoDir, o.name);
    const fd = openSync(file, 'r+');
    const b = readFileSync(file);
    const at = Math.floor(b.length / 2);
    writeSync(fd, Buffer.from([b[at]! ^ 0xff]), 0, 1, at);
    closeSync(fd);
  }
  let bad = 0;
  for (let i = 0; i < 161; i++) {
    try {
      const got = await img.readAt(i * CS, CS);
      assert.ok(got.equals(want.subarray(i * CS, Math.min(want.length, (i + 1) * CS))), `chunk ${i}`);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'EDAMAGED');
      assert.match((e as Error).message, /pack [0-9a-f]{16}/);
      bad++;
    }
  }
  assert.ok(bad >= 1 && bad < 10, `${bad} damaged chunks`);
  await img.close();
});

test('reused chunk buffers never mix data: a tiny cache under concurrent readers, read-ahead checked on a thread of its own, readInto; damage found there too', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'disk.img');
  const want = makeImage(path);
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir, { chunkSize: CS, packSize: 2 * 1024 * KiB });
  t.after(() => repo.close());
  const rp = await backup(repo, path, want.length);
  const opened = await repo.openDiskImage(rp.id, '2000');
  const desc = opened.descriptor();
  await opened.close();

  // Room for one chunk: chunks leave the cache (and their buffers are reused) while other reads still copy from them.
  for (const readAhead of [0, 2]) {
    const tiny = DiskImage.fromDescriptor(desc, { cacheBytes: readAhead ? 4 * CS : CS, readAhead });
    await Promise.all(Array.from({ length: 24 }, (_, k) => randomReads(tiny, want, 30, 500 + k)));
    await tiny.close();
  }

  // A sequential reader whose read-ahead is decoded and checked on a chunk worker thread, into one reused buffer.
  const thread = threadDecoder(undefined, CS);
  t.after(() => thread.close());
  const seq = DiskImage.fromDescriptor(desc, { cacheBytes: 8 * CS, readAhead: 4, streamDecoder: thread });
  const block = Buffer.alloc(48 * KiB + 3);
  const h = createHash('sha256');
  for (let o = 0; o < want.length; o += block.length) {
    const n = await seq.readInto(o, block);
    assert.equal(n, Math.min(block.length, want.length - o));
    h.update(block.subarray(0, n));
  }
  assert.equal(h.digest('hex'), createHash('sha256').update(want).digest('hex'));
  assert.ok(seq.stats.readAheads > 10, `read-ahead started ${seq.stats.readAheads} decodes`);
  assert.equal(await seq.readInto(want.length, block), 0, 'nothing past the end');
  await seq.close();

  // A download's reads into shared buffers: the threads read whole chunks from the packs straight into
  // them, the partly covered ones into shared chunk buffers (cached: each chunk read once).
  // On chunk-worker threads, and inline (synchronous reads on this thread).
  const filler = threadDecoder(undefined, CS, 2, repoDir);
  t.after(() => filler.close());
  assert.ok(filler.fill, 'a local repository gets a filler');
  const inline = inlineFiller(repoDir, undefined);
  t.after(() => inline.close());
  const nonZero = Array.from({ length: Math.ceil(want.length / CS) }, (_, i) => want.subarray(i * CS, (i + 1) * CS)).filter((c) => c.some((x) => x !== 0)).length;
  for (const [start, streamFill] of [[0, filler.fill], [4099, filler.fill], [4099, inline]] as const) {
    const filled = DiskImage.fromDescriptor(desc, { cacheBytes: 8 * CS, streamDecoder: filler, streamFill });
    const shared = new Uint8Array(new SharedArrayBuffer(5 * CS + 4099 + 16), 16);
    const hf = createHash('sha256').update(want.subarray(0, start));
    for (let o = start; o < want.length; o += shared.length) {
      const n = await filled.readInto(o, shared);
      assert.equal(n, Math.min(shared.length, want.length - o));
      hf.update(shared.subarray(0, n));
    }
    assert.equal(hf.digest('hex'), createHash('sha256').update(want).digest('hex'), `reads into shared buffers from ${start}`);
    assert.ok(filled.stats.decodes <= nonZero, `${filled.stats.decodes} chunk reads for ${nonZero} stored chunks`);
    assert.equal(filled.stats.readAheads, 0, 'no read-ahead: the threads read what each block covers');
    await filled.close();
  }

  // A flipped byte in each pack: the thread's check (the zstd frame checksum) finds it; the rest still reads.
  for await (const o of repo.storage.list('packs/')) {
    const file = join(repoDir, o.name);
    const b = readFileSync(file);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([b[Math.floor(b.length / 2)]! ^ 0xff]), 0, 1, Math.floor(b.length / 2));
    closeSync(fd);
  }
  const damagedImg = DiskImage.fromDescriptor(desc, { cacheBytes: 8 * CS, readAhead: 4, streamDecoder: thread });
  let bad = 0;
  for (let i = 0; i < 161; i++) {
    try {
      const got = await damagedImg.readAt(i * CS, CS);
      assert.ok(got.equals(want.subarray(i * CS, Math.min(want.length, (i + 1) * CS))), `chunk ${i}`);
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'EDAMAGED');
      bad++;
    }
  }
  assert.ok(bad >= 1 && bad < 10, `${bad} damaged chunks`);
  assert.ok(damagedImg.stats.readAheads > 10, 'the chunks came through the thread');
  await damagedImg.close();

  // The fillers check what they read: the same chunks fail, as EDAMAGED naming the pack.
  for (const streamFill of [filler.fill, inline]) {
    const filledDamaged = DiskImage.fromDescriptor(desc, { cacheBytes: 8 * CS, streamDecoder: filler, streamFill });
    const one = new Uint8Array(new SharedArrayBuffer(CS));
    let badFilled = 0;
    for (let i = 0; i < 161; i++) {
      try {
        const n = await filledDamaged.readInto(i * CS, one);
        assert.ok(Buffer.from(one.subarray(0, n)).equals(want.subarray(i * CS, Math.min(want.length, (i + 1) * CS))), `chunk ${i}`);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'EDAMAGED');
        assert.match((e as Error).message, /pack [0-9a-f]{16}/);
        badFilled++;
      }
    }
    assert.equal(badFilled, bad, 'the filler finds the damaged chunks the decoder found');
    await filledDamaged.close();
  }
});
