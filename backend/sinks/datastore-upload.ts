// Streams one disk of a restore point into a datastore file with a single streaming PUT: the
// repository writes the disk in order into a hashing pass-through whose readable side is the request
// body. Memory stays bounded (the repository's read-ahead plus the stream buffers), never a whole disk.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Repository } from '../repository/repository.ts';
import type { VSphere } from '../vsphere/index.ts';

const BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Hashes what passes through. Once failed, write() throws: the repository's restore loop then stops at
 * its next write instead of waiting for a 'drain' that a destroyed stream never emits.
 */
export class HashingPassThrough extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  #failure: Error | undefined;

  constructor() {
    super({ highWaterMark: BUFFER_BYTES });
    this.on('error', () => { /* reported through fail() / the consumers */ });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  get failure(): Error | undefined { return this.#failure; }

  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.destroy(err);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override write(chunk: any, encoding?: any, cb?: any): boolean {
    if (this.#failure) throw this.#failure;
    return super.write(chunk, encoding, cb);
  }
}

export interface UploadDiskOptions {
  dcPath?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Uploads disk `diskKey` of restore point `rpId` to `dsPath` (a flat extent); returns its size and SHA-256. */
export async function uploadDisk(vs: VSphere, repo: Repository, rpId: string, diskKey: string, capacity: number,
  dsPath: string, opts: UploadDiskOptions = {}): Promise<{ bytes: number; sha256: string }> {
  opts.signal?.throwIfAborted();
  const tee = new HashingPassThrough();
  let first: unknown;
  const fail = (err: unknown): void => {
    first ??= err;
    tee.fail(err instanceof Error ? err : new Error(String(err)));
  };
  const onAbort = (): void => fail(opts.signal!.reason ?? new DOMException('The restore was cancelled', 'AbortError'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const producer = repo.restoreDisk(rpId, diskKey, tee, (done, total) => opts.onProgress?.(done, total))
      .then(() => { if (!tee.failure) tee.end(); }, (err: unknown) => { fail(err); throw err; });
    const putOpts: { size: number; dcPath?: string; signal?: AbortSignal } = { size: capacity };
    if (opts.dcPath) putOpts.dcPath = opts.dcPath;
    if (opts.signal) putOpts.signal = opts.signal;
    const consumer = vs.datastores.put(dsPath, tee, putOpts).catch((err: unknown) => { fail(err); throw err; });
    const [p, c] = await Promise.allSettled([producer, consumer]);
    if (first !== undefined) throw first;
    if (p.status === 'rejected') throw p.reason;
    if (c.status === 'rejected') throw c.reason;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (tee.bytes !== capacity) throw new Error(`disk ${diskKey}: sent ${tee.bytes} of ${capacity} bytes to ${dsPath}`);
  return { bytes: tee.bytes, sha256: tee.hash.digest('hex') };
}
