// Where every chunk of one disk of a restore point is, in one flat buffer: resolved once from the
// digest list and the index, then read without either (and sent to a worker or another process as
// a transferable ArrayBuffer). Layout (little-endian):
//
//   header   24 B  magic 'SPCT' u32, version u32, chunks u32, uniques u32, packs u32, reserved u32
//   slots    4 B × chunks   0 = zero chunk, MISSING = digest list incomplete, k+1 = unique chunk k
//   uniques 56 B × uniques  id[32], pack index u32, length u32, rawLength u32, flags u8, pad[3],
//                           offset f64 (of the record header in the pack); pack index NO_PACK: not in the index
//   packs    8 B × packs    pack id (16 hex digits as 8 bytes)
//
// A chunk that occurs several times on the disk (a deduplicated block) is one unique entry, so
// it is decoded and cached once. 1 TiB at 1 MiB chunks: at most 4 MiB of slots + 56 MiB of uniques.
import { DIGEST_LEN, isZeroDigest, type ChunkEntry } from './format.ts';

const MAGIC = 0x54435053; // 'SPCT' read as little-endian u32
const VERSION = 1;
const HEADER = 24;
const UNIQUE = 56;
export const MISSING = 0xffffffff;
export const NO_PACK = 0xffffffff;

export class ChunkTable {
  readonly buffer: ArrayBuffer;
  readonly count: number;
  readonly uniques: number;
  readonly #slots: Uint32Array;
  readonly #u: DataView;
  readonly #uBase: number;
  readonly #packs: string[];

  constructor(buffer: ArrayBuffer) {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER) throw new Error('not a chunk table');
    const h = new DataView(buffer, 0, HEADER);
    if (h.getUint32(0, true) !== MAGIC || h.getUint32(4, true) !== VERSION) throw new Error('not a chunk table (bad magic or version)');
    this.buffer = buffer;
    this.count = h.getUint32(8, true);
    this.uniques = h.getUint32(12, true);
    const npacks = h.getUint32(16, true);
    this.#uBase = HEADER + 4 * this.count;
    const packBase = this.#uBase + UNIQUE * this.uniques;
    if (buffer.byteLength !== packBase + 8 * npacks) throw new Error('chunk table has the wrong size');
    this.#slots = new Uint32Array(buffer, HEADER, this.count);
    this.#u = new DataView(buffer, this.#uBase, UNIQUE * this.uniques);
    const pb = Buffer.from(buffer, packBase, 8 * npacks);
    this.#packs = Array.from({ length: npacks }, (_, i) => pb.toString('hex', 8 * i, 8 * i + 8));
  }

  /** 0: zero chunk; MISSING: no digest; else unique index + 1. */
  slot(i: number): number { return this.#slots[i]!; }

  /** The id of unique chunk `u`: a fresh copy (a view would drag the whole table into a postMessage). */
  id(u: number): Uint8Array { return new Uint8Array(this.buffer, this.#uBase + UNIQUE * u, DIGEST_LEN).slice(); }

  /** Index entry of unique chunk `u`, or undefined if the index did not have it. */
  entry(u: number): ChunkEntry | undefined {
    const o = UNIQUE * u;
    const p = this.#u.getUint32(o + 32, true);
    if (p === NO_PACK) return undefined;
    return { pack: this.#packs[p]!, length: this.#u.getUint32(o + 36, true), rawLength: this.#u.getUint32(o + 40, true), flags: this.#u.getUint8(o + 44), offset: this.#u.getFloat64(o + 48, true) };
  }

  /** Pack ids the table points into. */
  packs(): readonly string[] { return this.#packs; }
}

/** Builds a table from digests (32 B each, all-zero = zero chunk) and their index entries. */
export class ChunkTableBuilder {
  #count: number;
  #slots: Uint32Array;
  #ids: Buffer[] = [];
  #entries: (ChunkEntry | undefined)[] = [];
  #uniq = new Map<string, number>();
  #packs = new Map<string, number>();

  constructor(count: number) {
    this.#count = count;
    this.#slots = new Uint32Array(count).fill(MISSING);
  }

  /**
   * Adds digests of chunks first..first+n-1. `entries` runs once per call with the ids not seen
   * before (a batched index lookup) and returns their entries (undefined: not in the index).
   */
  async add(first: number, digests: Buffer, entries: (ids: Buffer[]) => Promise<(ChunkEntry | undefined)[]>): Promise<void> {
    const n = Math.min(digests.length / DIGEST_LEN, this.#count - first);
    const fresh: Buffer[] = [];
    const base = this.#ids.length;
    for (let k = 0; k < n; k++) {
      const at = k * DIGEST_LEN;
      if (isZeroDigest(digests, at)) { this.#slots[first + k] = 0; continue; }
      const key = digests.toString('latin1', at, at + DIGEST_LEN);
      let u = this.#uniq.get(key);
      if (u === undefined) {
        u = base + fresh.length;
        this.#uniq.set(key, u);
        fresh.push(Buffer.from(digests.subarray(at, at + DIGEST_LEN)));
      }
      this.#slots[first + k] = u + 1;
    }
    if (!fresh.length) return;
    const found = await entries(fresh);
    for (let j = 0; j < fresh.length; j++) {
      this.#ids.push(fresh[j]!);
      this.#entries.push(found[j]);
      const e = found[j];
      if (e && !this.#packs.has(e.pack)) this.#packs.set(e.pack, this.#packs.size);
    }
  }

  build(): ChunkTable {
    const nu = this.#ids.length;
    const packBase = HEADER + 4 * this.#count + UNIQUE * nu;
    const buffer = new ArrayBuffer(packBase + 8 * this.#packs.size);
    const h = new DataView(buffer);
    h.setUint32(0, MAGIC, true);
    h.setUint32(4, VERSION, true);
    h.setUint32(8, this.#count, true);
    h.setUint32(12, nu, true);
    h.setUint32(16, this.#packs.size, true);
    new Uint32Array(buffer, HEADER, this.#count).set(this.#slots);
    const uBase = HEADER + 4 * this.#count;
    const bytes = new Uint8Array(buffer);
    for (let u = 0; u < nu; u++) {
      const o = uBase + UNIQUE * u;
      bytes.set(this.#ids[u]!, o);
      const e = this.#entries[u];
      h.setUint32(o + 32, e ? this.#packs.get(e.pack)! : NO_PACK, true);
      if (e) {
        h.setUint32(o + 36, e.length, true);
        h.setUint32(o + 40, e.rawLength, true);
        h.setUint8(o + 44, e.flags);
        h.setFloat64(o + 48, e.offset, true);
      }
    }
    const pb = Buffer.from(buffer, packBase);
    for (const [p, i] of this.#packs) pb.write(p, 8 * i, 8, 'hex');
    return new ChunkTable(buffer);
  }
}
