import { Component, inject, signal } from '@angular/core';
import { liveView } from '../shared/live-view';
import { ActivatedRoute, Router } from '@angular/router';
import { ClrSpinnerModule } from '@clr/angular';
import type { GuestCredential, Job, VmDetail } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { describeRetention, describeSchedule } from '../shared/describe';
import { ErrorAlert } from '../shared/error-alert';
import { VmTabs, contextVmIds } from '../shared/vm-context';

/** Configure › Backup: the VM's jobs with their app-aware settings, guest credentials and scripts. */
@Component({
  selector: 'sp-vm-configure',
  imports: [ClrSpinnerModule, ErrorAlert, VmTabs, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-vm-tabs [vmId]="vmId" [name]="vm()?.name" active="configure" />
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      @if (vm(); as v) {
        <div class="sp-row">
          <span>{{ 'configure.guest' | t }}: <strong>{{ v.guestOs }}</strong></span>
          <span class="label" [class.label-success]="v.toolsRunning" [class.label-warning]="!v.toolsRunning">{{ (v.toolsRunning ? 'configure.toolsRunning' : 'configure.toolsNotRunning') | t }}</span>
          <span class="label" [class.label-success]="v.cbtEnabled">{{ (v.cbtEnabled ? 'configure.cbtOn' : 'configure.cbtOff') | t }}</span>
          <span class="sp-grow"></span>
          @if (sdk.isPlugin) { <button type="button" class="btn btn-sm btn-outline" (click)="addToJob()">{{ 'action.addToJob' | t }}</button> }
        </div>
        @if (!v.toolsRunning) { <p class="sp-muted">{{ 'configure.toolsHint' | t }}</p> }
      }
      @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @else if (jobs().length === 0 && !error()) {
        <div class="alert alert-warning" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'configure.noJobs' | t }}</span></div></div></div>
      }
      @for (job of jobs(); track job.id) {
        <div class="card">
          <div class="card-header sp-row">
            <span>{{ job.name }}</span>
            @if (!job.enabled) { <span class="label">{{ 'job.disabled' | t }}</span> }
            <span class="sp-grow"></span>
            <button type="button" class="btn btn-sm btn-link" (click)="edit(job)">{{ 'common.edit' | t }}</button>
          </div>
          <div class="card-block">
            <dl class="sp-kv">
              <dt>{{ 'job.schedule' | t }}</dt><dd>{{ schedule(job) }} @if (job.nextRun) { · {{ 'summary.nextRun' | t }}: {{ job.nextRun | dt }} }</dd>
              <dt>{{ 'job.retention' | t }}</dt><dd>{{ retention(job) }}</dd>
              <dt>{{ 'appAware.quiesce' | t }}</dt><dd>{{ (job.appAware.quiesce ? 'common.yes' : 'common.no') | t }}</dd>
              <dt>{{ 'appAware.onFailure' | t }}</dt><dd>{{ 'appAware.onFailure.' + job.appAware.onQuiesceFailure | t }}</dd>
              <dt>{{ 'appAware.vss' | t }}</dt><dd>{{ 'appAware.vss.' + job.appAware.vssBackupType | t }}</dd>
              <dt>{{ 'appAware.credential' | t }}</dt><dd>{{ credentialName(job.appAware.guestCredentialId) }}</dd>
              <dt>{{ 'job.concurrency' | t }}</dt><dd>{{ job.concurrency | num }}</dd>
              <dt>{{ 'scripts.preFreeze' | t }}</dt>
              <dd>@if (job.appAware.preFreeze; as s) { <span class="sp-muted">@if (s.interpreter) { {{ s.interpreter }} · }{{ 'scripts.timeoutN' | t: { n: s.timeoutSec } }}</span><pre class="sp-script">{{ s.content }}</pre> } @else { {{ 'common.none' | t }} }</dd>
              <dt>{{ 'scripts.postThaw' | t }}</dt>
              <dd>@if (job.appAware.postThaw; as s) { <span class="sp-muted">@if (s.interpreter) { {{ s.interpreter }} · }{{ 'scripts.timeoutN' | t: { n: s.timeoutSec } }}</span><pre class="sp-script">{{ s.content }}</pre> } @else { {{ 'common.none' | t }} }</dd>
            </dl>
          </div>
        </div>
      }
    </div>`,
})
export class VmConfigureView {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly router = inject(Router);
  private readonly actions = inject(Actions);
  readonly vmId = contextVmIds(inject(ActivatedRoute), this.sdk)[0] ?? '';
  readonly vm = signal<VmDetail | null>(null);
  readonly jobs = signal<Job[]>([]);
  readonly credentials = signal<GuestCredential[]>([]);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);

  constructor() {
    void this.load();
    liveView(() => void this.load());
  }
  async load(): Promise<void> {
    if (!this.vmId) { this.error.set(this.i18n.t('error.noVm')); this.loading.set(false); return; }
    try {
      const [vm, jobs, creds] = await Promise.all([this.api.vm(this.vmId), this.api.vmJobs(this.vmId), this.api.credentials()]);
      this.vm.set(vm); this.jobs.set(jobs); this.credentials.set(creds); this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  schedule(job: Job): string { return describeSchedule(job.schedule.cron, this.i18n); }
  retention(job: Job): string { return describeRetention(job.retention, this.i18n); }
  credentialName(id?: string): string {
    if (!id) return this.i18n.t('common.none');
    const c = this.credentials().find((x) => x.id === id);
    return c ? `${c.name} (${c.username})` : id;
  }
  /** Jobs are edited in the wizard of the global view (plugin) or the jobs page (standalone). */
  edit(job: Job): void {
    if (this.sdk.isPlugin) this.sdk.navigateTo({ targetViewId: 'stillpointDashboard', customData: { route: `/jobs/${job.id}` } });
    else void this.router.navigate(['/jobs', job.id]);
  }
  addToJob(): void { this.actions.open('add-to-job', [this.vmId], {}, () => void this.load()); }
}
