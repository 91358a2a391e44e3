// Writing a restore point: disks are cut into fixed-size, offset-aligned chunks that are hashed and
// compressed in the worker pool, deduplicated against the parent restore point (hash-only fast path)
// and the index, and appended to this writer's pack. Commit makes the restore point visible with one
// synced LevelDB batch after the pack data is fsynced.
//
// Chunks verify marked damaged (ctx.bad) count as absent: one this backup produces is stored again
// (also when it equals the parent's chunk, which otherwise skips all work), its index entry then points
// at the new copy and the marker goes in the same batch, so every restore point sharing it is repaired.
import { open } from 'node:fs/promises'; // the source image of writeFile(), not a repository file
import type { Readable } from 'node:stream';
import { DIGEST_LEN, ZERO_DIGEST, chunkCount, chunkKey, encodeEntry, isZeroDigest, packName, type ChunkEntry } from './format.ts';
import { PackWriter, type PackedChunk } from './pack-writer.ts';
import { entryOps, lookupMany, markOp, unmarkOp } from './index.ts';
import { segmentOps, readAll } from './digest-list.ts';
import { recordOps, newRestorePointId, type Consistency, type DiskInfo, type DiskRecord, type RestorePoint, type VmIdentity } from './catalog.ts';
import type { DiskLayout, RestorePointMetadata } from '../model/restore-point.ts';
import type { VmConfig } from '../model/vm-config.ts';
import type { RepoContext, InFlight } from './context.ts';
import type { ChunkPatch, EncodeRes } from './chunk-worker.ts';
import { BufferPool } from './worker-pool.ts';
import { FRAME_END_ROOM } from './zstd.ts';
import { RepositoryError, diskFull, indexFailure, isNoSpace } from './errors.ts';
import { writePoint } from './points.ts';
import { count } from '../common/units.ts';

export interface BeginOptions {
  vm: VmIdentity;
  /** Required unless `metadata` is given (then it defaults to, and must equal, metadata.consistency.consistency). */
  consistency?: Consistency;
  notes?: string;
  /** Any JSON the caller needs to recreate the VM (CPU, memory, NICs, disk layout…); stored as rp.vmConfig. */
  vmConfig?: unknown;
  /**
   * What the point says about itself (source, origin, consistency verdict, warnings so far, VSS manifest,
   * VmConfig, disk layouts), stored sealed with the record. The writer adds to it while the backup runs
   * (addWarning, setDiskLayout). Its vmConfig is also written as rp.vmConfig, and a VmConfig passed as
   * `vmConfig` lands in metadata.vmConfig when the metadata has none.
   */
  metadata?: RestorePointMetadata;
  /** Restore point this one is incremental to: chunks not written inherit from it, and chunks equal to it skip compression and lookups. */
  parent?: string;
}

export type Progress = (done: number, total: number) => void;

const QUEUE_LIMIT = 32 * 1024 * 1024; // bytes queued for pack writes before producers wait

export class RestorePointWriter implements InFlight {
  readonly id: string;
  #ctx: RepoContext;
  #opts: BeginOptions;
  #parent: RestorePoint | undefined;
  #createdAt = new Date();
  #disks: DiskWriter[] = [];
  #pack: PackWriter;
  /** Chunks appended to packs whose index entries are not written yet (hex id -> entry). */
  #pending = new Map<string, PackedChunk>();
  /** Damaged chunks (marked by verify) this backup stores again: hex id -> the damaged entry (null: it had none), for abort. */
  #repairs = new Map<string, ChunkEntry | null>();
  #state: 'open' | 'committed' | 'aborted' = 'open';
  #warnings: string[];
  #layouts: Record<string, DiskLayout>;
  /** Set when another backup deduplicated against a chunk in this writer's packs: abort must then keep them. */
  /** @internal */ readonly owner = { shared: false };

  constructor(ctx: RepoContext, opts: BeginOptions, parent: RestorePoint | undefined) {
    this.#ctx = ctx;
    this.#opts = opts;
    this.#parent = parent;
    this.#warnings = [...(opts.metadata?.warnings ?? [])];
    this.#layouts = { ...(opts.metadata?.layouts ?? {}) };
    this.id = newRestorePointId(this.#createdAt);
    this.#pack = new PackWriter(ctx.storage, ctx.packSize, async (chunks) => {
      await ctx.db.batch(this.#indexOps(chunks));
      this.#indexed(chunks);
      for (const c of chunks) this.#pending.delete(c.id.toString('hex'));
    }, (pack) => ctx.packOwners.set(pack, this.owner));
    ctx.inflight.add(this);
  }

  get parent(): RestorePoint | undefined { return this.#parent; }
  /** @internal */ get repairs(): Map<string, ChunkEntry | null> { return this.#repairs; }

  /** Index entries of stored chunks; a re-stored damaged chunk's marker goes with its new entry. */
  #indexOps(chunks: PackedChunk[]): ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[] {
    const ops: ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[] = entryOps(chunks);
    for (const c of chunks) if (this.#repairs.has(c.id.toString('hex'))) ops.push(unmarkOp(c.id));
    return ops;
  }

  #indexed(chunks: PackedChunk[]): void {
    if (!this.#repairs.size) return;
    for (const c of chunks) {
      const hex = c.id.toString('hex');
      if (this.#repairs.has(hex)) { this.#ctx.bad.delete(hex); this.#ctx.log.info({ rp: this.id, chunk: hex, pack: c.entry.pack }, 'damaged chunk stored again'); }
    }
  }

  /** @internal A warning the writer adds itself (e.g. damage inherited from the parent). */
  note(text: string): void { this.#warnings.push(text); }
  /** @internal */ get ctx(): RepoContext { return this.#ctx; }
  /** @internal */ get pack(): PackWriter { return this.#pack; }
  /** @internal */ get pending(): Map<string, PackedChunk> { return this.#pending; }

  referencedDigests(): Buffer[] {
    const out: Buffer[] = [];
    for (const d of this.#disks) { out.push(d.digests); if (d.parentDigests) out.push(d.parentDigests); }
    return out;
  }
  packs(): Set<string> { return this.#pack.packs; }
  pendingIds(): Iterable<Buffer> { return [...this.#pending.values()].map((p) => p.id); }

  #check(): void {
    if (this.#state !== 'open') throw new RepositoryError('ESTATE', `restore point ${this.id} is already ${this.#state}`);
  }

  /** The consistency the record will say (from the options or the metadata's verdict). */
  get consistency(): Consistency { return this.#opts.consistency ?? this.#opts.metadata!.consistency.consistency; }

  /** Warnings so far (given at begin time plus those added since). */
  get warnings(): readonly string[] { return this.#warnings; }

  /** Records a warning learned while the backup runs; it is stored with the restore point at commit. */
  addWarning(text: string): void {
    this.#check();
    if (typeof text !== 'string' || !text) throw new RepositoryError('EINVAL', 'a warning needs a text');
    this.#warnings.push(text);
  }

  /** Records a disk's layout (partition table, controller) learned while the backup runs (needs `metadata`). */
  setDiskLayout(diskKey: string, layout: DiskLayout): void {
    this.#check();
    if (!this.#opts.metadata) throw new RepositoryError('EINVAL', `restore point ${this.id} was begun without metadata; disk layouts live in metadata.layouts`);
    this.#layouts[diskKey] = layout;
  }

  #metadata(): RestorePointMetadata | undefined {
    const m = this.#opts.metadata;
    if (!m) return undefined;
    const vc = this.#opts.vmConfig as VmConfig | undefined;
    const vmConfig = m.vmConfig ?? (vc && typeof vc === 'object' && vc.version === 1 ? vc : undefined);
    return { ...m, warnings: [...this.#warnings], layouts: { ...this.#layouts }, ...(vmConfig ? { vmConfig } : {}) };
  }

  /** Adds a disk. Its chunks not written before finish() inherit from the parent's disk with the same key, or read as zeros. */
  async addDisk(info: DiskInfo): Promise<DiskWriter> {
    this.#check();
    if (this.#disks.some((d) => d.info.key === info.key)) throw new RepositoryError('EINVAL', `disk ${info.key} added twice`);
    if (!Number.isSafeInteger(info.capacity) || info.capacity < 0) throw new RepositoryError('EINVAL', `disk ${info.key}: bad capacity ${info.capacity}`);
    let parentDigests: Buffer | undefined;
    const pd = this.#parent?.disks.find((d) => d.key === info.key);
    if (pd && this.#parent!.chunkSize === this.#ctx.chunkSize) {
      try { parentDigests = await readAll(this.#ctx.db, this.#parent!.id, pd.key, pd.chunks); } catch (e) { throw indexFailure(this.#ctx.dir, e); }
    }
    const d = new DiskWriter(this, info, parentDigests);
    this.#disks.push(d);
    return d;
  }

  /** Finishes all disks, makes the pack data durable and the restore point visible (one synced batch). */
  async commit(): Promise<RestorePoint> {
    this.#check();
    try {
      const t0 = Date.now();
      const disks: DiskRecord[] = [];
      for (const d of this.#disks) disks.push(await d.finish());
      const t1 = Date.now();
      const last = await this.#pack.finish();
      const t2 = Date.now();
      const metadata = this.#metadata();
      const vmConfig = this.#opts.vmConfig ?? metadata?.vmConfig;
      const rp: RestorePoint = {
        id: this.id, vm: this.#opts.vm, consistency: this.consistency,
        ...(this.#opts.notes !== undefined ? { notes: this.#opts.notes } : {}),
        ...(vmConfig !== undefined ? { vmConfig } : {}),
        ...(metadata ? { metadata } : this.#warnings.length ? { warnings: [...this.#warnings] } : {}),
        ...(this.#parent ? { parent: this.#parent.id } : {}),
        createdAt: this.#createdAt.toISOString(), completedAt: new Date().toISOString(),
        chunkSize: this.#ctx.chunkSize, disks,
        logicalBytes: disks.reduce((a, d) => a + d.capacity, 0),
        nonZeroBytes: disks.reduce((a, d) => a + Math.min(d.capacity, (d.chunks - d.zeroChunks) * this.#ctx.chunkSize), 0),
        newStoredBytes: disks.reduce((a, d) => a + d.newStoredBytes, 0),
      };
      const ops = [...this.#indexOps(last), ...this.#disks.flatMap((d) => segmentOps(this.id, d.info.key, d.digests)), ...recordOps(rp, this.#ctx.keys)];
      await this.#ctx.db.batch(ops, { sync: true });
      this.#indexed(last);
      this.#state = 'committed';
      this.#release();
      // The point's object (record + digest lists), from which the index can be rebuilt (points.ts). After the
      // batch: if it fails or the process dies first, the next open writes it from the index.
      await writePoint(this.#ctx.storage, rp, this.#disks.map((d) => d.digests), this.#ctx.keys)
        .catch((e) => this.#ctx.log.warn({ rp: rp.id, err: (e as Error).message }, 'could not write the restore point object; the next open writes it'));
      await this.#ctx.pool.release().catch(() => {}); // pack descriptors the workers opened to patch chunks
      this.#ctx.log.info({ rp: rp.id, vm: rp.vm.id, disks: disks.length, newStoredBytes: rp.newStoredBytes,
        ms: { drain: t1 - t0, packs: t2 - t1, index: Date.now() - t2 } }, 'restore point committed');
      return rp;
    } catch (e) {
      await this.abort();
      if (isNoSpace(e)) throw diskFull(this.#ctx.dir, e);
      throw indexFailure(this.#ctx.dir, e);
    }
  }

  #release(): void {
    this.#ctx.inflight.delete(this);
    for (const p of this.#pack.packs) this.#ctx.packOwners.delete(p);
  }

  /**
   * Abandons the restore point; nothing becomes visible. The packs it wrote are deleted (with their
   * index entries) unless another backup deduplicated against them; then GC reclaims them later.
   */
  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    for (const d of this.#disks) d.cancel();
    await Promise.allSettled(this.#disks.map((d) => d.settled()));
    await this.#pack.abort();
    try {
      await this.#dropPacks();
    } catch (e) {
      this.#ctx.log.warn({ rp: this.id, err: (e as Error).message }, 'could not drop the packs of an aborted backup; GC will');
    } finally {
      this.#release();
      await this.#ctx.pool.release().catch(() => {});
    }
  }

  async #dropPacks(): Promise<void> {
    const ctx = this.#ctx;
    const mine = this.#pack.packs;
    if (!mine.size) return;
    await ctx.gate.exclusive(async () => {
      if (this.owner.shared) return;
      // Entries of chunks in these packs go; a damaged chunk this backup had stored again gets its old entry and marker back.
      const dels: ({ type: 'del'; key: Buffer } | { type: 'put'; key: Buffer; value: Buffer })[] = [];
      for (const d of this.#disks) {
        for (let o = 0; o < d.digests.length; o += 1024 * DIGEST_LEN) {
          const ids: Buffer[] = [];
          const part = d.digests.subarray(o, Math.min(d.digests.length, o + 1024 * DIGEST_LEN));
          for (let k = 0; k < part.length; k += DIGEST_LEN) if (!isZeroDigest(part, k)) ids.push(part.subarray(k, k + DIGEST_LEN));
          const found = await lookupMany(ctx.db, ids);
          found.forEach((e, j) => {
            if (!e || !mine.has(e.pack)) return;
            const hex = ids[j].toString('hex');
            const old = this.#repairs.get(hex);
            if (old) dels.push({ type: 'put', key: chunkKey(ids[j]), value: encodeEntry(old) });
            else dels.push({ type: 'del', key: chunkKey(ids[j]) });
            if (old !== undefined) { dels.push(markOp(ids[j], { problem: 'damaged; a backup storing it again was aborted' })); ctx.bad.add(hex); }
          });
        }
      }
      if (dels.length) await ctx.db.batch(dels, { sync: true });
      for (const p of mine) await ctx.storage.delete(packName(p)).catch(() => false);
    });
  }
}

export class DiskWriter {
  readonly info: DiskInfo;
  readonly count: number;
  /** @internal */ readonly digests: Buffer;
  /** @internal */ readonly parentDigests: Buffer | undefined;
  #w: RestorePointWriter;
  #written: Uint8Array;
  #free: ArrayBuffer[] = [];
  #allocated = 0;
  #maxBuffers: number;
  #waiters: (() => void)[] = [];
  #out: BufferPool;
  #inflight = new Set<Promise<void>>();
  #error: unknown;
  #finished: DiskRecord | undefined;
  #stats = { zeroChunks: 0, newChunks: 0, newRawBytes: 0, newStoredBytes: 0 };

  constructor(w: RestorePointWriter, info: DiskInfo, parentDigests: Buffer | undefined) {
    this.#w = w;
    this.info = { ...info };
    this.count = chunkCount(info.capacity, w.ctx.chunkSize);
    this.digests = Buffer.alloc(this.count * DIGEST_LEN);
    this.#written = new Uint8Array(this.count);
    this.parentDigests = parentDigests;
    this.#maxBuffers = w.ctx.pool.size * 3 + 2;
    // Compressed payloads wait here for their pack write; 16 chunks bound that queue.
    this.#out = new BufferPool(w.ctx.chunkSize + 1024, 16);
  }

  get chunkSize(): number { return this.#w.ctx.chunkSize; }

  #chunkLen(i: number): number { return Math.min(this.chunkSize, this.info.capacity - i * this.chunkSize); }

  async #buffer(): Promise<ArrayBuffer> {
    for (;;) {
      if (this.#error) throw this.#error;
      const b = this.#free.pop();
      if (b) return b;
      // A worker may decode a parent chunk into it (patch).
      if (this.#allocated < this.#maxBuffers) { this.#allocated++; return new ArrayBuffer(this.chunkSize + FRAME_END_ROOM); }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  #release(b: ArrayBuffer): void {
    this.#free.push(b);
    this.#waiters.shift()?.();
  }

  #fail(e: unknown): void {
    this.#error ??= isNoSpace(e) ? diskFull(this.#w.ctx.dir, e) : e;
    for (const f of this.#waiters.splice(0)) f();
  }

  /** @internal */ cancel(): void { this.#fail(new RepositoryError('EABORTED', 'the restore point was aborted')); }
  /** @internal */ async settled(): Promise<void> { await Promise.allSettled([...this.#inflight]); }

  /** Whether the parent's chunk `i` is one verify marked damaged. */
  #parentDamaged(i: number): boolean {
    const bad = this.#w.ctx.bad;
    const at = i * DIGEST_LEN;
    return bad.size > 0 && !!this.parentDigests && at < this.parentDigests.length && bad.has(this.parentDigests.toString('hex', at, at + DIGEST_LEN));
  }

  /**
   * Offsets of the chunks whose parent chunk verify marked damaged. A backup that writes only changed
   * areas (CBT) should also write these (read from the source), so the damaged chunks are stored
   * again; chunks left to the parent stay damaged in this restore point too (finish() adds a warning).
   */
  damagedParentChunks(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.#parentDamaged(i)) out.push(i * this.chunkSize);
    return out;
  }

  #submit(i: number, buf: ArrayBuffer, len: number, src?: { fd: number; pos: number }, patch?: ChunkPatch): Promise<void> {
    // No hash-only shortcut for a parent chunk marked damaged: an equal chunk is compressed and stored again.
    const expect = this.parentDigests && i * DIGEST_LEN < this.parentDigests.length && !isZeroDigest(this.parentDigests, i * DIGEST_LEN) && !this.#parentDamaged(i)
      ? new Uint8Array(this.parentDigests.subarray(i * DIGEST_LEN, (i + 1) * DIGEST_LEN)) : undefined;
    const p = this.#out.acquire()
      .then((out) => this.#w.ctx.pool.encode(buf, len, out, expect, src, patch))
      .then((r) => this.#accept(i, len, r))
      .catch((e) => this.#fail(e))
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
    return p;
  }

  async #accept(i: number, len: number, r: EncodeRes): Promise<void> {
    this.#release(r.buf);
    let outHeld = true;
    const releaseOut = (): void => { if (outHeld) { outHeld = false; this.#out.release(r.out); } };
    try {
      await this.#place(i, len, r, () => { outHeld = false; }, () => this.#out.release(r.out));
    } finally {
      releaseOut();
    }
  }

  async #place(i: number, len: number, r: EncodeRes, handOver: () => void, release: () => void): Promise<void> {
    if (r.error) throw new Error(r.error);
    const at = i * DIGEST_LEN;
    if (r.kind === 'zero') { ZERO_DIGEST.copy(this.digests, at); this.#stats.zeroChunks++; this.#written[i] = 1; return; }
    const id = Buffer.from(r.id!);
    if (r.kind === 'known') { id.copy(this.digests, at); this.#written[i] = 1; return; }
    const ctx = this.#w.ctx;
    const hex = id.toString('hex');
    // Decide "exists" and record the reference under the shared gate, so GC cannot sweep the chunk in between.
    await ctx.gate.shared(async () => {
      let known: ChunkEntry | undefined = this.#w.pending.get(hex)?.entry;
      // A chunk marked damaged is stored again (once per backup: then it is pending), replacing its entry.
      let repairOf: ChunkEntry | null | undefined;
      if (!known) {
        const e = await ctx.lookup.lookup(id);
        if (ctx.bad.has(hex)) repairOf = e ?? null;
        else known = e;
      }
      if (!known) known = this.#w.pending.get(hex)?.entry;
      if (!known) {
        const payload = Buffer.from(r.out, 0, r.payloadLength);
        handOver();
        const entry = this.#w.pack.append(id, r.flags!, len, payload, release);
        this.#w.pending.set(hex, { id, entry });
        if (repairOf !== undefined) this.#w.repairs.set(hex, repairOf);
        this.#stats.newChunks++;
        this.#stats.newRawBytes += len;
        this.#stats.newStoredBytes += payload.length;
      } else {
        // Deduplicated against a chunk another running backup wrote: that backup must keep it if it aborts.
        const owner = ctx.packOwners.get(known.pack);
        if (owner && owner !== this.#w.owner) owner.shared = true;
      }
      id.copy(this.digests, at);
      this.#written[i] = 1;
    });
    await this.#w.pack.whenBelow(QUEUE_LIMIT);
  }

  #range(offset: number, length: number): { first: number; n: number } {
    const cs = this.chunkSize;
    if (offset % cs !== 0) throw new RepositoryError('EINVAL', `disk ${this.info.key}: write offset ${offset} is not a multiple of the chunk size ${cs}; round changed areas to chunk boundaries`);
    if (offset + length > this.info.capacity) throw new RepositoryError('EINVAL', `disk ${this.info.key}: write past the end (${offset}+${length} > ${this.info.capacity})`);
    if (length % cs !== 0 && offset + length !== this.info.capacity) throw new RepositoryError('EINVAL', `disk ${this.info.key}: write length ${length} is not a multiple of the chunk size ${cs} and does not end at the disk end`);
    return { first: offset / cs, n: Math.ceil(length / cs) };
  }

  /**
   * Writes chunk-aligned data at `offset` (any order; a chunk written twice keeps the last data).
   * Resolves when the data is copied into the pipeline; errors surface on later calls and on finish().
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#open();
    const { first, n } = this.#range(offset, data.length);
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const len = this.#chunkLen(i);
      const buf = await this.#buffer();
      new Uint8Array(buf).set(data.subarray(k * this.chunkSize, k * this.chunkSize + len));
      this.#submit(i, buf, len);
    }
  }

  /** Whether patch() has a parent restore point's disk to patch. */
  get patchable(): boolean { return this.parentDigests !== undefined; }

  /**
   * Writes the chunk at `offset` as the parent's chunk there (zeros where it has none) with `patches`
   * laid over it (`at`: offset within the chunk). The worker reads and decodes the parent's chunk itself,
   * so an incremental built from small changed areas costs the main thread nothing per chunk.
   */
  async patch(offset: number, patches: { at: number; data: Uint8Array }[]): Promise<void> {
    this.#open();
    const cs = this.chunkSize;
    const i = offset / cs;
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RepositoryError('EINVAL', `disk ${this.info.key}: patch offset ${offset} is not the start of a chunk of this disk (chunk size ${cs})`);
    const len = this.#chunkLen(i);
    for (const p of patches) {
      if (p.at < 0 || p.at + p.data.length > len) throw new RepositoryError('EINVAL', `disk ${this.info.key}: patch at ${p.at}+${p.data.length} is outside the chunk at ${offset}`);
    }
    const at = i * DIGEST_LEN;
    let base: ChunkPatch['base'] = 'zero';
    if (this.parentDigests && at < this.parentDigests.length && !isZeroDigest(this.parentDigests, at)) {
      const id = Buffer.from(this.parentDigests.subarray(at, at + DIGEST_LEN));
      if (this.#parentDamaged(i)) {
        throw new RepositoryError('EDAMAGED', `disk ${this.info.key}: the parent restore point's chunk at ${offset} is damaged (marked by 'stillpoint repo verify'), ` +
          'so it cannot be patched; write that chunk whole from the source instead (damagedParentChunks() lists them), which stores it again.');
      }
      const e = await this.#w.ctx.lookup.lookup(id);
      if (!e) throw new RepositoryError('EDAMAGED', `chunk ${id.toString('hex').slice(0, 16)}… of the parent restore point is missing from the index; run 'stillpoint repo verify'`);
      base = { pack: e.pack, offset: e.offset, length: e.length, flags: e.flags, rawLength: e.rawLength, id: new Uint8Array(id) };
    }
    const buf = await this.#buffer();
    this.#submit(i, buf, len, undefined, { base, patches });
  }

  /**
   * Reads a whole image file (or `length` bytes of it from `offset`): the workers read each chunk straight
   * into a pipeline buffer (positional reads on this call's descriptor), so the data never passes
   * through the main thread. Resolves when every chunk of the range is through the pipeline.
   */
  async writeFile(path: string, opts: { offset?: number; length?: number; onProgress?: Progress } = {}): Promise<void> {
    this.#open();
    const offset = opts.offset ?? 0;
    const length = opts.length ?? this.info.capacity - offset;
    const { first, n } = this.#range(offset, length);
    const fh = await open(path, 'r');
    const mine = new Set<Promise<void>>();
    let done = 0;
    try {
      for (let k = 0; k < n; k++) {
        const i = first + k;
        const len = this.#chunkLen(i);
        const buf = await this.#buffer();
        const p = this.#submit(i, buf, len, { fd: fh.fd, pos: i * this.chunkSize }).then(() => { done += len; opts.onProgress?.(done, length); });
        mine.add(p);
        p.finally(() => mine.delete(p));
      }
      while (mine.size) await Promise.all([...mine]);
      if (this.#error) throw this.#error;
    } finally {
      await Promise.allSettled([...mine]);
      await fh.close();
    }
  }

  /** Consumes a stream of the disk's bytes from `offset` (default 0) in order. */
  async writeStream(stream: Readable | AsyncIterable<Uint8Array>, opts: { offset?: number; onProgress?: Progress } = {}): Promise<void> {
    this.#open();
    let pos = opts.offset ?? 0;
    this.#range(pos, 0);
    let buf = await this.#buffer();
    let fill = 0;
    const total = this.info.capacity - pos;
    let done = 0;
    for await (const piece of stream as AsyncIterable<Uint8Array>) {
      let off = 0;
      while (off < piece.length) {
        const i = pos / this.chunkSize;
        if (i >= this.count) throw new RepositoryError('EINVAL', `disk ${this.info.key}: stream is longer than the capacity ${this.info.capacity}`);
        const len = this.#chunkLen(i);
        const take = Math.min(len - fill, piece.length - off);
        new Uint8Array(buf).set(piece.subarray(off, off + take), fill);
        fill += take; off += take;
        if (fill === len) {
          this.#submit(i, buf, len);
          pos += len; done += len; fill = 0;
          opts.onProgress?.(done, total);
          buf = await this.#buffer();
        }
      }
    }
    if (fill > 0) {
      const i = pos / this.chunkSize;
      new Uint8Array(buf).fill(0, fill, this.#chunkLen(i));
      this.#submit(i, buf, this.#chunkLen(i));
    } else this.#release(buf);
  }

  /** Takes chunks of [offset, offset+length) from the parent restore point (the default for unwritten chunks). */
  copyFromParent(offset: number, length: number): void {
    this.#open();
    const { first, n } = this.#range(offset, Math.min(length, this.info.capacity - offset));
    for (let i = first; i < first + n; i++) this.#inherit(i);
  }

  #inherit(i: number): void {
    const at = i * DIGEST_LEN;
    if (this.parentDigests && at < this.parentDigests.length) this.parentDigests.copy(this.digests, at, at, at + DIGEST_LEN);
    else ZERO_DIGEST.copy(this.digests, at);
    this.#written[i] = 1;
  }

  #open(): void {
    if (this.#finished) throw new RepositoryError('ESTATE', `disk ${this.info.key} is already finished`);
    if (this.#error) throw this.#error;
  }

  /** Waits for the pipeline, fills unwritten chunks from the parent (or zeros) and returns the disk record. */
  async finish(): Promise<DiskRecord> {
    if (this.#finished) return this.#finished;
    while (this.#inflight.size) await Promise.all([...this.#inflight]);
    if (this.#error) throw this.#error;
    let zero = 0;
    for (let i = 0; i < this.count; i++) {
      if (!this.#written[i]) this.#inherit(i);
      if (isZeroDigest(this.digests, i * DIGEST_LEN)) zero++;
    }
    // Damaged parent chunks this backup did not store again (left to the parent, e.g. by a CBT incremental).
    let inherited = 0;
    for (let i = 0; i < this.count; i++) {
      if (!this.#parentDamaged(i)) continue;
      const at = i * DIGEST_LEN;
      if (this.digests.compare(this.parentDigests!, at, at + DIGEST_LEN, at, at + DIGEST_LEN) === 0 && !this.#w.repairs.has(this.digests.toString('hex', at, at + DIGEST_LEN))) inherited++;
    }
    if (inherited) {
      this.#w.note(`disk ${this.info.label} (${this.info.key}): ${count(inherited, 'chunk')} taken unchanged from the parent restore point ` +
        `${this.#w.parent?.id} ${inherited === 1 ? 'is' : 'are'} damaged (marked by verify), so this restore point shares the damage; a backup that reads the whole disk stores them again and repairs both.`);
    }
    this.#finished = { ...this.info, chunks: this.count, zeroChunks: zero, newChunks: this.#stats.newChunks, newRawBytes: this.#stats.newRawBytes, newStoredBytes: this.#stats.newStoredBytes };
    return this.#finished;
  }
}
