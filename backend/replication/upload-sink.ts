// The full-upload transport's end: one streaming datastore HTTP PUT of a whole disk, fed by the copy
// loop. copyDisk's workers finish pieces out of order; the sink lets each piece into the request body
// only when every byte before it is in, so memory stays bounded by the reads in flight.
import type { DiskSink } from '../pipeline/disk-pipeline.ts';
import { HashingPassThrough } from '../sinks/datastore-upload.ts';
import type { VSphere } from '../vsphere/index.ts';

interface Waiter { resolve: () => void; reject: (e: Error) => void }

export class DatastoreUploadSink implements DiskSink {
  readonly chunkSize: number;
  readonly patchable = false;
  readonly dsPath: string;
  readonly capacity: number;
  readonly #tee = new HashingPassThrough();
  readonly #waiting = new Map<number, Waiter>();
  readonly #put: Promise<void>;
  #next = 0;
  #failure: Error | undefined;

  private constructor(vs: VSphere, dsPath: string, capacity: number, chunkSize: number, opts: { dcPath?: string; signal?: AbortSignal }) {
    this.dsPath = dsPath;
    this.capacity = capacity;
    this.chunkSize = chunkSize;
    this.#put = vs.datastores.put(dsPath, this.#tee, { size: capacity, ...(opts.dcPath ? { dcPath: opts.dcPath } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })
      .catch((e: unknown) => { this.fail(e instanceof Error ? e : new Error(String(e))); throw e; });
    this.#put.catch(() => undefined); // surfaced by write() / finish()
  }

  /** Starts the PUT of `capacity` bytes to `dsPath` (a flat extent or the top delta of a replica disk). */
  static start(vs: VSphere, dsPath: string, capacity: number, chunkSize: number, opts: { dcPath?: string; signal?: AbortSignal } = {}): DatastoreUploadSink {
    return new DatastoreUploadSink(vs, dsPath, capacity, chunkSize, opts);
  }

  get bytes(): number { return this.#tee.bytes; }

  async write(offset: number, data: Buffer): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (offset !== this.#next) {
      await new Promise<void>((resolve, reject) => this.#waiting.set(offset, { resolve, reject }));
    }
    if (this.#failure) throw this.#failure;
    if (!this.#tee.write(data)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => { this.#tee.off('close', onClose); resolve(); };
        const onClose = () => { this.#tee.off('drain', onDrain); reject(this.#failure ?? new Error(`the upload to ${this.dsPath} ended early`)); };
        this.#tee.once('drain', onDrain);
        this.#tee.once('close', onClose);
      });
    }
    this.#next = offset + data.length;
    const w = this.#waiting.get(this.#next);
    if (w) { this.#waiting.delete(this.#next); w.resolve(); }
  }

  patch(): Promise<void> { return Promise.reject(new Error('a datastore upload writes whole disks only')); }

  /** Ends the request body and waits for the datastore's answer; checks every byte was sent. */
  async finish(): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.#tee.end();
    await this.#put;
    if (this.#tee.bytes !== this.capacity) throw new Error(`sent ${this.#tee.bytes} of ${this.capacity} bytes to ${this.dsPath}`);
  }

  /** SHA-256 (hex) of what was sent; only after finish(). */
  sha256(): string { return this.#tee.hash.digest('hex'); }

  /** Stops the upload (the copy failed or was cancelled); waiting writers fail too. */
  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#tee.fail(err);
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }

  /** Waits for the PUT to settle after fail(), so nothing is still writing when the caller cleans up. */
  async settled(): Promise<void> { await this.#put.catch(() => undefined); }
}
