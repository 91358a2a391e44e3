// Which runs are behind a dashboard figure: runs of a kind, started in a window, with an outcome of a
// status. A run's outcomes are its VMs' (one per VM), or its own for runs without VMs (maintenance).
import type { Run, RunKind, RunStatus } from './job.ts';

export type CountedStatus = 'success' | 'warning' | 'failed' | 'cancelled';

export interface RunFilter { status?: CountedStatus; kind?: RunKind; since?: string; until?: string }

/** Outcomes a run adds to the "last 24 hours" figures: one per VM, or the run's own for runs without VMs. */
export function outcomes(r: Run): RunStatus[] {
  return r.vms.length ? r.vms.map((v) => v.status) : [r.status];
}

/** Whether a run is behind a figure: it started in the window, is of the kind, and has an outcome of the status. */
export function runMatches(r: Run, f: RunFilter): boolean {
  if (f.kind && r.kind !== f.kind) return false;
  if (f.since && r.startedAt < f.since) return false;
  if (f.until && r.startedAt >= f.until) return false;
  if (f.status && (r.status === 'running' || r.status === 'queued' || !outcomes(r).includes(f.status))) return false;
  return true;
}
