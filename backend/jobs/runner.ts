// Runs backups (manual or from a job) and restores as "runs": each run tracks its VMs' phases,
// progress and results, is saved as it goes, and is published to the UI as it changes. Runs go on
// in the background; callers get the run record at once.
import { randomUUID } from 'node:crypto';
import type { AppAwareSettings, Job, JobRun, JobRunVm, RestoreTarget, RetentionPolicy, RunStatus } from '../api/contract.ts';
import type { EventBus } from '../api/events.ts';
import { Conflict, InvalidRequest } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import { formatBytes } from '../common/units.ts';
import type { BackupDeps, BackupVmResult } from '../backup/backup-vm.ts';
import { backupVm } from '../backup/backup-vm.ts';
import type { RestorePoint } from '../repository/repository.ts';
import type { JobStore } from './store.ts';

const log = childLog('runner');

export const DEFAULT_APP_AWARE: AppAwareSettings = { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' };

export interface RunnerDeps {
  store: JobStore;
  events: EventBus;
  /** Connects lazily: vCenter may be down when the service starts. */
  backupDeps(): Promise<BackupDeps>;
  vmName(vmId: string): Promise<string>;
  /** The job's VMs now: its listed VMs plus those in its folders. */
  jobVms(job: Job): Promise<string[]>;
  onRestorePoint?(rp: RestorePoint, run: JobRun): void;
  /** A restore finished (it may have created or changed a VM). */
  onRestored?(run: JobRun): void;
  restore: RestoreFn;
}

/** A full VM restore (backend/restore), reporting progress as phases with byte counts. */
export type RestoreFn = (restorePointId: string, target: RestoreTarget, opts: {
  onProgress: (p: { phase: string; done: number; total: number }) => void; signal: AbortSignal;
}) => Promise<{ vmId: string; vmName: string }>;

interface Active { run: JobRun; abort: AbortController; done: Promise<void>; lastSave: number; lastPublish: number }

export class JobRunner {
  readonly #d: RunnerDeps;
  readonly #active = new Map<string, Active>();

  constructor(deps: RunnerDeps) { this.#d = deps; }

  active(): JobRun[] { return [...this.#active.values()].map((a) => structuredClone(a.run)); }
  isJobRunning(jobId: string): boolean { return [...this.#active.values()].some((a) => a.run.jobId === jobId); }

  /** "Back up now" for VMs: the settings of the first enabled job holding each VM, else the defaults. */
  async backupNow(vmIds: string[], initiatedBy: string): Promise<JobRun> {
    const { locks } = await this.#d.backupDeps();
    const busy = vmIds.map((id) => ({ id, h: locks.holder(id) })).filter((x) => x.h);
    if (busy.length) throw new Conflict(`In use: ${busy.map((b) => `${b.id} (by ${b.h!.owner})`).join(', ')}. Wait until it finishes or cancel it.`);
    const jobs = this.#d.store.jobs().filter((j) => j.enabled);
    return this.#start({ kind: 'backup', vmIds, initiatedBy, concurrency: 2, whenBusy: 'fail',
      settingsFor: (vmId) => jobs.find((j) => j.vmIds.includes(vmId)) });
  }

  async runJob(jobId: string, initiatedBy: string): Promise<JobRun> {
    const job = this.#d.store.job(jobId);
    if (this.isJobRunning(jobId)) throw new Conflict(`Job '${job.name}' is running already: wait for it or cancel it.`);
    const vmIds = await this.#d.jobVms(job);
    if (vmIds.length === 0) throw new InvalidRequest(`Job '${job.name}' has no VMs${job.folderIds?.length ? ' (its folders are empty)' : ''}: add VMs to it first.`);
    return this.#start({ kind: 'backup', vmIds, initiatedBy, job, concurrency: job.concurrency, whenBusy: 'wait', settingsFor: () => job });
  }

  /** Restores a restore point as a run: the run's VM entry is the source VM, its message names the result. */
  async restore(rp: { id: string; vmId: string; vmName: string }, target: RestoreTarget, initiatedBy: string): Promise<JobRun> {
    const restore = this.#d.restore;
    const { locks } = await this.#d.backupDeps();
    const release = target.kind === 'original' ? locks.tryAcquire(rp.vmId, `restore by ${initiatedBy}`) : () => {};
    const run: JobRun = {
      id: randomUUID(), kind: 'restore', startedAt: new Date().toISOString(), status: 'running', progress: 0,
      vms: [{ vmId: rp.vmId, vmName: rp.vmName, status: 'running', phase: 'starting', progress: 0, bytesRead: 0, bytesStored: 0, durationMs: 0, warnings: [], restorePointId: rp.id }],
    };
    const a = this.#begin(run);
    const v = run.vms[0]!;
    const t0 = Date.now();
    a.done = restore(rp.id, target, {
      signal: a.abort.signal,
      onProgress: (p) => {
        const phaseChanged = v.phase !== p.phase;
        v.phase = p.phase;
        v.progress = p.total > 0 ? Math.round((100 * p.done) / p.total) : v.progress;
        v.bytesRead = p.done;
        v.durationMs = Date.now() - t0;
        this.#publish(a, phaseChanged);
      },
    }).then((r) => {
      this.#finishVm(a, v, 'success', `Restored to VM ${r.vmName} (${r.vmId}).`, t0);
    }, (e: Error) => {
      this.#finishVm(a, v, a.abort.signal.aborted ? 'cancelled' : 'failed', e.message, t0);
    }).finally(() => {
      release();
      this.#d.onRestored?.(run);
      run.status = overall(run.vms);
      run.progress = 100;
      run.endedAt = new Date().toISOString();
      this.#d.store.saveRun(run);
      this.#publish(a, true);
      this.#active.delete(run.id);
    });
    return structuredClone(run);
  }

  cancel(runId: string): JobRun {
    const a = this.#active.get(runId);
    if (!a) {
      const r = this.#d.store.run(runId);
      throw new Conflict(`Run ${runId} is not running (it ended ${r.status}).`);
    }
    a.abort.abort(new Error('cancelled by the user'));
    return structuredClone(a.run);
  }

  /** Waits for every running run (used when the service stops, after cancelling them). */
  async drain(cancel = true): Promise<void> {
    for (const a of this.#active.values()) if (cancel) a.abort.abort(new Error('the service is stopping'));
    await Promise.all([...this.#active.values()].map((a) => a.done));
  }

  /** Marks runs a crashed process left "running" as failed: they cannot be going on any more. */
  markInterrupted(): JobRun[] {
    const fixed: JobRun[] = [];
    for (const r of this.#d.store.runs({ limit: 1000 })) {
      if (r.status !== 'running' && r.status !== 'queued') continue;
      for (const v of r.vms) {
        if (v.status !== 'running' && v.status !== 'queued') continue;
        v.status = 'failed';
        v.message = `Interrupted: the Stillpoint service stopped during this ${r.kind}.`;
      }
      r.status = 'failed';
      r.endedAt = new Date().toISOString();
      this.#d.store.saveRun(r);
      fixed.push(r);
    }
    return fixed;
  }

  /** Adds what start-up recovery did for an interrupted run's VM to that run's history. */
  recordRecovery(actions: { runId?: string; vmId: string; snapshotsRemoved: number; postThawRan?: boolean; postThawError?: string; error?: string }[]): void {
    for (const a of actions) {
      if (!a.runId) continue;
      let run: JobRun;
      try { run = this.#d.store.run(a.runId); } catch { continue; }
      const v = run.vms.find((x) => x.vmId === a.vmId);
      if (!v) continue;
      const did = [`removed ${a.snapshotsRemoved} leftover snapshot(s)`];
      if (a.postThawRan) did.push('ran the post-thaw script');
      if (a.postThawError) did.push(`the post-thaw script failed (${a.postThawError})`);
      if (a.error) did.push(`cleanup problem: ${a.error}`);
      v.message = `${v.message ?? ''} At restart Stillpoint ${did.join(', ')}.`.trim();
      this.#d.store.saveRun(run);
    }
  }

  async #start(o: {
    kind: 'backup'; vmIds: string[]; initiatedBy: string; job?: Job; concurrency: number; whenBusy: 'wait' | 'fail';
    settingsFor: (vmId: string) => Job | undefined;
  }): Promise<JobRun> {
    const names = await Promise.all(o.vmIds.map((id) => this.#d.vmName(id)));
    const run: JobRun = {
      id: randomUUID(), kind: o.kind, ...(o.job ? { jobId: o.job.id, jobName: o.job.name } : {}),
      startedAt: new Date().toISOString(), status: 'running', progress: 0,
      vms: o.vmIds.map((vmId, i) => ({ vmId, vmName: names[i]!, status: 'queued', phase: 'queued', progress: 0, bytesRead: 0, bytesStored: 0, durationMs: 0, warnings: [] })),
    };
    const a = this.#begin(run);
    if (o.job) this.#updateJobLastRun(o.job.id, run);
    a.done = this.#execute(a, o).catch((e) => log.error({ err: e, run: run.id }, 'run failed unexpectedly')).finally(() => {
      this.#active.delete(run.id);
    });
    return structuredClone(run);
  }

  async #execute(a: Active, o: { vmIds: string[]; initiatedBy: string; job?: Job; concurrency: number; whenBusy: 'wait' | 'fail'; settingsFor: (vmId: string) => Job | undefined }): Promise<void> {
    const deps = await this.#d.backupDeps().catch((e: Error) => e);
    let next = 0;
    const worker = async () => {
      while (next < a.run.vms.length) {
        const v = a.run.vms[next++]!;
        if (deps instanceof Error) { this.#finishVm(a, v, 'failed', deps.message); continue; }
        if (a.abort.signal.aborted) { this.#finishVm(a, v, 'cancelled', 'Cancelled before it started.'); continue; }
        await this.#backupOne(a, v, deps, o);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, a.run.vms.length)) }, worker));
    if (o.job && !(deps instanceof Error)) await this.#retention(a, deps, o.job.retention, a.run.vms.map((v) => v.vmId));
    a.run.status = overall(a.run.vms);
    a.run.progress = 100;
    a.run.endedAt = new Date().toISOString();
    this.#d.store.saveRun(a.run);
    this.#publish(a, true);
    if (o.job) this.#updateJobLastRun(o.job.id, a.run);
    log.info({ run: a.run.id, status: a.run.status }, 'run finished');
  }

  async #backupOne(a: Active, v: JobRunVm, deps: BackupDeps, o: { initiatedBy: string; whenBusy: 'wait' | 'fail'; settingsFor: (vmId: string) => Job | undefined }): Promise<void> {
    const t0 = Date.now();
    const job = o.settingsFor(v.vmId);
    const settings = job?.appAware ?? DEFAULT_APP_AWARE;
    v.status = 'running';
    v.phase = 'waiting for the VM';
    this.#publish(a, true);
    try {
      let guest: { id: string; credentials: { username: string; password: string } } | undefined;
      if (settings.guestCredentialId) guest = { id: settings.guestCredentialId, credentials: this.#d.store.credentialSecret(settings.guestCredentialId) };
      const r: BackupVmResult = await backupVm(deps, {
        vmId: v.vmId, settings, runId: a.run.id, initiatedBy: o.initiatedBy, whenBusy: o.whenBusy, signal: a.abort.signal,
        ...(guest ? { guest } : {}), ...(job ? { jobId: job.id } : {}),
        onProgress: (p) => {
          const phaseChanged = v.phase !== p.phase;
          v.phase = p.phase;
          v.progress = Math.round(p.percent);
          v.bytesRead = p.bytesRead;
          v.durationMs = Date.now() - t0;
          this.#publish(a, phaseChanged);
        },
      });
      v.consistency = r.consistency;
      v.restorePointId = r.restorePoint.id;
      v.bytesRead = r.bytesRead;
      v.bytesStored = r.bytesStored;
      v.warnings = r.warnings;
      const how = { incremental: 'changed areas', allocated: 'allocated areas', full: 'whole disk' } as const;
      v.message = `${r.consistency[0]!.toUpperCase()}${r.consistency.slice(1)}-consistent: ${r.reason}. Read ${r.disks.map((d) => `${d.label} (${how[d.plan]}, ${formatBytes(d.bytesRead)})`).join(', ')}.`;
      this.#d.onRestorePoint?.(r.restorePoint, a.run);
      this.#finishVm(a, v, r.warnings.length ? 'warning' : 'success', v.message, t0);
    } catch (e) {
      const cancelled = a.abort.signal.aborted;
      this.#finishVm(a, v, cancelled ? 'cancelled' : 'failed', cancelled ? `Cancelled: ${(e as Error).message}` : (e as Error).message, t0);
    }
  }

  #updateJobLastRun(jobId: string, run: JobRun): void {
    try {
      const job = this.#d.store.updateJob(jobId, { lastRun: { id: run.id, status: run.status, ...(run.endedAt ? { endedAt: run.endedAt } : {}) } });
      this.#d.events.publish({ type: 'job', job });
    } catch { /* the job was deleted while it ran */ }
  }

  async #retention(a: Active, deps: BackupDeps, policy: RetentionPolicy, vmIds: string[]): Promise<void> {
    if (!Object.values(policy).some((n) => typeof n === 'number' && n > 0)) return;
    let removed = 0;
    for (const vmId of vmIds) {
      try {
        const d = await deps.repo.applyRetention({
          ...(policy.keepLast ? { keepLast: policy.keepLast } : {}), ...(policy.daily ? { keepDaily: policy.daily } : {}),
          ...(policy.weekly ? { keepWeekly: policy.weekly } : {}), ...(policy.monthly ? { keepMonthly: policy.monthly } : {}),
          ...(policy.yearly ? { keepYearly: policy.yearly } : {}),
        }, { vmId });
        removed += d.remove.length;
      } catch (e) {
        const v = a.run.vms.find((x) => x.vmId === vmId);
        v?.warnings.push(`Retention could not be applied: ${(e as Error).message}`);
      }
    }
    if (removed > 0) await deps.repo.gc().catch((e) => log.warn({ err: (e as Error).message }, 'GC after retention failed'));
  }

  /** Registers a new run as active, saves it and tells the UI. */
  #begin(run: JobRun): Active {
    const a: Active = { run, abort: new AbortController(), done: Promise.resolve(), lastSave: 0, lastPublish: 0 };
    this.#active.set(run.id, a);
    this.#d.store.saveRun(run);
    this.#publish(a, true);
    return a;
  }

  #finishVm(a: Active, v: JobRunVm, status: RunStatus, message: string, t0 = Date.now()): void {
    v.status = status;
    v.phase = status === 'success' || status === 'warning' ? 'done' : status;
    v.message = message;
    if (status === 'success' || status === 'warning') v.progress = 100;
    v.durationMs = Date.now() - t0;
    this.#publish(a, true);
  }

  /** Publishes at most 4 updates a second and saves at most one a second, except on milestones. */
  #publish(a: Active, force = false): void {
    const now = Date.now();
    a.run.progress = Math.round(a.run.vms.reduce((n, v) => n + (v.status === 'running' || v.status === 'queued' ? v.progress : 100), 0) / a.run.vms.length);
    if (force || now - a.lastPublish >= 250) {
      a.lastPublish = now;
      this.#d.events.publish({ type: 'run', run: structuredClone(a.run) });
    }
    if (force || now - a.lastSave >= 1000) {
      a.lastSave = now;
      this.#d.store.saveRun(a.run);
    }
  }
}

function overall(vms: JobRunVm[]): RunStatus {
  if (vms.every((v) => v.status === 'success')) return 'success';
  if (vms.every((v) => v.status === 'cancelled')) return 'cancelled';
  if (vms.every((v) => v.status === 'failed' || v.status === 'cancelled')) return 'failed';
  return 'warning';
}
