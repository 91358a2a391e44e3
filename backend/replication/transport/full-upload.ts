// The full-upload transport: each disk is one streaming datastore HTTP PUT of the whole disk into the
// replica's current disk file. It cannot write part of a file (a PUT replaces it), so it sends the
// disk's capacity on every run, whatever changed.
import { copyDisk } from '../../pipeline/disk-pipeline.ts';
import { plan } from '../../pipeline/read-plan.ts';
import type { VSphere } from '../../vsphere/index.ts';
import { DatastoreUploadSink } from '../upload-sink.ts';
import type { DiskWork, DiskWritten, ReplicaWriter } from './replica-writer.ts';

const PIECE = 1024 * 1024;

export class FullUploadWriter implements ReplicaWriter {
  readonly transport = 'full-upload' as const;
  readonly partial = false;
  readonly #vs: VSphere;
  readonly #dcPath: string | undefined;
  constructor(vs: VSphere, dcPath?: string) { this.#vs = vs; this.#dcPath = dcPath; }

  async open(): Promise<void> { /* a PUT needs nothing prepared */ }

  async write(w: DiskWork, opts: { onBytes?: (n: number) => void; signal?: AbortSignal }): Promise<DiskWritten> {
    const cap = w.target.capacity;
    const sink = DatastoreUploadSink.start(this.#vs, w.target.extentPath, cap, PIECE, { ...(this.#dcPath ? { dcPath: this.#dcPath } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    try {
      await copyDisk(w.source, sink, plan('full', undefined, PIECE, cap), {
        pieceBytes: 4 * PIECE, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
      });
      await sink.finish();
    } catch (e) {
      sink.fail(e instanceof Error ? e : new Error(String(e)));
      await sink.settled();
      throw e;
    }
    return { label: w.target.label, path: w.target.extentPath, bytesSent: sink.bytes, bytesWritten: sink.bytes, bytesConsidered: cap, sha256: sink.sha256() };
  }

  async close(): Promise<string[]> { return []; }
}
