// Reads a frozen disk over datastore HTTP into a restore point: parallel ranged GETs of the disk's
// flat extent (the snapshot's parent file, which stays still while the snapshot exists), each piece
// handed to the repository's disk writer at its offset. For incremental plans, chunks that changed
// only a little are patched: only the changed areas are read from the datastore and the rest of the
// chunk comes from the parent restore point, so the bytes read track the bytes changed.
import type { DiskWriter } from '../../repository/repository.ts';
import type { DiskInfo, VSphere } from '../../vsphere/index.ts';
import { chunkWork, type ReadPlan } from '../../pipeline/read-plan.ts';

export interface ReadOptions {
  /** Ranged GETs in flight (default 4 for large pieces; patching small changed areas uses 4× as many). */
  concurrency?: number;
  /** Bytes per GET, rounded down to a multiple of the chunk size (default 8 MiB). */
  pieceBytes?: number;
  /** Incremental plans: patch chunks that changed only a little over the parent restore point's (writer.patchable). */
  patch?: boolean;
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

export async function readDiskInto(vs: VSphere, disk: DiskInfo, plan: ReadPlan, writer: DiskWriter, opts: ReadOptions = {}): Promise<{ bytesRead: number; extentPath: string }> {
  const { extentPath } = await vs.datastores.resolveExtent(disk.fileName);
  const cs = writer.chunkSize;
  const pieceBytes = Math.max(cs, Math.floor((opts.pieceBytes ?? 8 * 1024 * 1024) / cs) * cs);
  const queue = opts.patch && writer.patchable ? chunkWork(plan, cs, disk.capacityBytes, pieceBytes) : chunkWork({ ...plan, kind: 'full' }, cs, disk.capacityBytes, pieceBytes);
  let next = 0;
  let bytesRead = 0;
  const count = (n: number) => { bytesRead += n; opts.onBytes?.(n); };
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      opts.signal?.throwIfAborted();
      const w = queue[next++]!;
      if (w.whole) {
        const buf = await readExactly(vs, extentPath, w.whole.start, w.whole.length, opts.signal);
        await writer.write(w.whole.start, buf);
        count(buf.length);
      } else if (w.patch) {
        const { chunk, areas } = w.patch;
        // Only the changed areas are read; the repository lays them over the parent's chunk.
        const parts = await Promise.all(areas.map((a) => readExactly(vs, extentPath, a.start, a.length, opts.signal)));
        parts.forEach((p) => count(p.length));
        await writer.patch(chunk.start, areas.map((a, k) => ({ at: a.start - chunk.start, data: parts[k]! })));
      }
    }
  };
  // Small reads are bound by round trips, not bandwidth: keep more of them in flight.
  const patching = queue.some((w) => w.patch);
  const n = Math.min((opts.concurrency ?? 4) * (patching ? 4 : 1), queue.length);
  await Promise.all(Array.from({ length: n }, worker));
  return { bytesRead, extentPath };
}

/** One ranged read, retried twice on a broken transfer; a short file reads as zeros past its end. */
async function readExactly(vs: VSphere, path: string, start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const buf = await vs.datastores.read(path, { start, end: start + length, ...(signal ? { signal } : {}) });
      if (buf.length === length) return buf;
      if (buf.length < length) {
        const full = Buffer.alloc(length);
        buf.copy(full);
        return full;
      }
      return buf.subarray(0, length);
    } catch (e) {
      if (attempt >= 3 || signal?.aborted) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
