import { Component, computed, inject, signal } from '@angular/core';
import { liveView } from '../shared/live-view';
import { Router, RouterLink } from '@angular/router';
import { ClrProgressBarModule, ClrSpinnerModule } from '@clr/angular';
import type { Dashboard, JobRun } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { isTerminal } from '../core/run-tracker';
import { SdkService } from '../sdk/sdk.service';
import { BarChart, LineChart, type ChartPoint } from '../shared/charts';
import { ErrorAlert } from '../shared/error-alert';
import { PluginNav } from '../shared/plugin-nav';

/** How long a run that ended stays under Running jobs. */
const RECENT_MS = 2 * 60_000;

/** Global view: protection, last 24 h, repository capacity/dedup, running jobs (live), growth and duration charts. */
@Component({
  selector: 'sp-dashboard',
  imports: [RouterLink, ClrProgressBarModule, ClrSpinnerModule, LineChart, BarChart, ErrorAlert, PluginNav, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'dashboard.title' | t }}</h2><span class="sp-grow"></span>
        <a class="btn btn-sm btn-link" routerLink="/notifications">{{ 'notif.title' | t }}</a>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      @if (!data() && !error()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @if (data(); as d) {
        <div class="sp-cards">
          <div class="card">
            <div class="card-header">{{ 'dashboard.protection' | t }}</div>
            <div class="card-block">
              <div class="sp-big">{{ d.vms.protected | num }} / {{ d.vms.total | num }}</div>
              <div>{{ 'dashboard.protectedWithin' | t: { pct: protectedPct(), h: d.protectionWindowHours ?? 26 } }}</div>
              <clr-progress-bar [clrValue]="d.vms.protected" [clrMax]="d.vms.total || 1" clrColor="success" [attr.aria-label]="'dashboard.protection' | t" />
              @if (d.vms.scheduled !== undefined) { <div class="sp-muted" data-test="scheduled">{{ 'dashboard.scheduledN' | t: { n: d.vms.scheduled } }}</div> }
              @if (d.vms.unprotected > 0) { <p><a [routerLink]="'/vms'" [queryParams]="{ filter: 'unprotected' }">{{ 'dashboard.unprotectedN' | t: { n: d.vms.unprotected } }}</a></p> }
            </div>
          </div>
          <div class="card">
            <div class="card-header">{{ 'dashboard.last24h' | t }}</div>
            <div class="card-block sp-row" style="justify-content: space-around; flex-wrap: wrap; gap: 0.5rem">
              @for (c of counters; track c.status) {
                <a class="sp-counter" [routerLink]="'/runs'" [queryParams]="{ status: c.status, since: d.last24h.since }" [attr.data-counter]="c.status"
                  [attr.aria-label]="'dashboard.showRuns' | t: { n: d.last24h[c.status], status: ('status.' + c.status | t) }">
                  <div><div class="sp-big">{{ d.last24h[c.status] | num }}</div><span [class]="c.cls">{{ 'status.' + c.status | t }}</span></div>
                </a>
              }
            </div>
            <div class="card-footer sp-muted" style="font-size: 0.55rem">{{ 'dashboard.last24hHelp' | t }}</div>
          </div>
          <div class="card">
            <div class="card-header">{{ 'dashboard.repository' | t }}</div>
            <div class="card-block">
              <div class="sp-big">{{ d.repository.usedBytes | bytes }}</div>
              <div>{{ 'dashboard.ofCapacity' | t: { cap: (d.repository.capacityBytes | bytes), pct: usedPct() } }}</div>
              <clr-progress-bar [clrValue]="d.repository.usedBytes" [clrMax]="d.repository.capacityBytes || 1" [clrColor]="usedColor()" [attr.aria-label]="'dashboard.repository' | t" />
              <dl class="sp-kv" style="margin-top: 0.5rem">
                <dt>{{ 'dashboard.dedup' | t }}</dt><dd>@if (d.repository.dedupRatio > 0) { {{ d.repository.dedupRatio | num: 1 }} : 1 } @else { — }</dd>
                <dt>{{ 'dashboard.logical' | t }}</dt><dd>{{ d.repository.logicalBytes | bytes }}</dd>
                <dt>{{ 'summary.restorePoints' | t }}</dt><dd>{{ d.repository.restorePoints | num }}</dd>
              </dl>
            </div>
          </div>
        </div>

        <div class="card">
          <div class="card-header">{{ 'dashboard.running' | t }} ({{ running().length | num }})</div>
          <div class="card-block">
            @for (r of running(); track r.id) {
              <div style="margin-bottom: 0.75rem">
                <div class="sp-row"><strong>{{ r.jobName ?? ('kind.' + r.kind | t) }}</strong>
                  <span class="sp-muted">{{ vmNames(r) }}</span><span class="sp-grow"></span>
                  @if (isTerminal(r.status)) { <span class="sp-muted">{{ 'dashboard.justFinished' | t: { status: ('status.' + r.status | t) } }}</span> } @else { <span>{{ r.progress | num }} %</span> }</div>
                <clr-progress-bar [clrValue]="r.progress" [clrMax]="100" [attr.aria-label]="'run.progressAria' | t: { p: r.progress }" />
                @for (vm of r.vms; track vm.vmId) { @if (vm.status === 'running') { <div class="sp-muted">{{ vm.vmName }}: {{ vm.phase }} · {{ vm.bytesRead | bytes }}</div> } }
              </div>
            } @empty { <p class="sp-muted">{{ 'dashboard.nothingRunning' | t }}</p> }
          </div>
        </div>

        <div class="sp-cards" style="grid-template-columns: repeat(auto-fit, minmax(360px, 1fr))">
          <div class="card">
            <div class="card-header">{{ 'dashboard.growth' | t }}</div>
            <div class="card-block">
              @if (growth().length) { <sp-line-chart [points]="growth()" [label]="'dashboard.growth' | t" [format]="fmtBytes" /> }
              @else { <p class="sp-muted">{{ 'dashboard.noData' | t }}</p> }
            </div>
          </div>
          <div class="card">
            <div class="card-header">{{ 'dashboard.durations' | t }}</div>
            <div class="card-block">
              @if (durations().length) { <sp-bar-chart [points]="durations()" [label]="'dashboard.durations' | t" [format]="fmtDuration" /> }
              @else { <p class="sp-muted">{{ 'dashboard.noData' | t }}</p> }
            </div>
          </div>
        </div>
      }
    </div>`,
})
export class DashboardPage {
  readonly sdk = inject(SdkService);
  /** The "last 24 hours" figures, each a link to the runs behind it. */
  readonly counters = [
    { status: 'success', cls: 'label label-success' }, { status: 'warning', cls: 'label label-warning' },
    { status: 'failed', cls: 'label label-danger' }, { status: 'cancelled', cls: 'label' },
  ] as const;
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  readonly data = signal<Dashboard | null>(null);
  readonly error = signal<string | null>(null);
  private readonly live = signal<Map<string, JobRun>>(new Map());
  /** Runs that ended while this view was open stay listed for a while with their outcome: a run faster than a refresh would never show otherwise. */
  private readonly finished = signal<Map<string, JobRun>>(new Map());
  readonly running = computed(() => {
    const byId = new Map((this.data()?.running ?? []).map((r) => [r.id, r]));
    for (const [id, r] of this.live()) byId.set(id, r);
    const active = [...byId.values()].filter((r) => !isTerminal(r.status));
    return [...active, ...[...this.finished().values()].filter((r) => !byId.has(r.id) || isTerminal(byId.get(r.id)!.status))];
  });
  readonly protectedPct = computed(() => { const d = this.data(); return d && d.vms.total ? this.i18n.percent(d.vms.protected / d.vms.total) : '—'; });
  readonly usedPct = computed(() => { const d = this.data(); return d && d.repository.capacityBytes ? this.i18n.percent(d.repository.usedBytes / d.repository.capacityBytes) : '—'; });
  readonly usedColor = computed(() => { const d = this.data(); const f = d && d.repository.capacityBytes ? d.repository.usedBytes / d.repository.capacityBytes : 0; return f > 0.9 ? 'danger' : f > 0.75 ? 'warning' : ''; });
  readonly growth = computed<ChartPoint[]>(() => { this.i18n.locale(); return (this.data()?.growth ?? []).map((g) => ({ label: this.i18n.date(g.date), value: g.storedBytes })); });
  readonly durations = computed<ChartPoint[]>(() => { this.i18n.locale(); return (this.data()?.durations ?? []).map((d) => ({ label: this.i18n.dateTime(d.at), detail: d.vmName, value: d.durationMs / 1000 })); });
  readonly isTerminal = isTerminal;
  readonly fmtBytes = (n: number) => this.i18n.bytes(n);
  readonly fmtDuration = (s: number) => this.i18n.duration(s * 1000);

  constructor() {
    // Deep link from other views inside vCenter: app.navigateTo({targetViewId, customData: {route}}).
    const nav = this.sdk.navigationData() as { route?: string; vm?: string } | null;
    const router = inject(Router);
    if (nav?.route && (nav.route.startsWith('/jobs') || nav.route === '/replication')) { void router.navigate([nav.route], { queryParams: nav.vm ? { vm: nav.vm } : {} }); }
    void this.load();
    liveView(() => void this.load(), (e) => {
      if (e.type !== 'run') return;
      const m = new Map(this.live()); m.set(e.run.id, e.run); this.live.set(m);
      if (isTerminal(e.run.status)) {
        const f = new Map(this.finished()); f.set(e.run.id, e.run); this.finished.set(f);
        setTimeout(() => { const g = new Map(this.finished()); g.delete(e.run.id); this.finished.set(g); }, RECENT_MS);
        void this.load();
      }
    });
  }
  async load(): Promise<void> {
    try { this.data.set(await this.api.dashboard()); this.error.set(null); this.live.set(new Map()); }
    catch (e) { this.error.set(errorText(e)); }
  }
  vmNames(r: JobRun): string { return r.vms.map((v) => v.vmName).join(', '); }
}
