// The restore point object `points/<rpId>`: one committed restore point's record and digest lists.
//
//   header  8 B   'SPRP', version u8 (1), flags u8 (1 = sealed), reserved u16
//   body          plain, or AES-256-GCM sealed (crypto.ts sealChunk, AAD 'stillpoint-point:' + rpId):
//                 record length u32 BE, record JSON (the RestorePoint), then each disk's digest list in
//                 rp.disks order (chunks × 32 B), then SHA-256 of everything before it in the body
//
// Kept apart from points.ts (which pairs the objects with the LevelDB index) so that reading objects
// loads no LevelDB: `stillpoint repo ls` lists from the objects alone (point-list.ts).
import { createHash } from 'node:crypto';
import { DIGEST_LEN } from './format.ts';
import { openChunk, sealChunk, type RepoKeys } from './crypto.ts';
import type { RestorePoint } from './catalog.ts';
import type { Storage } from './storage/storage.ts';

export const POINTS_PREFIX = 'points/';
/**
 * Storage object written once every committed restore point has its object (at init; by the first
 * writable open of an older repository, once it exported them; by rebuild-index). Where it exists, the
 * objects name every restore point, so listing needs no index. Beside points/, which holds only point objects.
 */
export const POINTS_COMPLETE_MARKER = 'points-complete';

export async function markPointsComplete(storage: Storage): Promise<void> {
  await storage.createIfAbsent(POINTS_COMPLETE_MARKER, Buffer.from(new Date().toISOString()));
}

export async function pointsCompleteMarked(storage: Storage): Promise<boolean> {
  return storage.read(POINTS_COMPLETE_MARKER).then(() => true, () => false);
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

/** Ids of the point objects in the storage. */
export async function pointObjects(storage: Storage): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const o of storage.list(POINTS_PREFIX)) {
    const id = pointIdOf(o.name);
    if (id) out.add(id);
  }
  return out;
}
