// Appends chunk records to packs. One open pack per writer, streamed to the storage record by record
// (storage.writeOnce with a stream of pieces); a pack is sealed when it reaches the size limit: its
// stream ends, the storage makes it durable, and only then are its chunks handed over for indexing.
import { randomBytes } from 'node:crypto';
import { encodeHeader, packName, RECORD_HEADER, type ChunkEntry } from './format.ts';
import type { Piece, Storage } from './storage/storage.ts';

export interface PackedChunk { id: Buffer; entry: ChunkEntry }

/**
 * The records of one pack on their way to storage.writeOnce, as an async iterable of pieces. A
 * record's `done` runs when the storage asks for the next piece (it is done with this one) or the
 * stream is dropped, so its payload buffer can go back to its pool.
 */
class RecordStream implements AsyncIterable<Piece> {
  #items: { parts: Uint8Array[]; done: () => void }[] = [];
  #ended = false;
  #failed: unknown;
  #wake: (() => void) | undefined;
  #idle: (() => void)[] = [];

  push(parts: Uint8Array[], done: () => void): void {
    if (this.#ended || this.#failed) { done(); return; }
    this.#items.push({ parts, done });
    this.#wake?.();
  }

  /** No more records: the storage finishes the object. */
  end(): void { this.#ended = true; this.#wake?.(); }

  /** Makes the storage drop the object (the stream throws `e`); queued records are released. */
  fail(e: unknown): void {
    this.#failed ??= e;
    this.drop();
    this.#wake?.();
  }

  /** Releases records the storage will never take (it failed, or the stream failed). */
  drop(): void {
    for (const it of this.#items.splice(0)) it.done();
    this.#settle();
  }

  /** Resolves when the storage has taken every queued record. */
  idle(): Promise<void> {
    return this.#items.length === 0 ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }

  #settle(): void {
    if (this.#items.length === 0) for (const f of this.#idle.splice(0)) f();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Piece> {
    for (;;) {
      while (!this.#items.length && !this.#ended && !this.#failed) await new Promise<void>((r) => { this.#wake = r; });
      this.#wake = undefined;
      if (this.#failed) throw this.#failed;
      const it = this.#items.shift();
      if (!it) return;
      try { yield it.parts; } finally { it.done(); this.#settle(); }
    }
  }
}

interface OpenPack { id: string; size: number; chunks: PackedChunk[]; stream: RecordStream; stored: Promise<void> }

export class PackWriter {
  #storage: Storage;
  #maxSize: number;
  #cur: OpenPack | undefined;
  #error: unknown;
  #sealing: Promise<void>[] = [];
  /** Called with the chunks of each sealed (durable) pack; the writer indexes them. */
  onSealed: (chunks: PackedChunk[]) => Promise<void>;
  /** Packs this writer created (open or sealed); GC leaves them alone while the writer runs. */
  readonly packs = new Set<string>();
  bytesWritten = 0;
  #queued = 0;
  #waiters: (() => void)[] = [];

  #onNewPack: ((id: string) => void) | undefined;

  constructor(storage: Storage, maxSize: number, onSealed: (chunks: PackedChunk[]) => Promise<void>, onNewPack?: (id: string) => void) {
    this.#storage = storage;
    this.#maxSize = maxSize;
    this.onSealed = onSealed;
    this.#onNewPack = onNewPack;
  }

  get error(): unknown { return this.#error; }

  #newPack(): OpenPack {
    const id = randomBytes(8).toString('hex');
    this.packs.add(id);
    this.#onNewPack?.(id);
    const stream = new RecordStream();
    const stored = this.#storage.writeOnce(packName(id), stream);
    // On failure the storage left nothing; records it never took go back to their pools.
    stored.catch((e) => { this.#error ??= e; stream.drop(); });
    return { id, size: 0, chunks: [], stream, stored };
  }

  /**
   * Queues a record and returns its index entry at once (the offset is assigned synchronously, so
   * the same chunk seen again before the write completes is deduplicated). Await `finish()` for durability.
   * `onWritten` runs when the storage is done with `payload`.
   */
  append(id: Buffer, flags: number, rawLength: number, payload: Buffer, onWritten?: () => void): ChunkEntry {
    if (this.#error) { onWritten?.(); throw this.#error; }
    this.#cur ??= this.#newPack();
    const p = this.#cur;
    const entry: ChunkEntry = { pack: p.id, offset: p.size, length: payload.length, rawLength, flags };
    const header = encodeHeader(id, flags, rawLength, payload.length);
    p.size += RECORD_HEADER + payload.length;
    p.chunks.push({ id, entry });
    this.bytesWritten += RECORD_HEADER + payload.length;
    this.#queued += payload.length;
    p.stream.push([header, payload], () => {
      onWritten?.();
      this.#queued -= payload.length;
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
    if (p.size >= this.#maxSize) {
      this.#cur = undefined;
      this.#sealing.push(this.#seal(p).then((chunks) => this.onSealed(chunks)).catch((e) => { this.#error ??= e; }));
    }
    return entry;
  }

  /** Resolves when fewer than `limit` bytes are queued for writing (back-pressure for producers). */
  async whenBelow(limit: number): Promise<void> {
    while (this.#queued >= limit && !this.#error) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#error) throw this.#error;
  }

  async #seal(p: OpenPack): Promise<PackedChunk[]> {
    if (this.#error) { p.stream.fail(this.#error); await p.stored.catch(() => {}); throw this.#error; }
    p.stream.end();
    await p.stored; // durable (file and folder fsynced) when this resolves
    return p.chunks;
  }

  /** Waits until the storage has taken the open pack's queued records. */
  async drain(): Promise<void> {
    if (this.#cur) await Promise.race([this.#cur.stream.idle(), this.#cur.stored.catch(() => {})]);
    if (this.#error) throw this.#error;
  }

  /** Seals the open pack and waits for all sealed packs to be indexed; returns the open pack's chunks (not yet indexed). */
  async finish(): Promise<PackedChunk[]> {
    const p = this.#cur;
    this.#cur = undefined;
    let chunks: PackedChunk[] = [];
    if (p) {
      try { chunks = await this.#seal(p); } catch (e) { this.#error ??= e; }
    }
    await Promise.all(this.#sealing);
    if (this.#error) throw this.#error;
    return chunks;
  }

  /** Drops the open pack (its chunks were never indexed; the storage removes it). Sealed packs stay; GC removes what nothing references. */
  async abort(): Promise<void> {
    const p = this.#cur;
    this.#cur = undefined;
    const aborted = new Error('aborted');
    this.#error ??= aborted;
    await Promise.allSettled(this.#sealing);
    if (p) {
      p.stream.fail(aborted);
      await p.stored.catch(() => {});
    }
  }
}
