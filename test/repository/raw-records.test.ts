// Repositories written before incompressible chunks were kept as zstd frames (2026-12) hold them as raw
// records (flags 0, the chunk's bytes as they are), checked by recomputing the chunk id. Such a
// repository, made here by rewriting a new one's packs and rebuilding its index from them, restores and
// streams (a download's fill path) byte-identical, and a flipped byte in a raw record is found there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { zstdDecompressSync } from 'node:zlib';
import { Repository } from '../../backend/repository/repository.ts';
import { DiskImage, inlineFiller, threadDecoder } from '../../backend/repository/disk-image.ts';
import { FLAG_COMPRESSED, RECORD_HEADER } from '../../backend/repository/format.ts';
import { tempDir, sha256File, cli, packFiles } from './helpers.ts';

const MiB = 1024 * 1024;

/** 12 chunks: random ones (incompressible) between text ones, and a short random tail. */
function image(path: string): Buffer {
  const text = (k: number) => Buffer.from(Array.from({ length: 40000 }, (_, i) => `line ${k}.${i} of a text chunk\n`).join('')).subarray(0, MiB);
  const data = Buffer.concat([...Array.from({ length: 12 }, (_, k) => (k % 3 === 0 ? text(k) : randomBytes(MiB))), randomBytes(5000)]);
  writeFileSync(path, data);
  return data;
}

/** Rewrites every pack with its incompressible records stored raw, as the writer did before; returns how many. */
function rawifyPacks(repoDir: string): number {
  let n = 0;
  for (const file of packFiles(repoDir)) {
    const pack = readFileSync(file);
    const out: Buffer[] = [];
    for (let off = 0; off < pack.length;) {
      const h = Buffer.from(pack.subarray(off, off + RECORD_HEADER));
      const rawLength = h.readUInt32BE(8), length = h.readUInt32BE(12);
      const payload = pack.subarray(off + RECORD_HEADER, off + RECORD_HEADER + length);
      off += RECORD_HEADER + length;
      if (h[4] !== FLAG_COMPRESSED || length < rawLength) { out.push(h, payload); continue; }
      const bytes = zstdDecompressSync(payload);
      assert.equal(bytes.length, rawLength);
      h[4] = 0;
      h.writeUInt32BE(rawLength, 12);
      out.push(h, bytes);
      n++;
    }
    writeFileSync(file, Buffer.concat(out));
  }
  return n;
}

test('raw records of older repositories restore and stream byte-identical; a damaged one is found by its id', async (t) => {
  const dir = tempDir(t);
  const img = join(dir, 'disk.img');
  const want = image(img);
  const repoDir = join(dir, 'repo');
  let repo = await Repository.init(repoDir, { packSize: 4 * MiB });
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'vm-1' }, consistency: 'crash' });
  await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: want.length })).writeFile(img);
  const rp = await w.commit();
  await repo.close();

  assert.equal(rawifyPacks(repoDir), 9, 'the 8 random chunks and the tail were stored as frames, now raw');
  const rebuilt = cli(['rebuild-index', repoDir, '--json']);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.deepEqual(JSON.parse(rebuilt.stdout).packProblems, []);

  repo = await Repository.open(repoDir);
  t.after(() => repo.close());
  await repo.restoreDisk(rp.id, '2000', join(dir, 'out.img'));
  assert.equal(sha256File(join(dir, 'out.img')), createHash('sha256').update(want).digest('hex'));

  const opened = await repo.openDiskImage(rp.id, '2000');
  const desc = opened.descriptor();
  await opened.close();
  const filler = threadDecoder(undefined, MiB, 2, repoDir);
  t.after(() => filler.close());
  const inline = inlineFiller(repoDir, undefined);
  t.after(() => inline.close());
  const stream = async (streamFill: NonNullable<typeof filler.fill>): Promise<Buffer> => {
    const image = DiskImage.fromDescriptor(desc, { cacheBytes: 8 * MiB, streamDecoder: filler, streamFill });
    try {
      const block = new Uint8Array(new SharedArrayBuffer(4 * MiB));
      const parts: Buffer[] = [];
      for (let o = 0, n; (n = await image.readInto(o, block)) > 0; o += n) parts.push(Buffer.from(block.subarray(0, n)));
      return Buffer.concat(parts);
    } finally { await image.close(); }
  };
  for (const streamFill of [filler.fill!, inline]) assert.ok((await stream(streamFill)).equals(want), 'a download of the raw records');

  // One flipped byte in the first raw record (chunk 1): the restore and both fill paths name it.
  const where = packFiles(repoDir).map((pack) => ({ pack, at: readFileSync(pack).indexOf(want.subarray(MiB, MiB + 64)) })).find((x) => x.at >= 0);
  assert.ok(where, 'chunk 1 is in a pack, raw');
  const at = where.at + 100;
  const fd = openSync(where.pack, 'r+');
  writeSync(fd, Buffer.from([want[MiB + 100]! ^ 0x01]), 0, 1, at);
  closeSync(fd);
  const damaged = (e: Error & { code?: string }) => e.code === 'EDAMAGED' && /hash mismatch/.test(e.message);
  await assert.rejects(repo.restoreDisk(rp.id, '2000', join(dir, 'again.img')), damaged);
  for (const streamFill of [filler.fill!, inline]) await assert.rejects(stream(streamFill), damaged);
});
