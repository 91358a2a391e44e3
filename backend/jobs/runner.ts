// Runs work as "runs": each run has a kind (see kinds.ts), tracks its VMs' phases, progress and
// results, is saved as it goes and is published as it changes. Runs go on in the background; the
// caller gets the run record at once. Kinds are registered by the composition root, so a new kind
// (replication, copy, verify) gets history, VM concurrency, progress, cancel and events for free.
import { randomUUID } from 'node:crypto';
import { Conflict, InvalidRequest } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import { overallStatus, type Job, type Run, type RunItem, type RunKind, type RunStatus } from '../model/job.ts';
import type { EngineEvent, RepositoryTask, VmKind, VmOutcome } from './kinds.ts';
import type { JobStore } from './store.ts';
import { say } from '../common/service-text.ts';
import { count } from '../common/units.ts';

const log = childLog('runner');

export interface RunnerDeps {
  store: JobStore;
  publish(e: EngineEvent): void;
  vmName(vmId: string): Promise<string>;
  /** The job's VMs now: its listed VMs plus those in its folders. */
  jobVms(job: Job): Promise<string[]>;
  /** Called once per run when it has ended (every kind, maintenance too): reports, alarms. */
  onRunFinished?(run: Run): void;
}

export interface StartRequest<P> {
  kind: RunKind;
  vmIds: string[];
  job?: Job;
  initiatedBy: string;
  concurrency: number;
  params: P;
}

interface Active { run: Run; abort: AbortController; done: Promise<void>; lastSave: number; lastPublish: number }

export class JobRunner {
  readonly #d: RunnerDeps;
  readonly #active = new Map<string, Active>();
  readonly #vmKinds = new Map<RunKind, VmKind<never>>();
  readonly #tasks = new Map<RunKind, RepositoryTask>();

  constructor(deps: RunnerDeps) { this.#d = deps; }

  registerVmKind<P>(k: VmKind<P>): this { this.#vmKinds.set(k.kind, k as VmKind<never>); return this; }
  registerTask(t: RepositoryTask): this { this.#tasks.set(t.kind, t); return this; }

  active(): Run[] { return [...this.#active.values()].map((a) => structuredClone(a.run)); }
  isJobRunning(jobId: string): boolean { return [...this.#active.values()].some((a) => a.run.jobId === jobId); }
  isTaskRunning(kind: RunKind): boolean { return [...this.#active.values()].some((a) => a.run.kind === kind); }

  /** Runs a job now: its kind decides what happens to its VMs. */
  async runJob(jobId: string, initiatedBy: string): Promise<Run> {
    const job = this.#d.store.job(jobId);
    if (this.isJobRunning(jobId)) throw new Conflict(`Job '${job.name}' is running already: wait for it or cancel it.`);
    const vmIds = await this.#d.jobVms(job);
    if (vmIds.length === 0) throw new InvalidRequest(`Job '${job.name}' has no VMs${job.folderIds.length ? ' (its folders are empty)' : ''}: add VMs to it first.`);
    return this.start({ kind: job.kind, vmIds, job, initiatedBy, concurrency: job.concurrency, params: { whenBusy: 'wait' } });
  }

  /** Starts a run of a registered VM kind. The kind may refuse it at once (admit). */
  async start<P>(o: StartRequest<P>): Promise<Run> {
    const kind = this.#vmKinds.get(o.kind) as VmKind<P> | undefined;
    if (!kind) throw new InvalidRequest(`Runs of kind '${o.kind}' are not available in this version of Stillpoint.`);
    const release = await kind.admit?.(o.vmIds, o.params, o.initiatedBy);
    let names: string[];
    try { names = await Promise.all(o.vmIds.map((id) => this.#d.vmName(id))); } catch (e) { release?.(); throw e; }
    const run = this.#newRun(o.kind, o.job, o.initiatedBy, o.vmIds.map((vmId, i) => newItem(vmId, names[i]!)));
    const a = this.#begin(run);
    if (o.job) this.#updateJobLastRun(o.job.id, run);
    a.done = this.#processVms(a, kind, o)
      .catch((e) => log.error({ err: e, run: run.id }, 'run failed unexpectedly'))
      .finally(() => {
        release?.();
        this.#end(a);
        if (o.job) this.#updateJobLastRun(o.job.id, a.run);
        try { kind.finished?.(structuredClone(a.run), o.job); } catch (e) { log.warn({ err: (e as Error).message }, 'after-run step failed'); }
      });
    return structuredClone(run);
  }

  /** Starts a maintenance task on the repository (retention of a job, GC, verify) as its own run. */
  runTask(kind: RunKind, initiatedBy: string, job?: Job): Run {
    const task = this.#tasks.get(kind);
    if (!task) throw new InvalidRequest(`Maintenance task '${kind}' is not available in this version of Stillpoint.`);
    if ([...this.#active.values()].some((a) => a.run.kind === kind && (!job || a.run.forJob?.id === job.id))) throw new Conflict(`A ${kind} run is going already: wait for it to finish.`);
    const run: Run = { ...this.#newRun(kind, undefined, initiatedBy, []), ...(job ? { forJob: { id: job.id, name: job.name } } : {}) };
    const a = this.#begin(run);
    a.done = task.execute({
      runId: run.id, initiatedBy, signal: a.abort.signal, ...(job ? { job } : {}),
      progress: (percent, phase) => { a.run.progress = Math.round(percent); a.run.message = phase; this.#publish(a); },
    }).then((r) => {
      a.run.status = r.status;
      a.run.message = r.message;
    }, (e: Error) => {
      a.run.status = a.abort.signal.aborted ? 'cancelled' : 'failed';
      a.run.message = e.message;
    }).finally(() => this.#end(a));
    return structuredClone(run);
  }

  cancel(runId: string): Run {
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
    while (this.#active.size) await Promise.all([...this.#active.values()].map((a) => a.done));
  }

  /** Marks runs a crashed process left "running" as failed: they cannot be going on any more. */
  markInterrupted(): Run[] {
    const fixed: Run[] = [];
    for (const r of this.#d.store.runs({ limit: 1000 })) {
      if (r.status !== 'running' && r.status !== 'queued') continue;
      for (const v of r.vms) {
        if (v.status !== 'running' && v.status !== 'queued') continue;
        v.status = 'failed';
        v.message = say('run.interrupted', { kind: r.kind });
      }
      r.status = r.vms.length ? overallStatus(r.vms) : 'failed';
      if (!r.vms.length) r.message = say('run.interrupted', { kind: r.kind });
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
      let run: Run;
      try { run = this.#d.store.run(a.runId); } catch { continue; }
      const v = run.vms.find((x) => x.vmId === a.vmId);
      if (!v) continue;
      const did = [`removed ${count(a.snapshotsRemoved, 'leftover snapshot')}`];
      if (a.postThawRan) did.push('ran the post-thaw script');
      if (a.postThawError) did.push(`the post-thaw script failed (${a.postThawError})`);
      if (a.error) did.push(`cleanup problem: ${a.error}`);
      v.message = `${v.message ?? ''} At restart Stillpoint ${did.join(', ')}.`.trim();
      this.#d.store.saveRun(run);
    }
  }

  async #processVms<P>(a: Active, kind: VmKind<P>, o: StartRequest<P>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < a.run.vms.length) {
        const v = a.run.vms[next++]!;
        if (a.abort.signal.aborted) { this.#finishVm(a, v, 'cancelled', say('run.cancelledBeforeStart')); continue; }
        await this.#processVm(a, v, kind, o);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, a.run.vms.length)) }, worker));
  }

  async #processVm<P>(a: Active, v: RunItem, kind: VmKind<P>, o: StartRequest<P>): Promise<void> {
    const t0 = Date.now();
    v.status = 'running';
    v.phase = say('phase.starting');
    this.#publish(a, true);
    try {
      const r: VmOutcome = await kind.processVm({
        vmId: v.vmId, vmName: v.vmName, runId: a.run.id, params: o.params, initiatedBy: o.initiatedBy, signal: a.abort.signal,
        ...(o.job ? { job: o.job } : {}),
        progress: (p) => {
          const phaseChanged = v.phase !== p.phase;
          v.phase = p.phase;
          if (p.percent !== undefined) v.progress = Math.round(p.percent);
          if (p.bytesRead !== undefined) v.bytesRead = p.bytesRead;
          v.durationMs = Date.now() - t0;
          this.#publish(a, phaseChanged);
        },
      });
      if (r.consistency) v.consistency = r.consistency;
      if (r.restorePointId) v.restorePointId = r.restorePointId;
      v.bytesRead = r.bytesRead;
      v.bytesStored = r.bytesStored;
      v.warnings = r.warnings;
      this.#finishVm(a, v, r.status, r.message, t0);
    } catch (e) {
      const cancelled = a.abort.signal.aborted;
      const msg = (e as Error).message;
      const hint = (e as { hint?: unknown }).hint;
      if (!cancelled && typeof hint === 'string' && hint) v.hint = hint;
      this.#finishVm(a, v, cancelled ? 'cancelled' : 'failed', cancelled ? say('run.cancelled', { reason: msg }) : msg, t0);
    }
  }

  #newRun(kind: RunKind, job: Job | undefined, initiatedBy: string, vms: RunItem[]): Run {
    return {
      id: randomUUID(), kind, ...(job ? { jobId: job.id, jobName: job.name } : {}), initiatedBy,
      startedAt: new Date().toISOString(), status: 'running', progress: 0, vms,
    };
  }

  #updateJobLastRun(jobId: string, run: Run): void {
    try {
      const job = this.#d.store.updateJob(jobId, { lastRun: { id: run.id, status: run.status, ...(run.endedAt ? { endedAt: run.endedAt } : {}) } });
      this.#d.publish({ type: 'job', job });
    } catch { /* the job was deleted while it ran */ }
  }

  /** Registers a new run as active, saves it and tells the UI. */
  #begin(run: Run): Active {
    const a: Active = { run, abort: new AbortController(), done: Promise.resolve(), lastSave: 0, lastPublish: 0 };
    this.#active.set(run.id, a);
    this.#d.store.saveRun(run);
    this.#publish(a, true);
    return a;
  }

  #end(a: Active): void {
    if (a.run.vms.length) a.run.status = overallStatus(a.run.vms);
    a.run.progress = 100;
    a.run.endedAt = new Date().toISOString();
    this.#d.store.saveRun(a.run);
    this.#publish(a, true);
    this.#active.delete(a.run.id);
    log.info({ run: a.run.id, kind: a.run.kind, status: a.run.status }, 'run finished');
    try { this.#d.onRunFinished?.(structuredClone(a.run)); } catch (e) { log.warn({ err: (e as Error).message }, 'run-finished hook failed'); }
  }

  #finishVm(a: Active, v: RunItem, status: RunStatus, message: string, t0 = Date.now()): void {
    v.status = status;
    v.phase = say(status === 'success' || status === 'warning' ? 'phase.done' : status === 'failed' ? 'phase.failed' : status === 'cancelled' ? 'phase.cancelled' : 'phase.queued');
    v.message = message;
    if (status === 'success' || status === 'warning') v.progress = 100;
    v.durationMs = Date.now() - t0;
    this.#publish(a, true);
  }

  /** Publishes at most 4 updates a second and saves at most one a second, except on milestones. */
  #publish(a: Active, force = false): void {
    const now = Date.now();
    if (a.run.vms.length) {
      a.run.progress = Math.round(a.run.vms.reduce((n, v) => n + (v.status === 'running' || v.status === 'queued' ? v.progress : 100), 0) / a.run.vms.length);
    }
    if (force || now - a.lastPublish >= 250) {
      a.lastPublish = now;
      this.#d.publish({ type: 'run', run: structuredClone(a.run) });
    }
    if (force || now - a.lastSave >= 1000) {
      a.lastSave = now;
      this.#d.store.saveRun(a.run);
    }
  }
}

function newItem(vmId: string, vmName: string): RunItem {
  return { vmId, vmName, status: 'queued', phase: say('phase.queued'), progress: 0, bytesRead: 0, bytesStored: 0, durationMs: 0, warnings: [] };
}
