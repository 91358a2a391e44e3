// Random reads of one disk of a restore point, for item restore, instant recovery, file browsing.
//
//   const img = await repo.openDiskImage(rpId, '2000', { cacheBytes: 256 << 20 });
//   const sector0 = await img.readAt(0, 512);
//   await img.readInto(offset, buf);                // into the caller's buffer: no allocation
//   worker.postMessage(img.descriptor());           // in the worker: DiskImage.fromDescriptor(desc)
//
// Opening resolves the disk's digest list to chunk locations once (chunk-table.ts). readAt() then
// needs neither the index nor the repository: it reads records from packs through the storage,
// decodes them (decrypt, zstd, id check: codec.ts) and keeps decoded chunks in an LRU bounded in
// bytes. Concurrent reads of one chunk share one decode; zero chunks cost no I/O; reads past the end
// are cut; a reader that goes on where one of its last reads ended gets the next chunks read ahead.
// Chunk bytes live in a few reused buffers (allocating and faulting in fresh ones cost more than
// decoding): a raw chunk (older repositories) is checked where its record was read, a compressed one
// is decoded into a second pooled buffer, and a buffer goes back to the pool when its chunk has left
// the cache and no read is copying from it (pinned). A large read into a SharedArrayBuffer with a filler
// (streamFill, fill.ts: a download's blocks) gets its whole chunks read from the packs straight into it.
// This module loads no LevelDB and takes no lock, so it runs in worker threads and child processes.
import { RECORD_HEADER, chunkCount } from './format.ts';
import { decodePayload, maxPayloadLength, rawChunkProblem } from './codec.ts';
import { FRAME_END_ROOM, ZstdDecompressor } from './zstd.ts';
import { readRecord } from './pack-reader.ts';
import { ChunkTable, MISSING } from './chunk-table.ts';
import { Lru } from './lru.ts';
import { availableParallelism } from 'node:os';
import { WorkerPool } from './worker-pool.ts';
import { RepositoryError, damaged } from './errors.ts';
import { storageFor } from './storage/open.ts';
import type { Storage, StorageLocation } from './storage/storage.ts';
import type { RepoKeys } from './crypto.ts';
import { ChunkFiller, type StoredChunk } from './fill.ts';

/**
 * Decodes payload[offset, offset+length) of a record into `out` (room for rawLength + FRAME_END_ROOM);
 * both buffers come back (they may be transferred to a worker and back). Without `out`, the record is
 * a raw chunk whose bytes stay where they are: only its id is checked. WorkerPool.decode fits.
 */
export type Decoder = (payload: ArrayBuffer, offset: number, length: number, flags: number, rawLength: number,
  id: Uint8Array, check: boolean, out: ArrayBuffer | undefined) => Promise<{ payload: ArrayBuffer; out?: ArrayBuffer; error?: string }>;

/**
 * Reads chunks' records from their packs, checks them and puts each one's plaintext at
 * into[at, at + rawLength) (fill.ts): on other threads (threadDecoder().fill) or inline (inlineFiller()),
 * for a local repository. `damaged`: the stored data is missing or bad; otherwise `error` is an I/O error.
 */
export type Filler = (chunks: { chunk: StoredChunk; at: number }[], into: SharedArrayBuffer) => Promise<{ error?: string; damaged?: boolean }>;

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
  /**
   * Decodes the chunks read ahead of a sequential reader (default: `decoder`). On another thread
   * (threadDecoder()), decoding and checking the next chunks overlaps the reader's own work.
   */
  streamDecoder?: Decoder;
  /**
   * For reads of at least a chunk into a SharedArrayBuffer (a download's blocks, sessions.ts): the
   * chunks they cover whole are read from their packs and checked by the filler (on other threads,
   * or inline) straight into the caller's memory, the others (at the read's ends, cached) into shared
   * chunk buffers. No pass through this thread's I/O pool, no copy of whole chunks, no read-ahead.
   */
  streamFill?: Filler;
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
      if (!out) {
        const error = rawChunkProblem(payload, offset, length, flags, rawLength, id, k.idKey);
        return error === undefined ? { payload } : { payload, error };
      }
      inlineZstd ??= new ZstdDecompressor();
      decodePayload(Buffer.from(payload, offset, length), flags, rawLength, Buffer.from(id.buffer, id.byteOffset, id.byteLength),
        check || !(flags & 3), k, { zstd: inlineZstd, out: Buffer.from(out) });
      return { payload, out };
    } catch (e) {
      return { payload, ...(out ? { out } : {}), error: (e as Error).message };
    }
  };
}

/**
 * Decodes on chunk worker threads (worker-pool.ts) of this thread's own, one per core (at most
 * `threads`), started on the first decode and unref'ed while idle: for a thread that reads and also
 * does other work (a browse worker streaming a download, whose chunks' checks and copies would keep
 * one core busy). Decodes run in parallel; the reader copies chunks out in order. close() stops them.
 */
export function threadDecoder(keys: RepoKeys | undefined, chunkSize: number, threads = 2, dir?: string): Decoder & { close(): Promise<void>; fill?: Filler } {
  let pool: WorkerPool | undefined;
  const start = () => pool ??= new WorkerPool({ dir: dir ?? '', keys, level: 1, chunkSize, threads: Math.max(1, Math.min(threads, availableParallelism())) });
  const decode: Decoder = (payload, offset, length, flags, rawLength, id, check, out) => start().decode(payload, offset, length, flags, rawLength, id, check, out);
  // `dir`: a local repository's folder, whose packs the threads read themselves (fill).
  const fill: Filler | undefined = dir ? (chunks, into) => start().fill(chunks, into) : undefined;
  return Object.assign(decode, { close: async () => { const p = pool; pool = undefined; await p?.close(); }, ...(fill ? { fill } : {}) });
}

/**
 * A Filler on the calling thread, reading the packs of the local repository in `dir` with
 * synchronous reads: no thread to start (a chunk-worker thread costs ~0.35 CPU-s to start) for a
 * reader that has nothing else to do meanwhile.
 */
export function inlineFiller(dir: string, keys: RepoKeys | undefined): Filler & { close(): Promise<void> } {
  const filler = new ChunkFiller(dir, { encKey: keys?.encKey, idKey: keys?.idKey });
  const fill: Filler = async (chunks, into) => {
    try {
      const why = await filler.fill(chunks, into);
      return why ? { error: why, damaged: true } : {};
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  return Object.assign(fill, { close: () => filler.close() });
}

/** Pooled chunk buffers hold a record (header and payload) or a decoded chunk (with FRAME_END_ROOM, less). */
const bufferSize = (chunkSize: number) => RECORD_HEADER + maxPayloadLength(chunkSize);
/** Free buffers a pool keeps (the rest go to the garbage collector). */
const POOL_FREE = 12;

/** Equally sized ArrayBuffers (or SharedArrayBuffers), reused: no zero-filling, no page faults of fresh memory per chunk. */
class ChunkBuffers<B extends ArrayBuffer | SharedArrayBuffer = ArrayBuffer> {
  readonly size: number;
  #free: B[] = [];
  #make: (n: number) => B;
  constructor(size: number, make: (n: number) => B) { this.size = size; this.#make = make; }
  /** A buffer of at least `n` bytes, contents undefined (pooled when `n` fits the pool's size). */
  take(n: number): B {
    if (n <= this.size) { const b = this.#free.pop(); if (b) return b; }
    return this.#make(Math.max(n, this.size));
  }
  give(b: B | undefined): void {
    if (b && b.byteLength === this.size && this.#free.length < POOL_FREE) this.#free.push(b);
  }
  clear(): void { this.#free.length = 0; }
}

/** A decoded chunk, cached or being decoded. Its bytes live in `home`, a pooled buffer, until it is neither cached nor pinned. */
interface Held {
  data: Buffer;
  home: ArrayBuffer | SharedArrayBuffer | undefined;
  /** Reads copying from it now (or waiting for its decode to do so). */
  pins: number;
  cached: boolean;
  ready: Promise<Held>;
  readonly length: number;
}

const EMPTY = Buffer.alloc(0);

const MAX_STREAMS = 8;
/** Calls a read's whole chunks are split into for a filler: one per thread of threadDecoder(). */
const FILL_GROUPS = 2;

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
  #streamDecode: Decoder;
  #fill: Filler | undefined;
  #verify: boolean;
  #cache: Lru<number, Held>;
  #loading = new Map<number, Held>();
  #buffers: ChunkBuffers;
  /** Chunk buffers the filler writes into (only with streamFill). */
  #shared: ChunkBuffers<SharedArrayBuffer>;
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
    this.#cache = new Lru<number, Held>(cacheBytes, (_u, h) => { h.cached = false; if (h.pins === 0) this.#recycle(h); });
    this.#buffers = new ChunkBuffers(bufferSize(parts.chunkSize), (n) => Buffer.allocUnsafeSlow(n).buffer as ArrayBuffer);
    this.#shared = new ChunkBuffers(parts.chunkSize, (n) => new SharedArrayBuffer(n));
    this.#readAhead = Math.max(0, Math.min(opts.readAhead ?? 8, Math.floor(cacheBytes / parts.chunkSize / 2)));
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#verify = opts.verify ?? true;
    this.#decode = opts.decoder ?? inlineDecoder(parts.keys);
    this.#streamDecode = opts.streamDecoder ?? this.#decode;
    this.#fill = opts.streamFill;
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
   * Bytes [offset, offset+length) of the disk in a new buffer (the caller's to keep or transfer); cut
   * at its end (empty past it). Any alignment; safe to call concurrently. EDAMAGED names the chunk if
   * stored data is missing or fails its check.
   */
  async readAt(offset: number, length: number): Promise<Buffer> {
    this.#checkRead(offset, length);
    const end = Math.min(this.capacity, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    // Every byte is written below (zero chunks too): no zero-filling, and never a slice of Node's shared pool.
    const out = Buffer.allocUnsafeSlow(end - offset);
    await this.#read(offset, end, out);
    return out;
  }

  /**
   * Reads [offset, offset + out.length) of the disk into `out`; returns how many bytes it wrote (fewer
   * only at the end of the disk). Same rules as readAt().
   */
  async readInto(offset: number, out: Uint8Array): Promise<number> {
    this.#checkRead(offset, out.length);
    const end = Math.min(this.capacity, offset + out.length);
    if (offset >= end) return 0;
    await this.#read(offset, end, out);
    return end - offset;
  }

  #checkRead(offset: number, length: number): void {
    if (this.#closed) throw new RepositoryError('ECLOSED', 'the disk image is closed');
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RepositoryError('EINVAL', `bad read: offset ${offset}, length ${length}`);
    }
  }

  async #read(offset: number, end: number, out: Uint8Array): Promise<void> {
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((end - 1) / cs);
    const fill = end - offset >= cs && out.buffer instanceof SharedArrayBuffer ? this.#fill : undefined;
    this.#sequential(offset, end, last, !fill);
    const whole = fill ? this.#wholeChunks(first, last, offset, end, out) : undefined;
    const copy = async (i: number): Promise<void> => {
      const cstart = i * cs;
      const from = Math.max(offset, cstart);
      const h = this.#chunk(i, fill);
      if (!h) { out.fill(0, from - offset, Math.min(end, cstart + cs) - offset); return; }
      try {
        const data = (await h.ready).data;
        const to = Math.min(end, cstart + data.length);
        if (to > from) out.set(data.subarray(from - cstart, to - cstart), from - offset);
        // Only the disk's last chunk is shorter than the chunk size; should a damaged table say
        // otherwise, the rest reads as zeros, never as whatever the unfilled buffer held.
        const want = Math.min(end, cstart + cs);
        if (want > Math.max(to, from)) out.fill(0, Math.max(to, from) - offset, want - offset);
      } finally { this.#unpin(h); }
    };
    if (first === last && !whole?.has(first)) { await copy(first); return; }
    const running = new Set<Promise<void>>();
    let failure: unknown;
    if (whole?.size) {
      // In FILL_GROUPS calls (one per filler thread, threadDecoder() has at most 2), each a run of chunks.
      const list = [...whole.values()];
      const per = Math.ceil(list.length / FILL_GROUPS);
      for (let k = 0; k < list.length; k += per) {
        const p: Promise<void> = this.#fillWhole(fill!, list.slice(k, k + per), out.buffer as SharedArrayBuffer).catch((e) => { failure ??= e; }).finally(() => running.delete(p));
        running.add(p);
      }
    }
    for (let i = first; i <= last && failure === undefined; i++) {
      if (whole?.has(i)) continue;
      const p: Promise<void> = copy(i).catch((e) => { failure ??= e; }).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= this.#concurrency) await Promise.race(running);
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
  }

  /**
   * The chunks of first..last that a filler puts straight into `out`: those the read [offset, end)
   * covers whole, stored (not zero, not missing), neither cached nor loading; with where each goes.
   */
  #wholeChunks(first: number, last: number, offset: number, end: number, out: Uint8Array): Map<number, { chunk: StoredChunk; at: number }> {
    const cs = this.chunkSize;
    const whole = new Map<number, { chunk: StoredChunk; at: number }>();
    for (let i = first; i <= last; i++) {
      const cstart = i * cs;
      const s = this.#table.slot(i);
      if (cstart < offset || cstart + cs > end || s === 0 || s === MISSING || this.#cache.has(s - 1) || this.#loading.has(s - 1)) continue;
      const e = this.#table.entry(s - 1);
      if (e?.rawLength === cs) whole.set(i, { chunk: { ...e, id: this.#table.id(s - 1) }, at: out.byteOffset + cstart - offset });
    }
    return whole;
  }

  async #fillWhole(fill: Filler, chunks: { chunk: StoredChunk; at: number }[], into: SharedArrayBuffer): Promise<void> {
    this.stats.decodes += chunks.length;
    const r = await fill(chunks, into);
    if (r.error !== undefined) throw r.damaged ? damaged(r.error) : new RepositoryError('EIO', `reading disk ${this.diskKey ?? '?'} of ${this.rpId ?? 'the restore point'}: ${r.error}`);
  }

  /** Notes where this read ends; if it goes on from an earlier one (and `ahead`), starts decoding the next chunks. */
  #sequential(offset: number, end: number, last: number, ahead: boolean): void {
    const k = this.#ends.indexOf(offset);
    if (k >= 0) this.#ends.splice(k, 1);
    this.#ends.push(end);
    if (this.#ends.length > MAX_STREAMS) this.#ends.shift();
    if (k < 0 || !this.#readAhead || !ahead) return;
    const stop = Math.min(this.#table.count - 1, last + this.#readAhead);
    // Only a stream of whole chunks (a download) goes to the stream decoder's thread: starting that
    // thread for the small sequential reads of a listing (MFT records, index blocks) cost a cold list
    // 4× its time.
    const decode = end - offset >= this.chunkSize ? this.#streamDecode : this.#decode;
    for (let i = last + 1; i <= stop; i++) {
      const s = this.#table.slot(i);
      if (s === 0 || s === MISSING) continue;
      const u = s - 1;
      if (this.#cache.has(u) || this.#loading.has(u)) continue;
      this.stats.readAheads++;
      this.#load(u, i, decode).ready.catch(() => {}); // a failure shows when the chunk is read
    }
  }

  /**
   * Chunk `i`, pinned (its buffer is not reused until #unpin), decoded or being decoded; undefined for
   * a zero chunk. The pin is taken now, before any await, so no other read can recycle its buffer in between.
   */
  #chunk(i: number, fill?: Filler): Held | undefined {
    const s = this.#table.slot(i);
    if (s === 0) { this.stats.zeroChunks++; return undefined; }
    let h: Held;
    if (s === MISSING) {
      h = { data: EMPTY, home: undefined, pins: 0, cached: false, length: 0,
        ready: Promise.reject(damaged(`the digest list of disk ${this.diskKey ?? '?'} in ${this.rpId ?? 'the restore point'} has no entry for chunk ${i}`)) };
    } else {
      const u = s - 1;
      const hit = this.#cache.get(u) ?? this.#loading.get(u);
      if (hit) this.stats.hits++;
      h = hit ?? this.#load(u, i, fill);
    }
    h.pins++;
    return h;
  }

  #unpin(h: Held): void {
    if (--h.pins === 0 && !h.cached) this.#recycle(h);
  }

  /** Gives a chunk's buffer back to the pool: only when it is neither cached, nor pinned, nor still loading. */
  #recycle(h: Held): void {
    const b = h.home;
    if (!b) return;
    h.home = undefined;
    h.data = EMPTY;
    if (b instanceof SharedArrayBuffer) this.#shared.give(b);
    else this.#buffers.give(b);
  }

  #load(u: number, i: number, decode: Decoder | Filler = this.#decode): Held {
    const h: Held = { data: EMPTY, home: undefined, pins: 0, cached: false, ready: undefined as unknown as Promise<Held>,
      get length() { return this.data.length; } };
    h.ready = this.#fetch(u, i, h, decode).finally(() => this.#loading.delete(u));
    this.#loading.set(u, h);
    return h;
  }

  async #fetch(u: number, i: number, h: Held, decode: Decoder | Filler): Promise<Held> {
    const id = this.#table.id(u);
    const hex = Buffer.from(id).toString('hex').slice(0, 16);
    const e = this.#table.entry(u);
    if (!e) throw damaged(`chunk ${hex}… (at ${i * this.chunkSize} of disk ${this.diskKey ?? '?'}) is missing from the index`);
    this.stats.decodes++;
    if (decode === this.#fill && decode) {
      const home = this.#shared.take(e.rawLength);
      const r = await decode([{ chunk: { ...e, id }, at: 0 }], home);
      if (r.error !== undefined) {
        this.#shared.give(home);
        throw r.damaged ? damaged(r.error) : new RepositoryError('EIO', `reading chunk ${i} of disk ${this.diskKey ?? '?'}: ${r.error}`);
      }
      h.home = home;
      h.data = Buffer.from(home, 0, e.rawLength);
      if (!this.#closed) { h.cached = true; this.#cache.set(u, h); }
      return h;
    }
    decode = decode as Decoder;
    const payload = this.#buffers.take(RECORD_HEADER + e.length);
    try {
      await readRecord(this.#p.storage, id, e, payload);
    } catch (err) {
      this.#buffers.give(payload);
      throw err;
    }
    const damagedChunk = (why: string) => damaged(`chunk ${hex}… in pack ${e.pack} is damaged (${why})`);
    if ((e.flags & 3) === 0) {
      // Raw: the chunk's bytes are the payload as read; its id is checked where it lies (always).
      const r = await decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, id, true, undefined);
      if (r.error !== undefined) { this.#buffers.give(r.payload); throw damagedChunk(r.error); }
      h.home = r.payload;
      h.data = Buffer.from(r.payload, RECORD_HEADER, e.rawLength);
    } else {
      const r = await decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, id, this.#verify, this.#buffers.take(e.rawLength + FRAME_END_ROOM));
      this.#buffers.give(r.payload);
      if (r.error !== undefined || !r.out) { this.#buffers.give(r.out); throw damagedChunk(r.error ?? 'the decoder returned no data'); }
      h.home = r.out;
      h.data = Buffer.from(r.out, 0, e.rawLength);
    }
    if (!this.#closed) { h.cached = true; this.#cache.set(u, h); }
    return h;
  }

  /** Drops the cache; readAt fails afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    this.#buffers.clear();
    this.#shared.clear();
    await Promise.allSettled([...this.#loading.values()]);
    if (this.#p.ownsStorage) await this.#p.storage.close();
    this.#onClose?.();
  }
}
