// Restore-point objects: each committed restore point's record and digest lists, also kept as one storage
// object `points/<rpId>`, so the LevelDB index can be rebuilt from the storage alone (rebuild.ts).
//
//   header  8 B   'SPRP', version u8 (1), flags u8 (1 = sealed), reserved u16
//   body          plain, or AES-256-GCM sealed (crypto.ts sealChunk, AAD 'stillpoint-point:' + rpId):
//                 record length u32 BE, record JSON (the RestorePoint), then each disk's digest list in
//                 rp.disks order (chunks × 32 B), then SHA-256 of everything before it in the body
//
// Written once after the commit's index batch (a crash in between leaves a record without its object,
// which the next open writes); deleted before the point's index entries; lock() replaces it first. So a
// healthy repository never has an object without a record: opening one that does means the index lost
// committed writes (a damaged or truncated LevelDB log), and says so.
import { createHash } from 'node:crypto';
import { DIGEST_LEN } from './format.ts';
import { openChunk, sealChunk, type RepoKeys } from './crypto.ts';
import { getRecord, type RestorePoint } from './catalog.ts';
import { readComplete } from './digest-list.ts';
import type { DB } from './index.ts';
import type { Storage } from './storage/storage.ts';

export const POINTS_PREFIX = 'points/';
/**
 * Index key set once every restore point has its object (at init, after the first open exported them, by
 * rebuild-index). Where it is set, a record without an object is a deletion the index lost, not a point
 * from before point objects: rebuild-index does not bring it back.
 */
export const POINTS_COMPLETE = Buffer.from('mpoints');

export async function pointsComplete(db: DB): Promise<boolean> {
  return (await db.get(POINTS_COMPLETE)) !== undefined;
}
const MAGIC = Buffer.from('SPRP');
const VERSION = 1;
const SEALED = 1;

export function pointName(rpId: string): string { return `${POINTS_PREFIX}${rpId}`; }

/** The restore point id of a storage object name, or undefined if it is not a point object's. */
export function pointIdOf(name: string): string | undefined {
  const m = /^points\/(rp-[0-9A-Za-z-]+)$/.exec(name);
  return m?.[1];
}

const aad = (rpId: string): Buffer => Buffer.from(`stillpoint-point:${rpId}`);

export function encodePoint(rp: RestorePoint, digests: Buffer[], keys: RepoKeys | undefined): Buffer {
  if (digests.length !== rp.disks.length) throw new Error(`restore point ${rp.id}: ${digests.length} digest lists for ${rp.disks.length} disks`);
  rp.disks.forEach((d, i) => {
    if (digests[i]!.length !== d.chunks * DIGEST_LEN) throw new Error(`restore point ${rp.id} disk ${d.key}: digest list of ${digests[i]!.length} bytes for ${d.chunks} chunks`);
  });
  const rec = Buffer.from(JSON.stringify(rp));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(rec.length);
  const hash = createHash('sha256').update(len).update(rec);
  for (const d of digests) hash.update(d);
  const body = Buffer.concat([len, rec, ...digests, hash.digest()]);
  const head = Buffer.alloc(8);
  MAGIC.copy(head);
  head[4] = VERSION;
  head[5] = keys ? SEALED : 0;
  return Buffer.concat([head, keys ? sealChunk(body, keys.encKey, aad(rp.id)) : body]);
}

/** Decodes a point object; throws with a plain reason if it is damaged, of another point, or sealed without keys. */
export function decodePoint(buf: Buffer, rpId: string, keys: RepoKeys | undefined): { rp: RestorePoint; digests: Buffer[] } {
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error('not a restore point object');
  if (buf[4] !== VERSION) throw new Error(`restore point object version ${buf[4]} is not known`);
  let body = buf.subarray(8);
  if (buf[5]! & SEALED) {
    if (!keys) throw new Error('the object is encrypted and the repository key is not loaded');
    try { body = openChunk(body, keys.encKey, aad(rpId)); } catch { throw new Error('the object fails its authentication (damaged, or another point\'s)'); }
  }
  if (body.length < 4 + 32) throw new Error('the object is truncated');
  const end = body.length - 32;
  if (!createHash('sha256').update(body.subarray(0, end)).digest().equals(body.subarray(end))) throw new Error('the object fails its checksum (damaged or truncated)');
  const recLen = body.readUInt32BE(0);
  if (4 + recLen > end) throw new Error('the object is truncated');
  const rp = JSON.parse(body.toString('utf8', 4, 4 + recLen)) as RestorePoint;
  if (rp.id !== rpId) throw new Error(`the object holds restore point ${rp.id}`);
  const digests: Buffer[] = [];
  let off = 4 + recLen;
  for (const d of rp.disks) {
    const n = d.chunks * DIGEST_LEN;
    if (off + n > end) throw new Error(`the digest list of disk ${d.key} is truncated`);
    digests.push(body.subarray(off, off + n));
    off += n;
  }
  if (off !== end) throw new Error('the object has trailing bytes');
  return { rp, digests };
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

/** Ids of the point objects in the storage. */
export async function pointObjects(storage: Storage): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const o of storage.list(POINTS_PREFIX)) {
    const id = pointIdOf(o.name);
    if (id) out.add(id);
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
  if (!incomplete.length && !(await pointsComplete(db))) await db.put(POINTS_COMPLETE, Buffer.from(new Date().toISOString()), { sync: true });
  return { exported, orphans, incomplete };
}
