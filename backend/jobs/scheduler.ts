// Fires jobs on their cron schedules. One timer for the earliest due job; a job whose previous run
// is still going skips that occurrence (recorded in the log) rather than piling up.
import type { Job } from '../model/job.ts';
import { childLog } from '../common/log.ts';
import { parseCron } from './cron.ts';
import type { JobRunner } from './runner.ts';
import type { JobStore } from './store.ts';

const log = childLog('scheduler');
const MAX_TIMER_MS = 60 * 60_000; // re-evaluate at least hourly (clock changes, DST)

export class Scheduler {
  readonly #store: JobStore;
  readonly #runner: JobRunner;
  readonly #onChange: (job: Job) => void;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(store: JobStore, runner: JobRunner, onChange: (job: Job) => void = () => {}) {
    this.#store = store;
    this.#runner = runner;
    this.#onChange = onChange;
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
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const due = this.#store.jobs().filter((j) => j.nextRun).map((j) => Date.parse(j.nextRun!));
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
    this.refresh(now);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
