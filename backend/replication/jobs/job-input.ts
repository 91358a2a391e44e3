// Replication jobs are jobs of kind 'replication' in the one job store (schedule, history, next run
// and "run now" as every job), with a replica target: the DR site, host, datastore, folder, name
// suffix, network mapping, and the replication settings (source, RPO, points kept).
import { InvalidRequest } from '../../common/errors.ts';
import { CronError, parseCron } from '../../jobs/cron.ts';
import type { JobDraft } from '../../jobs/store.ts';
import type { Job, ReplicationSettings } from '../../model/job.ts';
import type { ReplicationJob, ReplicationJobInput } from '../../api/contracts/replication-jobs.ts';
import { MAX_POINTS } from '../recovery-points.ts';
import { mappingFromRecord, mappingToRecord } from '../network-map.ts';
import type { ReplicationTarget } from '../replicate-vm.ts';

export const MAX_RPO_MINUTES = 7 * 24 * 60;
export const DEFAULT_SUFFIX = '-replica';

export type ReplicaJobTarget = Extract<Job['target'], { kind: 'replica' }>;

/** Checks what the schema cannot: a job with something to replicate, a valid schedule, RPO and points. */
export function checkReplicationJob(input: ReplicationJobInput, sites: string[]): void {
  if (!input.vmIds.length && !input.folderIds?.length) throw new InvalidRequest('A replication job needs at least one VM (vmIds) or VM folder (folderIds).');
  if (input.schedule.cron !== null) {
    try { parseCron(input.schedule.cron); } catch (e) { if (e instanceof CronError) throw new InvalidRequest(`schedule.cron: ${e.message}`); throw e; }
  }
  if (!Number.isInteger(input.rpoMinutes) || input.rpoMinutes < 1 || input.rpoMinutes > MAX_RPO_MINUTES) throw new InvalidRequest(`rpoMinutes must be a whole number of minutes from 1 to ${MAX_RPO_MINUTES} (a week).`);
  if (!Number.isInteger(input.keepPoints) || input.keepPoints < 1 || input.keepPoints > MAX_POINTS) {
    throw new InvalidRequest(`keepPoints must be from 1 to ${MAX_POINTS}: vSphere allows a snapshot depth of 31, and a run and a test failover need a few.`);
  }
  if (input.target.site !== undefined && !sites.includes(input.target.site)) throw new InvalidRequest(`target.site '${input.target.site}' is not a configured site: choose among ${sites.join(', ')}.`);
  mappingToRecord(input.target.networkMap);
  if ((input.appAware.preFreeze || input.appAware.postThaw) && !input.appAware.guestCredentialId) {
    throw new InvalidRequest('pre-freeze/post-thaw scripts run in the guest and need guest credentials (appAware.guestCredentialId).');
  }
}

export function replicationJobDraft(input: ReplicationJobInput, primarySite: string): JobDraft {
  const replication: ReplicationSettings = { source: input.source ?? 'snapshot', rpoMinutes: input.rpoMinutes, keepPoints: input.keepPoints };
  return {
    name: input.name, kind: 'replication', vmIds: [...input.vmIds], folderIds: [...(input.folderIds ?? [])],
    target: {
      kind: 'replica', site: input.target.site ?? primarySite, host: input.target.host, datastore: input.target.datastore,
      ...(input.target.folder ? { folder: input.target.folder } : {}), nameSuffix: input.target.suffix ?? DEFAULT_SUFFIX,
      networks: mappingToRecord(input.target.networkMap), replication,
    },
    schedule: { cron: input.schedule.cron }, retention: {}, appAware: structuredClone(input.appAware), concurrency: input.concurrency ?? 1, enabled: input.enabled,
  };
}

export function replicaTarget(job: Job): ReplicaJobTarget & { replication: ReplicationSettings } {
  const t = job.target;
  if (job.kind !== 'replication' || t.kind !== 'replica') throw new InvalidRequest(`Job '${job.name}' is not a replication job.`);
  return { ...t, replication: t.replication ?? { source: 'snapshot', rpoMinutes: 24 * 60, keepPoints: 7 } };
}

/** What one run of the job hands to the replication code. */
export function runTarget(job: Job): ReplicationTarget {
  const t = replicaTarget(job);
  return {
    host: t.host, datastore: t.datastore, ...(t.folder ? { folder: t.folder } : {}), suffix: t.nameSuffix,
    networkMap: mappingFromRecord(t.networks), keep: t.replication.keepPoints,
  };
}

export function isReplicationJob(job: Job): boolean { return job.kind === 'replication' && job.target.kind === 'replica'; }

export function replicationJobToDto(job: Job): ReplicationJob {
  const t = replicaTarget(job);
  return {
    id: job.id, name: job.name, vmIds: [...job.vmIds], ...(job.folderIds.length ? { folderIds: [...job.folderIds] } : {}),
    target: {
      site: t.site, host: t.host, datastore: t.datastore, ...(t.folder ? { folder: t.folder } : {}), suffix: t.nameSuffix,
      networkMap: mappingFromRecord(t.networks),
    },
    source: t.replication.source, schedule: { cron: job.schedule.cron }, rpoMinutes: t.replication.rpoMinutes, keepPoints: t.replication.keepPoints,
    appAware: structuredClone(job.appAware), concurrency: job.concurrency, enabled: job.enabled, createdAt: job.createdAt,
    ...(job.nextRun ? { nextRun: job.nextRun } : {}), ...(job.lastRun ? { lastRun: { ...job.lastRun } } : {}),
  };
}
