// What the repository's parts share while it is open.
import type { Logger } from 'pino';
import type { DB, ChunkLookup } from './index.ts';
import type { RepoKeys } from './crypto.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { Gate } from './gate.ts';
import type { Storage } from './storage/storage.ts';

/** An in-flight backup, as GC sees it: everything it references must survive a concurrent GC. */
export interface InFlight {
  /** Digest buffers (32 B per chunk) of chunks the writer references: its disks so far and its parent's. */
  referencedDigests(): Buffer[];
  /** Packs it is writing or has written (not yet referenced by a committed restore point). */
  packs(): Set<string>;
  /** Chunk ids stored but not yet indexed (in its open pack). */
  pendingIds(): Iterable<Buffer>;
}

/** An open reader (a DiskImage) that resolved chunk locations up front: GC must not delete or repack its packs. */
export interface OpenReader {
  packs(): Iterable<string>;
}

export interface RepoContext {
  /** The repository's folder, for messages and logs (its files are reached through `storage`). */
  dir: string;
  storage: Storage;
  db: DB;
  keys: RepoKeys | undefined;
  chunkSize: number;
  packSize: number;
  pool: WorkerPool;
  gate: Gate;
  lookup: ChunkLookup;
  inflight: Set<InFlight>;
  /** Open disk images (see disk-image.ts). */
  readers: Set<OpenReader>;
  /**
   * Chunks verify found damaged or missing (hex ids; their 'b' markers, loaded at open). Backups treat
   * them as absent and store the data again; indexing the new copy removes the id.
   */
  bad: Set<string>;
  /** Packs being written by in-flight backups -> a flag set when another backup deduplicates against them. */
  packOwners: Map<string, { shared: boolean }>;
  log: Logger;
}
