import { Injectable, NgZone, inject } from '@angular/core';
import { Observable, Subject, filter, map, share } from 'rxjs';
import type { JobRun, ServerEvent } from '@contract';
import { AuthService } from './auth';
import { I18n } from './i18n';
import { localizeServiceTexts } from './service-texts';

/**
 * Live updates from GET /api/events (server-sent events). EventSource cannot set headers, so the token
 * travels as `?session=<token>` (accepted by the backend on this route only). Reconnects with backoff.
 */
const EVENT_TYPES: readonly ServerEvent['type'][] = ['run', 'restorePoint', 'job'];

@Injectable({ providedIn: 'root' })
export class EventsService {
  private readonly auth = inject(AuthService);
  private readonly zone = inject(NgZone);
  private readonly i18n = inject(I18n);
  private readonly subject = new Subject<ServerEvent>();
  private source: EventSource | null = null;
  private subscribers = 0;
  private retryMs = 1000;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  readonly events$: Observable<ServerEvent> = new Observable<ServerEvent>((sub) => {
    const s = this.subject.subscribe(sub);
    if (this.subscribers++ === 0) void this.connect();
    return () => { s.unsubscribe(); if (--this.subscribers === 0) this.disconnect(); };
  }).pipe(share());

  /** Updates for one run (by id). */
  run$(runId: string): Observable<JobRun> {
    return this.events$.pipe(
      filter((e): e is Extract<ServerEvent, { type: 'run' }> => e.type === 'run' && e.run.id === runId),
      map((e) => e.run),
    );
  }

  private async connect(): Promise<void> {
    if (this.source || this.subscribers === 0) return;
    const token = await this.auth.token();
    const url = new URL(this.auth.url('events'));
    if (token) url.searchParams.set('session', token);
    const es = new EventSource(url.href);
    this.source = es;
    es.onopen = () => { this.retryMs = 1000; };
    const onEvent = (msg: MessageEvent<string>) => {
      let ev: ServerEvent;
      try { ev = localizeServiceTexts(JSON.parse(msg.data) as ServerEvent, this.i18n); } catch { return; }
      this.zone.run(() => this.subject.next(ev));
    };
    // The service names each event after its type (`event: run`); EventSource hands named events only to
    // listeners of that name, never to onmessage.
    es.onmessage = onEvent;
    for (const type of EVENT_TYPES) es.addEventListener(type, onEvent as EventListener);
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        this.source = null;
        if (this.subscribers > 0) {
          this.retryTimer = setTimeout(() => { this.retryTimer = null; void this.connect(); }, this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, 30_000);
        }
      }
    };
  }
  private disconnect(): void {
    this.source?.close();
    this.source = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
