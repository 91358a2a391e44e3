// Replication jobs and replica health (issue 12): scheduled replication of VMs (or VM folders) to a DR
// site, in the same or another configured vCenter, with an RPO target.
//
// Routes (under /api; creating, changing or running a job needs backup privileges on its VMs and, at
// the DR site, the privileges of a restore to a new VM on the folder, datastore, resource pool and
// mapped networks — in the user's own vCenter session):
//   GET    /api/replication-jobs                            -> ReplicationJob[]
//   POST   /api/replication-jobs      ReplicationJobInput   -> ReplicationJob (201)
//   GET    /api/replication-jobs/:id                        -> ReplicationJob
//   PUT    /api/replication-jobs/:id  ReplicationJobInput   -> ReplicationJob (409 when its placement — site, host,
//          datastore, folder, pool, suffix — changes while its VMs have replicas)
//   DELETE /api/replication-jobs/:id                        -> 204 (replicas stay)
//   POST   /api/replication-jobs/:id/run                    -> JobRun (202, kind 'replication')
// GET /api/replicas and GET /api/vms/:id/replica carry `rpo` (ReplicaRpo) for replicas of a job's VMs.
import type { AppAwareSettings, RunStatus } from '../contract.ts';

export interface ReplicationJobTarget {
  /** The DR site's id (a configured vCenter); default the primary site. */
  site?: string;
  /** DR host (name or id at that site). */
  host: string;
  datastore: string;
  /** VM folder at DR (name or id); default the datacenter's VM folder. */
  folder?: string;
  /** Resource pool (name or id) of the DR host's cluster or standalone host; default its root pool. */
  pool?: string;
  /** Appended to the source's name (default "-replica"). */
  suffix?: string;
  /** Source network → DR network, applied on every run; NICs on unmapped networks stay disconnected. */
  networkMap?: { source: string; target: string }[];
}

export interface ReplicationJobInput {
  name: string;
  vmIds: string[];
  /** VM folders whose VMs (recursively) the job also replicates, resolved at each run. */
  folderIds?: string[];
  target: ReplicationJobTarget;
  /** 'snapshot' (default): a consistent snapshot of the running VM; 'backup': the newest restore point in the repository (no snapshot on production). */
  source?: 'snapshot' | 'backup';
  schedule: { cron: string | null };
  /** Recovery point objective in minutes (1..10080). */
  rpoMinutes: number;
  /** Recovery points kept on each replica, 1..28. */
  keepPoints: number;
  /** The same application-aware settings as a backup job's (used with source 'snapshot'). */
  appAware: AppAwareSettings;
  /** VMs replicated at once, 1..8 (default 1). */
  concurrency?: number;
  enabled: boolean;
}

export interface ReplicationJob extends ReplicationJobInput {
  id: string;
  createdAt: string;
  nextRun?: string;
  lastRun?: { id: string; status: RunStatus; endedAt?: string };
}

/** RPO compliance of a replica: age of its newest point ÷ the job's RPO; warning over 1×, error over 2×. */
export interface ReplicaRpo {
  jobId: string;
  jobName: string;
  rpoMinutes: number;
  /** Minutes since the newest recovery point's data was taken (absent: no point). */
  ageMinutes?: number;
  ratio?: number;
  level: 'ok' | 'warning' | 'error';
}
