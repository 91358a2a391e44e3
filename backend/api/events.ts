// Live progress for the UI: every run, restore point and job change is published on one stream and
// sent to browsers as server-sent events.
import type { Request, Response } from 'express';
import { Subject, filter, map, type Observable } from 'rxjs';
import type { ServerEvent } from './contract.ts';

export class EventBus {
  readonly #subject = new Subject<ServerEvent>();
  readonly events$: Observable<ServerEvent> = this.#subject.asObservable();

  publish(e: ServerEvent): void { this.#subject.next(e); }

  /** Streams events to one client until it disconnects; `view` drops or trims what this user may not see. */
  stream(req: Request, res: Response, view: (e: ServerEvent) => ServerEvent | undefined): void {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    const sub = this.events$.pipe(map(view), filter((e): e is ServerEvent => e !== undefined)).subscribe((e) => {
      res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => { clearInterval(ping); sub.unsubscribe(); });
  }

  complete(): void { this.#subject.complete(); }
}
