// Domain model ↔ REST DTOs (contract.ts). The UI and the CLI see only DTOs; the engine sees only
// the model, so a domain field is a public API change only when a mapper here says so.
import type { Job as JobDto, JobInput, JobRun, JobRunVm, RetentionPolicy as RetentionDto } from './contract.ts';
import { DEFAULT_TARGET, type Job, type Run, type RunItem } from '../model/job.ts';
import { textKey, textKeys, textsOf } from './service-texts.ts';
import type { JobDraft } from '../jobs/store.ts';
import type { RetentionPolicy } from '../model/retention.ts';

export function retentionFromDto(r: RetentionDto): RetentionPolicy {
  return {
    ...(r.keepLast ? { keepLast: r.keepLast } : {}), ...(r.daily ? { keepDaily: r.daily } : {}), ...(r.weekly ? { keepWeekly: r.weekly } : {}),
    ...(r.monthly ? { keepMonthly: r.monthly } : {}), ...(r.yearly ? { keepYearly: r.yearly } : {}),
  };
}

export function retentionToDto(r: RetentionPolicy): RetentionDto {
  return {
    ...(r.keepLast ? { keepLast: r.keepLast } : {}), ...(r.keepDaily ? { daily: r.keepDaily } : {}), ...(r.keepWeekly ? { weekly: r.keepWeekly } : {}),
    ...(r.keepMonthly ? { monthly: r.keepMonthly } : {}), ...(r.keepYearly ? { yearly: r.keepYearly } : {}),
  };
}

/** A backup job from the API's input (the API creates backup jobs; replication jobs come with their own input). */
export function jobDraftFromDto(input: JobInput): JobDraft {
  return {
    name: input.name, kind: 'backup', target: { ...DEFAULT_TARGET }, vmIds: [...input.vmIds], folderIds: [...(input.folderIds ?? [])],
    schedule: { cron: input.schedule.cron }, retention: retentionFromDto(input.retention), appAware: structuredClone(input.appAware),
    concurrency: input.concurrency, enabled: input.enabled,
    ...(input.notify ? { notify: { recipients: [...input.notify.recipients] } } : {}),
  };
}

export function jobToDto(j: Job): JobDto {
  return {
    id: j.id, name: j.name, kind: j.kind, vmIds: [...j.vmIds], ...(j.folderIds.length ? { folderIds: [...j.folderIds] } : {}),
    schedule: { cron: j.schedule.cron }, retention: retentionToDto(j.retention), appAware: structuredClone(j.appAware),
    concurrency: j.concurrency, enabled: j.enabled, createdAt: j.createdAt,
    ...(j.nextRun ? { nextRun: j.nextRun } : {}), ...(j.lastRun ? { lastRun: { ...j.lastRun } } : {}),
    ...(j.notify ? { notify: { recipients: [...j.notify.recipients] } } : {}),
  };
}

export function runToDto(r: Run): JobRun {
  return {
    id: r.id, kind: r.kind, ...(r.jobId ? { jobId: r.jobId } : {}), ...(r.jobName ? { jobName: r.jobName } : {}),
    ...(r.initiatedBy ? { initiatedBy: r.initiatedBy } : {}), startedAt: r.startedAt, ...(r.endedAt ? { endedAt: r.endedAt } : {}),
    status: r.status, progress: r.progress, vms: r.vms.map(runItemToDto),
    ...(r.message ? { message: r.message } : {}), ...(r.forJob ? { forJob: { ...r.forJob } } : {}),
    ...withTexts({ message: textKey(r.message) }),
  };
}

function runItemToDto(v: RunItem): JobRunVm {
  return {
    ...v, warnings: [...v.warnings],
    ...withTexts({ phase: textKey(v.phase), message: textKey(v.message), hint: textKey(v.hint), warnings: textKeys(v.warnings) }),
  };
}

function withTexts<T extends Record<string, unknown>>(fields: T): { texts?: { [K in keyof T]?: NonNullable<T[K]> } } {
  const texts = textsOf(fields);
  return texts ? { texts } : {};
}
