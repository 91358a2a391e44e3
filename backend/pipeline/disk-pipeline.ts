// The one read path of the engine: a disk source (a frozen snapshot's disk over datastore HTTP, a
// restore point in a repository) copied into a disk sink (a restore point being written, a replica
// disk, a block device) along a read plan. Backup, replication from a snapshot and replication
// from a backup are this pipeline with other ends.
import type { DiskChangeExtent } from '../vsphere/index.ts';
import { chunkWork, type ReadPlan } from './read-plan.ts';

export interface DiskSource {
  /** What the admin sees, e.g. "Hard disk 1 of win-app01 (snapshot)". */
  readonly description: string;
  readonly capacity: number;
  /** Exactly `length` bytes from `start` (zeros past the end of a shorter backing). */
  read(start: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  close?(): Promise<void>;
}

export interface DiskSink {
  /** Writes are whole chunks of this size (the last one may be short), at chunk-aligned offsets. */
  readonly chunkSize: number;
  /**
   * Whether the sink can lay small changed areas over what it already holds for a chunk (a restore
   * point over its parent's chunk, a replica disk over its previous state), so only those areas are read.
   */
  readonly patchable: boolean;
  write(offset: number, data: Buffer): Promise<void>;
  /** Only when patchable: the chunk at `chunkStart` with `areas` (offsets inside the chunk) replaced. */
  patch(chunkStart: number, areas: { at: number; data: Buffer }[]): Promise<void>;
  /** Everything written is durable / complete once this resolves. */
  finish(): Promise<void>;
}

export interface CopyOptions {
  /** Reads in flight (default 4 for large pieces; patching small areas uses 4× as many). */
  concurrency?: number;
  /** Bytes per read, rounded down to a multiple of the sink's chunk size (default 8 MiB). */
  pieceBytes?: number;
  /** Incremental plans: patch chunks that changed only a little (when the sink can). */
  patch?: boolean;
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

/** Copies the plan's ranges from source to sink; returns the bytes read from the source. */
export async function copyDisk(source: DiskSource, sink: DiskSink, plan: ReadPlan, opts: CopyOptions = {}): Promise<{ bytesRead: number }> {
  const cs = sink.chunkSize;
  const pieceBytes = Math.max(cs, Math.floor((opts.pieceBytes ?? 8 * 1024 * 1024) / cs) * cs);
  const queue = opts.patch && sink.patchable ? chunkWork(plan, cs, source.capacity, pieceBytes) : chunkWork({ ...plan, kind: 'full' }, cs, source.capacity, pieceBytes);
  let next = 0;
  let bytesRead = 0;
  const count = (n: number) => { bytesRead += n; opts.onBytes?.(n); };
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      opts.signal?.throwIfAborted();
      const w = queue[next++]!;
      if (w.whole) {
        const buf = await source.read(w.whole.start, w.whole.length, opts.signal);
        await sink.write(w.whole.start, buf);
        count(buf.length);
      } else if (w.patch) {
        const { chunk, areas } = w.patch;
        const parts = await Promise.all(areas.map((a: DiskChangeExtent) => source.read(a.start, a.length, opts.signal)));
        parts.forEach((p) => count(p.length));
        await sink.patch(chunk.start, areas.map((a, k) => ({ at: a.start - chunk.start, data: parts[k]! })));
      }
    }
  };
  // Small reads are bound by round trips, not bandwidth: keep more of them in flight.
  const patching = queue.some((w) => w.patch);
  const n = Math.min((opts.concurrency ?? 4) * (patching ? 4 : 1), queue.length);
  await Promise.all(Array.from({ length: n }, worker));
  return { bytesRead };
}
