import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ClrProgressBarModule, ClrSpinnerModule } from '@clr/angular';
import type { JobRun, RepositoryOverviewDto, RetentionPreviewDto } from '@contract';
import { errorText } from '../../core/api';
import { I18N_PIPES, I18n } from '../../core/i18n';
import { isTerminal } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { LineChart, type ChartPoint } from '../../shared/charts';
import { ErrorAlert } from '../../shared/error-alert';
import { liveView } from '../../shared/live-view';
import { PluginNav } from '../../shared/plugin-nav';
import { RepositoryApi } from './repository-api';

type Task = 'verify' | 'gc' | 'retention';

/** The repository: usage and growth (the dashboard's figures), points per VM, Verify/GC now, immutability locks, retention preview. */
@Component({
  selector: 'sp-repository-page',
  imports: [FormsModule, ClrProgressBarModule, ClrSpinnerModule, LineChart, ErrorAlert, PluginNav, ...I18N_PIPES],
  styles: [
    '.sp-task { margin-top: 0.5rem; }',
    '.sp-remove td { color: var(--cds-alias-status-danger, #c21d00); }',
  ],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'repo.title' | t }}</h2><span class="sp-grow"></span>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      @if (!data() && !error()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @if (data(); as d) {
        <div class="sp-cards">
          <div class="card" data-test="repo-usage">
            <div class="card-header">{{ 'repo.usage' | t }}</div>
            <div class="card-block">
              <div class="sp-big" data-test="repo-size">{{ d.usage.sizeOnDiskBytes | bytes }}</div>
              <div>{{ 'dashboard.ofCapacity' | t: { cap: (d.usage.capacityBytes | bytes), pct: usedPct() } }}</div>
              <clr-progress-bar [clrValue]="d.usage.sizeOnDiskBytes" [clrMax]="d.usage.capacityBytes || 1" [attr.aria-label]="'repo.usage' | t" />
              <dl class="sp-kv" style="margin-top: 0.5rem">
                <dt>{{ 'repo.free' | t }}</dt><dd>@if (d.usage.freeBytes !== undefined) { {{ d.usage.freeBytes | bytes }} } @else { — }</dd>
                <dt>{{ 'dashboard.logical' | t }}</dt><dd>{{ d.usage.logicalBytes | bytes }}</dd>
                <dt>{{ 'dashboard.dedup' | t }}</dt><dd data-test="repo-dedup">@if (d.usage.dedupRatio > 0) { {{ d.usage.dedupRatio | num: 1 }} : 1 } @else { — }</dd>
                <dt>{{ 'repo.reduction' | t }}</dt><dd>@if (d.usage.reductionRatio > 0) { {{ d.usage.reductionRatio | num: 1 }} : 1 } @else { — }</dd>
                <dt>{{ 'summary.restorePoints' | t }}</dt><dd>{{ d.usage.restorePoints | num }}</dd>
                <dt>{{ 'repo.packs' | t }}</dt><dd>{{ d.usage.packs | num }} · {{ 'repo.chunksN' | t: { n: d.usage.chunks } }}</dd>
                <dt>{{ 'repo.encrypted' | t }}</dt><dd>{{ (d.usage.encrypted ? 'common.yes' : 'common.no') | t }}</dd>
              </dl>
            </div>
          </div>
          <div class="card">
            <div class="card-header">{{ 'repo.maintenance' | t }}</div>
            <div class="card-block">
              <div class="sp-row" style="gap: 0.5rem">
                <button type="button" class="btn btn-sm btn-primary" data-test="verify-now" [disabled]="busy('verify')" (click)="start('verify')">{{ 'repo.verifyNow' | t }}</button>
                <button type="button" class="btn btn-sm" data-test="gc-now" [disabled]="busy('gc')" (click)="start('gc')">{{ 'repo.gcNow' | t }}</button>
              </div>
              @for (m of d.maintenance; track m.kind) {
                <div class="sp-muted">{{ 'repo.next.' + m.kind | t }}: @if (m.nextRun) { {{ m.nextRun | dt }} } @else { {{ 'repo.notScheduled' | t }} }</div>
              }
              @for (k of taskKinds; track k) {
                @if (runs()[k]; as r) {
                  <div class="sp-task" [attr.data-test]="'task-' + k" [attr.data-status]="r.status">
                    <div class="sp-row"><strong>{{ 'kind.' + k | t }}</strong><span class="sp-grow"></span><span>{{ 'status.' + r.status | t }}</span></div>
                    <clr-progress-bar [clrValue]="r.status === 'success' ? 100 : r.progress" [clrMax]="100" clrLabeled
                      [clrColor]="r.status === 'failed' ? 'danger' : r.status === 'success' ? 'success' : ''" [attr.aria-label]="'run.progressAria' | t: { p: r.progress }" />
                    @if (r.message) { <div class="sp-muted" data-test="task-message">{{ r.message }}</div> }
                  </div>
                }
              }
            </div>
          </div>
        </div>

        <div class="card">
          <div class="card-header">{{ 'dashboard.growth' | t }}</div>
          <div class="card-block">
            @if (growth().length) { <sp-line-chart [points]="growth()" [label]="'dashboard.growth' | t" [format]="fmtBytes" /> }
            @else { <p class="sp-muted">{{ 'dashboard.noData' | t }}</p> }
          </div>
        </div>

        <h3>{{ 'repo.perVm' | t }}</h3>
        <table class="table table-compact" data-test="repo-vms">
          <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th>{{ 'summary.restorePoints' | t }}</th><th class="left">{{ 'repo.oldest' | t }}</th>
            <th class="left">{{ 'repo.newest' | t }}</th><th>{{ 'col.stored' | t }}</th><th>{{ 'dashboard.logical' | t }}</th></tr></thead>
          <tbody>
            @for (v of d.vms; track v.vmId) {
              <tr [attr.data-vm]="v.vmId"><td class="left">{{ v.vmName }}</td><td data-test="count">{{ v.restorePoints | num }}</td>
                <td class="left">{{ v.oldest | dt }}</td><td class="left">{{ v.newest | dt }}</td>
                <td>{{ v.storedBytes | bytes }}</td><td>{{ v.logicalBytes | bytes }}</td></tr>
            } @empty { <tr><td colspan="6" class="left sp-muted">{{ 'repo.noPoints' | t }}</td></tr> }
          </tbody>
        </table>

        <h3>{{ 'repo.locks' | t }}</h3>
        <p class="sp-muted">{{ 'repo.locksHelp' | t }}</p>
        <table class="table table-compact" data-test="repo-locks">
          <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'repo.point' | t }}</th><th class="left">{{ 'repo.created' | t }}</th><th class="left">{{ 'repo.lockedUntil' | t }}</th></tr></thead>
          <tbody>
            @for (l of d.locks; track l.restorePointId) {
              <tr><td class="left">{{ l.vmName }}</td><td class="left">{{ l.restorePointId }}</td><td class="left">{{ l.createdAt | dt }}</td><td class="left">{{ l.lockedUntil | dt }}</td></tr>
            } @empty { <tr><td colspan="4" class="left sp-muted">{{ 'repo.noLocks' | t }}</td></tr> }
          </tbody>
        </table>

        <h3>{{ 'repo.retention' | t }}</h3>
        <p class="sp-muted">{{ 'repo.retentionHelp' | t }}</p>
        @if (preview(); as p) {
          @for (j of p.jobs; track j.jobId) {
            <div class="card" [attr.data-job]="j.jobId" data-test="retention-job">
              <div class="card-header sp-row"><span>{{ j.jobName }}</span><span class="sp-muted">{{ policyText(j.retention) }}</span><span class="sp-grow"></span>
                <button type="button" class="btn btn-sm btn-warning-outline" data-test="apply-retention" [disabled]="!j.remove.length || busy('retention')" (click)="start('retention', j.jobId)">{{ 'repo.applyRetention' | t }}</button></div>
              <div class="card-block">
                <p data-test="remove-count">{{ 'repo.wouldRemove' | t: { n: j.remove.length, k: j.keep.length } }}</p>
                @if (j.remove.length) {
                  <table class="table table-compact" data-test="would-remove">
                    <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'repo.point' | t }}</th><th class="left">{{ 'repo.created' | t }}</th></tr></thead>
                    <tbody>
                      @for (r of j.remove; track r.id) { <tr class="sp-remove" [attr.data-point]="r.id"><td class="left">{{ r.vmName }}</td><td class="left">{{ r.id }}</td><td class="left">{{ r.createdAt | dt }}</td></tr> }
                    </tbody>
                  </table>
                }
              </div>
            </div>
          } @empty { <p class="sp-muted">{{ 'repo.noRetentionJobs' | t }}</p> }
        }
      }
    </div>`,
})
export class RepositoryPage {
  readonly sdk = inject(SdkService);
  private readonly api = inject(RepositoryApi);
  private readonly i18n = inject(I18n);
  readonly taskKinds: Task[] = ['verify', 'gc', 'retention'];
  readonly data = signal<RepositoryOverviewDto | null>(null);
  readonly preview = signal<RetentionPreviewDto | null>(null);
  readonly error = signal<string | null>(null);
  /** The last maintenance run started from this page, per kind, kept current by the live events. */
  readonly runs = signal<Partial<Record<Task, JobRun>>>({});
  readonly usedPct = computed(() => { const d = this.data(); return d && d.usage.capacityBytes ? this.i18n.percent(d.usage.sizeOnDiskBytes / d.usage.capacityBytes) : '—'; });
  readonly growth = computed<ChartPoint[]>(() => { this.i18n.locale(); return (this.data()?.growth ?? []).map((g) => ({ label: this.i18n.date(g.date), value: g.storedBytes })); });
  readonly fmtBytes = (n: number) => this.i18n.bytes(n);

  constructor() {
    void this.load();
    liveView(() => void this.load(), (e) => {
      if (e.type !== 'run') return;
      const k = e.run.kind as Task;
      if (this.runs()[k]?.id !== e.run.id) return;
      this.runs.set({ ...this.runs(), [k]: e.run });
      if (isTerminal(e.run.status)) void this.load();
    });
  }

  async load(): Promise<void> {
    try {
      const [d, p] = await Promise.all([this.api.overview(), this.api.retentionPreview()]);
      this.data.set(d); this.preview.set(p); this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); }
  }

  busy(k: Task): boolean { const r = this.runs()[k]; return !!r && !isTerminal(r.status); }

  async start(k: Task, jobId?: string): Promise<void> {
    try {
      const run = k === 'retention' ? await this.api.applyRetention(jobId!) : await this.api.runMaintenance(k);
      this.runs.set({ ...this.runs(), [k]: run });
      // A quick run may end before its events reach the page: ask once for where it is now.
      const now = await this.api.run(run.id);
      if (this.runs()[k]?.id === run.id && (isTerminal(now.status) || now.progress > (this.runs()[k]?.progress ?? 0))) this.runs.set({ ...this.runs(), [k]: now });
      if (isTerminal(now.status)) void this.load();
    } catch (e) { this.error.set(errorText(e)); }
  }

  policyText(r: RetentionPreviewDto['jobs'][number]['retention']): string {
    const parts = (['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const)
      .filter((k) => (r[k] ?? 0) > 0).map((k) => this.i18n.t(`repo.policy.${k}`, { n: r[k] }));
    return parts.join(', ');
  }
}
