// The storage under a repository: named, immutable-once-written objects, in the spirit of restic's
// internal/backend and kopia's blob storage. The repository keeps everything it owns behind this
// interface (config.json, the lock, packs, restore point objects); only the LevelDB index is a local
// folder (rebuildable from the packs and the point objects, see README.md).
//
// Names are relative, '/'-separated, without '.' or '..' segments: "config.json", "lock",
// "packs/3f/3fa4…e1.pack". Objects are written whole and never modified in place, except through
// replace() (used for the lock's heartbeat), so an object store (S3, Azure Blob, GCS) can implement
// this interface. What only the local implementation does is marked "local".

/** Serializable: enough to open the same storage in another thread or process (see storageFor()). */
export type StorageLocation = { kind: 'local'; path: string };

export interface ObjectInfo {
  name: string;
  /** Bytes. */
  size: number;
}

/**
 * A piece of an object being streamed by writeOnce(): one buffer, or several written together (a pack
 * record's header and payload). The implementation is done with a piece's memory when it asks for the
 * next one (or when writeOnce settles), so callers may reuse pooled buffers then.
 */
export type Piece = Uint8Array | readonly Uint8Array[];

/**
 * Errors carry `code`: 'ENOENT' (no such object), 'EEXIST' (writeOnce on an existing name),
 * 'EINVAL' (bad name), or the underlying I/O error's code (ENOSPC, EACCES, …).
 */
export interface Storage {
  /** Where it is, for storageFor() in a worker or child process. */
  readonly location: StorageLocation;

  /** Size of an object, or undefined if there is none. */
  stat(name: string): Promise<ObjectInfo | undefined>;

  /** A whole object. ENOENT if missing. */
  read(name: string): Promise<Buffer>;

  /** `length` bytes from `offset` (fewer at the end of the object, none past it). ENOENT if missing. */
  readAt(name: string, offset: number, length: number): Promise<Buffer>;

  /**
   * Reads into `into` (up to its length) from `offset`; resolves with the bytes read (fewer at the end
   * of the object). The zero-copy form of readAt for pooled buffers. ENOENT if missing.
   */
  readInto(name: string, offset: number, into: Uint8Array): Promise<number>;

  /**
   * Creates an object that must not exist yet (EEXIST otherwise) and resolves once it is durable
   * (local: file and folder fsynced). `data` whole, or streamed as pieces: a pack is streamed record
   * by record while a backup runs and becomes durable when the stream ends. If the stream throws or a
   * write fails, nothing is left under the name and the promise rejects.
   *
   * Whole data appears atomically under its name. A streamed object is, *locally*, visible under its
   * name (partially) while it is written; an object store would upload it in parts and make it visible
   * when complete. Callers never read an object before writeOnce resolved, so both behave the same.
   */
  writeOnce(name: string, data: Uint8Array | AsyncIterable<Piece>): Promise<void>;

  /** writeOnce for lock-like objects: resolves false (and writes nothing) if the name exists. */
  createIfAbsent(name: string, data: Uint8Array): Promise<boolean>;

  /** Atomically replaces (or creates) a small object: readers see the old or the new content whole. */
  replace(name: string, data: Uint8Array): Promise<void>;

  /** Objects whose names start with `prefix` ("packs/"), in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Deletes an object; resolves false if there was none. */
  delete(name: string): Promise<boolean>;

  /** Room where the objects live (local: the file system's size and free bytes); undefined where a store has no limit it can tell. */
  space(): Promise<{ totalBytes: number; freeBytes: number } | undefined>;

  /** Releases cached handles; the storage stays usable (handles are reopened on demand). */
  close(): Promise<void>;
}

export class StorageError extends Error {
  code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

export function isNotFound(e: unknown): boolean { return (e as { code?: string } | null)?.code === 'ENOENT'; }
export function isExists(e: unknown): boolean { return (e as { code?: string } | null)?.code === 'EEXIST'; }

/** Checks an object name: relative, '/'-separated, no empty, '.' or '..' segments, no NUL or backslash. */
export function checkName(name: string): string {
  if (typeof name !== 'string' || !name || name.startsWith('/') || /[\0\\]/.test(name) ||
    name.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new StorageError('EINVAL', `bad storage object name ${JSON.stringify(name)}`);
  }
  return name;
}
