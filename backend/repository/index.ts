// The LevelDB index: chunk id -> location, plus the catalog and digest lists (see format.ts for keys).
// Lookups are batched (getMany) and the index is never loaded into memory as a whole.
// The LevelDB folder is local (opened by path, like LocalStorage's files): this module is the only
// code besides storage/local.ts that touches repository files with node:fs.
import { chmod, mkdir, readdir } from 'node:fs/promises';
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

