// A pool of chunk workers (one per core): hashing/compression/encryption for writes and
// decryption/decompression/checking for reads run here, off the main thread.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { EncodeReq, EncodeRes, DecodeReq, DecodeRes } from './chunk-worker.ts';
import type { RepoKeys } from './crypto.ts';

type Pending = { resolve: (v: any) => void; reject: (e: Error) => void };

export class WorkerPool {
  #workers: { w: Worker; busy: number }[] = [];
  #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;

  constructor(opts: { keys?: RepoKeys; level: number; chunkSize: number; threads?: number }) {
    const n = opts.threads ?? Math.max(1, availableParallelism());
    const workerData = {
      level: opts.level, chunkSize: opts.chunkSize,
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

  #post<T>(msg: EncodeReq | DecodeReq, transfer: ArrayBuffer[]): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('repository is closed'));
    let best = this.#workers[0];
    for (const s of this.#workers) if (s.busy < best.busy) best = s;
    best.busy++;
    best.w.ref();
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(msg.seq, { resolve, reject });
      best.w.postMessage(msg, transfer);
    });
  }

  /** Hashes (and unless zero or equal to `expect`, compresses/encrypts) `len` bytes of `buf`; `buf` is transferred and returned in the result. */
  encode(buf: ArrayBuffer, len: number, expect?: Uint8Array): Promise<EncodeRes> {
    const seq = ++this.#seq;
    return this.#post<EncodeRes>({ op: 'encode', seq, buf, len, expect }, [buf]);
  }

  /** Decrypts/decompresses a stored payload (transferred) and, when `check`, verifies its id. */
  async decode(payload: ArrayBuffer, flags: number, rawLength: number, id: Uint8Array, check: boolean): Promise<Buffer> {
    const seq = ++this.#seq;
    const r = await this.#post<DecodeRes>({ op: 'decode', seq, payload, flags, rawLength, id, check }, [payload]);
    if (r.error !== undefined) throw new Error(r.error);
    return Buffer.from(r.data!);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}
