// Fires jobs and repository maintenance (GC, verify) on their cron schedules. One timer for the
// earliest due one; a job or task whose previous run is still going skips that occurrence (recorded
// in the log) rather than piling up.
import type { Job, RunKind } from '../model/job.ts';
import { childLog } from '../common/log.ts';
import { parseCron } from './cron.ts';
import type { JobRunner } from './runner.ts';
import type { JobStore } from './store.ts';

const log = childLog('scheduler');
const MAX_TIMER_MS = 60 * 60_000; // re-evaluate at least hourly (clock changes, DST)

/** Repository maintenance and when it runs (cron, local time); null = on demand only. */
export type MaintenanceSchedule = Partial<Record<Extract<RunKind, 'gc' | 'verify'>, string | null>>;

/** GC every night, a full verify every Sunday morning: the defaults of PBS-like stores. */
export const DEFAULT_MAINTENANCE: Required<MaintenanceSchedule> = { gc: '30 2 * * *', verify: '0 4 * * 0' };

export class Scheduler {
  readonly #store: JobStore;
  readonly #runner: JobRunner;
  readonly #onChange: (job: Job) => void;
  readonly #tasks: { kind: 'gc' | 'verify'; cron: ReturnType<typeof parseCron>; next?: number }[];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(store: JobStore, runner: JobRunner, onChange: (job: Job) => void = () => {}, maintenance: MaintenanceSchedule = DEFAULT_MAINTENANCE) {
    this.#store = store;
    this.#runner = runner;
    this.#onChange = onChange;
    this.#tasks = (['gc', 'verify'] as const).flatMap((kind) => (maintenance[kind] ? [{ kind, cron: parseCron(maintenance[kind]!) }] : []));
  }

  /** When each maintenance task runs next. */
  maintenance(): { kind: 'gc' | 'verify'; nextRun?: string }[] {
    return this.#tasks.map((t) => ({ kind: t.kind, ...(t.next ? { nextRun: new Date(t.next).toISOString() } : {}) }));
  }

  /** Recomputes every job's next run and arms the timer; call after any job change. */
  refresh(now = new Date()): void {
    if (this.#stopped) return;
    for (const job of this.#store.jobs()) {
      const next = job.enabled && job.schedule.cron ? parseCron(job.schedule.cron).next(now).toISOString() : undefined;
      if (next !== job.nextRun) {
        this.#onChange(this.#store.updateJob(job.id, { nextRun: next }));
      }
    }
    for (const t of this.#tasks) if (!t.next || t.next <= now.getTime()) t.next = t.cron.next(now).getTime();
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const due = [...this.#store.jobs().filter((j) => j.nextRun).map((j) => Date.parse(j.nextRun!)), ...this.#tasks.flatMap((t) => (t.next ? [t.next] : []))];
    if (!due.length) return;
    const wait = Math.max(0, Math.min(Math.min(...due) - Date.now(), MAX_TIMER_MS));
    this.#timer = setTimeout(() => this.#fire(), wait);
    this.#timer.unref();
  }

  #fire(): void {
    const now = new Date();
    for (const job of this.#store.jobs()) {
      if (!job.nextRun || Date.parse(job.nextRun) > now.getTime()) continue;
      if (this.#runner.isJobRunning(job.id)) {
        log.warn({ job: job.name }, 'skipped a scheduled run: the previous run is still going');
        continue;
      }
      log.info({ job: job.name }, 'starting scheduled run');
      this.#runner.runJob(job.id, 'Stillpoint scheduler').catch((e: Error) => log.error({ job: job.name, err: e.message }, 'scheduled run could not start'));
    }
    for (const t of this.#tasks) {
      if (!t.next || t.next > now.getTime()) continue;
      t.next = undefined;
      if (this.#runner.isTaskRunning(t.kind)) { log.warn({ task: t.kind }, 'skipped scheduled maintenance: the previous run is still going'); continue; }
      try { this.#runner.runTask(t.kind, 'Stillpoint scheduler'); } catch (e) { log.error({ task: t.kind, err: (e as Error).message }, 'scheduled maintenance could not start'); }
    }
    this.refresh(now);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
