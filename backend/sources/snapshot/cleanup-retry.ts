// A backup snapshot that could not be removed (or whose disks could not be consolidated) is not
// left for the next backup or restart: it is retried in the background with growing pauses, and
// vCenter gets a warning event on the VM that says what is left and that Stillpoint keeps trying.
import { childLog } from '../../common/log.ts';

const log = childLog('snapshot-cleanup');

/** What part of closing a snapshot session failed. */
export class SnapshotCleanupError extends Error {
  readonly step: 'remove' | 'consolidate';
  constructor(step: 'remove' | 'consolidate', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnapshotCleanupError';
    this.step = step;
  }
}

export interface CleanupJob {
  /** For the logs, e.g. "snapshot of win-app01". */
  what: string;
  /** One try; resolves when everything is cleaned up. */
  attempt(): Promise<void>;
  onDone?(): void;
  /** Called once no try is left. */
  onGiveUp?(e: Error): void;
}

export class CleanupRetrier {
  readonly #delaysMs: readonly number[];
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  /** Default pauses: 30 s, 2 min, 10 min, 30 min, 1 h; then the next start's recovery takes over. */
  constructor(delaysMs: readonly number[] = [30_000, 120_000, 600_000, 1_800_000, 3_600_000]) { this.#delaysMs = delaysMs; }

  get pending(): number { return this.#timers.size; }

  schedule(job: CleanupJob, tryNo = 0): void {
    if (this.#stopped) return;
    const delay = this.#delaysMs[tryNo];
    if (delay === undefined) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      job.attempt().then(() => {
        log.info({ what: job.what, tries: tryNo + 1 }, 'cleaned up in the background');
        job.onDone?.();
      }, (e: Error) => {
        log.warn({ what: job.what, tries: tryNo + 1, err: e.message }, 'background cleanup failed');
        if (tryNo + 1 >= this.#delaysMs.length) job.onGiveUp?.(e);
        else this.schedule(job, tryNo + 1);
      });
    }, delay);
    timer.unref();
    this.#timers.add(timer);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
