// What the service and a transporter exchange about one replica disk: block frames (offset, length,
// bytes) in the body of a write, and piece digests (truncated SHA-256) of byte ranges, so that only
// pieces that differ between the source and the replica cross the wire.
import { createHash } from 'node:crypto';
import type { DiskChangeExtent } from '../../vsphere/index.ts';

/** Bytes of a frame header: offset (2 × u32, big-endian) and length (u32). */
export const FRAME_HEADER = 12;
/** Bytes of one piece digest. */
export const DIGEST_BYTES = 16;

export function frameHeader(offset: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  h.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 0);
  h.writeUInt32BE(offset % 0x1_0000_0000, 4);
  h.writeUInt32BE(length, 8);
  return h;
}

/**
 * Splits a byte stream into frames; `onFrame` gets each frame's offset and data (a view: copy it to
 * keep it). Throws on a body that ends inside a frame.
 */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  readonly maxFrame: number;
  constructor(maxFrame = 64 * 1024 * 1024) { this.maxFrame = maxFrame; }

  /** The complete frames in what arrived so far. */
  push(chunk: Buffer): { offset: number; data: Buffer }[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: { offset: number; data: Buffer }[] = [];
    let pos = 0;
    while (this.#buf.length - pos >= FRAME_HEADER) {
      const offset = this.#buf.readUInt32BE(pos) * 0x1_0000_0000 + this.#buf.readUInt32BE(pos + 4);
      const length = this.#buf.readUInt32BE(pos + 8);
      if (length > this.maxFrame) throw new Error(`a block frame of ${length} bytes is larger than ${this.maxFrame}`);
      if (this.#buf.length - pos - FRAME_HEADER < length) break;
      out.push({ offset, data: this.#buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length) });
      pos += FRAME_HEADER + length;
    }
    this.#buf = pos ? Buffer.from(this.#buf.subarray(pos)) : this.#buf;
    return out;
  }

  end(): void {
    if (this.#buf.length) throw new Error(`the block stream ended inside a frame (${this.#buf.length} bytes left over)`);
  }
}

export function pieceDigest(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest().subarray(0, DIGEST_BYTES);
}

/** The pieces of `ranges`, in order: each range cut into `piece`-byte parts (the last one may be short). */
export function piecesOf(ranges: DiskChangeExtent[], piece: number): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  for (const r of ranges) for (let o = 0; o < r.length; o += piece) out.push({ start: r.start + o, length: Math.min(piece, r.length - o) });
  return out;
}

/**
 * The digest piece size for ranges of `bytes` in all: 4 KiB (a file system block), doubled until a
 * digest list stays under about 256 Ki entries (4 MiB of digests).
 */
export function pieceSizeFor(bytes: number): number {
  let p = 4096;
  while (bytes / p > 256 * 1024) p *= 2;
  return p;
}

/** Merges touching ranges (sorted input). */
export function mergeRanges(ranges: DiskChangeExtent[]): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r.start <= last.start + last.length) last.length = Math.max(last.length, r.start + r.length - last.start);
    else out.push({ start: r.start, length: r.length });
  }
  return out;
}
