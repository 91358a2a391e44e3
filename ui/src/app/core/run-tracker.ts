import { DestroyRef, Injectable, inject, signal, type Signal } from '@angular/core';
import type { JobRun, RunStatus } from '@contract';
import { Api } from './api';
import { EventsService } from './events';

export const TERMINAL: readonly RunStatus[] = ['success', 'warning', 'failed', 'cancelled'];
export const isTerminal = (s: RunStatus | undefined): boolean => !!s && TERMINAL.includes(s);

/** Follows one JobRun: server-sent events first, polling GET /api/runs/:id every 3 s as a fallback. */
@Injectable()
export class RunTracker {
  private readonly api = inject(Api);
  private readonly events = inject(EventsService);
  private readonly destroyRef = inject(DestroyRef);
  private readonly current = signal<JobRun | null>(null);
  readonly run: Signal<JobRun | null> = this.current.asReadonly();
  private stop: (() => void) | null = null;

  track(initial: JobRun, onDone?: (run: JobRun) => void): void {
    this.stop?.();
    this.current.set(initial);
    let finished = false;
    const update = (r: JobRun) => {
      if (finished || r.id !== initial.id) return;
      this.current.set(r);
      if (isTerminal(r.status)) { finished = true; cleanup(); onDone?.(r); }
    };
    const sub = this.events.run$(initial.id).subscribe(update);
    const timer = setInterval(() => { this.api.run(initial.id).then(update).catch(() => undefined); }, 3000);
    const cleanup = () => { sub.unsubscribe(); clearInterval(timer); };
    this.stop = cleanup;
    this.destroyRef.onDestroy(cleanup);
    update(initial);
  }
}
