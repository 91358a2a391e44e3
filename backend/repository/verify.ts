// Repository verification. Quick: every index entry points inside an existing pack, and every chunk a
// restore point references is in the index. Full: additionally re-reads every chunk and checks its id
// after decrypting and decompressing. The report names each damaged chunk and the restore points and
// disks it affects, and marks each damaged chunk durably ('b' keys): the next backup that produces the
// same data stores a good copy, the index then points at it, and every restore point sharing the chunk
// reads it again (as Proxmox Backup Server does). A full verify also clears markers of chunks that now
// check out (or that nothing references any more).
import { DIGEST_LEN, PACKS_PREFIX, RECORD_HEADER, isZeroDigest, packIdOf, type ChunkEntry } from './format.ts';
import type { Storage } from './storage/storage.ts';
import { allEntries, badMarkers, lookupMany, markOp, unmarkOp } from './index.ts';
import { segments } from './digest-list.ts';
import { allRecords } from './catalog.ts';
import type { PackReader } from './pack-reader.ts';
import { BufferPool } from './worker-pool.ts';
import { FRAME_END_ROOM } from './zstd.ts';
import type { RepoContext } from './context.ts';

export type Progress = (done: number, total: number) => void;

export interface VerifyReport {
  ok: boolean;
  mode: 'quick' | 'full';
  chunks: number;
  bytesChecked: number;
  packs: number;
  restorePoints: number;
  /** Chunks that are unreadable, fail their check, or are referenced but missing from the index. */
  damaged: { id: string; pack?: string; problem: string }[];
  affected: { restorePoint: string; vm: { id: string; name: string }; createdAt: string; disks: { key: string; label: string; damagedChunks: number }[] }[];
  /** Damaged chunks now marked in the index: backups store them again (see `repair`). */
  marked: number;
  /** What happens next, when something is damaged: which backup repairs what. */
  repair?: string;
}

/** Pack id -> bytes, of every pack in the storage. */
async function packSizes(storage: Storage): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const o of storage.list(PACKS_PREFIX)) {
    const id = packIdOf(o.name);
    if (id) sizes.set(id, o.size);
  }
  return sizes;
}

export async function verify(ctx: RepoContext, packs: PackReader, opts: { quick?: boolean; onProgress?: Progress } = {}): Promise<VerifyReport> {
  const sizes = await packSizes(ctx.storage);
  const bad = new Map<string, { pack?: string; problem: string }>();
  let chunks = 0;
  let total = 0;
  for await (const { entry } of allEntries(ctx.db)) { chunks++; total += entry.length; }
  let done = 0;
  let bytes = 0;
  const window = ctx.pool.size * 4;
  const inflight = new Set<Promise<void>>();
  const payPool = new BufferPool(ctx.chunkSize + RECORD_HEADER + 1024, window + 1);
  const outPool = new BufferPool(ctx.chunkSize + FRAME_END_ROOM, window + 1);
  const check = async (id: Buffer, e: ChunkEntry): Promise<void> => {
    const payload = await payPool.acquire();
    try {
      await packs.readInto(id, e, payload);
    } catch (err) {
      payPool.release(payload);
      bad.set(id.toString('hex'), { pack: e.pack, problem: (err as Error).message.split('. Run')[0] });
      return;
    }
    const out = await outPool.acquire();
    const r = await ctx.pool.decode(payload, RECORD_HEADER, e.length, e.flags, e.rawLength, id, true, out);
    outPool.release(r.out);
    payPool.release(r.payload);
    if (r.error !== undefined) bad.set(id.toString('hex'), { pack: e.pack, problem: `chunk fails its check (${r.error})` });
    else bytes += e.length;
  };
  for await (const { id, entry } of allEntries(ctx.db)) {
    const size = sizes.get(entry.pack);
    if (size === undefined) bad.set(id.toString('hex'), { pack: entry.pack, problem: `pack ${entry.pack} is missing` });
    else if (entry.offset + RECORD_HEADER + entry.length > size) bad.set(id.toString('hex'), { pack: entry.pack, problem: `pack ${entry.pack} is truncated (record ends at ${entry.offset + RECORD_HEADER + entry.length}, pack has ${size} bytes)` });
    else if (!opts.quick) {
      const p: Promise<void> = check(Buffer.from(id), entry).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= window) await Promise.race(inflight);
    }
    done += entry.length;
    opts.onProgress?.(done, total);
  }
  await Promise.all(inflight);

  // Which restore points and disks reference damaged or missing chunks.
  const affected: VerifyReport['affected'] = [];
  let rps = 0;
  for await (const rp of allRecords(ctx.db, ctx.keys)) {
    rps++;
    const disks: VerifyReport['affected'][number]['disks'] = [];
    for (const d of rp.disks) {
      let n = 0;
      for await (const seg of segments(ctx.db, rp.id, d.key)) {
        const ids: Buffer[] = [];
        for (let o = 0; o < seg.digests.length; o += DIGEST_LEN) {
          if (isZeroDigest(seg.digests, o)) continue;
          const id = seg.digests.subarray(o, o + DIGEST_LEN);
          if (bad.has(id.toString('hex'))) n++;
          else ids.push(id);
        }
        const found = await lookupMany(ctx.db, ids);
        found.forEach((e, j) => {
          if (e) return;
          n++;
          bad.set(ids[j].toString('hex'), { problem: 'referenced but missing from the index' });
        });
      }
      if (n > 0) disks.push({ key: d.key, label: d.label, damagedChunks: n });
    }
    if (disks.length) affected.push({ restorePoint: rp.id, vm: { id: rp.vm.id, name: rp.vm.name }, createdAt: rp.createdAt, disks });
  }
  const damaged = [...bad].map(([id, v]) => ({ id, ...v }));

  // Mark what is damaged, so the next backup producing these chunks stores them again; a full verify
  // also unmarks chunks that check out now (re-stored meanwhile, or no longer referenced).
  const before = await badMarkers(ctx.db);
  const ops: ({ type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer })[] = [];
  for (const d of damaged) if (!before.has(d.id)) ops.push(markOp(Buffer.from(d.id, 'hex'), { problem: d.problem, ...(d.pack ? { pack: d.pack } : {}) }));
  if (!opts.quick) for (const id of before) if (!bad.has(id)) ops.push(unmarkOp(Buffer.from(id, 'hex')));
  if (ops.length) await ctx.db.batch(ops, { sync: true });
  for (const d of damaged) ctx.bad.add(d.id);
  if (!opts.quick) for (const id of before) if (!bad.has(id)) ctx.bad.delete(id);
  if (damaged.length) ctx.log.info({ damaged: damaged.length, affected: affected.map((a) => a.restorePoint) }, 'verify found damaged chunks and marked them');

  const report: VerifyReport = { ok: damaged.length === 0, mode: opts.quick ? 'quick' : 'full', chunks, bytesChecked: bytes, packs: sizes.size, restorePoints: rps, damaged, affected, marked: damaged.length };
  if (damaged.length) {
    report.repair = `${damaged.length === 1 ? 'The damaged chunk is' : `The ${damaged.length} damaged chunks are`} marked: the next backup that reads the same data (a full read ` +
      `of the disk, not only changed blocks) stores good copies, which repairs ${affected.length ? `the restore ${affected.length === 1 ? 'point' : 'points'} named above` : 'them'} and ` +
      'every other restore point sharing those chunks. Data the source no longer has cannot be stored again: restore ' +
      'those points from another copy of the repository, or delete them.';
  }
  return report;
}

export { packSizes };
