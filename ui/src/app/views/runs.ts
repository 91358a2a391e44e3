import { Component, computed, inject, signal } from '@angular/core';
import { ActivatedRoute, RouterLink } from '@angular/router';
import { ClrDatagridModule } from '@clr/angular';
import type { JobRun } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { StatusLabel } from '../shared/badges';
import { RunOutcome, RunVmTable } from '../shared/run-result';
import { ErrorAlert } from '../shared/error-alert';
import { PluginNav } from '../shared/plugin-nav';
import { liveView } from '../shared/live-view';

/** What the list is filtered by: the query of the dashboard figure (or report link) that led here. */
interface RunQuery { status?: string; kind?: string; since?: string; run?: string }

/**
 * The run history of every kind, filtered by outcome, kind and start time through the address's query
 * (?status=failed&since=…): the runs behind each dashboard counter. ?run=ID shows one run opened.
 */
@Component({
  selector: 'sp-runs',
  imports: [RouterLink, ClrDatagridModule, StatusLabel, RunOutcome, RunVmTable, ErrorAlert, PluginNav, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'runs.title' | t }}</h2><span class="sp-grow"></span>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      @if (filterText(); as f) {
        <p class="sp-row" data-test="runs-filter"><span>{{ 'runs.filtered' | t: { what: f } }}</span>
          <a class="btn btn-sm btn-link" routerLink="/runs">{{ 'runs.showAll' | t }}</a></p>
      }
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      <clr-datagrid [clrDgLoading]="loading()" [attr.aria-label]="'runs.title' | t">
        <clr-dg-column>{{ 'col.started' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.kind' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.job' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.result' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.vms' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.duration' | t }}</clr-dg-column>
        <clr-dg-row *clrDgItems="let r of runs(); trackBy: byId" [clrDgItem]="r" [clrDgExpanded]="r.id === opened()" [attr.data-run]="r.id">
          <clr-dg-cell>{{ r.startedAt | dt }}</clr-dg-cell>
          <clr-dg-cell>{{ ('kind.' + r.kind) | t }}</clr-dg-cell>
          <clr-dg-cell>{{ r.jobName ?? r.forJob?.name ?? '—' }}</clr-dg-cell>
          <clr-dg-cell><sp-status [value]="r.status" /></clr-dg-cell>
          <clr-dg-cell>{{ vmNames(r) }}</clr-dg-cell>
          <clr-dg-cell>@if (r.endedAt) { {{ took(r) | duration }} }</clr-dg-cell>
          <clr-dg-row-detail *clrIfExpanded>
            <div style="width: 100%">
              @if (r.message) { <p>{{ r.message }}</p> }
              @if (r.vms.length) {
                <sp-run-outcome [run]="r" />
                <sp-run-vm-table [run]="r" />
              }
            </div>
          </clr-dg-row-detail>
        </clr-dg-row>
        <clr-dg-placeholder>{{ 'runs.none' | t }}</clr-dg-placeholder>
      </clr-datagrid>
    </div>`,
})
export class RunsPage {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly route = inject(ActivatedRoute);
  readonly runs = signal<JobRun[]>([]);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  readonly query = signal<RunQuery>({});
  readonly opened = computed(() => this.query().run);
  readonly filterText = computed(() => {
    const q = this.query();
    const parts: string[] = [];
    if (q.status) parts.push(this.i18n.t('status.' + q.status));
    if (q.kind) parts.push(this.i18n.t('kind.' + q.kind));
    if (q.since) parts.push(/^\d+h$/.test(q.since) ? this.i18n.t('runs.sinceHours', { h: q.since.slice(0, -1) }) : this.i18n.t('runs.sinceTime', { t: this.i18n.dateTime(q.since) }));
    if (q.run) parts.push(this.i18n.t('runs.oneRun'));
    return parts.join(' · ');
  });

  constructor() {
    this.route.queryParamMap.subscribe((m) => {
      const q: RunQuery = {};
      for (const k of ['status', 'kind', 'since', 'run'] as const) { const v = m.get(k); if (v) q[k] = v; }
      this.query.set(q);
      void this.load();
    });
    // A listed run that is still going is updated in place (a run opened from "Run now" shows its progress).
    liveView(() => void this.load(), (e) => {
      if (e.type !== 'run') return;
      if (this.runs().some((r) => r.id === e.run.id)) this.runs.set(this.runs().map((r) => (r.id === e.run.id ? e.run : r)));
      if (!['running', 'queued'].includes(e.run.status)) void this.load();
    });
  }

  async load(): Promise<void> {
    const q = this.query();
    this.loading.set(true);
    try {
      const list = q.run ? [await this.api.run(q.run)] : await this.api.runsWhere({ status: q.status, kind: q.kind, since: q.since });
      this.runs.set(list);
      this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }

  byId(_: number, r: JobRun): string { return r.id; }
  vmNames(r: JobRun): string { return r.vms.map((v) => v.vmName).join(', ') || '—'; }
  took(r: JobRun): number { return r.endedAt ? Date.parse(r.endedAt) - Date.parse(r.startedAt) : 0; }
}
