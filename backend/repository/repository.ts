// Stillpoint backup repository: the public API.
//
//   const repo = await Repository.init(dir, { passphrase? });   // or Repository.open(dir, { passphrase? })
//   const w = await repo.beginRestorePoint({ vm: { id, name, uuid }, consistency: 'crash', parent? });
//   const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity });
//   await d.writeFile('/path/disk.img');      // or d.write(offset, buf) / d.writeStream(stream)
//   const rp = await w.commit();               // or w.abort()
//   await repo.restoreDisk(rp.id, '2000', '/out.img', (done, total) => …);
//   await repo.close();
//
// Restore points are logically full: with `parent`, chunks a disk does not write inherit from the
// parent's disk of the same key, so a CBT incremental writes only the changed (chunk-aligned) ranges.
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { childLog } from '../common/log.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_PACK_SIZE, DEFAULT_ZSTD_LEVEL, FORMAT_VERSION, rpKey } from './format.ts';
import { createKeyBlock, type RepoKeys } from './crypto.ts';
import { RepositoryError, indexDamaged, indexFailure } from './errors.ts';
import { RepoLock, lockHolder, lockedError, isStale } from './lock.ts';
import { openDb, allEntries, restrictIndex, badMarkers, indexFileProblem, ChunkLookup, type DB } from './index.ts';
import { reconcilePoints, digestsOf, writePoint, POINTS_COMPLETE } from './points.ts';
import { markPointsComplete, pointName } from './point-object.ts';
import { Gate } from './gate.ts';
import { PackReader } from './pack-reader.ts';
import { allRecords, byNewest, getRecord, recordOps, isLocked, metadataProblem, type RestorePoint } from './catalog.ts';
import { CONSISTENCIES } from '../model/consistency.ts';
import { LocalStorage } from './storage/local.ts';
import { inspectRepository, unlock, type RepoConfig } from './config.ts';
import type { Storage } from './storage/storage.ts';
import { deleteOps, buildChunkTable } from './digest-list.ts';
// What only some commands use is loaded when first used (`await import()`): listing restore points
// (`stillpoint repo ls`) loads neither the writer, restore, verify, GC, rebuild nor the disk image reader.
import type { RebuildReport } from './rebuild.ts';
import type { ChunkCache } from './reader-cache.ts';
import type { DiskImage, DiskImageOptions } from './disk-image.ts';
import type { RestorePointWriter, BeginOptions } from './writer.ts';
import type { VerifyReport } from './verify.ts';
import type { RetentionPolicy, RetentionDecision } from './retention.ts';
import type { GcReport } from './gc.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { RepoContext, InFlight } from './context.ts';
import { count } from '../common/units.ts';

export type { RestorePoint, DiskRecord, DiskInfo, VmIdentity, Consistency, RestorePointMetadata } from './catalog.ts';
export { warningsOf } from './catalog.ts';
export type { DiskImage, DiskImageOptions, DiskImageDescriptor } from './disk-image.ts';
export type { Storage, StorageLocation, ObjectInfo } from './storage/storage.ts';
export type { BeginOptions, DiskWriter, RestorePointWriter } from './writer.ts';
export type { VerifyReport } from './verify.ts';
export type { RetentionPolicy, RetentionDecision } from './retention.ts';
export type { GcReport } from './gc.ts';
export type { RebuildReport } from './rebuild.ts';
export { RepositoryError } from './errors.ts';
export type { RepoConfig } from './config.ts';

export type Progress = (done: number, total: number) => void;

export interface InitOptions {
  /** Encrypts the repository (AES-256-GCM, scrypt-wrapped master key). */
  passphrase?: string;
  chunkSize?: number;
  packSize?: number;
  zstdLevel?: number;
}

export interface OpenOptions {
  passphrase?: string;
  /** Shown to other processes that find the repository locked, e.g. "stillpoint repo backup". */
  command?: string;
  /** Worker threads for hashing/compression (default: one per core). */
  threads?: number;
  /** Decoded-chunk cache for read() (default 64 MiB). */
  cacheBytes?: number;
  /**
   * Only to read (list restore points, read their disks): takes no lock and writes nothing of its own
   * (LevelDB still rewrites its manifest as it opens), and fails with ELOCKED while another process
   * holds the repository. Methods that change it fail with EREADONLY.
   */
  readOnly?: boolean;
}

export interface RepoStats {
  restorePoints: number;
  vms: number;
  chunks: number;
  /** Stored chunk payload bytes referenced by the index, and pack file bytes on disk. */
  storedBytes: number;
  packBytes: number;
  packs: number;
  /** Sum over restore points of their disks' capacities / non-zero bytes (what a full copy of each would take). */
  logicalBytes: number;
  nonZeroBytes: number;
  /** nonZeroBytes / packBytes. */
  dedupRatio: number;
  encrypted: boolean;
  chunkSize: number;
}

/** The chunk worker pool's class, loaded by the methods that use workers before they do (node:worker_threads takes a while to load). */
let Pool: typeof WorkerPool | undefined;
async function loadPool(): Promise<void> {
  Pool ??= (await import('./worker-pool.ts')).WorkerPool;
}

export class Repository {
  readonly dir: string;
  readonly config: RepoConfig;
  #ctx: RepoContext;
  #storage: LocalStorage;
  #lock: RepoLock | undefined;
  #packs: PackReader;
  #cache: Promise<ChunkCache> | undefined;
  #pool: WorkerPool | undefined;
  #opts: OpenOptions;
  #gcRunning: Promise<unknown> | undefined;
  /** openDiskImage calls between resolving chunk locations and registering the image: GC waits for them. */
  #opening = new Set<Promise<unknown>>();
  /** Restore points in use by this process (e.g. published over NBD): rpId -> why, one entry per hold. */
  #holds = new Map<string, string[]>();
  #closed = false;

  private constructor(dir: string, storage: LocalStorage, config: RepoConfig, db: DB, keys: RepoKeys | undefined, lock: RepoLock | undefined, opts: OpenOptions, bad: Set<string>) {
    this.dir = dir;
    this.#storage = storage;
    this.config = config;
    this.#lock = lock;
    this.#opts = opts;
    const self = this;
    this.#ctx = {
      dir, storage, db, keys, chunkSize: config.chunkSize, packSize: config.packSize, readers: new Set(), bad,
      get pool() { return self.#workerPool(); },
      gate: new Gate(), lookup: new ChunkLookup(db), inflight: new Set<InFlight>(), packOwners: new Map(),
      log: childLog('repository', { dir }),
    };
    this.#packs = new PackReader(storage);
  }

  #chunkCache(): Promise<ChunkCache> {
    return this.#cache ??= import('./reader-cache.ts').then(({ ChunkCache }) => new ChunkCache(this.#ctx, this.#packs, this.#opts.cacheBytes));
  }

  /** Fails with EREADONLY when the repository was opened read-only. */
  #writable(what: string): void {
    if (this.#opts.readOnly) throw new RepositoryError('EREADONLY', `the repository ${this.dir} was opened read-only; ${what} needs it opened for writing.`);
  }

  /** Whether it was opened with `readOnly` (no lock taken, nothing written). */
  get readOnly(): boolean { return !!this.#opts.readOnly; }

  #workerPool(): WorkerPool {
    if (!Pool) throw new Error('internal error: the chunk worker pool is used before its module was loaded (await loadPool() first)');
    // The workers open packs by path for positional reads (LocalStorage.pathOf(packName(id)) = packPath(root, id)).
    this.#pool ??= new Pool({ dir: this.#storage.root, keys: this.#ctx.keys, level: this.config.compression.level, chunkSize: this.config.chunkSize, threads: this.#opts.threads });
    return this.#pool;
  }

  /** Creates a repository in `dir` (which must not exist or be empty) and opens it. */
  static async init(dir: string, opts: InitOptions & OpenOptions = {}): Promise<Repository> {
    const storage = await LocalStorage.create(dir);
    let existing = false;
    for await (const o of storage.list('')) if (!o.name.startsWith('lost+found/')) { existing = true; break; }
    if (existing) throw new RepositoryError('EEXIST', `${dir} is not empty; \`repo init\` needs a new or empty folder.`);
    await storage.restrict(); // an existing empty folder becomes private (0700) like the ones the storage creates
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (chunkSize < 4096 || chunkSize > 16 * 1024 * 1024 || chunkSize % 4096) throw new RepositoryError('EINVAL', 'chunk size must be a multiple of 4 KiB between 4 KiB and 16 MiB');
    const block = opts.passphrase !== undefined ? (await createKeyBlock(opts.passphrase)).block : null;
    const cfg: RepoConfig = {
      format: 'stillpoint-repository', version: FORMAT_VERSION, id: randomBytes(16).toString('hex'),
      createdAt: new Date().toISOString(), chunkSize, packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
      compression: { algorithm: 'zstd', level: opts.zstdLevel ?? DEFAULT_ZSTD_LEVEL }, encryption: block,
    };
    const db = await openDb(storage.pathOf('index'), true);
    await db.put(POINTS_COMPLETE, Buffer.from(cfg.createdAt), { sync: true }); // every point will have its object
    await db.close();
    await markPointsComplete(storage);
    // Last: a folder with config.json is a repository (written once, durable, never half written).
    await storage.writeOnce('config.json', Buffer.from(JSON.stringify(cfg, null, 2) + '\n'));
    childLog('repository').info({ dir, encrypted: !!block, chunkSize }, 'repository created');
    return Repository.open(dir, opts);
  }

  /** Opens a repository; takes the one-process lock. Errors: ENOTREPO, ENEEDPASS, EPASSPHRASE, ELOCKED. */
  static async open(dir: string, opts: OpenOptions = {}): Promise<Repository> {
    const { storage, cfg, keys } = await unlock(dir, opts.passphrase);
    let lock: RepoLock | undefined;
    if (opts.readOnly) {
      const held = await lockHolder(storage);
      if (held && !isStale(held)) throw lockedError(dir, held);
    } else {
      lock = await RepoLock.acquire(storage, dir, opts.command);
      // Repositories made before everything was created private: the root, config.json (an encrypted one's wrapped key) and the index.
      await storage.restrict(['config.json', 'index']);
    }
    try {
      // The index is a local LevelDB folder (a cache of what the packs and point objects hold; see README.md).
      const path = storage.pathOf('index');
      const problem = await indexFileProblem(path);
      if (problem) throw indexDamaged(dir, problem);
      let db: DB;
      try { db = await openDb(path, false); } catch (e) {
        const holder = await lockHolder(storage);
        throw indexFailure(dir, e, holder ? ` (pid ${holder.pid} on ${holder.host})` : '');
      }
      try {
        // Restore points the index lost (a truncated log loses writes silently) show as objects without records.
        const points = await reconcilePoints(storage, db, keys, { write: !opts.readOnly });
        if (points.orphans.length) {
          throw indexDamaged(dir, `it lacks ${count(points.orphans.length, 'restore point')} that the repository holds: ` +
            `${points.orphans.slice(0, 5).join(', ')}${points.orphans.length > 5 ? ', …' : ''}`);
        }
        if (points.incomplete.length) throw indexDamaged(dir, `the digest lists of ${points.incomplete.length === 1 ? 'restore point' : 'restore points'} ${points.incomplete.slice(0, 5).join(', ')} are incomplete`);
        if (points.exported.length) childLog('repository').info({ dir, points: points.exported.length }, 'wrote restore point objects the repository lacked (the index can be rebuilt from them)');
        return new Repository(dir, storage, cfg, db, keys, lock, opts, await badMarkers(db));
      } catch (e) {
        await db.close().catch(() => {});
        throw indexFailure(dir, e);
      }
    } catch (e) {
      await lock?.release();
      throw e;
    }
  }

  /**
   * Rebuilds the index from the packs and the restore point objects (see rebuild.ts), for a repository
   * whose index is damaged or missing: the previous index is moved aside (never deleted). Takes the lock.
   */
  static async rebuildIndex(dir: string, opts: { passphrase?: string; command?: string; onProgress?: Progress } = {}): Promise<RebuildReport> {
    const { storage, cfg, keys } = await unlock(dir, opts.passphrase);
    const lock = await RepoLock.acquire(storage, dir, opts.command ?? 'rebuild-index');
    try {
      await storage.restrict(['config.json', 'index']);
      const { rebuildIndex } = await import('./rebuild.ts');
      return await rebuildIndex({ dir, storage, keys, log: childLog('repository', { dir }) }, opts.onProgress);
    } finally {
      await lock.release();
      await storage.close();
    }
  }

  /** A folder's repository config without opening it (no lock, no passphrase): e.g. to learn whether it is encrypted. */
  static async inspect(dir: string): Promise<RepoConfig> {
    return inspectRepository(dir);
  }

  /** The storage the repository's packs, config and lock live in. */
  get storage(): Storage { return this.#storage; }

  get encrypted(): boolean { return !!this.config.encryption; }
  get chunkSize(): number { return this.config.chunkSize; }

  #check(): void { if (this.#closed) throw new RepositoryError('ECLOSED', 'the repository is closed'); }

  /** Runs `f`, turning LevelDB errors into RepositoryErrors (a damaged index names `repo rebuild-index`). */
  async #g<T>(f: () => Promise<T>): Promise<T> {
    try { return await f(); } catch (e) { throw indexFailure(this.dir, e); }
  }

  /** Starts a restore point. Nothing is visible until commit(). */
  async beginRestorePoint(opts: BeginOptions): Promise<RestorePointWriter> {
    this.#check();
    this.#writable('a backup');
    return this.#g(async () => {
      if (!opts.vm?.id || !opts.vm?.name) throw new RepositoryError('EINVAL', 'vm.id and vm.name are required');
      if (opts.metadata !== undefined) {
        const why = metadataProblem(opts.metadata);
        if (why) throw new RepositoryError('EINVAL', why);
        if (opts.consistency !== undefined && opts.consistency !== opts.metadata.consistency.consistency) {
          throw new RepositoryError('EINVAL', `consistency ${opts.consistency} differs from the metadata's verdict ${opts.metadata.consistency.consistency}`);
        }
      }
      const consistency = opts.consistency ?? opts.metadata?.consistency.consistency;
      if (!consistency || !CONSISTENCIES.includes(consistency)) throw new RepositoryError('EINVAL', `consistency must be application, filesystem or crash (got ${consistency})`);
      await loadPool();
      this.#workerPool(); // started now, the workers load while the parent's records are read
      let parent: RestorePoint | undefined;
      if (opts.parent) {
        parent = await getRecord(this.#ctx.db, this.#ctx.keys, opts.parent);
        if (!parent) throw new RepositoryError('ENOTFOUND', `parent restore point ${opts.parent} does not exist`);
      }
      const { RestorePointWriter } = await import('./writer.ts');
      return new RestorePointWriter(this.#ctx, opts, parent);
    });
  }

  /** Restore points, newest first, optionally of one VM. */
  async listRestorePoints(filter: { vmId?: string } = {}): Promise<RestorePoint[]> {
    this.#check();
    return this.#g(async () => {
      const out: RestorePoint[] = [];
      for await (const rp of allRecords(this.#ctx.db, this.#ctx.keys)) if (!filter.vmId || rp.vm.id === filter.vmId) out.push(rp);
      return out.sort(byNewest);
    });
  }

  async getRestorePoint(id: string): Promise<RestorePoint> {
    this.#check();
    return this.#g(async () => {
      const rp = await getRecord(this.#ctx.db, this.#ctx.keys, id);
      if (!rp) throw new RepositoryError('ENOTFOUND', `restore point ${id} does not exist; list them with \`stillpoint repo ls <dir>\`.`);
      return rp;
    });
  }

  #disk(rp: RestorePoint, key: string) {
    const d = rp.disks.find((x) => x.key === key);
    if (!d) throw new RepositoryError('ENOTFOUND', `restore point ${rp.id} has no disk ${key} (disks: ${rp.disks.map((x) => x.key).join(', ')})`);
    return d;
  }

  /** Random access to a disk of a restore point (any offset/length; reads past the end are cut). */
  async read(rpId: string, diskKey: string, offset: number, length: number): Promise<Buffer> {
    return this.#g(async () => {
      const rp = await this.getRestorePoint(rpId);
      const d = this.#disk(rp, diskKey);
      await loadPool();
      return (await this.#chunkCache()).read(rp.id, d.key, d.capacity, rp.chunkSize, offset, length);
    });
  }

  /**
   * Opens a disk of a restore point for random reads (see disk-image.ts): its chunk locations are
   * resolved once; reads need neither the index nor this object afterwards, and `image.descriptor()`
   * opens the same image in a worker thread or child process. GC keeps the packs it reads until it is
   * closed; closing the repository closes it.
   */
  async openDiskImage(rpId: string, diskKey: string, opts: DiskImageOptions = {}): Promise<DiskImage> {
    this.#check();
    // A repack must not move chunks between resolving their locations and registering the image:
    // wait for a running GC, and make a GC that starts meanwhile wait for this open.
    while (this.#gcRunning) await this.#gcRunning.catch(() => {});
    const opening = this.#open(rpId, diskKey, opts);
    this.#opening.add(opening);
    try { return await opening; } finally { this.#opening.delete(opening); }
  }

  async #open(rpId: string, diskKey: string, opts: DiskImageOptions): Promise<DiskImage> {
    return this.#g(async () => {
      const rp = await this.getRestorePoint(rpId);
      const d = this.#disk(rp, diskKey);
      const table = await buildChunkTable(this.#ctx.db, rp.id, d.key, d.capacity, rp.chunkSize);
      const { DiskImage } = await import('./disk-image.ts');
      await loadPool();
      const readers = this.#ctx.readers;
      const image = new DiskImage({
        storage: this.#storage, keys: this.#ctx.keys, chunkSize: rp.chunkSize, capacity: d.capacity, table, rpId: rp.id, diskKey: d.key,
      }, {
        // Decoded in the chunk workers, off this thread, unless the caller wants it inline. The workers
        // start on the first decode: an image only opened to be read elsewhere (its descriptor) starts none.
        decoder: opts.decoder ?? ((payload, offset, length, flags, rawLength, id, check, out) => this.#workerPool().decode(payload, offset, length, flags, rawLength, id, check, out)),
        ...opts,
        onClose: () => { readers.delete(image); opts.onClose?.(); },
      });
      readers.add(image);
      return image;
    });
  }

  /** Writes a disk to a file (sparse: zero chunks become holes), a block device, or a stream. */
  async restoreDisk(rpId: string, diskKey: string, target: string | Writable, onProgress?: Progress): Promise<{ bytes: number; zeroBytes: number }> {
    return this.#g(async () => {
      await loadPool();
      this.#workerPool(); // started now, the workers load while the restore point is read
      const rp = await this.getRestorePoint(rpId);
      this.#disk(rp, diskKey);
      const { restoreDisk } = await import('./restore.ts');
      if (typeof target !== 'string') return restoreDisk(this.#ctx, this.#packs, rp, diskKey, target, onProgress);
      const { intoFileSafely } = await import('./restore-target.ts');
      return intoFileSafely(target, (path) => restoreDisk(this.#ctx, this.#packs, rp, diskKey, path, onProgress));
    });
  }

  /** Checks the repository; `quick` checks index/pack consistency only. */
  async verify(opts: { quick?: boolean; onProgress?: Progress } = {}): Promise<VerifyReport> {
    this.#check();
    this.#writable('verify (it marks damaged chunks)');
    return this.#g(async () => {
      const { verify } = await import('./verify.ts');
      await loadPool();
      return verify(this.#ctx, this.#packs, opts);
    });
  }

  /** Makes a restore point immutable until `until`: delete and retention refuse it. A lock can only be extended. */
  async lock(rpId: string, until: Date): Promise<RestorePoint> {
    this.#writable('locking a restore point');
    return this.#g(async () => {
      const rp = await this.getRestorePoint(rpId);
      if (rp.lockedUntil && Date.parse(rp.lockedUntil) > until.getTime()) throw new RepositoryError('ELOCKEDRP', `restore point ${rpId} is locked until ${rp.lockedUntil}; a lock can only be extended.`);
      rp.lockedUntil = until.toISOString();
      // The point object first: a crash in between leaves the longer lock there, which is harmless (locks only extend).
      const digests = await digestsOf(this.#ctx.db, rp);
      if (!digests) throw indexDamaged(this.dir, `the digest lists of restore point ${rp.id} are incomplete`);
      await writePoint(this.#storage, rp, digests, this.#ctx.keys, true);
      await this.#ctx.db.batch(recordOps(rp, this.#ctx.keys), { sync: true });
      return rp;
    });
  }

  /**
   * Keeps a restore point from being deleted (by retention, prune or by hand) until the returned
   * release is called; `why` is what the refusal says, e.g. "it is published over NBD (pub-…)".
   */
  hold(rpId: string, why: string): () => void {
    this.#holds.set(rpId, [...(this.#holds.get(rpId) ?? []), why]);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.#holds.get(rpId)?.filter((w, i, all) => i !== all.indexOf(why)) ?? [];
      if (left.length) this.#holds.set(rpId, left); else this.#holds.delete(rpId);
    };
  }

  /** Deletes a restore point (its chunks are reclaimed by gc()). Refuses locked points, held points and parents of running backups. */
  async deleteRestorePoint(id: string): Promise<void> {
    this.#writable('deleting a restore point');
    return this.#g(async () => {
      const rp = await this.getRestorePoint(id);
      if (isLocked(rp)) throw new RepositoryError('ELOCKEDRP', `restore point ${id} is locked until ${rp.lockedUntil} and cannot be deleted before then.`);
      for (const w of this.#ctx.inflight) if ((w as RestorePointWriter).parent?.id === id) throw new RepositoryError('EBUSY', `restore point ${id} is the parent of a running backup; try again when it has finished.`);
      const held = this.#holds.get(id);
      if (held?.length) throw new RepositoryError('EBUSY', `restore point ${id} is in use: ${held.join('; ')}. End that first.`);
      const ops = [...(await deleteOps(this.#ctx.db, id)), { type: 'del' as const, key: rpKey(id) }];
      // The object first: a crash in between leaves a record without its object, which the next open writes
      // again (the point stays), never an object without a record (which would say the index lost it).
      await this.#storage.delete(pointName(id));
      await this.#ctx.db.batch(ops, { sync: true });
      this.#ctx.log.info({ rp: id }, 'restore point deleted');
    });
  }

  /** Applies keep-last/GFS per VM; deletes what is not kept unless `dryRun`. Run gc() afterwards to reclaim space. */
  async applyRetention(policy: RetentionPolicy, opts: { dryRun?: boolean; vmId?: string } = {}): Promise<RetentionDecision> {
    if (!opts.dryRun) this.#writable('applying retention');
    const all = await this.listRestorePoints({ vmId: opts.vmId });
    const { decideRetention } = await import('./retention.ts');
    const decision = decideRetention(all, policy);
    const busy = new Set([...this.#ctx.inflight].map((w) => (w as RestorePointWriter).parent?.id));
    for (const r of [...decision.remove]) {
      const held = this.#holds.get(r.id);
      if (busy.has(r.id) || held?.length) {
        decision.remove.splice(decision.remove.indexOf(r), 1);
        decision.keep.push({ ...r, reasons: [busy.has(r.id) ? 'parent of a running backup' : `in use: ${held!.join('; ')}`] });
      }
    }
    if (!opts.dryRun) for (const r of decision.remove) await this.deleteRestorePoint(r.id);
    return decision;
  }

  /** Removes chunks no restore point references; safe while backups run in this process. */
  async gc(opts: { onProgress?: Progress; repackThreshold?: number } = {}): Promise<GcReport> {
    this.#check();
    this.#writable('garbage collection');
    return this.#g(async () => {
      if (this.#gcRunning) throw new RepositoryError('EBUSY', 'a GC is already running on this repository');
      if (this.#cache) (await this.#cache).clear();
      const opening = [...this.#opening];
      const { gc } = await import('./gc.ts');
      const run = Promise.allSettled(opening).then(() => gc(this.#ctx, this.#packs, opts));
      this.#gcRunning = run;
      try { return await run; } finally { this.#gcRunning = undefined; }
    });
  }

  /** Size and free room of where the repository lives (the dashboard's capacity), when the storage can tell. */
  async space(): Promise<{ totalBytes: number; freeBytes: number } | undefined> {
    this.#check();
    return this.storage.space();
  }

  async stats(): Promise<RepoStats> {
    this.#check();
    return this.#g(async () => {
      let restorePoints = 0, logicalBytes = 0, nonZeroBytes = 0;
      const vms = new Set<string>();
      for await (const rp of allRecords(this.#ctx.db, this.#ctx.keys)) {
        restorePoints++; vms.add(rp.vm.id); logicalBytes += rp.logicalBytes; nonZeroBytes += rp.nonZeroBytes;
      }
      let chunks = 0, storedBytes = 0;
      for await (const { entry } of allEntries(this.#ctx.db)) { chunks++; storedBytes += entry.length; }
      const { packSizes } = await import('./verify.ts');
      const sizes = await packSizes(this.#storage);
      const packBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
      return {
        restorePoints, vms: vms.size, chunks, storedBytes, packBytes, packs: sizes.size, logicalBytes, nonZeroBytes,
        dedupRatio: packBytes ? nonZeroBytes / packBytes : 0, encrypted: this.encrypted, chunkSize: this.chunkSize,
      };
    });
  }

  /** Aborts running backups, stops the workers and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const w of [...this.#ctx.inflight]) await (w as RestorePointWriter).abort();
    this.#closed = true;
    for (const r of [...this.#ctx.readers]) await (r as DiskImage).close();
    await this.#packs.close();
    await this.#pool?.close();
    await this.#ctx.db.close();
    await restrictIndex(this.#storage.pathOf('index'));
    await this.#lock?.release();
    await this.#storage.close();
  }
}
