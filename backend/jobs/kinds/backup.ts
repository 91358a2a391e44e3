// The backup kind: each VM of the run is backed up into the repository with the application-aware
// settings of its job. A job's run queues the job's retention as a maintenance run of its own.
import { Conflict, InvalidRequest } from '../../common/errors.ts';
import { formatBytes } from '../../common/units.ts';
import { DEFAULT_APP_AWARE } from '../../model/app-aware.ts';
import { hasRetention } from '../../model/retention.ts';
import type { Job, Run } from '../../model/job.ts';
import { backupVm, type BackupDeps, type BackupVmResult } from '../../backup/backup-vm.ts';
import type { RestorePoint } from '../../repository/repository.ts';
import type { VmContext, VmKind, VmOutcome } from '../kinds.ts';
import type { JobRunner } from '../runner.ts';
import type { JobStore } from '../store.ts';
import { say, sayList } from '../../common/service-text.ts';

export interface BackupParams {
  /** 'wait' queues behind another session on the VM; 'fail' reports "in use" at once. */
  whenBusy: 'wait' | 'fail';
  /** Per VM, the job whose settings apply ("Back up now" of VMs in jobs); else the run's job. */
  settingsFrom?: Record<string, Job>;
}

export interface BackupKindDeps {
  store: JobStore;
  /** What a backup of this VM needs: its vCenter, the repository, the journal, the VM locks. */
  backupDeps(vmId: string): Promise<BackupDeps>;
  /** A VM is in a session (backup, restore over it, replication) on this node, and by whom. */
  holder(vmId: string): { owner: string } | undefined;
  onRestorePoint?(rp: RestorePoint, runId: string): void;
  /** A job's run ended: its retention runs as a maintenance run. */
  queueRetention?(job: Job): void;
}

export class BackupKind implements VmKind<BackupParams> {
  readonly kind = 'backup' as const;
  readonly #d: BackupKindDeps;
  constructor(deps: BackupKindDeps) { this.#d = deps; }

  async admit(vmIds: string[], p: BackupParams): Promise<void> {
    if (p.whenBusy !== 'fail') return;
    const busy = vmIds.map((id) => ({ id, h: this.#d.holder(id) })).filter((x) => x.h);
    if (busy.length) throw new Conflict(`In use: ${busy.map((b) => `${b.id} (by ${b.h!.owner})`).join(', ')}. Wait until it finishes or cancel it.`);
  }

  async processVm(ctx: VmContext<BackupParams>): Promise<VmOutcome> {
    ctx.progress({ phase: say('phase.waitingForVm') });
    const deps = await this.#d.backupDeps(ctx.vmId);
    const job = ctx.params.settingsFrom?.[ctx.vmId] ?? ctx.job;
    const settings = job?.appAware ?? DEFAULT_APP_AWARE;
    const guest = settings.guestCredentialId
      ? { id: settings.guestCredentialId, credentials: this.#d.store.credentialSecret(settings.guestCredentialId) } : undefined;
    const r: BackupVmResult = await backupVm(deps, {
      vmId: ctx.vmId, settings, runId: ctx.runId, initiatedBy: ctx.initiatedBy, whenBusy: ctx.params.whenBusy, signal: ctx.signal,
      // The run's job owns the point (and its retention may prune it); settings borrowed from a job do not make it the job's.
      ...(guest ? { guest } : {}), ...(ctx.job ? { jobId: ctx.job.id, jobName: ctx.job.name } : {}),
      onProgress: (p) => ctx.progress({ phase: p.phase, percent: p.percent, bytesRead: p.bytesRead }),
    });
    this.#d.onRestorePoint?.(r.restorePoint, ctx.runId);
    return {
      status: r.warnings.length ? 'warning' : 'success', message: describe(r), consistency: r.consistency, restorePointId: r.restorePoint.id,
      bytesRead: r.bytesRead, bytesStored: r.bytesStored, warnings: r.warnings,
    };
  }

  finished(_run: Run, job: Job | undefined): void {
    if (job && hasRetention(job.retention)) this.#d.queueRetention?.(job);
  }
}

function describe(r: BackupVmResult): string {
  const disks = r.disks.map((d) => say('backup.diskRead', { disk: d.label, how: say(`backup.how.${d.plan}`), bytes: formatBytes(d.bytesRead) }));
  return say(`backup.result.${r.consistency}`, { reason: r.reason, disks: sayList(disks) });
}

/**
 * "Back up now" of VMs. With `jobId`, the run belongs to that job and uses its settings (the VMs
 * must be the job's); without, each VM gets the settings of the first enabled job that covers it
 * (listed or through a folder), else the defaults.
 */
export async function backupNow(runner: JobRunner, store: JobStore, jobVms: (job: Job) => Promise<string[]>,
  vmIds: string[], initiatedBy: string, jobId?: string): Promise<Run> {
  if (jobId) {
    const job = store.job(jobId);
    const members = new Set(await jobVms(job));
    const outside = vmIds.filter((id) => !members.has(id));
    if (outside.length) throw new InvalidRequest(`Invalid request: ${outside.join(', ')} not in job '${job.name}'.`);
    return runner.start<BackupParams>({ kind: 'backup', vmIds, job, initiatedBy, concurrency: job.concurrency, params: { whenBusy: 'fail' } });
  }
  const settingsFrom: Record<string, Job> = {};
  for (const job of store.jobs().filter((j) => j.enabled && j.kind === 'backup')) {
    const members = new Set(await jobVms(job).catch(() => job.vmIds));
    for (const id of vmIds) if (!settingsFrom[id] && members.has(id)) settingsFrom[id] = job;
  }
  return runner.start<BackupParams>({ kind: 'backup', vmIds, initiatedBy, concurrency: 2, params: { whenBusy: 'fail', settingsFrom } });
}
