// Storage in a local folder (or a mounted share): objects are files under the root, names are their
// relative paths. The only code of the repository that touches repository files by path, apart from
// opening the LevelDB index folder (pathOf('index')).
//
// - Whole-data writes go to a temporary file that is fsynced, then hard-linked to the name (fails
//   atomically if the name exists), so an object is never seen half written; the folder is fsynced.
// - Streamed writes (packs) go to the name itself, opened O_EXCL, and are fsynced with the folder at
//   the end; a failed or aborted stream removes the file.
// - New folders are fsynced with their parents, so a durable object is also reachable after a crash.
// - Read handles are kept open (LRU), positional reads run on libuv's pool.
// - Everything it creates is private to the owner: folders 0700, files 0600 (a repository holds
//   backups of whole VMs, and an encrypted one's wrapped key in config.json).
import { open, mkdir, readFile, readdir, rename, stat, statfs, unlink, link, chmod, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { StorageError, checkName, isExists, isNotFound, type ObjectInfo, type Piece, type Storage, type StorageLocation } from './storage.ts';

/** Temporary files are `<name>.tmp-<random>`; list() never shows them. */
const TMP = '.tmp-';

/** Modes of what the storage creates (before the umask, which can only take bits away). */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

function code(e: unknown): string | undefined { return (e as { code?: string } | null)?.code; }

async function writeAll(fh: FileHandle, piece: Piece, pos: number): Promise<number> {
  const parts = piece instanceof Uint8Array ? [piece] : piece;
  let total = 0;
  for (const p of parts) total += p.length;
  let done = parts.length === 1
    ? (await fh.write(parts[0]!, 0, total, pos)).bytesWritten
    : (await fh.writev(parts as Uint8Array[], pos)).bytesWritten;
  if (done < total) {
    // Short write (rare on regular files): finish it from one contiguous copy.
    const rest = Buffer.concat(parts as Uint8Array[]).subarray(done);
    for (let off = 0; off < rest.length;) off += (await fh.write(rest, off, rest.length - off, pos + done + off)).bytesWritten;
    done = total;
  }
  return done;
}

export class LocalStorage implements Storage {
  readonly root: string;
  readonly location: StorageLocation;
  #handles = new Map<string, Promise<FileHandle>>();
  #maxOpen: number;
  /** Folders known to exist durably. */
  #dirs = new Set<string>();

  constructor(root: string, opts: { maxOpen?: number } = {}) {
    this.root = root.length > 1 ? root.replace(/\/+$/, '') : root;
    this.location = { kind: 'local', path: this.root };
    this.#maxOpen = opts.maxOpen ?? 16;
  }

  /** Opens an existing folder: ENOENT if it does not exist, ENOTDIR if it is not a folder. */
  static async open(root: string, opts: { maxOpen?: number } = {}): Promise<LocalStorage> {
    const st = await stat(root).catch(() => undefined);
    if (!st) throw new StorageError('ENOENT', `${root} does not exist`);
    if (!st.isDirectory()) throw new StorageError('ENOTDIR', `${root} is not a folder`);
    return new LocalStorage(root, opts);
  }

  /** Creates the folder (with its parents, 0700) if needed and opens it. */
  static async create(root: string, opts: { maxOpen?: number } = {}): Promise<LocalStorage> {
    await mkdir(root, { recursive: true, mode: DIR_MODE });
    return LocalStorage.open(root, opts);
  }

  /**
   * Local only: makes the root folder and the given objects or folders private to the owner again
   * (0700 / 0600), for folders made before the storage created everything private, or given to
   * `repo init` already existing. Best effort: a mount point we may not chmod stays as it is.
   */
  async restrict(names: string[] = []): Promise<void> {
    await chmod(this.root, DIR_MODE).catch(() => {});
    for (const n of names) {
      const p = this.pathOf(n);
      const st = await stat(p).catch(() => undefined);
      if (st) await chmod(p, st.isDirectory() ? DIR_MODE : FILE_MODE).catch(() => {});
    }
  }

  /**
   * Local only: the file of an object (or a folder, e.g. the LevelDB index). For code that needs a
   * file descriptor of its own, e.g. workers doing positional reads of packs with readSync.
   */
  pathOf(name: string): string { return `${this.root}/${checkName(name)}`; }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.pathOf(name));
      return st.isFile() ? { name, size: st.size } : undefined;
    } catch (e) {
      if (isNotFound(e) || code(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  async read(name: string): Promise<Buffer> {
    return readFile(this.pathOf(name));
  }

  async readAt(name: string, offset: number, length: number): Promise<Buffer> {
    const b = Buffer.allocUnsafe(length);
    const n = await this.readInto(name, offset, b);
    return n === length ? b : b.subarray(0, n);
  }

  async readInto(name: string, offset: number, into: Uint8Array): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const fh = await this.#handle(name);
      try {
        let got = 0;
        while (got < into.length) {
          const { bytesRead } = await fh.read(into, got, into.length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got;
      } catch (e) {
        // The handle was closed under us (evicted from the cache, or the object deleted): once more.
        if (code(e) !== 'EBADF' || attempt > 0) throw e;
        this.#forget(name);
      }
    }
  }

  #handle(name: string): Promise<FileHandle> {
    let h = this.#handles.get(name);
    if (h) { this.#handles.delete(name); this.#handles.set(name, h); return h; }
    const opened = open(this.pathOf(name), 'r');
    h = opened;
    opened.catch(() => { if (this.#handles.get(name) === opened) this.#handles.delete(name); });
    this.#handles.set(name, opened);
    if (this.#handles.size > this.#maxOpen) {
      const [k, old] = this.#handles.entries().next().value!;
      this.#handles.delete(k);
      old.then((f) => f.close()).catch(() => {});
    }
    return h;
  }

  #forget(name: string): void {
    const h = this.#handles.get(name);
    this.#handles.delete(name);
    h?.then((f) => f.close()).catch(() => {});
  }

  async #syncDir(dir: string): Promise<void> {
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  }

  /** Makes sure `dir` exists; folders it creates are made durable in their parents. */
  async #ensureDir(dir: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (first) {
      for (let p = dir; ; p = dirname(p)) {
        await this.#syncDir(dirname(p));
        if (p === first || p === dirname(p)) break;
      }
    }
    this.#dirs.add(dir);
  }

  async #writeTemp(path: string, data: Uint8Array): Promise<string> {
    const tmp = `${path}${TMP}${randomBytes(6).toString('hex')}`;
    const fh = await open(tmp, 'wx', FILE_MODE);
    try {
      await writeAll(fh, data, 0);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    return tmp;
  }

  async writeOnce(name: string, data: Uint8Array | AsyncIterable<Piece>): Promise<void> {
    const path = this.pathOf(name);
    const dir = dirname(path);
    await this.#ensureDir(dir);
    if (data instanceof Uint8Array) {
      const tmp = await this.#writeTemp(path, data);
      try {
        await link(tmp, path);
      } catch (e) {
        if (isExists(e)) throw new StorageError('EEXIST', `${name} already exists in ${this.root}`, { cause: e });
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code(e) ?? '')) throw e;
        // No hard links here (some network and FUSE file systems): check, then rename (not atomic against a racing writer).
        if (await this.stat(name)) throw new StorageError('EEXIST', `${name} already exists in ${this.root}`);
        await rename(tmp, path);
      } finally {
        await unlink(tmp).catch(() => {});
      }
      await this.#syncDir(dir);
      return;
    }
    let fh: FileHandle;
    try { fh = await open(path, 'wx', FILE_MODE); } catch (e) {
      if (isExists(e)) throw new StorageError('EEXIST', `${name} already exists in ${this.root}`, { cause: e });
      throw e;
    }
    let ok = false;
    try {
      let pos = 0;
      for await (const piece of data) pos += await writeAll(fh, piece, pos);
      await fh.sync();
      ok = true;
    } finally {
      await fh.close().catch(() => {});
      if (!ok) await unlink(path).catch(() => {});
    }
    await this.#syncDir(dir);
  }

  async createIfAbsent(name: string, data: Uint8Array): Promise<boolean> {
    try {
      await this.writeOnce(name, data);
      return true;
    } catch (e) {
      if (isExists(e)) return false;
      throw e;
    }
  }

  async replace(name: string, data: Uint8Array): Promise<void> {
    const path = this.pathOf(name);
    await this.#ensureDir(dirname(path));
    const tmp = await this.#writeTemp(path, data);
    try { await rename(tmp, path); } catch (e) { await unlink(tmp).catch(() => {}); throw e; }
    this.#forget(name);
    await this.#syncDir(dirname(path));
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    const cut = prefix.lastIndexOf('/');
    const start = cut >= 0 ? prefix.slice(0, cut) : '';
    if (start) checkName(start);
    const walk = async function* (this: LocalStorage, rel: string): AsyncGenerator<ObjectInfo> {
      let entries;
      try { entries = await readdir(rel ? `${this.root}/${rel}` : this.root, { withFileTypes: true }); } catch (e) {
        if (isNotFound(e) || code(e) === 'ENOTDIR') return;
        throw e;
      }
      for (const e of entries) {
        const n = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (n.startsWith(prefix) || prefix.startsWith(`${n}/`)) yield* walk.call(this, n);
        } else if (e.isFile() && n.startsWith(prefix) && !e.name.includes(TMP)) {
          const st = await stat(`${this.root}/${n}`).catch(() => undefined);
          if (st) yield { name: n, size: st.size };
        }
      }
    };
    yield* walk.call(this, start);
  }

  async delete(name: string): Promise<boolean> {
    const path = this.pathOf(name);
    this.#forget(name);
    try {
      await unlink(path);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async space(): Promise<{ totalBytes: number; freeBytes: number }> {
    const fs = await statfs(this.pathOf('config.json').replace(/config\.json$/, ''));
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  async close(): Promise<void> {
    const hs = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(hs.map(async (h) => (await h).close()));
  }
}
