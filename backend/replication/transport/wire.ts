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
  /** Bytes received and not yet returned as frames, in arrival order (joined only once a frame is whole). */
  #chunks: Buffer[] = [];
  #held = 0;
  readonly maxFrame: number;
  constructor(maxFrame = 64 * 1024 * 1024) { this.maxFrame = maxFrame; }

  /** The complete frames in what arrived so far. */
  push(chunk: Buffer): { offset: number; data: Buffer }[] {
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    const out: { offset: number; data: Buffer }[] = [];
    for (;;) {
      if (this.#held < FRAME_HEADER) break;
      if (this.#chunks[0]!.length < FRAME_HEADER) this.#join();
      const head = this.#chunks[0]!;
      const length = head.readUInt32BE(8);
      if (length > this.maxFrame) throw new Error(`a block frame of ${length} bytes is larger than ${this.maxFrame}`);
      if (this.#held < FRAME_HEADER + length) break;
      if (head.length < FRAME_HEADER + length) this.#join();
      const buf = this.#chunks[0]!;
      const offset = buf.readUInt32BE(0) * 0x1_0000_0000 + buf.readUInt32BE(4);
      out.push({ offset, data: buf.subarray(FRAME_HEADER, FRAME_HEADER + length) });
      const rest = buf.subarray(FRAME_HEADER + length);
      if (rest.length) this.#chunks[0] = rest; else this.#chunks.shift();
      this.#held -= FRAME_HEADER + length;
    }
    return out;
  }

  end(): void {
    if (this.#held) throw new Error(`the block stream ended inside a frame (${this.#held} bytes left over)`);
  }

  #join(): void { this.#chunks = [Buffer.concat(this.#chunks)]; }
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
