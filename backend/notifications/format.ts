// Small text helpers for reports: HTML escaping, durations, run kinds and statuses in words.
import type { RunKind, RunStatus } from '../model/job.ts';

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c]!);
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const KIND_WORDS: Partial<Record<RunKind, string>> = {
  backup: 'Backup', replication: 'Replication', copy: 'Backup copy', verify: 'Verify', restore: 'Restore',
  failover: 'Failover', 'failover-test': 'Test failover', 'failover-planned': 'Planned failover', 'failover-undo': 'Undo failover', 'failover-permanent': 'Permanent failover', failback: 'Failback', 'failover-plan': 'Failover plan',
  'file-restore': 'File restore', replicate: 'Replication', retention: 'Retention', gc: 'Garbage collection', catalog: 'File catalog', 'ad-restore': 'AD object restore',
};

/** A run kind in words ("Backup", "File restore"); kinds added later read as their id with a capital. */
export function kindWord(k: RunKind): string {
  return KIND_WORDS[k] ?? k.charAt(0).toUpperCase() + k.slice(1).replace(/-/g, ' ');
}

export const STATUS_WORDS: Record<RunStatus, string> = {
  queued: 'Queued', running: 'Running', success: 'Success', warning: 'Warning', failed: 'Failed', cancelled: 'Cancelled',
};

export const STATUS_COLOURS: Record<RunStatus, string> = {
  queued: '#565656', running: '#0072a3', success: '#2f8400', warning: '#c25400', failed: '#c21d00', cancelled: '#565656',
};
