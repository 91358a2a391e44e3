// Reads a restored flat extent back over datastore HTTP and checks it against the digest computed
// while uploading it.
import { createHash } from 'node:crypto';
import type { VSphere } from '../vsphere/index.ts';

export class VerifyMismatch extends Error {
  readonly disk: string;
  constructor(disk: string, message: string) {
    super(message);
    this.name = 'VerifyMismatch';
    this.disk = disk;
  }
}

export interface VerifyOptions {
  dcPath?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Streams `dsPath` and compares its size and SHA-256; throws VerifyMismatch naming `diskLabel` if they differ. */
export async function verifyUploadedDisk(vs: VSphere, dsPath: string, diskLabel: string,
  expected: { bytes: number; sha256: string }, opts: VerifyOptions = {}): Promise<void> {
  const readOpts: { dcPath?: string; signal?: AbortSignal } = {};
  if (opts.dcPath) readOpts.dcPath = opts.dcPath;
  if (opts.signal) readOpts.signal = opts.signal;
  const s = await vs.datastores.readStream(dsPath, readOpts);
  const hash = createHash('sha256');
  let n = 0;
  try {
    for await (const c of s) {
      hash.update(c as Buffer);
      n += (c as Buffer).length;
      opts.onProgress?.(Math.min(n, expected.bytes), expected.bytes);
    }
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new Error(`verifying ${diskLabel}: reading ${dsPath} back broke off after ${n} bytes (${(err as Error).message}); the restore cannot be confirmed`, { cause: err });
  }
  if (n !== expected.bytes) {
    throw new VerifyMismatch(diskLabel, `verification failed for ${diskLabel}: ${dsPath} has ${n} bytes, ${expected.bytes} were uploaded`);
  }
  const got = hash.digest('hex');
  if (got !== expected.sha256) {
    throw new VerifyMismatch(diskLabel, `verification failed for ${diskLabel}: ${dsPath} reads back with SHA-256 ${got}, but ${expected.sha256} was uploaded (the datastore stored different bytes)`);
  }
}
