// Per-disk digest lists: one 32-byte digest per chunk (all-zero = zero chunk), stored in LevelDB as
// binary segments of SEGMENT_DIGESTS digests (128 KiB), so a 1 TiB disk is 256 small values, never JSON.
import type { Level } from 'level';
import { DIGEST_LEN, SEGMENT_DIGESTS, chunkCount, segKey, segRange } from './format.ts';
import { lookupMany } from './index.ts';
import { ChunkTableBuilder, type ChunkTable } from './chunk-table.ts';

type DB = Level<Buffer, Buffer>;

export function segmentOps(rpId: string, diskKey: string, digests: Buffer): { type: 'put'; key: Buffer; value: Buffer }[] {
  const ops: { type: 'put'; key: Buffer; value: Buffer }[] = [];
  const segBytes = SEGMENT_DIGESTS * DIGEST_LEN;
  for (let s = 0, off = 0; off < digests.length; s++, off += segBytes) {
    ops.push({ type: 'put', key: segKey(rpId, diskKey, s), value: Buffer.from(digests.subarray(off, Math.min(off + segBytes, digests.length))) });
  }
  return ops;
}

/** Segments of one disk in order: { first chunk index, digests }. */
export async function* segments(db: DB, rpId: string, diskKey: string): AsyncGenerator<{ first: number; digests: Buffer }> {
  let first = 0;
  for await (const v of db.values({ ...segRange(rpId, diskKey) })) {
    yield { first, digests: v };
    first += v.length / DIGEST_LEN;
  }
}

export async function readSegment(db: DB, rpId: string, diskKey: string, seg: number): Promise<Buffer | undefined> {
  return db.get(segKey(rpId, diskKey, seg));
}

/** The whole list in one buffer (32 B per chunk: 32 MiB for 1 TiB at 1 MiB chunks). */
export async function readAll(db: DB, rpId: string, diskKey: string, count: number): Promise<Buffer> {
  const out = Buffer.alloc(count * DIGEST_LEN);
  for await (const s of segments(db, rpId, diskKey)) s.digests.copy(out, s.first * DIGEST_LEN);
  return out;
}

/** Deletes all segments of a restore point (all disks). */
export async function deleteOps(db: DB, rpId: string): Promise<{ type: 'del'; key: Buffer }[]> {
  const ops: { type: 'del'; key: Buffer }[] = [];
  for await (const k of db.keys({ ...segRange(rpId) })) ops.push({ type: 'del', key: k });
  return ops;
}

/** Resolves a disk's digest list to chunk locations once (see chunk-table.ts): one batched index lookup per segment. */
export async function buildChunkTable(db: DB, rpId: string, diskKey: string, capacity: number, chunkSize: number): Promise<ChunkTable> {
  const b = new ChunkTableBuilder(chunkCount(capacity, chunkSize));
  for await (const s of segments(db, rpId, diskKey)) await b.add(s.first, s.digests, (ids) => lookupMany(db, ids));
  return b.build();
}

/** The whole list, or undefined if its segments do not cover exactly `count` digests (a damaged index). */
export async function readComplete(db: DB, rpId: string, diskKey: string, count: number): Promise<Buffer | undefined> {
  const out = Buffer.alloc(count * DIGEST_LEN);
  const segBytes = SEGMENT_DIGESTS * DIGEST_LEN;
  let have = 0;
  let next = 0;
  for await (const [k, v] of db.iterator({ ...segRange(rpId, diskKey) })) {
    if (k.readUInt32BE(k.length - 4) !== next++ || have % segBytes !== 0 || have + v.length > out.length) return undefined;
    v.copy(out, have);
    have += v.length;
  }
  return have === out.length ? out : undefined;
}
