// Restores to files: runs of consecutive chunks (longer than one write, broken by zero chunks, with an
// unaligned tail) come back byte-identical with holes for zero chunks, over an existing file too; the
// file and its new folder entry are fsynced before restoreDisk resolves; a damaged chunk inside a run
// fails the restore with EDAMAGED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, openSync, readSync, writeSync, writeFileSync, closeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Repository } from '../../backend/repository/repository.ts';
import { RECORD_HEADER } from '../../backend/repository/format.ts';
import { RUN_BYTES } from '../../backend/repository/direct-io.ts';
import { tempDir, sha256File, packFiles } from './helpers.ts';

const MiB = 1024 * 1024;
const TAIL = 12345;

/** 1 MiB chunks: runs longer than one restore write, zero gaps, raw (random) and compressed chunks, a duplicate, an odd tail. */
function image(path: string): { capacity: number; zeroBytes: number } {
  const text = (k: number) => Buffer.from(Array.from({ length: 40000 }, (_, i) => `line ${k}.${i} of a compressible chunk\n`).join('')).subarray(0, MiB);
  const runChunks = RUN_BYTES / MiB;
  const layout: ('text' | 'random' | 'zero' | 'dup')[] = [
    ...Array(runChunks + 3).fill('text'), 'zero', 'zero', 'random', 'random', 'random', 'random', 'zero',
    ...Array.from({ length: runChunks + 2 }, (_, i) => (i === 3 ? 'dup' : i % 2 ? 'random' : 'text')), 'zero',
  ];
  const capacity = layout.length * MiB + TAIL;
  const fd = openSync(path, 'w');
  layout.forEach((kind, k) => {
    if (kind === 'zero') return;
    writeSync(fd, kind === 'text' ? text(k) : kind === 'dup' ? text(0) : randomBytes(MiB), 0, MiB, k * MiB);
  });
  writeSync(fd, randomBytes(TAIL), 0, TAIL, layout.length * MiB);
  closeSync(fd);
  return { capacity, zeroBytes: layout.filter((k) => k === 'zero').length * MiB };
}

async function backup(t: { after: (fn: () => void) => void }, passphrase?: string) {
  const dir = tempDir(t);
  const img = join(dir, 'disk.img');
  const { capacity, zeroBytes } = image(img);
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir, { packSize: 8 * MiB, passphrase });
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'vm-1' }, consistency: 'crash' });
  await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity })).writeFile(img);
  const rp = await w.commit();
  return { dir, img, repo, repoDir, rp, capacity, zeroBytes };
}

/** Records the inode of every FileHandle synced (fsync/fdatasync) while `fn` runs. */
async function syncedInodes(probe: string, fn: () => Promise<void>): Promise<Set<number>> {
  const fh = await open(probe, 'r');
  const proto = Object.getPrototypeOf(fh) as { sync: () => Promise<void>; datasync: () => Promise<void> };
  await fh.close();
  const { sync, datasync } = proto;
  const inodes = new Set<number>();
  proto.sync = async function (this: { stat: () => Promise<{ ino: number }> }) { await sync.call(this); inodes.add((await this.stat()).ino); };
  proto.datasync = async function (this: { stat: () => Promise<{ ino: number }> }) { await datasync.call(this); inodes.add((await this.stat()).ino); };
  try { await fn(); } finally { proto.sync = sync; proto.datasync = datasync; }
  return inodes;
}

for (const passphrase of [undefined, 'pw']) {
  test(`runs of chunks restore byte-identical with holes, and the file and its folder are synced${passphrase ? ' (encrypted)' : ''}`, async (t) => {
    const s = await backup(t, passphrase);
    const folder = join(s.dir, 'restored');
    mkdirSync(folder);
    const out = join(folder, 'disk.img');
    let result: { bytes: number; zeroBytes: number } | undefined;
    let last = 0;
    const synced = await syncedInodes(s.img, async () => {
      result = await s.repo.restoreDisk(s.rp.id, '2000', out, (done, total) => { assert.ok(done >= last && total === s.capacity); last = done; });
    });
    assert.ok(synced.has(statSync(out).ino), 'the restored file was fsynced before restoreDisk resolved');
    assert.ok(synced.has(statSync(folder).ino), 'its folder was fsynced (the new name is durable)');
    assert.deepEqual(result, { bytes: s.capacity, zeroBytes: s.zeroBytes });
    assert.equal(last, s.capacity);
    assert.equal(statSync(out).size, s.capacity);
    assert.equal(sha256File(out), sha256File(s.img));
    assert.ok(statSync(out).blocks * 512 <= s.capacity - s.zeroBytes + 64 * 1024, 'zero chunks are holes');

    // Over an existing, longer file full of other bytes: same result.
    writeFileSync(out, Buffer.alloc(s.capacity + 3 * MiB, 0xff));
    await s.repo.restoreDisk(s.rp.id, '2000', out);
    assert.equal(statSync(out).size, s.capacity);
    assert.equal(sha256File(out), sha256File(s.img));
    assert.ok((await stat(out)).blocks * 512 <= s.capacity - s.zeroBytes + 64 * 1024, 'zero chunks are holes');
    await s.repo.close();
  });
}

test('a damaged chunk inside a run fails the restore with EDAMAGED; the next restore works', async (t) => {
  const s = await backup(t);
  await s.repo.close();
  // Flip one byte in the payload of the second incompressible (random, 1 MiB) record: it sits inside a run.
  let target: { pack: string; at: number } | undefined;
  let random = 0;
  for (const pack of packFiles(s.repoDir)) {
    const fd = openSync(pack, 'r');
    const h = Buffer.alloc(RECORD_HEADER);
    for (let off = 0; off < statSync(pack).size && !target;) {
      readSync(fd, h, 0, RECORD_HEADER, off);
      const len = h.readUInt32BE(12);
      if (h.readUInt32BE(8) === MiB && len >= MiB && ++random === 2) target = { pack, at: off + RECORD_HEADER + 777 };
      off += RECORD_HEADER + len;
    }
    closeSync(fd);
    if (target) break;
  }
  assert.ok(target, 'found an incompressible record');
  const fd = openSync(target.pack, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, target.at);
  b[0] ^= 0x40;
  writeSync(fd, b, 0, 1, target.at);
  closeSync(fd);

  const repo = await Repository.open(s.repoDir);
  const out = join(s.dir, 'out.img');
  await assert.rejects(repo.restoreDisk(s.rp.id, '2000', out), (e: Error & { code?: string }) => e.code === 'EDAMAGED' && /damaged|mismatch/.test(e.message));
  // Repaired: the same restore now succeeds (nothing stuck in the workers).
  b[0] ^= 0x40;
  const fd2 = openSync(target.pack, 'r+');
  writeSync(fd2, b, 0, 1, target.at);
  closeSync(fd2);
  await repo.restoreDisk(s.rp.id, '2000', out);
  assert.equal(sha256File(out), sha256File(s.img));
  await repo.close();
});
