// Appends chunk records to pack files. One open pack per writer; a pack is sealed (fsynced, with its
// directory) when it reaches the size limit, and only then are its chunks handed over for indexing.
import { open, mkdir, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { encodeHeader, packPath, RECORD_HEADER, type ChunkEntry } from './format.ts';

export interface PackedChunk { id: Buffer; entry: ChunkEntry }

interface OpenPack { id: string; fh: Promise<FileHandle>; size: number; chunks: PackedChunk[]; writes: Promise<void> }

export class PackWriter {
  #dir: string;
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

  constructor(dir: string, maxSize: number, onSealed: (chunks: PackedChunk[]) => Promise<void>, onNewPack?: (id: string) => void) {
    this.#dir = dir;
    this.#maxSize = maxSize;
    this.onSealed = onSealed;
    this.#onNewPack = onNewPack;
  }

  get error(): unknown { return this.#error; }

  #newPack(): OpenPack {
    const id = randomBytes(8).toString('hex');
    const path = packPath(this.#dir, id);
    this.packs.add(id);
    this.#onNewPack?.(id);
    const fh = mkdir(dirname(path), { recursive: true }).then(() => open(path, 'wx'));
    fh.catch((e) => { this.#error ??= e; });
    return { id, fh, size: 0, chunks: [], writes: Promise.resolve() };
  }

  /**
   * Queues a record and returns its index entry at once (the offset is assigned synchronously, so
   * the same chunk seen again before the write completes is deduplicated). Await `flush()` for durability.
   */
  append(id: Buffer, flags: number, rawLength: number, payload: Buffer, onWritten?: () => void): ChunkEntry {
    if (this.#error) { onWritten?.(); throw this.#error; }
    this.#cur ??= this.#newPack();
    const p = this.#cur;
    const entry: ChunkEntry = { pack: p.id, offset: p.size, length: payload.length, rawLength, flags };
    const header = encodeHeader(id, flags, rawLength, payload.length);
    const pos = p.size;
    p.size += RECORD_HEADER + payload.length;
    p.chunks.push({ id, entry });
    this.bytesWritten += RECORD_HEADER + payload.length;
    this.#queued += payload.length;
    p.writes = p.writes.then(async () => {
      if (this.#error) return;
      const fh = await p.fh;
      await fh.writev([header, payload], pos);
    }).catch((e) => { this.#error ??= e; }).finally(() => {
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
    await p.writes;
    const fh = await p.fh;
    try {
      if (this.#error) throw this.#error;
      await fh.sync();
    } finally {
      await fh.close();
    }
    const d = await open(dirname(packPath(this.#dir, p.id)), 'r');
    try { await d.sync(); } finally { await d.close(); }
    return p.chunks;
  }

  /** Waits until the queued writes of the open pack are done (back-pressure for producers). */
  async drain(): Promise<void> {
    if (this.#cur) await this.#cur.writes;
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

  /** Drops the open pack (its chunks were never indexed). Sealed packs stay; GC removes what nothing references. */
  async abort(): Promise<void> {
    const p = this.#cur;
    this.#cur = undefined;
    this.#error ??= new Error('aborted');
    await Promise.allSettled(this.#sealing);
    if (p) {
      await p.writes;
      try { await (await p.fh).close(); } catch { /* not opened */ }
      await unlink(packPath(this.#dir, p.id)).catch(() => {});
    }
  }
}
