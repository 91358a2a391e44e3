// The hot-add transport, the service's side: a paired transporter at the DR site attaches the
// replica's disks to its helper VM; for each disk the transporter digests the ranges in question on
// its device, the service digests the same ranges of the source and sends only the pieces that
// differ. CBT narrows the ranges to what changed since the last run (64 KiB blocks in vSphere's
// bitmap); the digests narrow them further to 4 KiB pieces, so the bytes sent track the bytes the
// guest changed. Without trustworthy CBT the whole disk is compared (read locally on both sides,
// only the differences and the digests cross the wire).
import { childLog } from '../../common/log.ts';
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';
import type { DiskChangeExtent, MoRef, VSphere } from '../../vsphere/index.ts';
import { detachVmLeftovers } from './helper-disks.ts';
import type { TransporterLink } from './link.ts';
import type { DiskWork, DiskWritten, ReplicaDiskTarget, ReplicaWriter } from './replica-writer.ts';
import { DIGEST_BYTES, frameHeader, pieceDigest, pieceSizeFor } from './wire.ts';

const log = childLog('replication.hot-add');
const READ = 4 * 1024 * 1024;
const MAX_FRAME = 4 * 1024 * 1024;
const AHEAD = 4;

export class HotAddWriter implements ReplicaWriter {
  readonly transport = 'hot-add' as const;
  readonly partial = true;
  readonly #vs: VSphere;
  readonly #link: TransporterLink;
  readonly #replica: MoRef;
  readonly #what: string;
  #session: string | undefined;
  #paths: string[] = [];

  /**
   * `replica`: the VM whose disks are written (a replica, or the original VM when failing back);
   * `what` names its disks in warnings.
   */
  constructor(vs: VSphere, link: TransporterLink, replica: MoRef, what = 'the replica\'s disks') {
    this.#vs = vs;
    this.#link = link;
    this.#replica = replica;
    this.#what = what;
  }

  get transporter(): string { return this.#link.address.name; }

  async open(disks: ReplicaDiskTarget[], signal?: AbortSignal): Promise<void> {
    const ticket = await this.#vs.acquireCloneTicket();
    const thumbprint = this.#vs.client.agent.thumbprint;
    const r = await this.#link.open({ url: this.#vs.client.url, ticket, ...(thumbprint ? { thumbprint } : {}) },
      disks.map((d) => ({ fileName: d.fileName, capacity: d.capacity })), signal);
    this.#session = r.session;
    this.#paths = r.disks.map((d) => d.device);
  }

  async write(w: DiskWork, opts: { onBytes?: (n: number) => void; signal?: AbortSignal }): Promise<DiskWritten> {
    const session = this.#session;
    if (!session) throw new Error('the hot-add writer is not open');
    const before = this.#link.sent + this.#link.received;
    const considered = w.ranges.reduce((n, r) => n + r.length, 0);
    const piece = pieceSizeFor(considered);
    const remote = considered ? await this.#link.digest(session, w.index, w.ranges, piece, opts.signal) : Buffer.alloc(0);
    let written = 0;
    if (considered) {
      const frames = differingFrames(w.source, w.ranges, piece, remote, opts);
      const r = await this.#link.write(session, w.index, frames, opts.signal);
      written = r.bytesWritten;
    }
    return {
      label: w.target.label, path: `${this.#link.address.name}:${this.#paths[w.index] ?? '?'}`,
      bytesSent: this.#link.sent + this.#link.received - before, bytesWritten: written, bytesConsidered: considered,
    };
  }

  async close(): Promise<string[]> {
    const warnings: string[] = [];
    const session = this.#session;
    this.#session = undefined;
    if (session) {
      try {
        await this.#link.close(session);
        return warnings;
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'the transporter did not end its session; detaching through vCenter');
      }
    }
    // The transporter went away (or never answered the attach): free its VM through vCenter.
    try {
      const helper: MoRef = { type: 'VirtualMachine', value: this.#link.address.helperVm };
      const left = await detachVmLeftovers(this.#vs, helper, this.#replica);
      if (left.length) warnings.push(`Transporter '${this.#link.address.name}' did not detach ${this.#what}; Stillpoint detached them through vCenter (${left.join(', ')}).`);
    } catch (e) {
      warnings.push(`${this.#what[0]!.toUpperCase()}${this.#what.slice(1)} may still be attached to transporter '${this.#link.address.name}' (${(e as Error).message}): the transporter detaches them at its next start.`);
    }
    return warnings;
  }
}

/**
 * The frames of the source's pieces whose digest differs from the replica's, adjacent ones merged.
 * Reads the ranges in 4 MiB parts, AHEAD of them in flight.
 */
async function* differingFrames(source: DiskSource, ranges: DiskChangeExtent[], piece: number, remote: Buffer, opts: { onBytes?: (n: number) => void; signal?: AbortSignal }): AsyncGenerator<Buffer> {
  const reads: DiskChangeExtent[] = [];
  for (const r of ranges) for (let o = 0; o < r.length; o += READ) reads.push({ start: r.start + o, length: Math.min(READ, r.length - o) });
  let k = 0; // piece index into `remote`
  let pending: { start: number; parts: Buffer[]; length: number } | undefined;
  const flush = function* (): Generator<Buffer> {
    if (!pending) return;
    yield frameHeader(pending.start, pending.length);
    yield* pending.parts;
    pending = undefined;
  };
  // Datastore reads are bound by round trips: keep AHEAD of them in flight, consumed in order.
  const inflight: Promise<Buffer>[] = [];
  let next = 0;
  const fill = () => {
    while (next < reads.length && inflight.length < AHEAD) {
      const p = source.read(reads[next]!.start, reads[next]!.length, opts.signal);
      p.catch(() => undefined);
      inflight.push(p);
      next++;
    }
  };
  for (let i = 0; i < reads.length; i++) {
    fill();
    const buf = await inflight.shift()!;
    fill();
    const r = reads[i]!;
    // Pieces restart at each range's start: a read never straddles two ranges.
    for (let p = 0; p < buf.length; p += piece) {
      const data = buf.subarray(p, Math.min(buf.length, p + piece));
      const theirs = remote.subarray(k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES);
      k++;
      if (theirs.length === DIGEST_BYTES && pieceDigest(data).equals(theirs)) { yield* flush(); continue; }
      const at = r.start + p;
      if (pending && pending.start + pending.length === at && pending.length + data.length <= MAX_FRAME) {
        pending.parts.push(Buffer.from(data));
        pending.length += data.length;
      } else {
        yield* flush();
        pending = { start: at, parts: [Buffer.from(data)], length: data.length };
      }
    }
    opts.onBytes?.(buf.length);
  }
  yield* flush();
  if (k * DIGEST_BYTES !== remote.length) throw new Error(`the transporter sent ${remote.length / DIGEST_BYTES} digests for ${k} pieces`);
}
