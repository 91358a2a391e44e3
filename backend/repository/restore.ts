// Restores a disk of a restore point to a file, block device or stream. Chunks are read ahead from the
// packs, decoded and checked in the worker pool and written in order; zero chunks become holes in files.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { DIGEST_LEN, RECORD_HEADER, isZeroDigest } from './format.ts';
import { BufferPool } from './worker-pool.ts';
import { segments } from './digest-list.ts';
import { lookupMany } from './index.ts';
import type { PackReader } from './pack-reader.ts';
import type { RepoContext } from './context.ts';
import type { RestorePoint } from './catalog.ts';
import { RepositoryError, damaged } from './errors.ts';

export type Progress = (done: number, total: number) => void;

export async function restoreDisk(ctx: RepoContext, packs: PackReader, rp: RestorePoint, diskKey: string,
  target: string | Writable, onProgress?: Progress): Promise<{ bytes: number; zeroBytes: number }> {
  const disk = rp.disks.find((d) => d.key === diskKey);
  if (!disk) throw new RepositoryError('ENOTFOUND', `restore point ${rp.id} has no disk ${diskKey} (disks: ${rp.disks.map((d) => d.key).join(', ')})`);
  const cs = rp.chunkSize;
  let fh: FileHandle | undefined;
  let sparse = false;
  if (typeof target === 'string') {
    const st = await stat(target).catch(() => undefined);
    if (st?.isBlockDevice()) fh = await open(target, 'r+');
    else { fh = await open(target, 'w'); sparse = true; }
  }
  const window = ctx.pool.size * 4;
  const payPool = new BufferPool(cs + RECORD_HEADER + 1024, window + 2);
  const outPool = new BufferPool(cs, window + 8);
  let done = 0;
  let zeroBytes = 0;
  const zeros = Buffer.alloc(cs);
  const emit = async (data: Buffer, pos: number): Promise<void> => {
    if (fh) { let w = 0; while (w < data.length) w += (await fh.write(data, w, data.length - w, pos + w)).bytesWritten; }
    else {
      const s = target as Writable;
      if (!s.write(data)) await once(s, 'drain');
    }
  };
  const writes = new Set<Promise<void>>();
  const put = async (data: Buffer, pos: number, done?: () => void): Promise<void> => {
    if (!fh) {
      // A stream may keep the buffer after write() (a pass-through pushes it on), so it gets a copy of pooled data.
      const own = done ? Buffer.from(data) : data;
      done?.();
      return emit(own, pos);
    }
    const w: Promise<void> = emit(data, pos).finally(() => { writes.delete(w); done?.(); });
    writes.add(w);
    // Writes to one file serialize in the kernel; two in flight keep it busy and leave libuv threads for pack reads.
    if (writes.size >= 2) await Promise.race(writes);
  };
  try {
    for await (const seg of segments(ctx.db, rp.id, diskKey)) {
      const n = seg.digests.length / DIGEST_LEN;
      const ids: Buffer[] = [];
      const uniq = new Map<string, number>();
      for (let k = 0; k < n; k++) {
        const id = seg.digests.subarray(k * DIGEST_LEN, (k + 1) * DIGEST_LEN);
        if (isZeroDigest(id)) continue;
        const h = id.toString('hex');
        if (!uniq.has(h)) { uniq.set(h, ids.length); ids.push(Buffer.from(id)); }
      }
      const entries = await lookupMany(ctx.db, ids);
      const fetch = (k: number): Promise<ArrayBuffer> | null => {
        const id = seg.digests.subarray(k * DIGEST_LEN, (k + 1) * DIGEST_LEN);
        if (isZeroDigest(id)) return null;
        const j = uniq.get(id.toString('hex'))!;
        const e = entries[j];
        if (!e) return Promise.reject(damaged(`chunk ${ids[j].toString('hex').slice(0, 16)}… of disk ${diskKey} is missing from the index`));
        return (async () => {
          const payload = await payPool.acquire();
          try { await packs.readInto(ids[j], e, payload); } catch (err) { payPool.release(payload); throw err; }
          const out = await outPool.acquire();
          const r = await ctx.pool.decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, ids[j], false, out);
          payPool.release(r.payload);
          if (r.error !== undefined) {
            outPool.release(r.out);
            throw damaged(`chunk ${ids[j].toString('hex').slice(0, 16)}… in pack ${e.pack} is damaged (${r.error})`);
          }
          return r.out;
        })();
      };
      const ahead: (Promise<ArrayBuffer> | null)[] = [];
      let next = 0;
      const fill = (): void => { while (next < n && ahead.length < window) { const p = fetch(next++); p?.catch(() => {}); ahead.push(p); } };
      fill();
      for (let k = 0; k < n; k++) {
        const p = ahead.shift()!;
        fill();
        const i = seg.first + k;
        const pos = i * cs;
        const len = Math.min(cs, disk.capacity - pos);
        if (p === null) {
          zeroBytes += len;
          if (!sparse) await put(zeros.subarray(0, len), pos);
        } else {
          const out = await p;
          await put(Buffer.from(out, 0, len), pos, () => outPool.release(out));
        }
        done += len;
        onProgress?.(done, disk.capacity);
      }
    }
    await Promise.all(writes);
    if (fh && sparse) await fh.truncate(disk.capacity);
    if (fh && !sparse) await fh.sync(); // block devices: make the restore durable
  } finally {
    await Promise.allSettled(writes);
    await fh?.close();
  }
  return { bytes: disk.capacity, zeroBytes };
}
