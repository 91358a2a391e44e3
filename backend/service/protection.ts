// "Protected", as admins read it: the VM has a good (success or warning) restore point or replica made
// within the protection window. Being in a scheduled job is a different fact, shown apart: a VM in a
// manual-only job without a point is not protected, a VM backed up a minute ago is.
//
// The window defaults to 26 hours (a daily job plus two hours of slack for a slow run) and is set with
// STILLPOINT_PROTECTION_WINDOW_HOURS (1 to 8760).
import type { Run } from '../model/job.ts';

export const DEFAULT_PROTECTION_WINDOW_HOURS = 26;

export function protectionWindowHours(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.STILLPOINT_PROTECTION_WINDOW_HOURS;
  if (!raw) return DEFAULT_PROTECTION_WINDOW_HOURS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 8760) {
    throw new Error(`STILLPOINT_PROTECTION_WINDOW_HOURS='${raw}' is not a number of hours from 1 to 8760: unset it (default ${DEFAULT_PROTECTION_WINDOW_HOURS}) or give e.g. 26.`);
  }
  return n;
}

export function isProtected(lastGoodAt: string | undefined, windowHours: number, now = Date.now()): boolean {
  return !!lastGoodAt && Date.parse(lastGoodAt) >= now - windowHours * 3_600_000;
}

/** Newest good replica per VM from the run history (replication runs that succeeded or warned). */
export function lastReplicas(runs: Run[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of runs) {
    if (r.kind !== 'replicate' && r.kind !== 'replication') continue;
    for (const v of r.vms) {
      if (v.status !== 'success' && v.status !== 'warning') continue;
      const at = r.endedAt ?? r.startedAt;
      if (!out.has(v.vmId) || out.get(v.vmId)! < at) out.set(v.vmId, at);
    }
  }
  return out;
}

/** Newest of two ISO times per VM. */
export function newest(...maps: Map<string, string>[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of maps) for (const [k, v] of m) if (!out.has(k) || out.get(k)! < v) out.set(k, v);
  return out;
}
