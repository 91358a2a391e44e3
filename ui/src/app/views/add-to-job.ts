import { Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router, RouterLink } from '@angular/router';
import { ClrFormsModule, ClrSpinnerModule } from '@clr/angular';
import type { Job, VmSummary } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { describeSchedule } from '../shared/describe';
import { ErrorAlert } from '../shared/error-alert';
import { contextVmIds } from '../shared/vm-context';

/**
 * "Add to job…": pick an existing job → POST /api/jobs/:id/vms, then say what happened (which VMs, which job, its
 * next run) with a link to the job; or go to the job wizard with the VMs preselected.
 */
@Component({
  selector: 'sp-add-to-job',
  imports: [FormsModule, RouterLink, ClrFormsModule, ClrSpinnerModule, ErrorAlert, ...I18N_PIPES],
  template: `
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'action.addToJob.title' | t }}</h2> }
      <sp-error [message]="error()" />
      @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @else if (saved(); as job) {
        <div class="alert alert-success" role="status" data-test="added-to-job"><div class="alert-items"><div class="alert-item static"><div class="alert-text">
          <div>{{ 'ux.addToJob.done' | t: { vms: vmNames(), job: job.name } }}</div>
          <div>@if (!job.enabled) { {{ 'ux.addToJob.disabled' | t }} }
            @else if (job.nextRun) { {{ 'ux.addToJob.nextRun' | t: { at: (job.nextRun | dt) } }} }
            @else { {{ 'ux.addToJob.manual' | t }} }</div>
          <div class="alert-actions" style="margin-left: 0">
            @if (sdk.isPlugin) { <button type="button" class="btn btn-sm btn-link alert-action" id="sp-open-job" (click)="openJob(job)">{{ 'ux.addToJob.openJob' | t: { job: job.name } }}</button> }
            @else { <a class="alert-action" id="sp-open-job" [routerLink]="['/jobs', job.id]">{{ 'ux.addToJob.openJob' | t: { job: job.name } }}</a> }
          </div>
        </div></div></div></div>
      } @else {
        <p>{{ 'addToJob.intro' | t: { vms: vmNames() } }}</p>
        @if (jobs().length === 0) { <p class="sp-muted">{{ 'addToJob.noJobs' | t }}</p> }
        @else {
          <clr-radio-container clrInline="false">
            <label>{{ 'addToJob.job' | t }}</label>
            @for (job of jobs(); track job.id) {
              <clr-radio-wrapper>
                <input type="radio" clrRadio name="job" [value]="job.id" [(ngModel)]="jobId" [id]="'job-' + job.id" />
                <label [for]="'job-' + job.id">{{ job.name }} <span class="sp-muted">· {{ 'addToJob.jobInfo' | t: { n: job.vmIds.length, schedule: schedule(job) } }}</span>
                  @if (containsAll(job)) { <span class="label">{{ 'addToJob.already' | t }}</span> }</label>
              </clr-radio-wrapper>
            }
          </clr-radio-container>
        }
      }
    </div>
    <div class="sp-modal-footer">
      @if (saved()) { <button type="button" class="btn btn-primary" (click)="close()">{{ 'common.close' | t }}</button> }
      @else {
        <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
        <button type="button" class="btn btn-outline" (click)="newJob()">{{ 'addToJob.newJob' | t }}</button>
        <button type="button" class="btn btn-primary" [disabled]="!jobId || busy()" (click)="save()">{{ 'addToJob.add' | t }}</button>
      }
    </div>`,
})
export class AddToJobModal {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  private readonly router = inject(Router);
  readonly ids = contextVmIds(inject(ActivatedRoute), this.sdk);
  readonly jobs = signal<Job[]>([]);
  readonly vms = signal<VmSummary[]>([]);
  readonly loading = signal(true);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  readonly saved = signal<Job | null>(null);
  jobId = '';

  constructor() { void this.load(); }
  private async load(): Promise<void> {
    try {
      const [jobs, vms] = await Promise.all([this.api.jobs(), this.api.vms()]);
      this.jobs.set(jobs); this.vms.set(vms);
      this.jobId = jobs.find((j) => !this.containsAll(j))?.id ?? '';
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  vmNames(): string { return this.ids.map((id) => this.vms().find((v) => v.id === id)?.name ?? id).join(', '); }
  containsAll(job: Job): boolean { return this.ids.every((id) => job.vmIds.includes(id)); }
  schedule(job: Job): string { return describeSchedule(job.schedule.cron, this.i18n); }
  async save(): Promise<void> {
    this.busy.set(true); this.error.set(null);
    // The dialog stays open on both outcomes: what happened (and when the job runs next), or the error to act on.
    try { this.saved.set(await this.api.addVmsToJob(this.jobId, this.ids)); }
    catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }
  newJob(): void {
    if (this.sdk.isPlugin) {
      this.sdk.navigateTo({ targetViewId: 'stillpointDashboard', customData: { route: '/jobs/new', vm: this.ids.join(',') } });
      this.sdk.closeModal();
    } else void this.router.navigate(['/jobs/new'], { queryParams: { vm: this.ids.join(',') } });
  }
  /** Inside vCenter: the job in the plugin's global view; the modal closes. */
  openJob(job: Job): void {
    this.sdk.navigateTo({ targetViewId: 'stillpointDashboard', customData: { route: `/jobs/${job.id}` } });
    this.sdk.closeModal({ jobId: job.id });
  }
  close(): void { this.actions.close(this.saved() ? { jobId: this.jobId } : undefined); }
}
