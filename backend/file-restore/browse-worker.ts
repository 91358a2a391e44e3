/**
 * The state of one open restore point, kept inside an isolated worker (isolation.ts): its disk images
 * (chunks read on demand from the repository), volumes, opened filesystems and recent listings.
 * Everything here reads guest-controlled bytes; the main thread reaches it only through
 * IsolatedWorker.call with a time bound per call. Nothing is written anywhere.
 */
import { availableParallelism } from 'node:os';
import picomatch from 'picomatch';
import { DiskImage, inlineFiller, threadDecoder, type DiskImageDescriptor } from '../repository/disk-image.ts';
import { openVolumes, type Volume } from '../volumes/volumes.ts';
import { openFileSystem, type FileSystem } from '../filesystems/filesystem.ts';
import { FsError, type FsEntry } from '../filesystems/types.ts';
import { Transfer } from './transfer.ts';
import { DOWNLOAD_BLOCK, MAX_READ_BLOCK, type BrowseVolume, type VolumeState, type EntryWithPath, type WalkBatch, type DirPage } from './types.ts';

export interface BrowseDisk { key: string; label: string; descriptor: DiskImageDescriptor }

const LISTING_CACHE = 64;
const MAX_CURSORS = 16;
const MAX_NAMES = 200_000;
/** Folders deeper than this are not walked (guests rarely go past 30; loops are caught before). */
const MAX_DEPTH = 256;

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });
const order = (a: FsEntry, b: FsEntry) => (a.type === 'dir') !== (b.type === 'dir') ? (a.type === 'dir' ? -1 : 1) : collator.compare(a.name, b.name);

interface Cursor { gen: AsyncGenerator<EntryWithPath>; match?: (e: EntryWithPath) => boolean; scanned: number; problems: { volumeId: string; message: string }[] }

function describeError(e: unknown): string {
  return e instanceof FsError ? `${e.message} (${e.code})` : (e as Error)?.message ?? String(e);
}

/** The factory IsolatedWorker calls once per worker. */
export async function openBrowseHandler(disks: BrowseDisk[], opts: { cacheBytes?: number } = {}): Promise<BrowseHandler> {
  // Chunks read ahead of a stream (fileStream, zips) are decoded and checked on threads of their own
  // (started by the first one), while this one maps the file's bytes: listings stay inline. One
  // core is left to the main thread and the client (2 threads at most).
  const first = disks[0]?.descriptor;
  const keys = first?.keys ? { encKey: Buffer.from(first.keys.encKey), idKey: Buffer.from(first.keys.idKey) } : undefined;
  const cores = availableParallelism();
  const dir = first?.storage.kind === 'local' ? first.storage.path : undefined;
  const streamDecoder = first ? threadDecoder(keys, first.chunkSize, Math.max(1, Math.min(2, cores - 1)), cores > 2 ? dir : undefined) : undefined;
  // A download's blocks (shared buffers, sessions.ts fileBlocks) are filled from the packs of a local
  // repository straight into them (DiskImageOptions.streamFill): on those threads where there are
  // cores to spare; on 2 cores by this thread, which has nothing else to do meanwhile: a thread cost
  // each session's first download ~0.35 CPU-s to start, and measured slower (bench/items, load ~3:
  // 2.0-2.1 server CPU-s per GiB inline vs 2.2-2.6 on a thread).
  const streamFill = dir === undefined ? undefined : streamDecoder?.fill ?? inlineFiller(dir, keys);
  // A compressed chunk is checked by its zstd frame checksum (an encrypted one by its GCM tag), as a
  // restore checks it; a raw one is always hashed. Hashing every decoded chunk again cost a cold
  // listing or path lookup a SHA-256 of each MiB it touched.
  const images = disks.map((d) => ({ ...d, image: DiskImage.fromDescriptor(d.descriptor, { cacheBytes: opts.cacheBytes ?? 64 << 20, verify: false, ...(streamDecoder ? { streamDecoder } : {}), ...(streamFill ? { streamFill } : {}) }) }));
  return new BrowseHandler(images);
}

export class BrowseHandler {
  #disks: (BrowseDisk & { image: DiskImage })[];
  #volumes: Promise<Volume[]> | undefined;
  #fs = new Map<string, Promise<FileSystem | undefined>>();
  #listings = new Map<string, FsEntry[]>();
  #cursors = new Map<number, Cursor>();
  #cursorSeq = 0;
  /** Names seen in listings and lookups: some readers' stat (ext4: an inode) cannot know an entry's name. */
  #names = new Map<string, string>();

  constructor(disks: (BrowseDisk & { image: DiskImage })[]) { this.#disks = disks; }

  #allVolumes(): Promise<Volume[]> {
    return this.#volumes ??= openVolumes(this.#disks.map((d) => ({ key: d.key, label: d.label, reader: { size: d.image.capacity, readAt: (o: number, n: number) => d.image.readAt(o, n), readInto: (o: number, out: Uint8Array) => d.image.readInto(o, out) } })));
  }

  async #volume(id: string): Promise<Volume> {
    const v = (await this.#allVolumes()).find((x) => x.id === id);
    if (!v) throw new FsError('ENOENT', `volume '${id}' is not on this restore point's disks; list them again`);
    return v;
  }

  async #fsOf(id: string): Promise<FileSystem> {
    let p = this.#fs.get(id);
    if (!p) {
      p = this.#volume(id).then((v) => (v.problem && !v.fsType ? undefined : openFileSystem(v.reader)));
      this.#fs.set(id, p);
      p.catch(() => this.#fs.delete(id));
    }
    const fs = await p;
    if (!fs) {
      const v = await this.#volume(id);
      throw new FsError('ENOTSUP', v.problem ?? `volume '${id}' holds no filesystem Stillpoint can read`);
    }
    return fs;
  }

  /** Disks → volumes, without opening filesystems (cheap: partition tables and signatures). */
  async layout(): Promise<BrowseVolume[]> {
    return (await this.#allVolumes()).map((v) => ({
      id: v.id, name: v.name, diskKey: v.diskKey, diskLabel: v.diskLabel, kind: v.kind,
      ...(v.partition ? { partition: v.partition.index, partitionType: v.partition.typeName ?? v.partition.name ?? v.partition.type } : {}),
      offset: v.start ?? 0, sizeBytes: v.size,
      ...(v.fsType ? { filesystem: v.fsType } : {}), ...(v.problem ? { problem: v.problem } : {}),
    }));
  }

  /** Opens a volume's filesystem: its label and what it says about its consistency. */
  async probe(volumeId: string): Promise<VolumeState> {
    const v = await this.#volume(volumeId);
    try {
      const fs = await this.#fsOf(volumeId);
      const [label, c] = await Promise.all([fs.label().catch(() => ''), fs.consistency().catch((e) => ({ clean: false, summary: `consistency unknown: ${describeError(e)}` }))]);
      return { filesystem: fs.type, ...(label ? { label } : {}), consistency: { clean: c.clean, summary: c.summary }, browsable: true };
    } catch (e) {
      return { ...(v.fsType ? { filesystem: v.fsType } : {}), problem: v.problem ?? `the ${v.fsType ?? ''} filesystem cannot be read: ${describeError(e)}`.replace('  ', ' '), browsable: false };
    }
  }

  async #list(volumeId: string, ref: string): Promise<FsEntry[]> {
    const key = `${volumeId}\0${ref}`;
    const hit = this.#listings.get(key);
    if (hit) { this.#listings.delete(key); this.#listings.set(key, hit); return hit; }
    const fs = await this.#fsOf(volumeId);
    const entries = (await fs.list(ref)).filter((e) => e.name !== '.' && e.name !== '..').sort(order);
    for (const e of entries) this.#remember(volumeId, e);
    this.#listings.set(key, entries);
    if (this.#listings.size > LISTING_CACHE) this.#listings.delete(this.#listings.keys().next().value!);
    return entries;
  }

  /** One page of a directory (the root without ref), directories first, then by name. */
  async list(volumeId: string, ref: string | undefined, offset: number, limit: number): Promise<DirPage> {
    const fs = await this.#fsOf(volumeId);
    const dir = ref === undefined ? await fs.root() : await fs.stat(ref);
    if (dir.type !== 'dir') throw new FsError('ENOTDIR', `'${dir.name}' is not a folder`);
    const all = await this.#list(volumeId, dir.ref);
    return { dir, entries: all.slice(offset, offset + limit), offset, total: all.length };
  }

  #remember(volumeId: string, e: FsEntry): void {
    if (!e.name) return;
    const key = `${volumeId}\0${e.ref}`;
    this.#names.delete(key);
    this.#names.set(key, e.name);
    if (this.#names.size > MAX_NAMES) this.#names.delete(this.#names.keys().next().value!);
  }

  async stat(volumeId: string, ref: string): Promise<FsEntry> {
    const e = await (await this.#fsOf(volumeId)).stat(ref);
    const name = this.#names.get(`${volumeId}\0${e.ref}`);
    // A root has no name ('' from the reader), even when a damaged entry elsewhere points at it.
    return name !== undefined && e.name !== '' && name !== e.name ? { ...e, name } : e;
  }

  /** An entry by its path on the volume ("Users/Public/readme.txt"; "" is the root). */
  async lookup(volumeId: string, path: string): Promise<FsEntry> {
    const fs = await this.#fsOf(volumeId);
    const clean = path.split('/').filter((s) => s && s !== '.').join('/');
    const e = clean ? await fs.lookup(clean) : await fs.root();
    this.#remember(volumeId, e);
    return e;
  }

  /** Up to MAX_READ_BLOCK bytes of a file or named stream; fewer at its end. */
  async read(volumeId: string, ref: string, offset: number, length: number, stream?: string): Promise<Uint8Array | Transfer<Uint8Array>> {
    const fs = await this.#fsOf(volumeId);
    const b = await fs.read(ref, offset, Math.min(length, MAX_READ_BLOCK), stream || undefined);
    // NTFS returns a buffer of its own for each read (never a cached one): move it, do not copy it.
    // Small ones may be slices of Node's shared pool and are copied.
    return fs.type === 'ntfs' && b.byteLength >= 64 << 10 && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
      ? new Transfer(b, [b.buffer as ArrayBuffer]) : b;
  }

  /**
   * Up to `buffer.byteLength` bytes of a file into a buffer of the main thread's (a download's pool,
   * sessions.ts): the count. The buffer is shared with the main thread, which reads it only once this
   * call answered (the disk image's filler puts whole chunks straight into it, sometimes from other threads): no new memory per
   * block, no copy of it between threads.
   */
  async readInto(volumeId: string, ref: string, offset: number, length: number, stream: string | undefined, buffer: SharedArrayBuffer): Promise<number> {
    const fs = await this.#fsOf(volumeId);
    const out = new Uint8Array(buffer, 0, Math.max(0, Math.min(length, buffer.byteLength, DOWNLOAD_BLOCK)));
    let got: number;
    if (fs.readInto) got = await fs.readInto(ref, offset, out, stream || undefined);
    else {
      const b = await fs.read(ref, offset, out.length, stream || undefined);
      out.set(b);
      got = b.length;
    }
    return got;
  }

  #cursor(gen: AsyncGenerator<EntryWithPath>, match: ((e: EntryWithPath) => boolean) | undefined, problems: Cursor['problems']): number {
    const id = ++this.#cursorSeq;
    this.#cursors.set(id, { gen, ...(match ? { match } : {}), scanned: 0, problems });
    while (this.#cursors.size > MAX_CURSORS) {
      const [old, c] = this.#cursors.entries().next().value!;
      this.#cursors.delete(old);
      void c.gen.return(undefined);
    }
    return id;
  }

  /**
   * Every entry under a folder, depth first, directories before their children. A folder that cannot
   * be listed, a folder reached again (a loop) or one deeper than MAX_DEPTH is reported in `problems`
   * and skipped: the rest of the tree is still walked.
   */
  async *#tree(fs: FileSystem, volumeId: string, top: FsEntry, prefix: string, problems: Cursor['problems']): AsyncGenerator<EntryWithPath> {
    const seen = new Set<string>([top.inode > 0 ? `i${top.inode}` : `r${top.ref}`]);
    const self = this;
    async function* rec(ref: string, path: string, depth: number): AsyncGenerator<EntryWithPath> {
      if (depth > MAX_DEPTH) { problems.push({ volumeId, message: `${path}: more than ${MAX_DEPTH} folders deep, not walked further` }); return; }
      let entries: FsEntry[];
      try { entries = await fs.list(ref); } catch (e) { problems.push({ volumeId, message: `${path || '/'}: cannot be read: ${describeError(e)}` }); return; }
      for (const e of entries) {
        if (e.name === '.' || e.name === '..') continue;
        self.#remember(volumeId, e);
        const p = path ? `${path}/${e.name}` : e.name;
        // Listed by its folder, but its own metadata is damaged: nothing to search in or to zip.
        if (e.error) { problems.push({ volumeId, message: `${p}: cannot be read: ${e.error}` }); continue; }
        yield { ...e, path: p, volumeId };
        if (e.type !== 'dir') continue;
        const key = e.inode > 0 ? `i${e.inode}` : `r${e.ref}`;
        if (seen.has(key)) { problems.push({ volumeId, message: `${p}: the folder appears again inside itself (a loop in the damaged filesystem), not followed` }); continue; }
        seen.add(key);
        yield* rec(e.ref, p, depth + 1);
      }
    }
    yield* rec(top.ref, prefix, 0);
  }

  /** Starts a walk under a folder (for zips): entries with their paths relative to it. */
  async walkStart(volumeId: string, ref: string): Promise<number> {
    const fs = await this.#fsOf(volumeId);
    const top = await this.stat(volumeId, ref);
    const problems: Cursor['problems'] = [];
    const self = this;
    const gen = (async function* () {
      if (top.type !== 'dir') { yield { ...top, path: top.name, volumeId }; return; }
      yield* self.#tree(fs, volumeId, top, '', problems);
    })();
    return this.#cursor(gen, undefined, problems);
  }

  /**
   * Starts a search by glob over the given volumes (every browsable one when empty). A pattern
   * without '/' matches names ("*.docx"), one with '/' whole paths ("Users/** /*.pst"); no case.
   */
  async searchStart(pattern: string, volumeIds: string[]): Promise<number> {
    const ids = volumeIds.length ? volumeIds : (await this.#allVolumes()).filter((v) => v.fsType).map((v) => v.id);
    const isMatch = picomatch(pattern, { nocase: true, dot: true, basename: !pattern.includes('/') });
    const problems: Cursor['problems'] = [];
    const self = this;
    const gen = (async function* () {
      for (const id of ids) {
        let fs: FileSystem;
        let root: FsEntry;
        try { fs = await self.#fsOf(id); root = await fs.root(); } catch (e) { problems.push({ volumeId: id, message: describeError(e) }); continue; }
        yield* self.#tree(fs, id, root, '', problems);
      }
    })();
    return this.#cursor(gen, (e) => isMatch(e.path), problems);
  }

  /** The next entries of a walk or search: at most `max`, for at most `budgetMs` (then fewer, done false). */
  async next(cursorId: number, max: number, budgetMs: number): Promise<WalkBatch> {
    const c = this.#cursors.get(cursorId);
    if (!c) throw new FsError('ENOENT', 'the search or walk expired; start it again');
    const until = Date.now() + budgetMs;
    const items: EntryWithPath[] = [];
    let done = false;
    while (items.length < max && Date.now() < until) {
      const r = await c.gen.next();
      if (r.done) { done = true; break; }
      c.scanned++;
      if (!c.match || c.match(r.value)) items.push(r.value);
    }
    const problems = c.problems.splice(0);
    if (done) this.#cursors.delete(cursorId);
    return { items, done, scanned: c.scanned, problems };
  }

  /** Ends a walk or search early. */
  async stop(cursorId: number): Promise<void> {
    const c = this.#cursors.get(cursorId);
    this.#cursors.delete(cursorId);
    await c?.gen.return(undefined);
  }
}
