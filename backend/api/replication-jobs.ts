// Replication jobs on the wire: checks of a ReplicationJobInput beyond its schema, and the conversions
// between the API's ReplicationJob and the job store's Job of kind 'replication'.
import { InvalidRequest } from '../common/errors.ts';
import { CronError, parseCron } from '../jobs/cron.ts';
import type { JobDraft } from '../jobs/store.ts';
import type { Job, ReplicationSettings } from '../model/job.ts';
import type { ReplicationJob, ReplicationJobInput } from './contracts/replication-jobs.ts';
import { MAX_POINTS } from '../replication/recovery-points.ts';
import { mappingFromRecord, mappingToRecord } from '../replication/network-map.ts';
import { DEFAULT_SUFFIX, MAX_RPO_MINUTES, replicaTarget } from '../replication/jobs/job-input.ts';

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
      ...(input.target.folder ? { folder: input.target.folder } : {}), ...(input.target.pool ? { pool: input.target.pool } : {}), nameSuffix: input.target.suffix ?? DEFAULT_SUFFIX,
      networks: mappingToRecord(input.target.networkMap), replication,
    },
    schedule: { cron: input.schedule.cron }, retention: {}, appAware: structuredClone(input.appAware), concurrency: input.concurrency ?? 1, enabled: input.enabled,
  };
}

export function replicationJobToDto(job: Job): ReplicationJob {
  const t = replicaTarget(job);
  return {
    id: job.id, name: job.name, vmIds: [...job.vmIds], ...(job.folderIds.length ? { folderIds: [...job.folderIds] } : {}),
    target: {
      site: t.site, host: t.host, datastore: t.datastore, ...(t.folder ? { folder: t.folder } : {}), ...(t.pool ? { pool: t.pool } : {}), suffix: t.nameSuffix,
      networkMap: mappingFromRecord(t.networks),
    },
    source: t.replication.source, schedule: { cron: job.schedule.cron }, rpoMinutes: t.replication.rpoMinutes, keepPoints: t.replication.keepPoints,
    appAware: structuredClone(job.appAware), concurrency: job.concurrency, enabled: job.enabled, createdAt: job.createdAt,
    ...(job.nextRun ? { nextRun: job.nextRun } : {}), ...(job.lastRun ? { lastRun: { ...job.lastRun } } : {}),
  };
}
