// A pool of chunk workers (one per core): hashing/compression/encryption for writes and
// decryption/decompression/checking for reads run here, off the main thread.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { ChunkPatch, EncodeReq, EncodeRes, DecodeReq, DecodeRes, RestoreReq, RestoreRes, ReleaseReq, FillReq, FillRes, StoredChunk } from './chunk-worker.ts';
import type { RepoKeys } from './crypto.ts';

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void };

export class WorkerPool {
  #workers: { w: Worker; busy: number }[] = [];
  #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;

  constructor(opts: { dir: string; keys?: RepoKeys; level: number; chunkSize: number; threads?: number }) {
    const n = opts.threads ?? Math.max(1, availableParallelism());
    const workerData = {
      dir: opts.dir, level: opts.level, chunkSize: opts.chunkSize, writeLock: new SharedArrayBuffer(4),
      encKey: opts.keys ? new Uint8Array(opts.keys.encKey) : undefined,
      idKey: opts.keys ? new Uint8Array(opts.keys.idKey) : undefined,
    };
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./chunk-worker.ts', import.meta.url), { workerData, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 } });
      const slot = { w, busy: 0 };
      w.on('message', (r: { seq: number }) => {
        slot.busy--;
        const p = this.#pending.get(r.seq);
        this.#pending.delete(r.seq);
        p?.resolve(r);
        if (slot.busy === 0) w.unref();
      });
      w.on('error', (e) => { for (const p of this.#pending.values()) p.reject(e); this.#pending.clear(); });
      w.unref();
      this.#workers.push(slot);
    }
  }

  get size(): number { return this.#workers.length; }

  #post<T>(msg: EncodeReq | DecodeReq | RestoreReq | ReleaseReq | FillReq, transfer: ArrayBuffer[], to?: { w: Worker; busy: number }): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('repository is closed'));
    let best = to ?? this.#workers[0];
    if (!to) for (const s of this.#workers) if (s.busy < best.busy) best = s;
    best.busy++;
    best.w.ref();
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(msg.seq, { resolve, reject });
      best.w.postMessage(msg, transfer);
    });
  }

  /**
   * Hashes `len` bytes of `buf` and, unless they are zero or hash to `expect`, compresses/encrypts them
   * into `out` (capacity ≥ chunk size + 1 KiB). Both buffers are transferred and come back in the result.
   * `src`/`patch`: the worker fills `buf` first (see EncodeReq).
   */
  encode(buf: ArrayBuffer, len: number, out: ArrayBuffer, expect?: Uint8Array, src?: { fd: number; pos: number }, patch?: ChunkPatch): Promise<EncodeRes> {
    const seq = ++this.#seq;
    return this.#post<EncodeRes>({ op: 'encode', seq, buf, len, out, expect, src, ...(patch ? { patch } : {}) }, [buf, out]);
  }

  /** Restores a run of consecutive chunks: the worker reads their records, decodes them and writes them to `fd` at `pos` with one write. */
  restore(r: Omit<RestoreReq, 'op' | 'seq'>): Promise<RestoreRes> {
    const seq = ++this.#seq;
    return this.#post<RestoreRes>({ op: 'restore', seq, ...r }, []);
  }

  /** Reads, checks and places chunks' plaintext at into[at, at + rawLength) (FillReq); needs the pool's `dir`. */
  fill(chunks: { chunk: StoredChunk; at: number }[], into: SharedArrayBuffer): Promise<FillRes> {
    const seq = ++this.#seq;
    return this.#post<FillRes>({ op: 'fill', seq, chunks, into }, []);
  }

  /** Makes every worker close the pack descriptors restore() and fill() opened. */
  async release(): Promise<void> {
    await Promise.all(this.#workers.map((s) => this.#post({ op: 'release', seq: ++this.#seq }, [], s)));
  }

  /**
   * Decrypts/decompresses payload[offset, offset+length) into `out` (without `out`: a raw chunk, only
   * its id is checked where it lies). `check`: recompute the chunk id
   * (full verify); otherwise integrity comes from the zstd frame checksum / GCM tag, and raw chunks are
   * always hashed. Both buffers come back in the result, also on error (then `error` is set).
   */
  decode(payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number, id: Uint8Array, check: boolean, out: ArrayBuffer): Promise<DecodeRes & { out: ArrayBuffer }>;
  decode(payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number, id: Uint8Array, check: boolean, out: ArrayBuffer | undefined): Promise<DecodeRes>;
  decode(payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number, id: Uint8Array, check: boolean, out: ArrayBuffer | undefined): Promise<DecodeRes> {
    const seq = ++this.#seq;
    return this.#post<DecodeRes>({ op: 'decode', seq, payload, offset, length, flags, rawLength, id, check: check || !(flags & 3), ...(out ? { out } : {}) }, out ? [payload, out] : [payload]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}

/** A fixed set of equally sized ArrayBuffers; acquire() waits when all are in use (back-pressure). */
export class BufferPool {
  #free: ArrayBuffer[] = [];
  #made = 0;
  #waiters: ((b: ArrayBuffer) => void)[] = [];
  #failed: unknown;
  readonly size: number;
  readonly max: number;
  constructor(size: number, max: number) { this.size = size; this.max = max; }
  acquire(): Promise<ArrayBuffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    const b = this.#free.pop();
    if (b) return Promise.resolve(b);
    if (this.#made < this.max) { this.#made++; return Promise.resolve(new ArrayBuffer(this.size)); }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  release(b: ArrayBuffer): void {
    if (b.byteLength !== this.size) { this.#made--; return; } // detached or foreign: forget it
    const w = this.#waiters.shift();
    if (w) w(b); else this.#free.push(b);
  }
}
