// Jobs and runs. A job is a saved, optionally scheduled piece of work of one kind (backup now;
// replication, copy and verify next) with a target; every execution of a job, of an on-demand
// operation (back up now, restore) or of a maintenance task (retention, GC, verify) is a run with
// its own history.
import type { AppAwareSettings } from './app-aware.ts';
import type { Consistency } from './consistency.ts';
import type { RetentionPolicy } from './retention.ts';

export type JobKind = 'backup' | 'replication' | 'copy' | 'verify';

/** Where a job's data goes. */
export type JobTarget =
  | { kind: 'repository'; repository: 'default' }
  | { kind: 'replica'; site: string; host: string; datastore: string; folder?: string; pool?: string; nameSuffix: string; networks: Record<string, string>; replication?: ReplicationSettings };

/** A replication job's own settings (backend/replication/jobs): where its data comes from, its RPO and its points. */
export interface ReplicationSettings {
  /** 'snapshot': a consistent snapshot of the running VM (default); 'backup': the newest restore point in the repository. */
  source: 'snapshot' | 'backup';
  /** Recovery point objective in minutes: the newest point older than this is an RPO warning, older than twice this an error. */
  rpoMinutes: number;
  /** Recovery points kept on each replica, 1..28. */
  keepPoints: number;
}

export interface Job {
  id: string;
  name: string;
  kind: JobKind;
  target: JobTarget;
  vmIds: string[];
  /** VM folders whose VMs (recursively) the job also covers, resolved at each run. */
  folderIds: string[];
  /** Cron expression; null = on demand only. */
  schedule: { cron: string | null };
  retention: RetentionPolicy;
  appAware: AppAwareSettings;
  /** VMs processed at once, 1..8. */
  concurrency: number;
  enabled: boolean;
  createdAt: string;
  nextRun?: string;
  lastRun?: { id: string; status: RunStatus; endedAt?: string };
  /** Who gets this job's run reports besides the global recipients (notifications/settings.ts). */
  notify?: { recipients: string[] };
}

export const DEFAULT_TARGET: JobTarget = Object.freeze({ kind: 'repository', repository: 'default' });

/** What a run does: a job kind, an on-demand restore, or a maintenance task on the repository. */
/** The failover operations' runs (backend/replication/failover/run-kinds.ts). */
export type FailoverRunKind = 'failover' | 'failover-test' | 'failover-planned' | 'failover-undo' | 'failover-permanent' | 'failback' | 'failover-plan';

export type RunKind = FailoverRunKind | JobKind | 'restore' | 'file-restore' | 'replicate' | 'retention' | 'gc' | 'catalog' | 'ad-restore' | 'exchange-restore' | 'exchange-send';

export type RunStatus = 'queued' | 'running' | 'success' | 'warning' | 'failed' | 'cancelled';

export interface RunItem {
  vmId: string;
  vmName: string;
  status: RunStatus;
  /** e.g. "pre-freeze script", "reading Hard disk 1", "removing snapshot". */
  phase: string;
  /** 0..100 */
  progress: number;
  bytesRead: number;
  bytesStored: number;
  durationMs: number;
  consistency?: Consistency;
  restorePointId?: string;
  message?: string;
  /** For a failed VM: what to do about it (the error's own hint, e.g. a vSphere fault's). */
  hint?: string;
  warnings: string[];
}

export interface Run {
  id: string;
  kind: RunKind;
  jobId?: string;
  jobName?: string;
  initiatedBy?: string;
  startedAt: string;
  endedAt?: string;
  status: RunStatus;
  /** 0..100 over all items. */
  progress: number;
  /** The VMs the run works on; empty for repository-wide maintenance. */
  vms: RunItem[];
  /** A summary line, for runs without VMs (maintenance) or a run-level problem. */
  message?: string;
  /** Maintenance for one job (its retention): that job. Not jobId, which marks the job's own runs. */
  forJob?: { id: string; name: string };
}

/** A run's status from its items': all good → success; nothing good → failed/cancelled; else warning. */
export function overallStatus(items: { status: RunStatus }[]): RunStatus {
  if (items.every((v) => v.status === 'success')) return 'success';
  if (items.every((v) => v.status === 'cancelled')) return 'cancelled';
  if (items.every((v) => v.status === 'failed' || v.status === 'cancelled')) return 'failed';
  return 'warning';
}

export function isActive(s: RunStatus): boolean { return s === 'running' || s === 'queued'; }
