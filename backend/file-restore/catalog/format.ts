// The catalog of one restore point, one file in the service's data dir (never in the repository):
//
//   magic 'SPCAT01\n' (8 B), header length u32 LE, header JSON, then the sections the header points at:
//     postings   raw u32 LE pairs (nameId, entry index), sorted: which entries bear each file name
//     blocks     zstd-compressed JSON arrays of BLOCK_ENTRIES entries each, sorted by (volume, path)
//
// Name ids come from the VM's name dictionary (names.ts): one list of lower-cased file names for all
// the VM's catalogs, so a glob is matched once against the VM's distinct names, not once per point.
// A search then reads only the postings and the few blocks that hold matches. Files are written
// once under a temporary name and renamed, so a reader never sees a half-written catalog.
import { closeSync, fsyncSync, openSync, readSync, renameSync, writeSync, fstatSync } from 'node:fs';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import type { FsConsistency, FsType } from '../../filesystems/filesystem.ts';

export const CATALOG_VERSION = 1;
const MAGIC = Buffer.from('SPCAT01\n');
export const BLOCK_ENTRIES = 1024;
const MAX_HEADER = 64 << 20;

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
  volumes: CatalogVolume[];
  entries: number;
  /** The name dictionary's length when this catalog was written (ids below it). */
  names: number;
  postings: { offset: number; length: number };
  blocks: { offset: number; length: number; count: number }[];
  /** The comparison with the VM's previous point made during the build (mass-encryption check). */
  comparedWith?: { rpId: string; summary: Record<string, number>; massEncryption: unknown };
}

type Row = [number, string, number, number, number | null, number, number | null];

const toRow = (e: CatalogEntry): Row => [e.volume, e.path, TYPES.indexOf(e.type), e.size, e.mtime ?? null, e.fileId, e.entropy ?? null];
const fromRow = (r: Row): CatalogEntry => ({
  volume: r[0], path: r[1], type: TYPES[r[2]] ?? 'other', size: r[3], ...(r[4] !== null ? { mtime: r[4] } : {}), fileId: r[5], ...(r[6] !== null ? { entropy: r[6] } : {}),
});

export function compareEntries(a: Pick<CatalogEntry, 'volume' | 'path'>, b: Pick<CatalogEntry, 'volume' | 'path'>): number {
  return a.volume - b.volume || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Writes a catalog. `entries` must be sorted by (volume, path); `nameId` gives the dictionary id of a
 * lower-cased file name.
 */
export function writeCatalog(file: string, header: Omit<CatalogHeader, 'version' | 'entries' | 'postings' | 'blocks'>, entries: CatalogEntry[], nameId: (lowerName: string) => number): CatalogHeader {
  const pairs = new Uint32Array(entries.length * 2);
  const order: number[] = [];
  entries.forEach((e, i) => { pairs[2 * i] = nameId(baseName(e.path).toLowerCase()); pairs[2 * i + 1] = i; order.push(i); });
  order.sort((x, y) => pairs[2 * x]! - pairs[2 * y]! || x - y);
  const postings = Buffer.alloc(entries.length * 8);
  order.forEach((i, k) => { postings.writeUInt32LE(pairs[2 * i]!, 8 * k); postings.writeUInt32LE(i, 8 * k + 4); });
  const blocks: Buffer[] = [];
  for (let i = 0; i < entries.length; i += BLOCK_ENTRIES) {
    blocks.push(zstdCompressSync(Buffer.from(JSON.stringify(entries.slice(i, i + BLOCK_ENTRIES).map(toRow)))));
  }
  let at = postings.length;
  const h: CatalogHeader = {
    version: CATALOG_VERSION, ...header, entries: entries.length,
    postings: { offset: 0, length: postings.length },
    blocks: blocks.map((b, i) => { const r = { offset: at, length: b.length, count: Math.min(BLOCK_ENTRIES, entries.length - i * BLOCK_ENTRIES) }; at += b.length; return r; }),
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
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, b, got, length - got, position + got);
    if (n <= 0) throw new Error('the catalog file is truncated');
    got += n;
  }
  return b;
}

/** Random access to one catalog file: header, postings, blocks. Immutable once written. */
export class CatalogFile {
  readonly header: CatalogHeader;
  readonly #file: string;
  readonly #dataStart: number;
  #postings: Uint32Array | undefined;

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

  /** (nameId, entry) pairs sorted by name id. */
  postings(): Uint32Array {
    if (!this.#postings) {
      const b = this.#read(this.header.postings.offset, this.header.postings.length);
      this.#postings = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    }
    return this.#postings;
  }

  /** Entry indexes bearing one of the (sorted) name ids. */
  entriesNamed(sortedIds: number[]): number[] {
    const p = this.postings();
    const n = p.length / 2;
    const out: number[] = [];
    for (const id of sortedIds) {
      let lo = 0, hi = n;
      while (lo < hi) { const m = (lo + hi) >>> 1; if (p[2 * m]! < id) lo = m + 1; else hi = m; }
      for (let k = lo; k < n && p[2 * k] === id; k++) out.push(p[2 * k + 1]!);
    }
    return out.sort((a, b) => a - b);
  }

  block(i: number): CatalogEntry[] {
    const b = this.header.blocks[i];
    if (!b) throw new Error(`catalog block ${i} does not exist`);
    return (JSON.parse(zstdDecompressSync(this.#read(b.offset, b.length)).toString('utf8')) as Row[]).map(fromRow);
  }

  /** The entries at these (sorted) indexes. */
  entriesAt(indexes: number[]): CatalogEntry[] {
    const out: CatalogEntry[] = [];
    let cur = -1;
    let rows: CatalogEntry[] = [];
    for (const i of indexes) {
      const bi = Math.floor(i / BLOCK_ENTRIES);
      if (bi !== cur) { rows = this.block(bi); cur = bi; }
      const e = rows[i % BLOCK_ENTRIES];
      if (e) out.push(e);
    }
    return out;
  }

  *all(): Generator<CatalogEntry> {
    for (let i = 0; i < this.header.blocks.length; i++) yield* this.block(i);
  }
}
