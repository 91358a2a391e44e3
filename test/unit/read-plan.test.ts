// What a backup reads from a disk (backend/pipeline/read-plan.ts), without a lab: CBT areas widened
// to whole repository chunks, the plan of each kind, and the work items (whole reads and patches)
// an incremental plan is split into. Every changed byte must be read; nothing outside the disk is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignToChunks, chunkWork, pieces, plan, type ChunkWork } from '../../backend/pipeline/read-plan.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const CS = MiB; // chunk size used throughout
const r = (start: number, length: number) => ({ start, length });

test('alignToChunks: no areas, empty and negative areas → nothing to read', () => {
  assert.deepEqual(alignToChunks([], CS, 8 * MiB), []);
  assert.deepEqual(alignToChunks([r(3 * MiB, 0), r(5 * MiB, -4)], CS, 8 * MiB), []);
});

test('alignToChunks: an area is widened to the chunks it touches', () => {
  assert.deepEqual(alignToChunks([r(3 * MiB + 5, 10)], CS, 8 * MiB), [r(3 * MiB, MiB)]);
  assert.deepEqual(alignToChunks([r(3 * MiB, MiB)], CS, 8 * MiB), [r(3 * MiB, MiB)], 'an aligned area stays as it is');
  // Crossing a chunk boundary by one byte on each side: both chunks.
  assert.deepEqual(alignToChunks([r(2 * MiB - 1, 2)], CS, 8 * MiB), [r(MiB, 2 * MiB)]);
  // Ending exactly at a boundary does not take the next chunk.
  assert.deepEqual(alignToChunks([r(MiB + 7, MiB - 7)], CS, 8 * MiB), [r(MiB, MiB)]);
});

test('alignToChunks: unsorted, overlapping, same-chunk and adjacent-chunk areas give sorted disjoint ranges', () => {
  const got = alignToChunks([
    r(6 * MiB + 100, 50), // chunk 6
    r(10, 10), r(500 * KiB, 10), // both in chunk 0
    r(MiB + 1, 1), // chunk 1: touches chunk 0's range → merged
    r(6 * MiB + 10, 5), // chunk 6 again
    r(4 * MiB, 2 * MiB), // chunks 4-5, adjacent to chunk 6 → merged
  ], CS, 8 * MiB);
  assert.deepEqual(got, [r(0, 2 * MiB), r(4 * MiB, 3 * MiB)]);
});

test('alignToChunks: a capacity that is not a chunk multiple ends the last range at the capacity', () => {
  const cap = 5 * MiB + 300 * KiB;
  assert.deepEqual(alignToChunks([r(5 * MiB + 10, 10)], CS, cap), [r(5 * MiB, 300 * KiB)]);
  assert.deepEqual(alignToChunks([r(4 * MiB + 10, MiB)], CS, cap), [r(4 * MiB, MiB + 300 * KiB)]);
  // An area wholly past the last chunk is not read.
  assert.deepEqual(alignToChunks([r(7 * MiB, 10)], CS, cap), []);
});

test('plan: full reads the whole disk; a disk of capacity 0 reads nothing', () => {
  const p = plan('full', undefined, CS, 5 * MiB + 1);
  assert.deepEqual(p, { kind: 'full', ranges: [r(0, 5 * MiB + 1)], bytes: 5 * MiB + 1 });
  assert.deepEqual(plan('full', [r(0, 10)], CS, 4 * MiB).ranges, [r(0, 4 * MiB)], 'full ignores areas');
  assert.deepEqual(plan('full', undefined, CS, 0), { kind: 'full', ranges: [], bytes: 0 });
});

test('plan: allocated reads the allocated areas chunk-aligned, or the whole disk when vSphere gave none', () => {
  const p = plan('allocated', [r(MiB + 5, 10), r(3 * MiB, 2 * MiB)], CS, 8 * MiB);
  assert.deepEqual(p.ranges, [r(MiB, MiB), r(3 * MiB, 2 * MiB)]);
  assert.equal(p.bytes, 3 * MiB);
  assert.equal(p.areas, undefined, 'only incremental plans keep the raw areas');
  assert.deepEqual(plan('allocated', undefined, CS, 8 * MiB).ranges, [r(0, 8 * MiB)]);
  assert.deepEqual(plan('allocated', [], CS, 8 * MiB), { kind: 'allocated', ranges: [], bytes: 0 }, 'an empty disk reads nothing');
});

test('plan: incremental keeps the changed areas merged and clipped to the disk, and reads their chunks', () => {
  const cap = 4 * MiB + 512 * KiB;
  const p = plan('incremental', [r(3 * MiB, 10), r(100, 50), r(120, 100), r(220, 30), r(4 * MiB + 500 * KiB, 100 * KiB)], CS, cap);
  assert.equal(p.kind, 'incremental');
  assert.deepEqual(p.areas, [r(100, 150), r(3 * MiB, 10), r(4 * MiB + 500 * KiB, 12 * KiB)]);
  assert.deepEqual(p.ranges, [r(0, MiB), r(3 * MiB, MiB + 512 * KiB)]);
  assert.equal(p.bytes, 2 * MiB + 512 * KiB);
  const none = plan('incremental', [], CS, cap);
  assert.deepEqual(none, { kind: 'incremental', ranges: [], bytes: 0, areas: [] }, 'nothing changed: nothing read');
});

test('pieces: ranges are cut into pieces of at most pieceBytes, in order', () => {
  assert.deepEqual(pieces([], 4 * MiB), []);
  assert.deepEqual(pieces([r(MiB, 2 * MiB)], 4 * MiB), [r(MiB, 2 * MiB)]);
  assert.deepEqual(pieces([r(0, 10 * MiB), r(20 * MiB, 4 * MiB)], 4 * MiB), [r(0, 4 * MiB), r(4 * MiB, 4 * MiB), r(8 * MiB, 2 * MiB), r(20 * MiB, 4 * MiB)]);
});

test('chunkWork: full and allocated plans are whole reads of their ranges, in pieces', () => {
  const p = plan('allocated', [r(0, 10), r(3 * MiB, 6 * MiB)], CS, 16 * MiB);
  assert.deepEqual(chunkWork(p, CS, 16 * MiB, 4 * MiB), [{ whole: r(0, MiB) }, { whole: r(3 * MiB, 4 * MiB) }, { whole: r(7 * MiB, 2 * MiB) }]);
  assert.deepEqual(chunkWork(plan('full', undefined, CS, 0), CS, 0, 4 * MiB), []);
});

test('chunkWork: a chunk changed a little is patched (only its areas read), one changed a lot is read whole', () => {
  const cap = 8 * MiB;
  const p = plan('incremental', [
    r(10, 4 * KiB), // chunk 0: 4 KiB changed → patch
    r(2 * MiB, 600 * KiB), // chunk 2: 600 KiB ≥ half → whole
    r(3 * MiB, 700 * KiB), // chunk 3: whole, right after chunk 2 → one read
    r(5 * MiB + 512 * KiB - 1, 2), // crosses nothing, 2 bytes → patch of chunk 5
  ], CS, cap);
  // (Work items are done in parallel; their order does not matter.)
  assert.deepEqual(chunkWork(p, CS, cap, 8 * MiB).sort(byStart), [
    { patch: { chunk: r(0, MiB), areas: [r(10, 4 * KiB)] } },
    { whole: r(2 * MiB, 2 * MiB) },
    { patch: { chunk: r(5 * MiB, MiB), areas: [r(5 * MiB + 512 * KiB - 1, 2)] } },
  ]);
});

test('chunkWork: the whole/patch threshold is a fraction of the chunk (of the last, shorter chunk too)', () => {
  const half = plan('incremental', [r(0, 512 * KiB)], CS, 4 * MiB);
  assert.deepEqual(chunkWork(half, CS, 4 * MiB, 8 * MiB), [{ whole: r(0, MiB) }], 'exactly half → whole');
  const under = plan('incremental', [r(0, 512 * KiB - 1)], CS, 4 * MiB);
  assert.ok(chunkWork(under, CS, 4 * MiB, 8 * MiB)[0]!.patch, 'just under half → patch');
  assert.deepEqual(chunkWork(under, CS, 4 * MiB, 8 * MiB, 0.25), [{ whole: r(0, MiB) }], 'wholeFraction is honoured');
  // Last chunk is 200 KiB long: 100 KiB changed is half of it.
  const cap = 3 * MiB + 200 * KiB;
  const last = plan('incremental', [r(3 * MiB, 100 * KiB)], CS, cap);
  assert.deepEqual(chunkWork(last, CS, cap, 8 * MiB), [{ whole: r(3 * MiB, 200 * KiB) }]);
  const lastSmall = plan('incremental', [r(3 * MiB + 50 * KiB, 10 * KiB)], CS, cap);
  assert.deepEqual(chunkWork(lastSmall, CS, cap, 8 * MiB), [{ patch: { chunk: r(3 * MiB, 200 * KiB), areas: [r(3 * MiB + 50 * KiB, 10 * KiB)] } }]);
});

test('chunkWork: areas closer than the gap are read together; an area crossing chunks is split per chunk', () => {
  const p = plan('incremental', [r(0, 4 * KiB), r(100 * KiB, 4 * KiB), r(600 * KiB, 4 * KiB)], CS, 4 * MiB);
  assert.deepEqual(chunkWork(p, CS, 4 * MiB, 8 * MiB), [{ patch: { chunk: r(0, MiB), areas: [r(0, 104 * KiB), r(600 * KiB, 4 * KiB)] } }]);
  assert.deepEqual(chunkWork(p, CS, 4 * MiB, 8 * MiB, 0.5, 0), [{ patch: { chunk: r(0, MiB), areas: [r(0, 4 * KiB), r(100 * KiB, 4 * KiB), r(600 * KiB, 4 * KiB)] } }], 'gap 0: each area alone');
  const crossing = plan('incremental', [r(2 * MiB - 8 * KiB, 16 * KiB)], CS, 4 * MiB);
  assert.deepEqual(chunkWork(crossing, CS, 4 * MiB, 8 * MiB).sort(byStart), [
    { patch: { chunk: r(MiB, MiB), areas: [r(2 * MiB - 8 * KiB, 8 * KiB)] } },
    { patch: { chunk: r(2 * MiB, MiB), areas: [r(2 * MiB, 8 * KiB)] } },
  ]);
});

test('chunkWork: consecutive whole chunks are read in pieces of at most pieceBytes', () => {
  const p = plan('incremental', [r(0, 10 * MiB)], CS, 16 * MiB);
  assert.deepEqual(chunkWork(p, CS, 16 * MiB, 4 * MiB), [{ whole: r(0, 4 * MiB) }, { whole: r(4 * MiB, 4 * MiB) }, { whole: r(8 * MiB, 2 * MiB) }]);
});

test('chunkWork on random incremental plans: every changed byte is read, only inside the disk, each chunk once', () => {
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let trial = 0; trial < 300; trial++) {
    const cs = [64 * KiB, MiB, 4 * MiB][trial % 3]!;
    const cap = (1 + rnd(20)) * cs + (trial % 2 ? rnd(cs) : 0);
    const areas = Array.from({ length: rnd(12) }, () => { const s = rnd(cap); return r(s, 1 + rnd(Math.min(cap - s, 3 * cs))); });
    const p = plan('incremental', areas, cs, cap);
    const pieceBytes = cs * (1 + rnd(4));
    const work = chunkWork(p, cs, cap, pieceBytes);
    const read: { start: number; length: number }[] = [];
    const chunksSeen = new Set<number>();
    for (const w of work) {
      if (w.whole) {
        assert.equal(w.whole.start % cs, 0, 'whole reads start on a chunk');
        assert.ok(w.whole.length <= pieceBytes && w.whole.length > 0);
        assert.ok(w.whole.start + w.whole.length === cap || w.whole.length % cs === 0, 'whole reads are whole chunks');
        read.push(w.whole);
        for (let c = w.whole.start; c < w.whole.start + w.whole.length; c += cs) { assert.ok(!chunksSeen.has(c), `chunk ${c} twice`); chunksSeen.add(c); }
      } else {
        const { chunk, areas: pa } = w.patch!;
        assert.equal(chunk.start % cs, 0);
        assert.equal(chunk.length, Math.min(cs, cap - chunk.start));
        assert.ok(!chunksSeen.has(chunk.start), `chunk ${chunk.start} twice`);
        chunksSeen.add(chunk.start);
        for (const a of pa) assert.ok(a.start >= chunk.start && a.start + a.length <= chunk.start + chunk.length && a.length > 0, 'patch areas lie inside their chunk');
        read.push(...pa);
      }
    }
    for (const x of read) assert.ok(x.start >= 0 && x.start + x.length <= cap, 'nothing outside the disk');
    const union: { start: number; end: number }[] = [];
    for (const x of [...read].sort((a, b) => a.start - b.start)) {
      const last = union[union.length - 1];
      if (last && x.start <= last.end) last.end = Math.max(last.end, x.start + x.length);
      else union.push({ start: x.start, end: x.start + x.length });
    }
    for (const a of p.areas!) {
      assert.ok(union.some((u) => a.start >= u.start && a.start + a.length <= u.end), `trial ${trial}: changed area ${JSON.stringify(a)} is not read whole: ${JSON.stringify(union)}`);
    }
  }
});

function byStart(a: ChunkWork, b: ChunkWork): number {
  return (a.whole ?? a.patch!.chunk).start - (b.whole ?? b.patch!.chunk).start;
}
