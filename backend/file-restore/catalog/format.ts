// The catalog of one restore point, one file in the service's data dir (never in the repository):
//
//   magic 'SPCAT01\n' (8 B), header length u32 LE, header JSON, then the sections the header points at:
//     postings   raw u32 LE pairs (nameId, entry index), sorted: which entries bear each file name, in
//                pages of POSTINGS_PAGE pairs whose first name ids the header lists (a lookup reads a page)
//     blocks     zstd-compressed JSON arrays of BLOCK_ENTRIES entries each, sorted by (volume, path)
//
// Name ids come from the VM's name dictionary (names.ts): one list of lower-cased file names for all
// the VM's catalogs, so a glob is matched once against the VM's distinct names, not once per point.
// A search then reads only the postings and the few blocks that hold matches. Files are written
// once under a temporary name and renamed, so a reader never sees a half-written catalog.
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync, fstatSync } from 'node:fs';
import { constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import type { FsConsistency, FsType } from '../../filesystems/filesystem.ts';
import { ZstdCompressor } from '../../repository/zstd.ts';

export const CATALOG_VERSION = 1;
const MAGIC = Buffer.from('SPCAT01\n');
export const BLOCK_ENTRIES = 256;
export const POSTINGS_PAGE = 1024;
const MAX_HEADER = 64 << 20;
/** Blocks are written once per build and read a few at a time: zstd's fastest level (a third of level 3's time, blocks as small). */
const BLOCK_LEVEL = 1;
const BLOCK_ZSTD = { params: { [zlibConstants.ZSTD_c_compressionLevel]: BLOCK_LEVEL } };
/** A block's JSON up to this size goes through one reused zstd context (a new context per block cost more than compressing it). */
const REUSED_CONTEXT_INPUT = 1 << 20;
let blockZstd: ZstdCompressor | undefined;

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';
const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'other'];

export interface CatalogEntry {
  /** Index into the catalog's volumes. */
  volume: number;
  /** Volume-relative path without a leading slash. */
  path: string;
  type: EntryType;
  size: number;
  /** Modification time, ms since the epoch (absent when the filesystem has none). */
  mtime?: number;
  /** The filesystem's own id of the file (inode, MFT record, directory-entry position): survives a rename. */
  fileId: number;
  /** Entropy of sampled content, bits/byte × 32 (entropy.ts); absent when not sampled. */
  entropy?: number;
}

export interface CatalogVolume {
  /** volumes/volumes.ts id, stable within the VM: "2000" (whole disk), "2000-p1", "lvm-vg0-root". */
  id: string;
  /** For people: "Hard disk 1, partition 2 (Microsoft basic data)". */
  name: string;
  diskKey: string;
  diskLabel: string;
  partition?: number;
  size: number;
  /** The filesystem found; absent when none was recognised (swap, LVM, empty). */
  fsType?: FsType;
  label?: string;
  consistency?: FsConsistency;
  /** Why the volume could not be catalogued (damaged filesystem, time or memory limit). */
  error?: string;
  files: number;
  dirs: number;
  bytes: number;
  /** Files whose content was sampled for entropy in this build (new or changed ones). */
  sampled: number;
}

export interface CatalogHeader {
  version: number;
  rpId: string;
  vmId: string;
  vmName: string;
  /** When the restore point was taken. */
  createdAt: string;
  builtAt: string;
  buildMs: number;
  /** The catalog run that built it. */
  runId?: string;
  volumes: CatalogVolume[];
  entries: number;
  /** The name dictionary's length when this catalog was written (ids below it). */
  names: number;
  postings: { offset: number; length: number; pages: number[] };
  blocks: { offset: number; length: number; count: number }[];
  /** The comparison with the VM's previous point made during the build (mass-encryption check). */
  comparedWith?: { rpId: string; summary: Record<string, number>; massEncryption: unknown };
}

/** An entry as stored: [volume, path, type index, size, mtime | null, fileId, entropy | null]. */
export type CatalogRow = [number, string, number, number, number | null, number, number | null];
type Row = CatalogRow;

const fromRow = (r: Row): CatalogEntry => ({
  volume: r[0], path: r[1], type: TYPES[r[2]] ?? 'other', size: r[3], ...(r[4] !== null ? { mtime: r[4] } : {}), fileId: r[5], ...(r[6] !== null ? { entropy: r[6] } : {}),
});

/** Entries in columns (a build makes them without an object per entry): entry i is (volumes[i], paths[i], …). */
export interface EntryColumns {
  count: number;
  volumes: Uint32Array;
  paths: string[];
  /** Index into TYPES: 0 file, 1 dir, 2 symlink, 3 other. */
  types: Uint8Array;
  sizes: Float64Array;
  /** NaN: no time. */
  mtimes: Float64Array;
  fileIds: Float64Array;
  /** -1: not sampled. */
  entropy: Int16Array;
}

/** Entries as columns. */
export function toColumns(entries: CatalogEntry[]): EntryColumns {
  const n = entries.length;
  const c: EntryColumns = {
    count: n, volumes: new Uint32Array(n), paths: new Array<string>(n), types: new Uint8Array(n), sizes: new Float64Array(n),
    mtimes: new Float64Array(n), fileIds: new Float64Array(n), entropy: new Int16Array(n),
  };
  entries.forEach((e, i) => {
    c.volumes[i] = e.volume; c.paths[i] = e.path; c.types[i] = TYPES.indexOf(e.type); c.sizes[i] = e.size;
    c.mtimes[i] = e.mtime ?? NaN; c.fileIds[i] = e.fileId; c.entropy[i] = e.entropy ?? -1;
  });
  return c;
}

/** Entry i of the columns as an object. */
export function entryAt(c: EntryColumns, i: number): CatalogEntry {
  const mtime = c.mtimes[i]!, entropy = c.entropy[i]!;
  return { volume: c.volumes[i]!, path: c.paths[i]!, type: TYPES[c.types[i]!] ?? 'other', size: c.sizes[i]!, ...(mtime === mtime ? { mtime } : {}), fileId: c.fileIds[i]!, ...(entropy >= 0 ? { entropy } : {}) };
}

export function compareEntries(a: Pick<CatalogEntry, 'volume' | 'path'>, b: Pick<CatalogEntry, 'volume' | 'path'>): number {
  return a.volume - b.volume || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Dictionary ids of the entries' lower-cased file names, one intern() call each. */
export function nameIds(c: EntryColumns, intern: (lowerName: string) => number): Uint32Array {
  const ids = new Uint32Array(c.count);
  for (let i = 0; i < c.count; i++) { const p = c.paths[i]!; ids[i] = intern(p.slice(p.lastIndexOf('/') + 1).toLowerCase()); }
  return ids;
}

/**
 * Writes a catalog. `entries` must be sorted by (volume, path); `nameId` gives the dictionary id of a
 * lower-cased file name (or, for columns, the ids nameIds() gave, entry by entry).
 */
export function writeCatalog(file: string, header: Omit<CatalogHeader, 'version' | 'entries' | 'postings' | 'blocks'>, entries: CatalogEntry[] | EntryColumns, nameId: ((lowerName: string) => number) | Uint32Array): CatalogHeader {
  const c = Array.isArray(entries) ? toColumns(entries) : entries;
  const n = c.count;
  const ids = typeof nameId === 'function' ? nameIds(c, nameId) : nameId;
  if (ids.length !== n) throw new Error(`writeCatalog: ${ids.length} name ids for ${n} entries`);
  // Postings: (name id, entry index) sorted by name id, then index — one numeric sort of id·n + index
  // (exact: ids stay far below 2^53 / n).
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = ids[i]! * n + i;
  keys.sort();
  const postings = Buffer.allocUnsafe(n * 8);
  for (let k = 0; k < n; k++) { const key = keys[k]!; const i = key % n; postings.writeUInt32LE((key - i) / n, 8 * k); postings.writeUInt32LE(i, 8 * k + 4); }
  const blocks: Buffer[] = [];
  for (let i = 0; i < n; i += BLOCK_ENTRIES) {
    const rows: Row[] = [];
    for (let j = i, end = Math.min(n, i + BLOCK_ENTRIES); j < end; j++) {
      const mtime = c.mtimes[j]!, entropy = c.entropy[j]!;
      rows.push([c.volumes[j]!, c.paths[j]!, c.types[j]!, c.sizes[j]!, mtime === mtime ? mtime : null, c.fileIds[j]!, entropy >= 0 ? entropy : null]);
    }
    const json = Buffer.from(JSON.stringify(rows));
    blocks.push(json.length <= REUSED_CONTEXT_INPUT ? Buffer.from((blockZstd ??= new ZstdCompressor(BLOCK_LEVEL, REUSED_CONTEXT_INPUT)).compress(json)) : zstdCompressSync(json, BLOCK_ZSTD));
  }
  let at = postings.length;
  const h: CatalogHeader = {
    version: CATALOG_VERSION, ...header, entries: n,
    postings: { offset: 0, length: postings.length, pages: Array.from({ length: Math.ceil(n / POSTINGS_PAGE) }, (_, k) => postings.readUInt32LE(8 * k * POSTINGS_PAGE)) },
    blocks: blocks.map((b, i) => { const r = { offset: at, length: b.length, count: Math.min(BLOCK_ENTRIES, n - i * BLOCK_ENTRIES) }; at += b.length; return r; }),
  };
  const head = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    for (const part of [MAGIC, len, head, postings, ...blocks]) writeSync(fd, part);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, file);
  return h;
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, b, got, length - got, position + got);
    if (n <= 0) throw new Error('the catalog file is truncated');
    got += n;
  }
  return b;
}

const CACHED_BLOCKS = 64;

/** Random access to one catalog file: header, postings pages, blocks. Immutable once written. */
export class CatalogFile {
  readonly header: CatalogHeader;
  readonly #file: string;
  readonly #dataStart: number;
  readonly #blocks = new Map<number, Row[]>();

  constructor(file: string) {
    this.#file = file;
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const pre = readExactly(fd, 12, 0);
      if (!pre.subarray(0, 8).equals(MAGIC)) throw new Error(`${file} is not a Stillpoint catalog`);
      const n = pre.readUInt32LE(8);
      if (n > MAX_HEADER || 12 + n > size) throw new Error(`${file}: catalog header is damaged`);
      this.header = JSON.parse(readExactly(fd, n, 12).toString('utf8')) as CatalogHeader;
      this.#dataStart = 12 + n;
      if (this.header.version !== CATALOG_VERSION) throw new Error(`${file}: catalog version ${this.header.version} is not known`);
    } finally { closeSync(fd); }
  }

  #read(offset: number, length: number): Buffer {
    const fd = openSync(this.#file, 'r');
    try { return readExactly(fd, length, this.#dataStart + offset); } finally { closeSync(fd); }
  }

  /** Entry indexes bearing one of the name ids, sorted. Reads only the postings pages that can hold them. */
  entriesNamed(ids: number[]): number[] {
    const pages = this.header.postings.pages;
    const pairs = this.header.postings.length / 8;
    const out: number[] = [];
    const wanted = [...new Set(ids)].sort((a, b) => a - b);
    if (wanted.length > pages.length / 8) {
      // A wide glob: one read of all postings beats a page read per name.
      const set = new Set(wanted);
      const b = this.#read(this.header.postings.offset, 8 * pairs);
      for (let k = 0; k < pairs; k++) if (set.has(b.readUInt32LE(8 * k))) out.push(b.readUInt32LE(8 * k + 4));
      return out.sort((x, y) => x - y);
    }
    // Pages whose range can hold each id (from the last page starting below it to the last starting
    // at or below it), merged: names next to each other (a glob's) cost one read.
    const ranges: [number, number][] = [];
    for (const id of wanted) {
      let lo = 0, hi = pages.length;
      while (lo < hi) { const m = (lo + hi) >>> 1; if (pages[m]! < id) lo = m + 1; else hi = m; }
      const first = Math.max(0, lo - 1);
      let last = lo;
      while (last < pages.length && pages[last] === id) last++;
      last = Math.max(first, last - 1);
      const from = first * POSTINGS_PAGE, to = Math.min(pairs, (last + 1) * POSTINGS_PAGE);
      if (from >= to) continue;
      const prev = ranges.at(-1);
      if (prev && from <= prev[1]) prev[1] = Math.max(prev[1], to); else ranges.push([from, to]);
    }
    const set = new Set(wanted);
    for (const [from, to] of ranges) {
      const b = this.#read(this.header.postings.offset + 8 * from, 8 * (to - from));
      for (let k = 0; k < to - from; k++) if (set.has(b.readUInt32LE(8 * k))) out.push(b.readUInt32LE(8 * k + 4));
    }
    return out.sort((a, b) => a - b);
  }

  /** A block's rows as stored (cached): a search turns only its matching rows into entries. */
  #rows(i: number, fd?: number): Row[] {
    const hit = this.#blocks.get(i);
    if (hit) return hit;
    const b = this.header.blocks[i];
    if (!b) throw new Error(`catalog block ${i} does not exist`);
    const raw = fd === undefined ? this.#read(b.offset, b.length) : readExactly(fd, b.length, this.#dataStart + b.offset);
    const rows = JSON.parse(zstdDecompressSync(raw).toString('utf8')) as Row[];
    this.#blocks.set(i, rows);
    if (this.#blocks.size > CACHED_BLOCKS) this.#blocks.delete(this.#blocks.keys().next().value!);
    return rows;
  }

  block(i: number): CatalogEntry[] { return this.#rows(i).map(fromRow); }

  /** The entries at these (sorted) indexes, read block by block (one open file) as the caller goes on. */
  *entriesAt(indexes: number[]): Generator<CatalogEntry> {
    let fd: number | undefined;
    try {
      for (const i of indexes) {
        const k = Math.floor(i / BLOCK_ENTRIES);
        if (fd === undefined && !this.#blocks.has(k)) fd = openSync(this.#file, 'r');
        const r = this.#rows(k, fd)[i % BLOCK_ENTRIES];
        if (r) yield fromRow(r);
      }
    } finally { if (fd !== undefined) closeSync(fd); }
  }

  /** Every entry as stored, in order (not cached). */
  *rows(): Generator<CatalogRow> {
    for (let i = 0; i < this.header.blocks.length; i++) {
      const b = this.header.blocks[i]!;
      yield* this.#blocks.get(i) ?? (JSON.parse(zstdDecompressSync(this.#read(b.offset, b.length)).toString('utf8')) as Row[]);
    }
  }

  /** Every entry, in order (not cached: a diff reads each block once). */
  *all(): Generator<CatalogEntry> {
    for (let i = 0; i < this.header.blocks.length; i++) {
      const b = this.header.blocks[i]!;
      yield* (this.#blocks.get(i) ?? (JSON.parse(zstdDecompressSync(this.#read(b.offset, b.length)).toString('utf8')) as Row[])).map(fromRow);
    }
  }
}
