// Replication jobs are jobs of kind 'replication' in the one job store (schedule, history, next run
// and "run now" as every job), with a replica target: the DR site, host, datastore, folder, name
// suffix, resource pool, network mapping, and the replication settings (source, RPO, points kept).
import { InvalidRequest } from '../../common/errors.ts';
import type { Job, ReplicationSettings } from '../../model/job.ts';
import { mappingFromRecord } from '../network-map.ts';
import type { ReplicationTarget } from '../replicate-vm.ts';

export const MAX_RPO_MINUTES = 7 * 24 * 60;
export const DEFAULT_SUFFIX = '-replica';

export type ReplicaJobTarget = Extract<Job['target'], { kind: 'replica' }>;

export function replicaTarget(job: Job): ReplicaJobTarget & { replication: ReplicationSettings } {
  const t = job.target;
  if (job.kind !== 'replication' || t.kind !== 'replica') throw new InvalidRequest(`Job '${job.name}' is not a replication job.`);
  return { ...t, replication: t.replication ?? { source: 'snapshot', rpoMinutes: 24 * 60, keepPoints: 7 } };
}

/** What one run of the job hands to the replication code. */
export function runTarget(job: Job): ReplicationTarget {
  const t = replicaTarget(job);
  return {
    host: t.host, datastore: t.datastore, ...(t.folder ? { folder: t.folder } : {}), ...(t.pool ? { pool: t.pool } : {}), suffix: t.nameSuffix,
    networkMap: mappingFromRecord(t.networks), keep: t.replication.keepPoints,
  };
}

export function isReplicationJob(job: Job): boolean { return job.kind === 'replication' && job.target.kind === 'replica'; }
