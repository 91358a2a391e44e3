// Restore-point objects and the index: each committed restore point's record and digest lists are also
// kept as one storage object `points/<rpId>` (its format: point-object.ts), so the LevelDB index can be
// rebuilt from the storage alone (rebuild.ts) and `repo ls` can list without the index (point-list.ts).
//
// Written once after the commit's index batch (a crash in between leaves a record without its object,
// which the next open writes); deleted before the point's index entries; lock() replaces it first. So a
// healthy repository never has an object without a record: opening one that does means the index lost
// committed writes (a damaged or truncated LevelDB log), and says so.
import type { RepoKeys } from './crypto.ts';
import { getRecord, type RestorePoint } from './catalog.ts';
import { readComplete } from './digest-list.ts';
import type { DB } from './index.ts';
import type { Storage } from './storage/storage.ts';
import { encodePoint, markPointsComplete, pointName, pointObjects } from './point-object.ts';

/**
 * Index key set once every restore point has its object (at init, after the first open exported them, by
 * rebuild-index). Where it is set, a record without an object is a deletion the index lost, not a point
 * from before point objects: rebuild-index does not bring it back.
 */
export const POINTS_COMPLETE = Buffer.from('mpoints');

export async function pointsComplete(db: DB): Promise<boolean> {
  return (await db.get(POINTS_COMPLETE)) !== undefined;
}

/** Writes a point's object (create, or replace when `replace`: lock()). */
export async function writePoint(storage: Storage, rp: RestorePoint, digests: Buffer[], keys: RepoKeys | undefined, replace = false): Promise<void> {
  const data = encodePoint(rp, digests, keys);
  if (replace) await storage.replace(pointName(rp.id), data);
  else await storage.writeOnce(pointName(rp.id), data);
}

/** A committed point's digest lists from the index; undefined if a list is incomplete there. */
export async function digestsOf(db: DB, rp: RestorePoint): Promise<Buffer[] | undefined> {
  const out: Buffer[] = [];
  for (const d of rp.disks) {
    const b = await readComplete(db, rp.id, d.key, d.chunks);
    if (!b) return undefined;
    out.push(b);
  }
  return out;
}

/** Ids of the restore points in the index (keys only: nothing decrypted). */
export async function recordIds(db: DB): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const k of db.keys({ gte: Buffer.from('r'), lt: Buffer.from('s') })) out.add(k.toString('utf8', 1));
  return out;
}

/**
 * Compares the index's restore points with the point objects (at open: one listing, one key scan).
 * Writes the objects of records that have none (repositories made before point objects, or a crash
 * between a commit's index batch and its object). Returns the objects without a record: the index
 * lost them (the caller reports the index as damaged). `write: false` (a read-only open) only compares.
 */
export async function reconcilePoints(storage: Storage, db: DB, keys: RepoKeys | undefined, opts: { write?: boolean } = {}): Promise<{ exported: string[]; orphans: string[]; incomplete: string[] }> {
  const objects = await pointObjects(storage);
  const records = await recordIds(db);
  const orphans = [...objects].filter((id) => !records.has(id)).sort();
  const exported: string[] = [];
  const incomplete: string[] = [];
  if (orphans.length || opts.write === false) return { exported, orphans, incomplete };
  for (const id of records) {
    if (objects.has(id)) continue;
    const rp = await getRecord(db, keys, id);
    const digests = rp && await digestsOf(db, rp);
    if (!rp || !digests) { incomplete.push(id); continue; }
    await writePoint(storage, rp, digests, keys);
    exported.push(id);
  }
  if (!incomplete.length) {
    if (!(await pointsComplete(db))) await db.put(POINTS_COMPLETE, Buffer.from(new Date().toISOString()), { sync: true });
    await markPointsComplete(storage); // also for repositories whose index was marked before the marker existed
  }
  return { exported, orphans, incomplete };
}
