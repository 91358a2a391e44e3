// Random access to restore-point disks: digest-list segments and decoded chunks are kept in small
// LRU caches bounded in bytes, so reads at any offset cost at most one chunk decode per chunk touched.
import { DIGEST_LEN, RECORD_HEADER, SEGMENT_DIGESTS, isZeroDigest } from './format.ts';
import { readSegment } from './digest-list.ts';
import { lookupMany } from './index.ts';
import type { PackReader } from './pack-reader.ts';
import { FRAME_END_ROOM } from './zstd.ts';
import type { RepoContext } from './context.ts';
import { damaged } from './errors.ts';
import { Lru } from './lru.ts';

export class ChunkCache {
  #ctx: RepoContext;
  #packs: PackReader;
  #chunks: Lru<string, Buffer>;
  #segments = new Lru<string, Buffer>(4 * 1024 * 1024);

  constructor(ctx: RepoContext, packs: PackReader, maxBytes = 64 * 1024 * 1024) {
    this.#ctx = ctx;
    this.#packs = packs;
    this.#chunks = new Lru<string, Buffer>(maxBytes);
  }

  async #digest(rpId: string, diskKey: string, i: number): Promise<Buffer> {
    const seg = Math.floor(i / SEGMENT_DIGESTS);
    const k = `${rpId}\0${diskKey}\0${seg}`;
    let s = this.#segments.get(k);
    if (!s) {
      s = await readSegment(this.#ctx.db, rpId, diskKey, seg);
      if (!s) throw damaged(`digest list segment ${seg} of disk ${diskKey} in ${rpId} is missing`);
      this.#segments.set(k, s);
    }
    const at = (i % SEGMENT_DIGESTS) * DIGEST_LEN;
    return s.subarray(at, at + DIGEST_LEN);
  }

  async chunk(id: Buffer, rawLength: number): Promise<Buffer> {
    if (isZeroDigest(id)) return Buffer.alloc(rawLength);
    const hex = id.toString('hex');
    const hit = this.#chunks.get(hex);
    if (hit) return hit;
    const [e] = await lookupMany(this.#ctx.db, [id]);
    if (!e) throw damaged(`chunk ${hex.slice(0, 16)}… is missing from the index`);
    const payload = new ArrayBuffer(RECORD_HEADER + e.length);
    await this.#packs.readInto(id, e, payload);
    // Decoded in a worker (reads of many chunks, like patching an incremental backup, run in
    // parallel off the main thread); the zstd checksum or GCM tag checks it, raw chunks are hashed.
    const r = await this.#ctx.pool.decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, id, false, new ArrayBuffer(e.rawLength + FRAME_END_ROOM));
    if (r.error !== undefined) throw damaged(`chunk ${hex.slice(0, 16)}… in pack ${e.pack} is damaged (${r.error})`);
    const data = Buffer.from(r.out, 0, e.rawLength);
    this.#chunks.set(hex, data);
    return data;
  }

  /** Reads [offset, offset+length) of a disk of capacity `capacity`. */
  async read(rpId: string, diskKey: string, capacity: number, chunkSize: number, offset: number, length: number): Promise<Buffer> {
    const end = Math.min(capacity, offset + length);
    const out = Buffer.alloc(Math.max(0, end - offset));
    let pos = offset;
    while (pos < end) {
      const i = Math.floor(pos / chunkSize);
      const cstart = i * chunkSize;
      const clen = Math.min(chunkSize, capacity - cstart);
      const id = await this.#digest(rpId, diskKey, i);
      const n = Math.min(end, cstart + clen) - pos;
      if (!isZeroDigest(id)) (await this.chunk(Buffer.from(id), clen)).copy(out, pos - offset, pos - cstart, pos - cstart + n);
      pos += n;
    }
    return out;
  }

  clear(): void { this.#chunks.clear(); this.#segments.clear(); }
}
