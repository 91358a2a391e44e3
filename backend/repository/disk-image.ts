// Random reads of one disk of a restore point, for item restore, instant recovery, file browsing.
//
//   const img = await repo.openDiskImage(rpId, '2000', { cacheBytes: 256 << 20 });
//   const sector0 = await img.readAt(0, 512);
//   worker.postMessage(img.descriptor());           // in the worker: DiskImage.fromDescriptor(desc)
//
// Opening resolves the disk's digest list to chunk locations once (chunk-table.ts). readAt() then
// needs neither the index nor the repository: it reads records from packs through the storage,
// decodes them (decrypt, zstd, id check: codec.ts) and keeps decoded chunks in an LRU bounded in
// bytes. Concurrent reads of one chunk share one decode; zero chunks cost no I/O; reads past the end
// are cut; a reader that goes on where one of its last reads ended gets the next chunks read ahead.
// This module loads no LevelDB and takes no lock, so it runs in worker threads and child processes.
import { RECORD_HEADER, chunkCount } from './format.ts';
import { decodePayload } from './codec.ts';
import { FRAME_END_ROOM, ZstdDecompressor } from './zstd.ts';
import { readRecord } from './pack-reader.ts';
import { ChunkTable, MISSING } from './chunk-table.ts';
import { Lru } from './lru.ts';
import { RepositoryError, damaged } from './errors.ts';
import { storageFor } from './storage/open.ts';
import type { Storage, StorageLocation } from './storage/storage.ts';
import type { RepoKeys } from './crypto.ts';

/**
 * Decodes payload[offset, offset+length) of a record into `out` (room for rawLength + FRAME_END_ROOM);
 * both buffers come back (they may be transferred to a worker and back). WorkerPool.decode fits.
 */
export type Decoder = (payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number,
  id: Uint8Array, check: boolean, out: ArrayBuffer) => Promise<{ payload: ArrayBuffer; out: ArrayBuffer; error?: string }>;

export interface DiskImageOptions {
  /** Decoded-chunk cache in bytes (default 64 MiB; at least one chunk is always kept). */
  cacheBytes?: number;
  /** Chunks read ahead of a sequential reader (default 8, at most half the cache; 0: none). */
  readAhead?: number;
  /** Chunks decoded at once for one large readAt (default 8). */
  concurrency?: number;
  /**
   * Recompute each chunk's id after decoding (default true). false trusts the zstd frame checksum /
   * GCM tag of compressed or encrypted chunks (raw chunks are always hashed).
   */
  verify?: boolean;
  /** Where chunks are decoded: default inline on the calling thread; repo.openDiskImage uses its workers. */
  decoder?: Decoder;
  /** Called once when the image is closed. */
  onClose?: () => void;
}

/** Everything needed to open the image elsewhere (plain data: postMessage it, transferring `table`). */
export interface DiskImageDescriptor {
  version: 1;
  storage: StorageLocation;
  /** The repository's keys when it is encrypted: treat the descriptor as a secret (never log it). */
  keys?: { encKey: Uint8Array; idKey: Uint8Array };
  chunkSize: number;
  /** Disk size in bytes. */
  capacity: number;
  /** The chunk table (chunk-table.ts), a copy per descriptor() call: transfer it. */
  table: ArrayBuffer;
  rpId?: string;
  diskKey?: string;
}

export interface DiskImageStats {
  /** Chunks read from packs and decoded (each at most once while cached). */
  decodes: number;
  /** Chunk reads answered from the cache or from a decode already running. */
  hits: number;
  /** Decodes started by read-ahead. */
  readAheads: number;
  /** Zero chunks answered without I/O. */
  zeroChunks: number;
}

interface Parts {
  storage: Storage;
  keys: RepoKeys | undefined;
  chunkSize: number;
  capacity: number;
  table: ChunkTable;
  rpId?: string;
  diskKey?: string;
  /** Close the storage with the image (it was opened for it). */
  ownsStorage?: boolean;
}

let inlineZstd: ZstdDecompressor | undefined;

/** Decodes on the calling thread with one reused zstd context per thread (codec.ts, zstd.ts). */
export function inlineDecoder(keys: RepoKeys | undefined): Decoder {
  const k = { encKey: keys?.encKey, idKey: keys?.idKey };
  return async (payload, offset, length, flags, rawLength, id, check, out) => {
    try {
      inlineZstd ??= new ZstdDecompressor();
      decodePayload(Buffer.from(payload, offset, length), flags, rawLength, Buffer.from(id.buffer, id.byteOffset, id.byteLength),
        check || !(flags & 3), k, { zstd: inlineZstd, out: Buffer.from(out) });
      return { payload, out };
    } catch (e) {
      return { payload, out, error: (e as Error).message };
    }
  };
}

const MAX_STREAMS = 8;

export class DiskImage {
  readonly chunkSize: number;
  /** Disk size in bytes. */
  readonly capacity: number;
  readonly rpId: string | undefined;
  readonly diskKey: string | undefined;
  readonly stats: DiskImageStats = { decodes: 0, hits: 0, readAheads: 0, zeroChunks: 0 };
  #p: Parts;
  #table: ChunkTable;
  #decode: Decoder;
  #verify: boolean;
  #cache: Lru<number, Buffer>;
  #loading = new Map<number, Promise<Buffer>>();
  #readAhead: number;
  #concurrency: number;
  /** Where recent reads ended: a read starting at one of them is sequential. */
  #ends: number[] = [];
  #onClose: (() => void) | undefined;
  #closed = false;

  /** Use repo.openDiskImage() or DiskImage.fromDescriptor(). */
  constructor(parts: Parts, opts: DiskImageOptions = {}) {
    this.#p = parts;
    this.#table = parts.table;
    this.chunkSize = parts.chunkSize;
    this.capacity = parts.capacity;
    this.rpId = parts.rpId;
    this.diskKey = parts.diskKey;
    if (this.#table.count !== chunkCount(parts.capacity, parts.chunkSize)) throw new RepositoryError('EINVAL', `chunk table has ${this.#table.count} chunks, a disk of ${parts.capacity} bytes ${chunkCount(parts.capacity, parts.chunkSize)}`);
    const cacheBytes = Math.max(0, opts.cacheBytes ?? 64 * 1024 * 1024);
    this.#cache = new Lru(cacheBytes);
    this.#readAhead = Math.max(0, Math.min(opts.readAhead ?? 8, Math.floor(cacheBytes / parts.chunkSize / 2)));
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#verify = opts.verify ?? true;
    this.#decode = opts.decoder ?? inlineDecoder(parts.keys);
    this.#onClose = opts.onClose;
  }

  /** Opens an image from descriptor() in this thread or process: no index, no lock, decoding inline. */
  static fromDescriptor(desc: DiskImageDescriptor, opts: DiskImageOptions = {}): DiskImage {
    if (desc?.version !== 1) throw new RepositoryError('EINVAL', 'not a disk image descriptor (version 1)');
    const keys = desc.keys ? { encKey: Buffer.from(desc.keys.encKey), idKey: Buffer.from(desc.keys.idKey) } : undefined;
    return new DiskImage({
      storage: storageFor(desc.storage), keys, chunkSize: desc.chunkSize, capacity: desc.capacity,
      table: new ChunkTable(desc.table), rpId: desc.rpId, diskKey: desc.diskKey, ownsStorage: true,
    }, opts);
  }

  /** A plain, structured-clonable description (transfer `table`; it is a copy). Contains the keys of encrypted repositories. */
  descriptor(): DiskImageDescriptor {
    const k = this.#p.keys;
    return {
      version: 1, storage: this.#p.storage.location,
      ...(k ? { keys: { encKey: new Uint8Array(k.encKey), idKey: new Uint8Array(k.idKey) } } : {}),
      chunkSize: this.chunkSize, capacity: this.capacity, table: this.#table.buffer.slice(0),
      ...(this.rpId !== undefined ? { rpId: this.rpId } : {}), ...(this.diskKey !== undefined ? { diskKey: this.diskKey } : {}),
    };
  }

  /** Pack ids this image reads (GC leaves them alone while the image is open in the repository). */
  packs(): readonly string[] { return this.#table.packs(); }

  /**
   * Bytes [offset, offset+length) of the disk; cut at its end (empty past it). Any alignment; safe to
   * call concurrently. EDAMAGED names the chunk if stored data is missing or fails its check.
   */
  async readAt(offset: number, length: number): Promise<Buffer> {
    if (this.#closed) throw new RepositoryError('ECLOSED', 'the disk image is closed');
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RepositoryError('EINVAL', `bad read: offset ${offset}, length ${length}`);
    }
    const end = Math.min(this.capacity, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const out = Buffer.alloc(end - offset);
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((end - 1) / cs);
    this.#sequential(offset, end, last);
    const copy = async (i: number): Promise<void> => {
      const data = await this.#chunk(i);
      if (!data) return;
      const cstart = i * cs;
      const from = Math.max(offset, cstart);
      const to = Math.min(end, cstart + data.length);
      if (to > from) data.copy(out, from - offset, from - cstart, to - cstart);
    };
    if (first === last) { await copy(first); return out; }
    const running = new Set<Promise<void>>();
    let failure: unknown;
    for (let i = first; i <= last && failure === undefined; i++) {
      const p: Promise<void> = copy(i).catch((e) => { failure ??= e; }).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= this.#concurrency) await Promise.race(running);
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Notes where this read ends; if it goes on from an earlier one, starts decoding the next chunks. */
  #sequential(offset: number, end: number, last: number): void {
    const k = this.#ends.indexOf(offset);
    if (k >= 0) this.#ends.splice(k, 1);
    this.#ends.push(end);
    if (this.#ends.length > MAX_STREAMS) this.#ends.shift();
    if (k < 0 || !this.#readAhead) return;
    const stop = Math.min(this.#table.count - 1, last + this.#readAhead);
    for (let i = last + 1; i <= stop; i++) {
      const s = this.#table.slot(i);
      if (s === 0 || s === MISSING) continue;
      const u = s - 1;
      if (this.#cache.has(u) || this.#loading.has(u)) continue;
      this.stats.readAheads++;
      this.#load(u, i).catch(() => {}); // a failure shows when the chunk is read
    }
  }

  /** The decoded chunk `i` (null for a zero chunk). */
  #chunk(i: number): Promise<Buffer | null> {
    const s = this.#table.slot(i);
    if (s === 0) { this.stats.zeroChunks++; return Promise.resolve(null); }
    if (s === MISSING) return Promise.reject(damaged(`the digest list of disk ${this.diskKey ?? '?'} in ${this.rpId ?? 'the restore point'} has no entry for chunk ${i}`));
    const u = s - 1;
    const hit = this.#cache.get(u) ?? this.#loading.get(u);
    if (hit) { this.stats.hits++; return Promise.resolve(hit); }
    return this.#load(u, i);
  }

  #load(u: number, i: number): Promise<Buffer> {
    const p = this.#fetch(u, i).finally(() => this.#loading.delete(u));
    this.#loading.set(u, p);
    return p;
  }

  async #fetch(u: number, i: number): Promise<Buffer> {
    const id = this.#table.id(u);
    const hex = Buffer.from(id).toString('hex').slice(0, 16);
    const e = this.#table.entry(u);
    if (!e) throw damaged(`chunk ${hex}… (at ${i * this.chunkSize} of disk ${this.diskKey ?? '?'}) is missing from the index`);
    this.stats.decodes++;
    const payload = new ArrayBuffer(RECORD_HEADER + e.length);
    await readRecord(this.#p.storage, id, e, payload);
    const r = await this.#decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, id, this.#verify, new ArrayBuffer(e.rawLength + FRAME_END_ROOM));
    if (r.error !== undefined) throw damaged(`chunk ${hex}… in pack ${e.pack} is damaged (${r.error})`);
    const data = Buffer.from(r.out, 0, e.rawLength);
    if (!this.#closed) this.#cache.set(u, data);
    return data;
  }

  /** Drops the cache; readAt fails afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    await Promise.allSettled([...this.#loading.values()]);
    if (this.#p.ownsStorage) await this.#p.storage.close();
    this.#onClose?.();
  }
}
