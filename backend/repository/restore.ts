// Restores a disk of a restore point to a file, block device or stream. To files and devices the
// workers write directly: the main thread groups consecutive non-zero chunks into runs (up to 8 MiB,
// see direct-io.ts), and a worker reads each run's records from their packs, decodes and checks them
// into one page-aligned slot and writes the run with one positional write (several runs in flight,
// zero chunks become holes in files). The target is fsynced before the restore resolves. Streams get
// the chunks in order through the main thread.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { DIGEST_LEN, RECORD_HEADER, isZeroDigest, type ChunkEntry } from './format.ts';
import { BufferPool } from './worker-pool.ts';
import { runChunks } from './direct-io.ts';
import { FRAME_END_ROOM } from './zstd.ts';
import { segments } from './digest-list.ts';
import { lookupMany } from './index.ts';
import type { PackReader } from './pack-reader.ts';
import type { RepoContext } from './context.ts';
import type { DiskRecord, RestorePoint } from './catalog.ts';
import { RepositoryError, damaged } from './errors.ts';

export type Progress = (done: number, total: number) => void;
type Result = { bytes: number; zeroBytes: number };

export async function restoreDisk(ctx: RepoContext, packs: PackReader, rp: RestorePoint, diskKey: string,
  target: string | Writable, onProgress?: Progress): Promise<Result> {
  const disk = rp.disks.find((d) => d.key === diskKey);
  if (!disk) throw new RepositoryError('ENOTFOUND', `restore point ${rp.id} has no disk ${diskKey} (disks: ${rp.disks.map((d) => d.key).join(', ')})`);
  return typeof target === 'string'
    ? restoreToFile(ctx, rp, disk, target, onProgress)
    : restoreToStream(ctx, packs, rp, disk, target, onProgress);
}

/** One digest-list segment with the index entries of its chunks; entry(k) is null for a zero chunk. */
interface Located { first: number; n: number; id(k: number): Buffer | null; entry(k: number): ChunkEntry | null }

async function* located(ctx: RepoContext, rpId: string, disk: DiskRecord): AsyncGenerator<Located> {
  for await (const seg of segments(ctx.db, rpId, disk.key)) {
    const n = seg.digests.length / DIGEST_LEN;
    const ids: Buffer[] = [];
    const slot = new Int32Array(n).fill(-1);
    const uniq = new Map<string, number>();
    for (let k = 0; k < n; k++) {
      const id = seg.digests.subarray(k * DIGEST_LEN, (k + 1) * DIGEST_LEN);
      if (isZeroDigest(id)) continue;
      const h = id.toString('hex');
      let j = uniq.get(h);
      if (j === undefined) { j = ids.length; uniq.set(h, j); ids.push(Buffer.from(id)); }
      slot[k] = j;
    }
    const entries = await lookupMany(ctx.db, ids);
    yield {
      first: seg.first, n,
      id: (k) => (slot[k] < 0 ? null : ids[slot[k]]),
      entry: (k) => {
        if (slot[k] < 0) return null;
        const e = entries[slot[k]];
        if (!e) throw damaged(`chunk ${ids[slot[k]].toString('hex').slice(0, 16)}… of disk ${disk.key} is missing from the index`);
        return e;
      },
    };
  }
}

async function restoreToFile(ctx: RepoContext, rp: RestorePoint, disk: DiskRecord, path: string, onProgress?: Progress): Promise<Result> {
  const cs = rp.chunkSize;
  const existed = await stat(path).catch(() => undefined);
  const device = existed?.isBlockDevice() ?? false;
  const fh = await open(path, device ? 'r+' : 'w');
  const zeros = device ? Buffer.alloc(cs) : undefined;
  const maxRun = runChunks(cs);
  const limit = ctx.pool.size * 4;
  const jobs = new Set<Promise<void>>();
  let failure: unknown;
  let done = 0;
  let zeroBytes = 0;
  let direct: FileHandle | undefined;
  const progress = (len: number): void => { done += len; onProgress?.(done, disk.capacity); };
  try {
    // Sized up front, so no chunk write extends the file (an extending write also updates the inode).
    if (!device) await fh.truncate(disk.capacity);
    // Block-aligned runs go around the page cache where the target allows it (see direct-io.ts).
    direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
    // A run: consecutive non-zero chunks, written by one worker with one write.
    let run: { pos: number; len: number; chunks: ChunkEntry[]; ids: Uint8Array[] } | undefined;
    const flush = async (): Promise<void> => {
      if (!run) return;
      const r0 = run;
      run = undefined;
      const job: Promise<void> = ctx.pool.restore({ chunks: r0.chunks, ids: r0.ids, fd: fh.fd, pos: r0.pos, ...(direct ? { directFd: direct.fd } : {}) })
        .then((r) => {
          if (r.error === undefined) progress(r0.len);
          else failure ??= r.damaged ? damaged(r.error) : Object.assign(new Error(r.error), { code: r.code });
        }, (err) => { failure ??= err; })
        .finally(() => jobs.delete(job));
      jobs.add(job);
      if (jobs.size >= limit) await Promise.race(jobs);
    };
    outer: for await (const seg of located(ctx, rp.id, disk)) {
      for (let k = 0; k < seg.n; k++) {
        if (failure) break outer;
        const pos = (seg.first + k) * cs;
        const len = Math.min(cs, disk.capacity - pos);
        const e = seg.entry(k);
        if (e === null) {
          await flush();
          zeroBytes += len;
          if (zeros) await fh.write(zeros, 0, len, pos);
          progress(len);
          continue;
        }
        if (run && (run.pos + run.len !== pos || run.chunks.length >= maxRun || len !== cs)) await flush();
        run ??= { pos, len: 0, chunks: [], ids: [] };
        run.chunks.push({ pack: e.pack, offset: e.offset, length: e.length, flags: e.flags, rawLength: e.rawLength });
        run.ids.push(seg.id(k)!);
        run.len += len;
      }
    }
    if (!failure) await flush();
    await Promise.all(jobs);
    if (failure) throw failure;
    // Durable before it resolves: the data (O_DIRECT writes may still sit in the device's cache), the
    // size and extents, and a new file's name in its folder.
    await fh.sync();
    if (!existed) await syncDir(dirname(resolve(path)));
  } finally {
    await Promise.allSettled(jobs);
    await ctx.pool.release().catch(() => {});
    try { await direct?.close(); } finally { await fh.close(); }
  }
  return { bytes: disk.capacity, zeroBytes };
}

/** fsyncs a folder (a new entry in it is durable then); file systems that cannot are skipped. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  try { await d.sync(); } catch (e) {
    if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally { await d.close(); }
}

async function restoreToStream(ctx: RepoContext, packs: PackReader, rp: RestorePoint, disk: DiskRecord, s: Writable, onProgress?: Progress): Promise<Result> {
  const cs = rp.chunkSize;
  const window = ctx.pool.size * 4;
  const payPool = new BufferPool(cs + RECORD_HEADER + 1024, window + 2);
  const outPool = new BufferPool(cs + FRAME_END_ROOM, window + 8);
  const zeros = Buffer.alloc(cs);
  let done = 0;
  let zeroBytes = 0;
  const emit = async (data: Buffer): Promise<void> => { if (!s.write(data)) await once(s, 'drain'); };
  for await (const seg of located(ctx, rp.id, disk)) {
    const fetch = (k: number): Promise<ArrayBuffer> | null => {
      let e: ChunkEntry | null;
      try { e = seg.entry(k); } catch (err) { return Promise.reject(err); }
      if (e === null) return null;
      const entry = e;
      const id = seg.id(k)!;
      return (async () => {
        const payload = await payPool.acquire();
        try { await packs.readInto(id, entry, payload); } catch (err) { payPool.release(payload); throw err; }
        const out = await outPool.acquire();
        const r = await ctx.pool.decode(payload, RECORD_HEADER, entry.length, entry.flags, entry.rawLength, id, false, out);
        payPool.release(r.payload);
        if (r.error !== undefined) {
          outPool.release(r.out);
          throw damaged(`chunk ${id.toString('hex').slice(0, 16)}… in pack ${entry.pack} is damaged (${r.error})`);
        }
        return r.out;
      })();
    };
    const ahead: (Promise<ArrayBuffer> | null)[] = [];
    let next = 0;
    const fill = (): void => { while (next < seg.n && ahead.length < window) { const p = fetch(next++); p?.catch(() => {}); ahead.push(p); } };
    fill();
    for (let k = 0; k < seg.n; k++) {
      const p = ahead.shift()!;
      fill();
      const pos = (seg.first + k) * cs;
      const len = Math.min(cs, disk.capacity - pos);
      if (p === null) {
        zeroBytes += len;
        await emit(zeros.subarray(0, len));
      } else {
        const out = await p;
        // A stream may keep the buffer after write() (a pass-through pushes it on), so it gets a copy of pooled data.
        const own = Buffer.from(Buffer.from(out, 0, len));
        outPool.release(out);
        await emit(own);
      }
      done += len;
      onProgress?.(done, disk.capacity);
    }
  }
  return { bytes: disk.capacity, zeroBytes };
}
