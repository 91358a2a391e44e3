// Decoding of stored chunk payloads (decrypt, decompress, check the id); used by workers and the main thread.
import zlib from 'node:zlib';
import { SEAL_OVERHEAD, chunkId, openChunk } from './crypto.ts';
import { FLAG_COMPRESSED, FLAG_ENCRYPTED } from './format.ts';
import { rawFrameBound, type ZstdDecompressor } from './zstd.ts';

/** The longest stored payload of a chunk of `rawLength` bytes: an incompressible one's zstd frame, sealed. */
export function maxPayloadLength(rawLength: number): number { return rawFrameBound(rawLength) + SEAL_OVERHEAD; }

/**
 * `into`: decompress with this long-lived context into this buffer (room for rawLength + 1 bytes)
 * instead of a fresh one; the result is then a view of `into.out` (raw chunks are copied there too).
 */
export function decodePayload(payload: Buffer, flags: number, rawLength: number, id: Buffer, check: boolean,
  keys: { encKey?: Buffer; idKey?: Buffer }, into?: { zstd: ZstdDecompressor; out: Buffer }): Buffer {
  let b = payload;
  if (flags & FLAG_ENCRYPTED) {
    if (!keys.encKey) throw new Error('chunk is encrypted but the repository key is not loaded');
    b = openChunk(b, keys.encKey, id);
  }
  if (flags & FLAG_COMPRESSED) b = into ? into.zstd.decompress(b, into.out, rawLength) : zlib.zstdDecompressSync(b, { chunkSize: rawLength + 64 });
  else if (into && b.length === rawLength) { b.copy(into.out); b = into.out.subarray(0, rawLength); }
  if (b.length !== rawLength) throw new Error(`chunk length ${b.length} != ${rawLength}`);
  if (check && !chunkId(b, keys.idKey).equals(id)) throw new Error('chunk hash mismatch');
  return b;
}

/** Why a raw chunk's bytes (payload[offset, offset+length)) are not the chunk `id`, or undefined when they are. */
export function rawChunkProblem(payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number,
  id: Uint8Array, idKey: Buffer | undefined): string | undefined {
  if (flags & 3) return 'the chunk is compressed or encrypted, not raw';
  if (length !== rawLength) return `chunk length ${length} != ${rawLength}`;
  const got = chunkId(new Uint8Array(payload, offset, length), idKey);
  return got.equals(id) ? undefined : 'chunk hash mismatch';
}
