// The LevelDB index: chunk id -> location, plus the catalog and digest lists (see format.ts for keys).
// Lookups are batched (getMany) and the index is never loaded into memory as a whole.
// The LevelDB folder is local (opened by path, like LocalStorage's files): this module is the only
// code besides storage/local.ts that touches repository files with node:fs.
import { chmod, cp, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { Level } from 'level';
import { badKey, chunkKey, decodeEntry, encodeEntry, K_BAD, K_CHUNK, type ChunkEntry } from './format.ts';
import { DIR_MODE, FILE_MODE } from './storage/local.ts';

export type DB = Level<Buffer, Buffer>;

export async function openDb(path: string, createIfMissing: boolean): Promise<DB> {
  // LevelDB makes its folder 0755 and files 0644: the folder is made private first, the files after opening and closing.
  if (createIfMissing) await mkdir(path, { recursive: true, mode: DIR_MODE });
  const db = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing });
  await db.open();
  await restrictIndex(path);
  return db;
}

/** Makes the index folder 0700 and its files 0600 (LevelDB creates them 0644 as it goes). */
export async function restrictIndex(path: string): Promise<void> {
  await chmod(path, DIR_MODE).catch(() => {});
  const names = await readdir(path).catch(() => [] as string[]);
  await Promise.all(names.map((n) => chmod(`${path}/${n}`, FILE_MODE).catch(() => {})));
}

/** Batches individual lookups issued in the same turn of the event loop into one getMany. */
export class ChunkLookup {
  #db: DB;
  #queue: { id: Buffer; resolve: (e: ChunkEntry | undefined) => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;

  constructor(db: DB) { this.#db = db; }

  lookup(id: Buffer): Promise<ChunkEntry | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id, resolve, reject });
      if (!this.#scheduled) { this.#scheduled = true; setImmediate(() => this.#flush()); }
    });
  }

  async #flush(): Promise<void> {
    const q = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    try {
      const vals = await this.#db.getMany(q.map((x) => chunkKey(x.id)));
      q.forEach((x, i) => x.resolve(vals[i] ? decodeEntry(vals[i]!) : undefined));
    } catch (e) {
      for (const x of q) x.reject(e);
    }
  }
}

export async function lookupMany(db: DB, ids: Buffer[]): Promise<(ChunkEntry | undefined)[]> {
  const vals = await db.getMany(ids.map(chunkKey));
  return vals.map((v) => (v ? decodeEntry(v) : undefined));
}

export function entryOps(chunks: { id: Buffer; entry: ChunkEntry }[]): { type: 'put'; key: Buffer; value: Buffer }[] {
  return chunks.map((c) => ({ type: 'put' as const, key: chunkKey(c.id), value: encodeEntry(c.entry) }));
}

/** Iterates all chunk entries in id order. */
export async function* allEntries(db: DB): AsyncGenerator<{ id: Buffer; entry: ChunkEntry }> {
  for await (const [k, v] of db.iterator({ gte: Buffer.from([K_CHUNK]), lt: Buffer.from([K_CHUNK + 1]) })) {
    yield { id: k.subarray(1), entry: decodeEntry(v) };
  }
}

/** Ids (hex) of the chunks marked damaged by verify ('b' keys; few). */
export async function badMarkers(db: DB): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const k of db.keys({ gte: Buffer.from([K_BAD]), lt: Buffer.from([K_BAD + 1]) })) out.add(k.toString('hex', 1));
  return out;
}

export function markOp(id: Buffer, what: { problem: string; pack?: string }): { type: 'put'; key: Buffer; value: Buffer } {
  return { type: 'put', key: badKey(id), value: Buffer.from(JSON.stringify({ ...what, markedAt: new Date().toISOString() })) };
}

export function unmarkOp(id: Buffer): { type: 'del'; key: Buffer } {
  return { type: 'del', key: badKey(id) };
}

/** LevelDB's table magic (kTableMagicNumber as fixed64 LE): the last 8 bytes of every whole *.ldb/*.sst file. */
const TABLE_MAGIC = Buffer.from('57fb808b247547db', 'hex');

/**
 * What is visibly wrong with the index folder before LevelDB opens it (undefined: nothing): the folder
 * or CURRENT missing, CURRENT not naming a manifest, a table file cut short (its footer gone). LevelDB
 * itself finds a damaged MANIFEST at open, but reads a table only when a key in it is needed, and a
 * truncated log silently loses its writes (reconcilePoints in points.ts notices the lost restore points).
 */
export async function indexFileProblem(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return 'the index folder is missing';
  if (!st.isDirectory()) return 'index is not a folder';
  const current = await readFile(`${path}/CURRENT`, 'utf8').catch(() => undefined);
  if (current === undefined) return 'its CURRENT file is missing';
  if (!/^MANIFEST-\d+\n$/.test(current)) return 'its CURRENT file is damaged';
  for (const n of (await readdir(path)).sort()) {
    if (!/\.(ldb|sst)$/.test(n)) continue;
    const fh = await open(`${path}/${n}`, 'r');
    try {
      const size = (await fh.stat()).size;
      const tail = Buffer.alloc(8);
      if (size < 48 || (await fh.read(tail, 0, 8, size - 8)).bytesRead !== 8 || !tail.equals(TABLE_MAGIC)) return `table file ${n} is truncated or damaged`;
    } finally { await fh.close(); }
  }
  return undefined;
}

/** Moves the index folder to `index.<tag>-<time>` next to it (never deleted); returns the new path, or undefined if there was none. */
export async function moveIndexAside(path: string, tag: string): Promise<string | undefined> {
  if (!(await stat(path).catch(() => undefined))) return undefined;
  const to = `${path}.${tag}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  await rename(path, to);
  return to;
}

/**
 * A copy of a damaged index run through LevelDB's repairer (what it can read from tables and logs),
 * opened read-only in spirit; the caller closes it and calls `drop`. Undefined if nothing could be salvaged.
 */
export async function salvageIndex(path: string): Promise<{ db: DB; drop: () => Promise<void> } | undefined> {
  const copy = `${path}.salvage-${process.pid}`;
  await rm(copy, { recursive: true, force: true });
  const drop = () => rm(copy, { recursive: true, force: true });
  try {
    await cp(path, copy, { recursive: true });
    await rm(`${copy}/LOCK`, { force: true });
    await (Level as unknown as { repair(location: string): Promise<void> }).repair(copy); // Level is classic-level's ClassicLevel in Node
    return { db: await openDb(copy, false), drop };
  } catch {
    await drop();
    return undefined;
  }
}
