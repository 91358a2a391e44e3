/**
 * Browse sessions: one per open restore point, each with a long-lived isolated worker
 * (browse-worker.ts) that keeps the point's disks, volumes, filesystems and listings, so a second
 * listing costs one message. Sessions close after an idle time (never while a download streams).
 * The main thread keeps the disk images open too: while they are, GC leaves their packs alone.
 *
 *   const files = new FileRestore(() => repo, { timeoutMs: 20_000 });
 *   const s = await files.open('rp-…');
 *   const vols = await s.volumes();
 *   const page = await s.list(vols[0].id, undefined, 0, 200);
 *   s.fileStream(vols[0].id, ref).pipe(res);
 */
import { Readable } from 'node:stream';
import { IsolatedWorker, IsolationError, keepSpare, spareReady } from './isolation.ts';
import type { BrowseDisk } from './browse-worker.ts';
import { DOWNLOAD_BLOCK, MAX_READ_BLOCK, type BrowseVolume, type DirPage, type EntryWithPath, type VolumeInfo, type VolumeState, type WalkBatch } from './types.ts';
import type { FsEntry } from '../filesystems/types.ts';
import { FsError } from '../filesystems/types.ts';
import type { DiskImage, Repository, RestorePoint } from '../repository/repository.ts';

export interface FileRestoreOptions {
  /** Time bound of one call into a browse worker (default 20 s; env STILLPOINT_FILES_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Time bound for opening one volume's filesystem (default: timeoutMs). */
  openTimeoutMs?: number;
  /** Heap of a browse worker (default 512 MiB). */
  maxHeapMb?: number;
  /** A session idle this long is closed (default 10 min). */
  idleMs?: number;
  /** Open sessions at most; the least recently used idle one is closed first (default 8). */
  maxSessions?: number;
  /** Decoded-chunk cache of each disk in the worker (default 64 MiB). */
  cacheBytes?: number;
}

const BROWSE_WORKER = new URL('./browse-worker.ts', import.meta.url);
const BROWSE_FACTORY = 'openBrowseHandler';
const BLOCK = 1024 * 1024;
/** A download this long or longer streams in MAX_READ_BLOCK reads, this many in flight (read-ahead). */
const LARGE_FILE = 16 * BLOCK;
const READS_IN_FLIGHT = 3;
/**
 * Reads in flight of one download's fileBlocks() (DOWNLOAD_BLOCK each): one being filled, one waiting,
 * while the socket sends a third. Three measured slower (bench/items: 485-488 vs 488-532 MB/s median)
 * with a third more memory: the worker ran ahead of the socket through more memory than caches hold.
 */
const BLOCKS_IN_FLIGHT = 2;
/** Buffers of one download's fileBlocks(): those in flight plus one being written to the socket. */
const POOL_BUFFERS = BLOCKS_IN_FLIGHT + 1;

/** A block of a download; release() gives its buffer back once the bytes are written. */
export interface FileBlock { bytes: Buffer; release(): void }

/** A volume a probe could not open in time (or whose worker died) stays unbrowsable for the session. */
function probeFailure(v: BrowseVolume, e: unknown): VolumeState {
  const why = e instanceof IsolationError ? e.message : `${(e as Error)?.message ?? e}`;
  return { ...(v.filesystem ? { filesystem: v.filesystem } : {}), browsable: false, problem: `the filesystem could not be opened: ${why}` };
}

export class PointSession {
  readonly rpId: string;
  readonly point: RestorePoint;
  /** How long the first volumes() took (opening disks and filesystems), once known. */
  openedInMs: number | undefined;
  #worker: IsolatedWorker;
  #images: DiskImage[];
  #openTimeoutMs: number;
  #volumes: Promise<VolumeInfo[]> | undefined;
  #holds = 0;
  #closed = false;
  lastUsed = Date.now();

  constructor(point: RestorePoint, images: DiskImage[], opts: Required<Pick<FileRestoreOptions, 'timeoutMs' | 'openTimeoutMs' | 'maxHeapMb' | 'cacheBytes'>>) {
    this.rpId = point.id;
    this.#openTimeoutMs = opts.openTimeoutMs;
    this.point = point;
    this.#images = images;
    const disks: BrowseDisk[] = images.map((img, i) => ({ key: point.disks[i]!.key, label: point.disks[i]!.label, descriptor: img.descriptor() }));
    this.#worker = new IsolatedWorker(BROWSE_WORKER, BROWSE_FACTORY, [disks, { cacheBytes: opts.cacheBytes }], {
      timeoutMs: opts.timeoutMs, maxHeapMb: opts.maxHeapMb, label: `Reading restore point ${point.id}`, spare: true,
    });
  }

  get idle(): boolean { return this.#holds === 0 && !this.#worker.busy; }
  get closed(): boolean { return this.#closed; }
  /** Workers started for this session (more than one after a call ran over its time). */
  get workerStarts(): number { return this.#worker.starts; }

  #call<T>(method: string, args: unknown[] = [], timeoutMs?: number, transfer?: ArrayBuffer[]): Promise<T> {
    this.lastUsed = Date.now();
    return this.#worker.call<T>(method, args, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(transfer ? { transfer } : {}) });
  }

  /** Every volume of every disk, each filesystem opened (once per session) with its label and consistency. */
  volumes(): Promise<VolumeInfo[]> {
    this.lastUsed = Date.now();
    const p = this.#volumes ??= (async () => {
      const t0 = Date.now();
      const layout = await this.#call<BrowseVolume[]>('layout');
      const out: VolumeInfo[] = [];
      // One at a time: a volume that runs over its time restarts the worker, which must not fail the others.
      for (const v of layout) {
        if (v.problem && !v.filesystem) { out.push({ ...v, browsable: false }); continue; }
        const state = await this.#call<VolumeState>('probe', [v.id], this.#openTimeoutMs).catch((e) => probeFailure(v, e));
        out.push({ ...v, ...state, ...(state.problem ? { problem: state.problem } : {}) });
      }
      this.openedInMs = Date.now() - t0;
      return out;
    })();
    p.catch(() => { if (this.#volumes === p) this.#volumes = undefined; });
    return p;
  }

  /** The volume if it can be browsed; otherwise the reason, as an FsError. */
  async volume(volumeId: string): Promise<VolumeInfo> {
    const v = (await this.volumes()).find((x) => x.id === volumeId);
    if (!v) throw new FsError('ENOENT', `volume '${volumeId}' is not on restore point ${this.rpId}; list its volumes again`);
    if (!v.browsable) throw new FsError('ENOTSUP', `volume '${volumeId}' cannot be browsed: ${v.problem ?? 'no filesystem Stillpoint can read'}`);
    return v;
  }

  async list(volumeId: string, ref: string | undefined, offset = 0, limit = 1000): Promise<DirPage> {
    await this.volume(volumeId);
    return this.#call<DirPage>('list', [volumeId, ref, offset, limit]);
  }

  async stat(volumeId: string, ref: string): Promise<FsEntry> {
    await this.volume(volumeId);
    return this.#call<FsEntry>('stat', [volumeId, ref]);
  }

  async lookup(volumeId: string, path: string): Promise<FsEntry> {
    await this.volume(volumeId);
    return this.#call<FsEntry>('lookup', [volumeId, path]);
  }

  async read(volumeId: string, ref: string, offset: number, length: number, stream?: string): Promise<Buffer> {
    const u = await this.#call<Uint8Array>('read', [volumeId, ref, offset, length, stream]);
    return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  }

  /** Batches of a cursor (walk or search) until done, `limit` items, or the caller stops iterating. */
  async *#drain(start: () => Promise<number>, limit: number, budgetMs: number): AsyncGenerator<WalkBatch> {
    const id = await start();
    let left = limit;
    let finished = false;
    try {
      while (left > 0) {
        const b = await this.#call<WalkBatch>('next', [id, Math.min(left, 500), budgetMs]);
        if (b.items.length > left) b.items.length = left;
        left -= b.items.length;
        finished = b.done;
        yield b;
        if (b.done) return;
      }
    } finally {
      if (!finished) await this.#call('stop', [id]).catch(() => {});
    }
  }

  /** Files and folders under a folder (or the one file), with paths relative to it, depth first; folders that cannot be read go to onProblem. */
  async *walk(volumeId: string, ref: string, onProblem?: (p: { volumeId: string; message: string }) => void): AsyncGenerator<EntryWithPath> {
    await this.volume(volumeId);
    this.#holds++;
    try {
      for await (const b of this.#drain(() => this.#call<number>('walkStart', [volumeId, ref]), Number.MAX_SAFE_INTEGER, 2000)) {
        for (const p of b.problems) onProblem?.(p);
        yield* b.items;
      }
    } finally { this.#holds--; this.lastUsed = Date.now(); }
  }

  /** Entries whose name (or path, for a pattern with '/') matches the glob, in batches, up to `limit`. */
  async *search(pattern: string, volumeIds: string[], limit: number, budgetMs = 2000): AsyncGenerator<WalkBatch> {
    const vols = await this.volumes();
    for (const id of volumeIds) await this.volume(id);
    const ids = volumeIds.length ? volumeIds : vols.filter((v) => v.browsable).map((v) => v.id);
    this.#holds++;
    try {
      yield* this.#drain(() => this.#call<number>('searchStart', [pattern, ids]), limit, budgetMs);
    } finally { this.#holds--; this.lastUsed = Date.now(); }
  }

  /**
   * Bytes [start, end) of a file (or named stream) as a stream read block by block from the worker,
   * with backpressure: nothing is buffered whole.
   */
  fileStream(volumeId: string, ref: string, start: number, end: number, stream?: string): Readable {
    const self = this;
    this.#holds++;
    let released = false;
    const release = () => { if (!released) { released = true; self.#holds--; self.lastUsed = Date.now(); } };
    // Large files: bigger reads, several in flight, so the worker reads ahead while the consumer works.
    const large = end - start >= LARGE_FILE;
    const block = large ? MAX_READ_BLOCK : BLOCK;
    const depth = large ? READS_IN_FLIGHT : 1;
    const gen = async function* () {
      const inFlight: { at: number; want: number; p: Promise<Buffer> }[] = [];
      let next = start;
      const issue = () => {
        while (inFlight.length < depth && next < end) {
          const want = Math.min(block, end - next);
          const p = self.read(volumeId, ref, next, want, stream);
          p.catch(() => {}); // awaited below; one left behind (a stop, a short read) must not go unhandled
          inFlight.push({ at: next, want, p });
          next += want;
        }
      };
      try {
        let pos = start;
        while (pos < end) {
          issue();
          const r = inFlight.shift()!;
          const b = await r.p;
          if (b.length === 0) throw new FsError('ECORRUPT', `the file ended at byte ${pos} of ${end}: its data on the volume is shorter than its size says`);
          pos += b.length;
          // Fewer bytes than asked: the reads after it started too far; ask again from here.
          if (b.length < r.want) { inFlight.length = 0; next = pos; }
          yield b;
        }
      } finally { release(); }
    };
    const r = Readable.from(gen(), { objectMode: false, highWaterMark: 2 * BLOCK });
    r.once('close', release);
    return r;
  }

  /**
   * A file's bytes [start, end) as blocks of up to DOWNLOAD_BLOCK for a consumer that says when it is
   * done with each (a socket's write callback): the worker reads into a few SharedArrayBuffers
   * (never copied between threads; whole chunks are read from the packs straight into them),
   * BLOCKS_IN_FLIGHT at a time, so a 1 GiB download allocates 3 buffers, not 128, and leaves the main
   * thread no garbage to collect. A buffer is written only while the worker's read of it runs, so a
   * block's bytes stay until its release(). Stopping the iteration early (a client that left) is fine;
   * unreleased buffers are simply dropped.
   */
  async *fileBlocks(volumeId: string, ref: string, start: number, end: number, stream?: string): AsyncGenerator<FileBlock> {
    this.#holds++;
    const free: SharedArrayBuffer[] = [];
    let lent = 0;
    let wake: (() => void) | undefined;
    const signal = () => { const w = wake; wake = undefined; w?.(); };
    const take = () => free.pop() ?? (lent < POOL_BUFFERS ? (lent++, new SharedArrayBuffer(DOWNLOAD_BLOCK)) : undefined);
    const give = (b: SharedArrayBuffer) => { free.push(b); signal(); };
    // A read that failed (or timed out: its worker may still be writing) does not give its buffer back: the pool may make another.
    const lost = () => { lent--; signal(); };
    const inFlight: { want: number; buffer: SharedArrayBuffer; p: Promise<number> }[] = [];
    let next = start;
    const issue = () => {
      while (inFlight.length < BLOCKS_IN_FLIGHT && next < end) {
        const buf = take();
        if (!buf) break;
        const want = Math.min(DOWNLOAD_BLOCK, end - next);
        const p = this.#call<number>('readInto', [volumeId, ref, next, want, stream, buf]);
        p.catch(lost); // awaited below; one left behind (a stop, a short read) must not go unhandled
        inFlight.push({ want, buffer: buf, p });
        next += want;
      }
    };
    try {
      let pos = start;
      while (pos < end) {
        issue();
        if (inFlight.length === 0) { await new Promise<void>((r) => { wake = r; }); continue; }
        const r = inFlight.shift()!;
        const length = await r.p;
        const buffer = r.buffer;
        if (length === 0) throw new FsError('ECORRUPT', `the file ended at byte ${pos} of ${end}: its data on the volume is shorter than its size says`);
        pos += length;
        // Fewer bytes than asked: the reads after it started too far; ask again from here.
        if (length < r.want) {
          for (const f of inFlight) f.p.then(() => give(f.buffer), () => {});
          inFlight.length = 0;
          next = pos;
        }
        let released = false;
        yield { bytes: Buffer.from(buffer, 0, length), release: () => { if (!released) { released = true; give(buffer); } } };
      }
    } finally {
      this.#holds--;
      this.lastUsed = Date.now();
    }
  }

  /** Keeps the session open while something outside it (a zip) uses it. */
  hold(): () => void {
    this.#holds++;
    let done = false;
    return () => { if (!done) { done = true; this.#holds--; this.lastUsed = Date.now(); } };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.close();
    await Promise.allSettled(this.#images.map((i) => i.close()));
  }
}

export class FileRestore {
  #repo: () => Promise<Repository>;
  #opts: Required<FileRestoreOptions>;
  #sessions = new Map<string, Promise<PointSession>>();
  #timer: NodeJS.Timeout;
  /** Keeps a browse worker started (module loaded, no data) for the next session to adopt. */
  #releaseSpare: () => void;
  #closed = false;

  constructor(repo: () => Promise<Repository>, opts: FileRestoreOptions = {}) {
    this.#repo = repo;
    const envTimeout = Number(process.env.STILLPOINT_FILES_TIMEOUT_MS);
    this.#opts = {
      timeoutMs: opts.timeoutMs ?? (envTimeout > 0 ? envTimeout : 20_000), openTimeoutMs: 0, maxHeapMb: opts.maxHeapMb ?? 512,
      idleMs: opts.idleMs ?? 10 * 60_000, maxSessions: opts.maxSessions ?? 8, cacheBytes: opts.cacheBytes ?? 64 << 20,
    };
    this.#opts.openTimeoutMs = opts.openTimeoutMs ?? this.#opts.timeoutMs;
    this.#timer = setInterval(() => void this.closeIdle(), Math.min(30_000, Math.max(1000, this.#opts.idleMs / 4)));
    this.#timer.unref();
    this.#releaseSpare = keepSpare(BROWSE_WORKER, BROWSE_FACTORY, this.#opts.maxHeapMb);
  }

  get timeoutMs(): number { return this.#opts.timeoutMs; }

  /** Resolves when the spare browse worker has its code loaded: the next open() starts no new worker. */
  async ready(): Promise<void> {
    await spareReady(BROWSE_WORKER, BROWSE_FACTORY, this.#opts.maxHeapMb);
  }

  /** Closes the session of a restore point now, if one is open and idle (true if it was closed). */
  async closeSession(rpId: string): Promise<boolean> {
    const p = this.#sessions.get(rpId);
    const s = p && (await p.catch(() => undefined));
    if (!s || !s.idle || this.#sessions.get(rpId) !== p) return false;
    this.#sessions.delete(rpId);
    await s.close();
    return true;
  }

  /** The open session of a restore point, opened now if needed (its disks; filesystems on first use). */
  open(rpId: string): Promise<PointSession> {
    if (this.#closed) return Promise.reject(new Error('file restore is shut down'));
    const have = this.#sessions.get(rpId);
    if (have) return have.then((s) => { s.lastUsed = Date.now(); return s; });
    const p = (async () => {
      const repo = await this.#repo();
      const point = await repo.getRestorePoint(rpId);
      const images: DiskImage[] = [];
      try {
        for (const d of point.disks) images.push(await repo.openDiskImage(rpId, d.key, { cacheBytes: 1 << 20, readAhead: 0 }));
      } catch (e) {
        await Promise.allSettled(images.map((i) => i.close()));
        throw e;
      }
      return new PointSession(point, images, this.#opts);
    })();
    this.#sessions.set(rpId, p);
    p.then(() => this.closeIdle(), () => this.#sessions.delete(rpId));
    return p;
  }

  /** Open sessions (for health and tests). */
  async sessions(): Promise<PointSession[]> {
    return (await Promise.allSettled([...this.#sessions.values()])).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /** Closes sessions idle for longer than idleMs (and the oldest idle ones above maxSessions); runs on a timer too. */
  async closeIdle(): Promise<void> {
    const open = (await this.sessions()).filter((s) => !s.closed);
    const now = Date.now();
    const byAge = open.filter((s) => s.idle).sort((a, b) => a.lastUsed - b.lastUsed);
    let over = open.length - this.#opts.maxSessions;
    for (const s of byAge) {
      if (now - s.lastUsed >= this.#opts.idleMs || over > 0) {
        over--;
        this.#sessions.delete(s.rpId);
        await s.close();
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#releaseSpare();
    const all = await this.sessions();
    this.#sessions.clear();
    await Promise.allSettled(all.map((s) => s.close()));
  }
}
