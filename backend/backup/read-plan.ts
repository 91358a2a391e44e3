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
  return { kind, ranges, bytes: ranges.reduce((n, r) => n + r.length, 0) };
}

/** Splits ranges into pieces of at most `pieceBytes` (a multiple of the chunk size) for parallel reads. */
export function pieces(ranges: DiskChangeExtent[], pieceBytes: number): DiskChangeExtent[] {
  const out: DiskChangeExtent[] = [];
  for (const r of ranges) {
    for (let o = 0; o < r.length; o += pieceBytes) out.push({ start: r.start + o, length: Math.min(pieceBytes, r.length - o) });
  }
  return out;
}
