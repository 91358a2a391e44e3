// Retention: which restore points to keep, per VM. keep-last N plus GFS buckets (daily, weekly,
// monthly, yearly; newest point of each of the N newest buckets, dates in UTC), like borg/restic.
// Locked restore points are always kept.
import { isLocked, type RestorePoint } from './catalog.ts';
import { hasRetention, type RetentionPolicy } from '../model/retention.ts';

export type { RetentionPolicy } from '../model/retention.ts';

export interface RetentionDecision {
  keep: { id: string; vmId: string; createdAt: string; reasons: string[] }[];
  remove: { id: string; vmId: string; createdAt: string }[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const y = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(y, 0, 1)) / 86400000 + 1) / 7);
  return `${y}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS: [keyof RetentionPolicy, string, (d: Date) => string][] = [
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
  ['keepYearly', 'yearly', (d) => d.toISOString().slice(0, 4)],
];

export function decideRetention(points: RestorePoint[], policy: RetentionPolicy, now = Date.now()): RetentionDecision {
  if (!hasRetention(policy)) throw new Error('a retention policy needs at least one keep rule (e.g. --keep-last 7)');
  const byVm = new Map<string, RestorePoint[]>();
  for (const p of points) (byVm.get(p.vm.id) ?? byVm.set(p.vm.id, []).get(p.vm.id)!).push(p);
  const out: RetentionDecision = { keep: [], remove: [] };
  for (const [vmId, list] of byVm) {
    list.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
    const reasons = new Map<string, string[]>();
    const add = (id: string, r: string): void => { (reasons.get(id) ?? reasons.set(id, []).get(id)!).push(r); };
    list.slice(0, policy.keepLast ?? 0).forEach((p, i) => add(p.id, `last ${i + 1}`));
    for (const [key, name, bucket] of BUCKETS) {
      const n = policy[key] ?? 0;
      const seen = new Set<string>();
      for (const p of list) {
        if (seen.size >= n) break;
        const b = bucket(new Date(p.createdAt));
        if (seen.has(b)) continue;
        seen.add(b);
        add(p.id, `${name} ${b}`);
      }
    }
    for (const p of list) if (isLocked(p, now)) add(p.id, `locked until ${p.lockedUntil}`);
    for (const p of list) {
      const r = reasons.get(p.id);
      if (r) out.keep.push({ id: p.id, vmId, createdAt: p.createdAt, reasons: r });
      else out.remove.push({ id: p.id, vmId, createdAt: p.createdAt });
    }
  }
  return out;
}
