// Mark-and-sweep garbage collection. Mark: every digest of every committed restore point, plus what
// in-flight backups reference, goes into a Bloom filter (bounded memory; a false positive only keeps
// a dead chunk). Sweep (under the exclusive gate, so no backup decides "exists" meanwhile): index
// entries not marked are deleted. Then packs with no live chunk are deleted and packs with mostly
// dead bytes are repacked (live records copied to a new pack, re-indexed, old pack deleted).
import { DIGEST_LEN, K_BAD, RECORD_HEADER, chunkKey, isZeroDigest, packName } from './format.ts';
import { allEntries, entryOps } from './index.ts';
import { segments } from './digest-list.ts';
import { allRecords } from './catalog.ts';
import { PackWriter } from './pack-writer.ts';
import { packSizes } from './verify.ts';
import type { PackReader } from './pack-reader.ts';
import type { RepoContext } from './context.ts';

export interface GcReport {
  reclaimedBytes: number;
  deletedChunks: number;
  deletedPacks: number;
  repackedPacks: number;
  liveChunks: number;
  packBytesBefore: number;
  packBytesAfter: number;
}

/** A Bloom filter over chunk ids (also used by rebuild.ts to count unreferenced chunks). */
export class Bloom {
  bits: Uint32Array;
  nbits: number;
  constructor(entries: number) {
    this.nbits = Math.min(2 ** 31, Math.max(1 << 23, entries * 20));
    this.bits = new Uint32Array(Math.ceil(this.nbits / 32));
  }
  #pos(d: Buffer, off: number, k: number): number {
    const h1 = d.readUInt32LE(off), h2 = d.readUInt32LE(off + 4) | 1;
    return ((h1 + Math.imul(k, h2)) >>> 0) % this.nbits;
  }
  add(d: Buffer, off = 0): void { for (let k = 0; k < 7; k++) { const p = this.#pos(d, off, k); this.bits[p >>> 5] |= 1 << (p & 31); } }
  has(d: Buffer, off = 0): boolean {
    for (let k = 0; k < 7; k++) { const p = this.#pos(d, off, k); if (!(this.bits[p >>> 5] & (1 << (p & 31)))) return false; }
    return true;
  }
}

function markDigests(bloom: Bloom, digests: Buffer): void {
  for (let o = 0; o + DIGEST_LEN <= digests.length; o += DIGEST_LEN) if (!isZeroDigest(digests, o)) bloom.add(digests, o);
}

export async function gc(ctx: RepoContext, packs: PackReader, opts: { repackThreshold?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<GcReport> {
  const threshold = opts.repackThreshold ?? 0.25;
  let entries = 0;
  for await (const _ of ctx.db.keys({ gte: Buffer.from('c'), lt: Buffer.from('d') })) entries++;
  const bloom = new Bloom(entries);
  const marked = new Set<string>();
  const markRp = async (rpId: string, diskKeys: string[]): Promise<void> => {
    for (const k of diskKeys) for await (const s of segments(ctx.db, rpId, k)) markDigests(bloom, s.digests);
    marked.add(rpId);
  };
  let done = 0;
  for await (const rp of allRecords(ctx.db, ctx.keys)) {
    await markRp(rp.id, rp.disks.map((d) => d.key));
    opts.onProgress?.(++done, entries + 1);
  }

  const live = new Map<string, number>(); // pack -> live record bytes
  let deletedChunks = 0;
  let liveChunks = 0;
  const protectedPacks = new Set<string>();
  let sizes = new Map<string, number>();
  await ctx.gate.exclusive(async () => {
    // Only packs that exist now are candidates: packs created later belong to backups that started later.
    sizes = await packSizes(ctx.storage);
    for (const w of ctx.inflight) {
      for (const d of w.referencedDigests()) markDigests(bloom, d);
      for (const id of w.pendingIds()) bloom.add(id);
      for (const p of w.packs()) protectedPacks.add(p);
    }
    for await (const rp of allRecords(ctx.db, ctx.keys)) if (!marked.has(rp.id)) await markRp(rp.id, rp.disks.map((d) => d.key));
    let batch: { type: 'del'; key: Buffer }[] = [];
    for await (const { id, entry } of allEntries(ctx.db)) {
      if (bloom.has(id)) { liveChunks++; live.set(entry.pack, (live.get(entry.pack) ?? 0) + RECORD_HEADER + entry.length); }
      else {
        batch.push({ type: 'del', key: chunkKey(id) });
        deletedChunks++;
        if (batch.length >= 1024) { await ctx.db.batch(batch, { sync: true }); batch = []; }
      }
    }
    if (batch.length) await ctx.db.batch(batch, { sync: true });
    // Damage markers of chunks nothing references any more (a Bloom false positive keeps one: harmless).
    batch = [];
    for await (const k of ctx.db.keys({ gte: Buffer.from([K_BAD]), lt: Buffer.from([K_BAD + 1]) })) {
      const id = k.subarray(1);
      if (!bloom.has(id)) { batch.push({ type: 'del', key: Buffer.from(k) }); ctx.bad.delete(id.toString('hex')); }
    }
    if (batch.length) await ctx.db.batch(batch, { sync: true });
  });

  const before = [...sizes.values()].reduce((a, b) => a + b, 0);
  let deletedPacks = 0;
  let deletedBytes = 0;
  const repack = new Set<string>();
  // Open disk images read packs at the locations they resolved when they opened: leave those packs as they are.
  const readerPacks = new Set<string>();
  for (const r of ctx.readers) for (const p of r.packs()) readerPacks.add(p);
  for (const [pack, size] of sizes) {
    if (protectedPacks.has(pack) || [...ctx.inflight].some((w) => w.packs().has(pack)) || readerPacks.has(pack)) continue;
    const l = live.get(pack) ?? 0;
    if (l === 0) {
      await ctx.storage.delete(packName(pack)).catch(() => false);
      deletedPacks++;
      deletedBytes += size;
    } else if ((size - l) / size >= threshold) repack.add(pack);
  }

  let written = 0;
  if (repack.size) {
    const w = new PackWriter(ctx.storage, ctx.packSize, async (chunks) => { await ctx.db.batch(entryOps(chunks)); });
    for await (const { id, entry } of allEntries(ctx.db)) {
      if (!repack.has(entry.pack)) continue;
      const payload = Buffer.from(await packs.read(Buffer.from(id), entry));
      w.append(Buffer.from(id), entry.flags, entry.rawLength, payload);
      await w.whenBelow(16 * 1024 * 1024);
    }
    const last = await w.finish();
    await ctx.db.batch(entryOps(last), { sync: true });
    written = w.bytesWritten;
    for (const p of repack) { await ctx.storage.delete(packName(p)).catch(() => false); deletedBytes += sizes.get(p)!; }
  }
  const reclaimed = deletedBytes - written;
  ctx.log.info({ deletedChunks, deletedPacks, repacked: repack.size, reclaimed }, 'gc done');
  return { reclaimedBytes: reclaimed, deletedChunks, deletedPacks, repackedPacks: repack.size, liveChunks, packBytesBefore: before, packBytesAfter: before - reclaimed };
}
