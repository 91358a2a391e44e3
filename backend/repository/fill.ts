// Puts chunks' plaintext straight into a SharedArrayBuffer another thread reads (a download's block,
// disk-image.ts streamFill): each record is read from its pack with synchronous positional reads (on
// FileHandles, which a terminated worker's cleanup closes; plain descriptors would stay open), a
// raw chunk straight into place (its header beside it) and hashed where it lies; a compressed or
// encrypted one decoded in place (or beside it and copied over when the byte after it is not this
// call's to write). Used on a chunk-worker thread (chunk-worker.ts 'fill') or inline on the reading
// thread (inlineFiller in disk-image.ts).
import { readSync, readvSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { decodePayload, rawChunkProblem } from './codec.ts';
import { RECORD_HEADER, headerMatches, packPath } from './format.ts';
import { FRAME_END_ROOM, ZstdDecompressor } from './zstd.ts';

/** Where a stored chunk's record is (from its index entry). */
export interface StoredChunk { pack: string; offset: number; length: number; flags: number; rawLength: number; id: Uint8Array }

/** Pack descriptors kept open. */
const PACKS_OPEN = 16;

export class ChunkFiller {
  #dir: string;
  #keys: { encKey?: Buffer; idKey?: Buffer };
  #handles = new Map<string, FileHandle>();
  #header = Buffer.allocUnsafeSlow(RECORD_HEADER);
  #record: Buffer | undefined;
  #decoded: Buffer | undefined;
  #zstd: ZstdDecompressor | undefined;

  constructor(dir: string, keys: { encKey?: Buffer; idKey?: Buffer }) { this.#dir = dir; this.#keys = keys; }

  /**
   * Puts each chunk at into[at, at + rawLength); why not (the first missing or bad one), or undefined.
   * Throws on I/O errors. Calls may overlap: each chunk is read and checked without a pause.
   */
  async fill(chunks: { chunk: StoredChunk; at: number }[], into: SharedArrayBuffer): Promise<string | undefined> {
    for (let k = 0; k < chunks.length; k++) {
      const x = chunks[k]!;
      const chunk = `chunk ${Buffer.from(x.chunk.id).toString('hex').slice(0, 16)}…`;
      let fd: number;
      try { fd = (this.#handles.get(x.chunk.pack) ?? await this.#open(x.chunk.pack)).fd; } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `pack ${x.chunk.pack} is missing (${chunk})`;
        throw e;
      }
      // zstd may use the byte after a chunk's place (FRAME_END_ROOM): decoded in place only when the next
      // chunk of this call goes there (written after this one); else beside, then copied.
      const why = this.#one(fd, chunk, x.chunk, into, x.at, chunks[k + 1]?.at === x.at + x.chunk.rawLength);
      if (why) return why;
    }
    return undefined;
  }

  async #open(pack: string): Promise<FileHandle> {
    const h = await open(packPath(this.#dir, pack), 'r');
    const had = this.#handles.get(pack);
    if (had) { void h.close(); return had; }
    this.#handles.set(pack, h);
    if (this.#handles.size > PACKS_OPEN) {
      const [k, old] = this.#handles.entries().next().value!;
      this.#handles.delete(k);
      void old.close();
    }
    return h;
  }

  #one(fd: number, chunk: string, c: StoredChunk, into: SharedArrayBuffer, at: number, roomAfter: boolean): string | undefined {
    const out = Buffer.from(into, at, c.rawLength);
    const raw = (c.flags & 3) === 0;
    if (raw && c.length !== c.rawLength) return `${chunk} in pack ${c.pack} is damaged (chunk length ${c.length} != ${c.rawLength})`;
    const need = RECORD_HEADER + c.length;
    let payload: Buffer = out;
    if (!raw) {
      if (!this.#record || this.#record.length < c.length) this.#record = Buffer.allocUnsafeSlow(Math.max(c.length, 1 << 20));
      payload = this.#record.subarray(0, c.length);
    }
    for (let got = 0; got < need;) {
      const n = got < RECORD_HEADER
        ? readvSync(fd, [this.#header.subarray(got), payload], c.offset + got)
        : readSync(fd, payload, got - RECORD_HEADER, need - got, c.offset + got);
      if (n === 0) return `pack ${c.pack} is truncated: ${chunk} at offset ${c.offset} needs ${need} bytes, ${got} present`;
      got += n;
    }
    if (!headerMatches(this.#header, c.id, c.length)) return `pack ${c.pack} has a bad record header at offset ${c.offset} (${chunk})`;
    let why: string | undefined;
    if (raw) why = rawChunkProblem(into as unknown as ArrayBuffer, at, c.length, c.flags, c.rawLength, c.id, this.#keys.idKey);
    else {
      let place: Buffer;
      if (roomAfter) place = Buffer.from(into, at, c.rawLength + FRAME_END_ROOM);
      else {
        if (!this.#decoded || this.#decoded.length < c.rawLength + FRAME_END_ROOM) this.#decoded = Buffer.allocUnsafeSlow(Math.max(c.rawLength, 1 << 20) + FRAME_END_ROOM);
        place = this.#decoded;
      }
      this.#zstd ??= new ZstdDecompressor();
      try {
        // Checked by the zstd frame checksum / GCM tag, as a restore checks them.
        const data = decodePayload(payload, c.flags, c.rawLength, Buffer.from(c.id), false, this.#keys, { zstd: this.#zstd, out: place });
        if (!roomAfter) out.set(data);
      } catch (e) { why = (e as Error).message; }
    }
    return why && `${chunk} in pack ${c.pack} is damaged (${why})`;
  }

  /** Closes the packs. */
  async close(): Promise<void> {
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(all.map((h) => h.close()));
  }
}
