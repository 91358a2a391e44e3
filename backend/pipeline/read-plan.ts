// Which byte ranges of a disk a backup reads: the changed areas since the parent restore point's
// changeId (incremental), the allocated areas (first backup with CBT), or the whole disk (no CBT).
// Ranges are widened to repository chunk boundaries, because the repository stores whole chunks.
import type { DiskChangeExtent } from '../vsphere/index.ts';

export type PlanKind = 'incremental' | 'allocated' | 'full';

export interface ReadPlan {
  kind: PlanKind;
  /** Sorted, disjoint, chunk-aligned [start, start+length) ranges. */
  ranges: DiskChangeExtent[];
  bytes: number;
  /** Incremental plans: the changed areas as vSphere reported them (sorted, merged, not aligned). */
  areas?: DiskChangeExtent[];
}

export function alignToChunks(areas: DiskChangeExtent[], chunkSize: number, capacity: number): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  const sorted = [...areas].filter((a) => a.length > 0).sort((a, b) => a.start - b.start);
  for (const a of sorted) {
    const start = Math.floor(a.start / chunkSize) * chunkSize;
    const end = Math.min(capacity, Math.ceil((a.start + a.length) / chunkSize) * chunkSize);
    if (start >= end) continue;
    const last = out[out.length - 1];
    if (last && start <= last.start + last.length) last.length = Math.max(last.length, end - last.start);
    else out.push({ start, length: end - start });
  }
  return out;
}

export function plan(kind: PlanKind, areas: DiskChangeExtent[] | undefined, chunkSize: number, capacity: number): ReadPlan {
  const ranges = kind === 'full' || !areas ? (capacity > 0 ? [{ start: 0, length: capacity }] : []) : alignToChunks(areas, chunkSize, capacity);
  const p: ReadPlan = { kind, ranges, bytes: ranges.reduce((n, r) => n + r.length, 0) };
  if (kind === 'incremental' && areas) p.areas = mergeAreas(areas, capacity);
  return p;
}

function mergeAreas(areas: DiskChangeExtent[], capacity: number): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  for (const a of [...areas].sort((x, y) => x.start - y.start)) {
    const end = Math.min(capacity, a.start + a.length);
    if (end <= a.start) continue;
    const last = out[out.length - 1];
    if (last && a.start <= last.start + last.length) last.length = Math.max(last.length, end - last.start);
    else out.push({ start: a.start, length: end - a.start });
  }
  return out;
}

export interface ChunkWork {
  /** Chunk-aligned range read whole from the datastore. */
  whole?: DiskChangeExtent;
  /** A chunk mostly unchanged: the parent's chunk with these areas (inside it) read from the datastore. */
  patch?: { chunk: DiskChangeExtent; areas: DiskChangeExtent[] };
}

/**
 * Splits an incremental plan into work items. Chunks changed for at least `wholeFraction` of their
 * size are read whole (consecutive ones in one GET of up to `pieceBytes`); the others are patched:
 * only their changed areas are read (areas closer than `gap` bytes are read together) and the rest
 * of the chunk comes from the parent restore point. Datastore reads then track the changed bytes.
 */
export function chunkWork(p: ReadPlan, chunkSize: number, capacity: number, pieceBytes: number, wholeFraction = 0.5, gap = 128 * 1024): ChunkWork[] {
  if (p.kind !== 'incremental' || !p.areas) return pieces(p.ranges, pieceBytes).map((whole) => ({ whole }));
  const perChunk = new Map<number, DiskChangeExtent[]>();
  for (const a of p.areas) {
    for (let pos = a.start; pos < a.start + a.length;) {
      const i = Math.floor(pos / chunkSize);
      const end = Math.min(a.start + a.length, (i + 1) * chunkSize);
      const list = perChunk.get(i) ?? perChunk.set(i, []).get(i)!;
      const last = list[list.length - 1];
      if (last && pos - (last.start + last.length) < gap) last.length = end - last.start;
      else list.push({ start: pos, length: end - pos });
      pos = end;
    }
  }
  const work: ChunkWork[] = [];
  let run: DiskChangeExtent | undefined;
  const flush = () => { if (run) work.push(...pieces([run], pieceBytes).map((whole) => ({ whole }))); run = undefined; };
  for (const i of [...perChunk.keys()].sort((a, b) => a - b)) {
    const chunk = { start: i * chunkSize, length: Math.min(chunkSize, capacity - i * chunkSize) };
    const areas = perChunk.get(i)!;
    const changed = areas.reduce((n, a) => n + a.length, 0);
    if (changed >= chunk.length * wholeFraction) {
      if (run && run.start + run.length === chunk.start) run.length += chunk.length;
      else { flush(); run = { ...chunk }; }
    } else {
      work.push({ patch: { chunk, areas } });
    }
  }
  flush();
  return work;
}

/** Splits ranges into pieces of at most `pieceBytes` (a multiple of the chunk size) for parallel reads. */
export function pieces(ranges: DiskChangeExtent[], pieceBytes: number): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  for (const r of ranges) {
    for (let o = 0; o < r.length; o += pieceBytes) out.push({ start: r.start + o, length: Math.min(pieceBytes, r.length - o) });
  }
  return out;
}
