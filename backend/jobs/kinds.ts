// What the runner runs. Every run has a kind; a kind is registered with the runner once and then
// shares everything a run needs: history, VM concurrency, progress, cancel, events.
//   - VM kinds (backup, restore; replication next) process the run's VMs one by one, several at once.
//   - Repository tasks (retention, gc, verify) work on the repository as a whole: maintenance.
import type { Consistency } from '../model/consistency.ts';
import type { Job, Run, RunKind } from '../model/job.ts';

export interface VmProgress {
  phase: string;
  /** 0..100 for this VM. */
  percent?: number;
  bytesRead?: number;
}

export interface VmContext<P> {
  vmId: string;
  vmName: string;
  runId: string;
  job?: Job;
  params: P;
  initiatedBy: string;
  signal: AbortSignal;
  progress(p: VmProgress): void;
}

export interface VmOutcome {
  status: 'success' | 'warning';
  message: string;
  consistency?: Consistency;
  restorePointId?: string;
  bytesRead: number;
  bytesStored: number;
  warnings: string[];
}

export interface VmKind<P = unknown> {
  readonly kind: RunKind;
  /**
   * Called before the run is created: throw to refuse it at once (the caller gets the error, no run
   * is recorded). What it returns is called when the run has ended (e.g. to release a VM it took).
   */
  admit?(vmIds: string[], params: P, initiatedBy: string): Promise<(() => void) | void>;
  processVm(ctx: VmContext<P>): Promise<VmOutcome>;
  /** After the last VM: e.g. a backup job queues its retention. */
  finished?(run: Run, job: Job | undefined): void;
}

export interface TaskContext {
  runId: string;
  job?: Job;
  initiatedBy: string;
  signal: AbortSignal;
  progress(percent: number, phase: string): void;
}

export interface TaskOutcome {
  status: 'success' | 'warning';
  message: string;
  warnings?: string[];
}

/** Maintenance on the repository as a whole, with its own run history. */
export interface RepositoryTask {
  readonly kind: Extract<RunKind, 'retention' | 'gc' | 'verify'>;
  execute(ctx: TaskContext): Promise<TaskOutcome>;
}

/** What the runner tells the outside world (the API turns these into server-sent events). */
export type EngineEvent =
  | { type: 'run'; run: Run }
  | { type: 'job'; job: Job };
