// Recovery points: snapshots on the replica, each taken after its run's data is complete, named with
// the source's consistency and time; retention removes the oldest ones with consolidation checked.
import type { Consistency } from '../model/consistency.ts';
import type { MoRef, SnapshotNode, VSphere } from '../vsphere/index.ts';
import { say } from '../common/service-text.ts';

export const POINT_PREFIX = 'stillpoint ';
/** vSphere allows a snapshot depth of 31; a few stay free for a run's working snapshot and a test failover. */
export const MAX_POINTS = 28;

export interface RecoveryPoint { id: string; name: string; createdAt: string; consistency?: Consistency; takenAt?: string }

const pad = (n: number) => String(n).padStart(2, '0');

/** "stillpoint 2026-12-02 10:40 application-consistent" (UTC: the time the source's snapshot was taken). */
export function pointName(takenAt: Date, consistency: Consistency): string {
  const d = takenAt;
  return `${POINT_PREFIX}${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} ${consistency}-consistent`;
}

function flatten(nodes: SnapshotNode[]): SnapshotNode[] {
  const out: SnapshotNode[] = [];
  const stack = [...nodes];
  for (let guard = 0; stack.length && guard < 10_000; guard++) {
    const n = stack.pop()!;
    out.push(n);
    stack.push(...n.children);
  }
  return out;
}

function describe(n: SnapshotNode): RecoveryPoint {
  let meta: { consistency?: Consistency; takenAt?: string } = {};
  try { meta = JSON.parse(n.description) as typeof meta; } catch { /* a point described by hand */ }
  return {
    id: n.ref.value, name: n.name, createdAt: new Date(n.createTime).toISOString(),
    ...(meta.consistency ? { consistency: meta.consistency } : {}), ...(meta.takenAt ? { takenAt: meta.takenAt } : {}),
  };
}

/** The replica's recovery points, oldest first. */
export async function listPoints(vs: VSphere, replica: MoRef): Promise<(RecoveryPoint & { ref: MoRef })[]> {
  const unique = new Map(flatten(await vs.snapshots.list(replica)).map((n) => [n.ref.value, n]));
  const nodes = [...unique.values()].filter((n) => n.name.startsWith(POINT_PREFIX));
  return nodes.map((n) => ({ ...describe(n), ref: n.ref })).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

export async function createPoint(vs: VSphere, replica: MoRef, p: { takenAt: Date; consistency: Consistency; runId?: string; sourceName: string }): Promise<RecoveryPoint> {
  const snap = await vs.snapshots.create(replica, {
    name: pointName(p.takenAt, p.consistency),
    description: JSON.stringify({ source: p.sourceName, consistency: p.consistency, takenAt: p.takenAt.toISOString(), ...(p.runId ? { runId: p.runId } : {}) }),
    memory: false, quiesce: false,
  });
  return describe(snap.node);
}

/**
 * Removes the oldest points beyond `keep`; then checks that vSphere consolidated the disks (and asks it
 * to when it did not). Returns the removed points' names and warnings for what could not be done.
 */
export async function applyRetention(vs: VSphere, replica: MoRef, keep: number): Promise<{ removed: string[]; warnings: string[] }> {
  const points = await listPoints(vs, replica);
  const removed: string[] = [];
  const warnings: string[] = [];
  for (const p of points.slice(0, Math.max(0, points.length - keep))) {
    try {
      await vs.snapshots.remove(p.ref, { removeChildren: false, consolidate: true });
      removed.push(p.name);
    } catch (e) {
      warnings.push(say('warning.recoveryPointNotRemoved', { point: p.name, error: (e as Error).message }));
      break;
    }
  }
  if (removed.length) {
    try {
      if (await vs.snapshots.consolidateIfNeeded(replica)) warnings.push(say('warning.replicaConsolidated'));
    } catch (e) {
      warnings.push(say('warning.replicaConsolidationFailed', { error: (e as Error).message }));
    }
  }
  return { removed, warnings };
}
