// Rebuilding the LevelDB index from the storage (like restic's `repair index`): chunk entries from the
// record headers of every pack, restore points from their `points/` objects (points.ts). The previous
// index is moved aside (index.damaged-<time>, or index.replaced-<time> when it was readable), never
// deleted. Before that, a readable previous index exports the objects its points lack (repositories
// made before point objects become rebuildable); an unreadable one is copied and run through LevelDB's
// repairer, and the points it still holds whole, with all their chunks in packs, are recovered too.
// What cannot be recovered is named.
import { DIGEST_LEN, PACKS_PREFIX, RECORD_HEADER, RECORD_MAGIC, isZeroDigest, packIdOf, packName, type ChunkEntry } from './format.ts';
import type { RepoKeys } from './crypto.ts';
import { decodePayload, maxPayloadLength } from './codec.ts';
import { readRecord } from './pack-reader.ts';
import { allEntries, entryOps, indexFileProblem, lookupMany, markOp, moveIndexAside, openDb, restrictIndex, salvageIndex, type DB } from './index.ts';
import { getRecord, recordOps, type RestorePoint } from './catalog.ts';
import { segmentOps } from './digest-list.ts';
import { POINTS_COMPLETE, digestsOf, pointsComplete, recordIds, writePoint } from './points.ts';
import { decodePoint, markPointsComplete, pointName, pointObjects } from './point-object.ts';
import { Bloom } from './gc.ts';
import type { LocalStorage } from './storage/local.ts';
import { isExists } from './storage/storage.ts';
import type { Logger } from 'pino';

export interface RebuildReport {
  /** The index found: readable by LevelDB, damaged, or missing. */
  previous: 'readable' | 'damaged' | 'missing';
  /** Where it was moved (kept; delete it once the repository checks out). */
  movedTo?: string;
  /** Point objects written from the previous index before rebuilding (points made before point objects). */
  exported: number;
  packs: number;
  chunks: number;
  /** Chunks found in more than one pack; the indexed copy is one that decodes and checks. */
  duplicates: number;
  /** Packs whose records could not all be read (the rest of such a pack is not indexed). */
  packProblems: { pack: string; offset: number; problem: string }[];
  /** Restore points in the rebuilt index. */
  restorePoints: string[];
  /** Of those, recovered from the damaged previous index (they had no object). */
  fromOldIndex: string[];
  /** Restore points that could not be recovered, and why (an id where it is known). */
  lost: { restorePoint?: string; problem: string }[];
  /**
   * Restore points the previous index held without their object although every point had one: deleted,
   * the deletion lost with the damage (or, rarely, a commit interrupted between its index batch and its object). Not brought back.
   */
  dropped: string[];
  /** Recovered restore points with chunks that no pack holds (marked damaged; `repo verify` names them). */
  incomplete: { restorePoint: string; missingChunks: number }[];
  /** Chunks in packs that no recovered restore point references (`repo gc` removes them). */
  unreferencedChunks: number;
}

export interface RebuildContext {
  dir: string;
  storage: LocalStorage;
  keys: RepoKeys | undefined;
  log: Logger;
}

/** Where unreadable point objects are moved (kept for inspection). */
const DAMAGED_POINTS = 'points.damaged/';

/** Largest plausible record: 16 MiB chunks (the chunk size limit), stored at most maxPayloadLength(). */
const MAX_RAW = 16 * 1024 * 1024;

/** The records of one pack, from their headers; stops at the first header that cannot be right. */
async function scanPack(storage: LocalStorage, pack: string, size: number, problems: RebuildReport['packProblems']): Promise<{ id: Buffer; entry: ChunkEntry }[]> {
  const out: { id: Buffer; entry: ChunkEntry }[] = [];
  const name = packName(pack);
  for (let off = 0; off < size;) {
    if (off + RECORD_HEADER > size) { problems.push({ pack, offset: off, problem: 'the pack ends inside a record header' }); break; }
    const h = await storage.readAt(name, off, RECORD_HEADER);
    const flags = h[4]!, rawLength = h.readUInt32BE(8), length = h.readUInt32BE(12);
    if (h.length < RECORD_HEADER || h.readUInt32BE(0) !== RECORD_MAGIC || flags > 3 || rawLength === 0 || rawLength > MAX_RAW || length > maxPayloadLength(rawLength)) {
      problems.push({ pack, offset: off, problem: 'bad record header' });
      break;
    }
    if (off + RECORD_HEADER + length > size) { problems.push({ pack, offset: off, problem: 'the pack is truncated inside a record' }); break; }
    out.push({ id: Buffer.from(h.subarray(16, 48)), entry: { pack, offset: off, length, rawLength, flags } });
    off += RECORD_HEADER + length;
  }
  return out;
}

/** Whether a stored copy of a chunk reads, decodes and has its id. */
async function copyChecks(storage: LocalStorage, keys: RepoKeys | undefined, id: Buffer, e: ChunkEntry): Promise<boolean> {
  try {
    const ab = new ArrayBuffer(RECORD_HEADER + e.length);
    await readRecord(storage, id, e, ab);
    decodePayload(Buffer.from(ab, RECORD_HEADER, e.length), e.flags, e.rawLength, id, true, keys ?? {});
    return true;
  } catch {
    return false;
  }
}

/** The non-zero chunk ids of digest lists, in batches of 4096. */
function* idBatches(digests: Buffer[]): Generator<Buffer[]> {
  for (const list of digests) {
    for (let o = 0; o < list.length; o += 4096 * DIGEST_LEN) {
      const ids: Buffer[] = [];
      const end = Math.min(list.length, o + 4096 * DIGEST_LEN);
      for (let k = o; k < end; k += DIGEST_LEN) if (!isZeroDigest(list, k)) ids.push(list.subarray(k, k + DIGEST_LEN));
      if (ids.length) yield ids;
    }
  }
}

/** Reads what the previous index holds (when LevelDB can open it) and exports the point objects it lacks. */
async function exportFromReadable(ctx: RebuildContext, path: string, objects: Set<string>, report: RebuildReport): Promise<boolean> {
  let db: DB | undefined;
  try {
    db = await openDb(path, false);
    const complete = await pointsComplete(db);
    for (const id of await recordIds(db)) {
      if (objects.has(id)) continue;
      if (complete) { report.dropped.push(id); continue; }
      const rp = await getRecord(db, ctx.keys, id);
      const digests = rp && await digestsOf(db, rp);
      if (!rp || !digests) throw new Error(`restore point ${id} is incomplete in the index`);
      await writePoint(ctx.storage, rp, digests, ctx.keys);
      objects.add(id);
      report.exported++;
    }
    return true;
  } catch (e) {
    ctx.log.info({ err: (e as Error).message }, 'the previous index cannot be read whole; salvaging what LevelDB can repair');
    return false;
  } finally {
    await db?.close().catch(() => {});
  }
}

export async function rebuildIndex(ctx: RebuildContext, onProgress?: (done: number, total: number) => void): Promise<RebuildReport> {
  const { storage, keys } = ctx;
  const path = storage.pathOf('index');
  const report: RebuildReport = {
    previous: 'missing', exported: 0, packs: 0, chunks: 0, duplicates: 0, packProblems: [], restorePoints: [], fromOldIndex: [],
    lost: [], dropped: [], incomplete: [], unreferencedChunks: 0,
  };
  const objects = await pointObjects(storage);

  // 1. The previous index: export from it while it reads, or salvage a repaired copy of it; then move it aside.
  let salvage: Awaited<ReturnType<typeof salvageIndex>>;
  const problem = await indexFileProblem(path);
  if (problem !== 'the index folder is missing') {
    const readable = !problem && await exportFromReadable(ctx, path, objects, report);
    report.previous = readable ? 'readable' : 'damaged';
    if (!readable) {
      salvage = await salvageIndex(path);
      if (!salvage) report.lost.push({ problem: 'nothing could be read from the damaged index: restore points it held without an object in points/ (made before point objects) cannot be recovered' });
    }
    report.movedTo = await moveIndexAside(path, readable ? 'replaced' : 'damaged');
  }

  const db = await openDb(path, true);
  try {
    // 2. Chunk entries from the pack record headers. A chunk in several packs (a damaged copy and the
    //    good one stored again, or copies of interrupted backups) gets the first copy that checks.
    const packs: { id: string; size: number }[] = [];
    for await (const o of storage.list(PACKS_PREFIX)) { const id = packIdOf(o.name); if (id) packs.push({ id, size: o.size }); }
    packs.sort((a, b) => (a.id < b.id ? -1 : 1));
    const total = packs.reduce((a, p) => a + p.size, 0);
    let done = 0;
    const dups = new Map<string, ChunkEntry[]>();
    for (const p of packs) {
      const records = await scanPack(storage, p.id, p.size, report.packProblems);
      const found = await lookupMany(db, records.map((r) => r.id));
      const seen = new Set<string>();
      const puts: { id: Buffer; entry: ChunkEntry }[] = [];
      records.forEach((r, i) => {
        const hex = r.id.toString('hex');
        if (found[i] || seen.has(hex)) { const l = dups.get(hex) ?? []; l.push(r.entry); dups.set(hex, l); } else { seen.add(hex); puts.push(r); }
      });
      if (puts.length) await db.batch(entryOps(puts));
      report.chunks += puts.length;
      report.packs++;
      done += p.size;
      onProgress?.(done, total);
    }
    report.duplicates = dups.size;
    for (const [hex, others] of dups) {
      const id = Buffer.from(hex, 'hex');
      const [cur] = await lookupMany(db, [id]);
      if (cur && await copyChecks(storage, keys, id, cur)) continue;
      let good: ChunkEntry | undefined;
      for (const e of others) if (await copyChecks(storage, keys, id, e)) { good = e; break; }
      if (good) await db.batch(entryOps([{ id, entry: good }]));
    }

    // 3. Restore points from their objects; then, without an object, whole ones from the damaged index.
    const bloom = new Bloom(report.chunks);
    const missingOf = async (digests: Buffer[], mark: boolean): Promise<number> => {
      let missing = 0;
      for (const ids of idBatches(digests)) {
        const found = await lookupMany(db, ids);
        const marks = [];
        for (let j = 0; j < ids.length; j++) {
          if (found[j]) continue;
          missing++;
          if (mark) marks.push(markOp(Buffer.from(ids[j]!), { problem: 'referenced but in no pack (found by rebuild-index)' }));
        }
        if (marks.length) await db.batch(marks);
      }
      return missing;
    };
    const add = async (rp: RestorePoint, digests: Buffer[]): Promise<void> => {
      await db.batch([...rp.disks.flatMap((d, i) => segmentOps(rp.id, d.key, digests[i]!)), ...recordOps(rp, keys)]);
      for (const ids of idBatches(digests)) for (const id of ids) bloom.add(id);
      report.restorePoints.push(rp.id);
    };
    for (const id of [...objects].sort()) {
      let point: ReturnType<typeof decodePoint>;
      let raw: Buffer | undefined;
      try {
        raw = await storage.read(pointName(id));
        point = decodePoint(raw, id, keys);
      } catch (e) {
        // Kept under points.damaged/ (an object without a record would make every open report the index damaged).
        const aside = `${DAMAGED_POINTS}${id}`;
        if (raw) {
          await storage.writeOnce(aside, raw).catch((err) => { if (!isExists(err)) throw err; });
          await storage.delete(pointName(id));
        }
        report.lost.push({ restorePoint: id, problem: `its object ${pointName(id)} cannot be read (${(e as Error).message})${raw ? `; moved to ${aside}` : ''}` });
        continue;
      }
      await add(point.rp, point.digests);
      const missing = await missingOf(point.digests, true);
      if (missing) report.incomplete.push({ restorePoint: id, missingChunks: missing });
    }
    if (salvage) {
      try {
        const complete = await pointsComplete(salvage.db);
        for (const id of [...await recordIds(salvage.db)].sort()) {
          if (objects.has(id)) continue;
          if (complete) { report.dropped.push(id); continue; }
          let rp: RestorePoint | undefined;
          let digests: Buffer[] | undefined;
          try {
            rp = await getRecord(salvage.db, keys, id);
            digests = rp && await digestsOf(salvage.db, rp);
          } catch { /* reported below */ }
          if (!rp) { report.lost.push({ restorePoint: id, problem: 'its record in the damaged index cannot be read' }); continue; }
          if (!digests) { report.lost.push({ restorePoint: id, problem: 'its digest lists are incomplete in the damaged index' }); continue; }
          const missing = await missingOf(digests, false);
          if (missing) { report.lost.push({ restorePoint: id, problem: `${missing} of its chunks are in no pack (deleted before the damage, or lost with it)` }); continue; }
          await add(rp, digests);
          await writePoint(storage, rp, digests, keys);
          report.fromOldIndex.push(id);
        }
      } catch (e) {
        report.lost.push({ problem: `reading the damaged index stopped: ${(e as Error).message}` });
      }
    }
    for await (const { id } of allEntries(db)) if (!bloom.has(id)) report.unreferencedChunks++;
    // One synced write makes all of the above durable (LevelDB syncs its log up to here).
    const now = Buffer.from(new Date().toISOString());
    await db.batch([{ type: 'put', key: POINTS_COMPLETE, value: now }, { type: 'put', key: Buffer.from('mrebuilt'), value: now }], { sync: true });
    await markPointsComplete(storage);
  } finally {
    await db.close();
    await restrictIndex(path);
    await salvage?.db.close().catch(() => {});
    await salvage?.drop();
  }
  report.restorePoints.sort();
  ctx.log.info({ previous: report.previous, movedTo: report.movedTo, restorePoints: report.restorePoints.length, lost: report.lost, incomplete: report.incomplete }, 'index rebuilt');
  return report;
}
