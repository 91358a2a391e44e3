import { Component, inject, signal } from '@angular/core';
import { liveView } from '../shared/live-view';
import { RouterLink } from '@angular/router';
import { ClrDatagridModule, ClrModalModule } from '@clr/angular';
import type { Job } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { StatusLabel } from '../shared/badges';
import { describeRetention, describeSchedule } from '../shared/describe';
import { ErrorAlert } from '../shared/error-alert';
import { PluginNav } from '../shared/plugin-nav';

/** Backup jobs: list, Run now on each row (confirmed with a link to the run's progress), edit (wizard), delete with confirmation. */
@Component({
  selector: 'sp-job-list',
  imports: [RouterLink, ClrDatagridModule, ClrModalModule, StatusLabel, ErrorAlert, PluginNav, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'jobs.title' | t }}</h2><span class="sp-grow"></span>
        <a class="btn btn-sm btn-primary" routerLink="/jobs/new">{{ 'jobs.new' | t }}</a>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      <sp-error [message]="error()" />
      @if (started(); as st) {
        <div class="alert alert-success alert-sm" role="status" data-test="run-started"><div class="alert-items"><div class="alert-item static">
          <span class="alert-text">{{ 'ux.jobs.started' | t: { name: st.job, at: (st.at | dt) } }}
            <a [routerLink]="['/runs']" [queryParams]="{ run: st.runId }" id="sp-run-progress-link">{{ 'ux.jobs.showProgress' | t }}</a></span>
        </div></div></div>
      }
      <clr-datagrid [clrDgLoading]="loading()" [attr.aria-label]="'jobs.title' | t">
        <clr-dg-column [clrDgField]="'name'">{{ 'col.name' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.vms' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'job.schedule' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'job.retention' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.lastRun' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'summary.nextRun' | t }}</clr-dg-column>
        <clr-dg-column><span class="sp-sr-only">{{ 'jobs.runNow' | t }}</span></clr-dg-column>
        <clr-dg-row *clrDgItems="let job of jobs(); trackBy: byId" [clrDgItem]="job">
          <clr-dg-action-overflow [clrDgActionOverflowButtonLabel]="'common.actions' | t">
            <button type="button" class="action-item" (click)="run(job)">{{ 'jobs.runNow' | t }}</button>
            <a class="action-item" [routerLink]="['/jobs', job.id]">{{ 'common.edit' | t }}</a>
            <button type="button" class="action-item" (click)="confirmDelete.set(job)">{{ 'common.delete' | t }}</button>
          </clr-dg-action-overflow>
          <clr-dg-cell><a [routerLink]="['/jobs', job.id]">{{ job.name }}</a> @if (!job.enabled) { <span class="label">{{ 'job.disabled' | t }}</span> }</clr-dg-cell>
          <clr-dg-cell>{{ job.vmIds.length | num }}</clr-dg-cell>
          <clr-dg-cell>{{ schedule(job) }}</clr-dg-cell>
          <clr-dg-cell>{{ retention(job) }}</clr-dg-cell>
          <clr-dg-cell>@if (job.lastRun; as lr) { <a [routerLink]="['/runs']" [queryParams]="{ run: lr.id }" [attr.title]="'ux.jobs.lastRunLink' | t: { name: job.name }"><sp-status [value]="lr.status" /></a> {{ lr.endedAt | dt }} } @else { <span class="sp-muted">{{ 'summary.never' | t }}</span> }</clr-dg-cell>
          <clr-dg-cell>{{ job.nextRun | dt }}</clr-dg-cell>
          <clr-dg-cell><button type="button" class="btn btn-sm btn-secondary sp-run-now" [disabled]="startingId() === job.id" (click)="run(job)"
            [attr.aria-label]="'ux.jobs.runNowFor' | t: { name: job.name }">{{ 'jobs.runNow' | t }}</button></clr-dg-cell>
        </clr-dg-row>
        <clr-dg-placeholder>{{ 'jobs.none' | t }}</clr-dg-placeholder>
      </clr-datagrid>
    </div>
    <clr-modal [clrModalOpen]="!!confirmDelete()" (clrModalOpenChange)="!$event && confirmDelete.set(null)" clrModalSize="sm">
      <h3 class="modal-title">{{ 'jobs.deleteTitle' | t }}</h3>
      <div class="modal-body"><p>{{ 'jobs.deleteText' | t: { name: confirmDelete()?.name } }}</p></div>
      <div class="modal-footer">
        <button type="button" class="btn btn-outline" (click)="confirmDelete.set(null)">{{ 'common.cancel' | t }}</button>
        <button type="button" class="btn btn-danger" (click)="remove()">{{ 'common.delete' | t }}</button>
      </div>
    </clr-modal>`,
})
export class JobListPage {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  readonly jobs = signal<Job[]>([]);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  /** The run that "Run now" started, confirmed with a link to its progress. */
  readonly started = signal<{ job: string; runId: string; at: string } | null>(null);
  readonly startingId = signal<string | null>(null);
  readonly confirmDelete = signal<Job | null>(null);

  constructor() {
    void this.load();
    liveView(() => void this.load(), (e) => {
      if (e.type === 'job') this.jobs.set(this.jobs().map((j) => (j.id === e.job.id ? e.job : j)));
      if (e.type === 'run' && e.run.jobId && e.run.endedAt) void this.load();
    });
  }
  async load(): Promise<void> {
    try { this.jobs.set(await this.api.jobs()); this.error.set(null); } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  /** Rows stay while the list refreshes (a job running every few seconds), so an open row menu stays open. */
  byId(_: number, job: Job): string { return job.id; }
  schedule(job: Job): string { return describeSchedule(job.schedule.cron, this.i18n); }
  retention(job: Job): string { return describeRetention(job.retention, this.i18n); }
  async run(job: Job): Promise<void> {
    this.startingId.set(job.id); this.error.set(null); this.started.set(null);
    try {
      const run = await this.api.runJob(job.id);
      this.started.set({ job: job.name, runId: run.id, at: run.startedAt });
    } catch (e) { this.error.set(errorText(e)); } finally { this.startingId.set(null); }
  }
  async remove(): Promise<void> {
    const job = this.confirmDelete();
    this.confirmDelete.set(null);
    if (!job) return;
    try { await this.api.deleteJob(job.id); await this.load(); } catch (e) { this.error.set(errorText(e)); }
  }
}
