import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute } from '@angular/router';
import { ClrSpinnerModule } from '@clr/angular';
import type { JobRun, VmSummary } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { RunTracker } from '../core/run-tracker';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { ConsistencyBadge, StatusLabel } from '../shared/badges';
import { ErrorAlert } from '../shared/error-alert';
import { RunProgress } from '../shared/run-progress';
import { contextVmIds } from '../shared/vm-context';

/**
 * "Back up now" (right-click, one or several VMs): confirm → POST /api/backups → live progress (SSE) →
 * closes itself via htmlClientSdk.modal.close() when the run succeeded; stays open on warnings/failure.
 */
@Component({
  selector: 'sp-backup-now',
  imports: [FormsModule, ClrSpinnerModule, ConsistencyBadge, StatusLabel, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'action.backup.title' | t }}</h2> }
      <sp-error [message]="error()" />
      @if (tracker.run(); as run) {
        @if (done()) {
          <p role="status" class="sp-done">{{ ('backup.done.' + run.status) | t }}@if (run.status === 'success' && sdk.isPlugin) { {{ 'backup.closing' | t }} }</p>
        }
        <sp-run-progress [run]="run" />
      } @else if (loading()) {
        <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner>
      } @else {
        <p>{{ 'backup.intro' | t: { n: vms().length } }}</p>
        <table class="table table-compact">
          <caption class="sp-sr-only">{{ 'backup.vmTable' | t }}</caption>
          <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'col.lastBackup' | t }}</th><th class="left">{{ 'col.tools' | t }}</th></tr></thead>
          <tbody>
            @for (vm of vms(); track vm.id) {
              <tr>
                <td class="left">{{ vm.name }}</td>
                <td class="left">@if (vm.lastBackup; as lb) { {{ lb.at | dt }} <sp-status [value]="lb.status" /> @if (lb.consistency) { <sp-consistency [value]="lb.consistency" /> } } @else { {{ 'summary.never' | t }} }</td>
                <td class="left">{{ (vm.toolsRunning ? 'configure.toolsRunning' : 'backup.crashOnly') | t }}</td>
              </tr>
            }
          </tbody>
        </table>
        @if (missing().length) { <p class="sp-muted">{{ 'backup.unknownVms' | t: { ids: missing().join(', ') } }}</p> }
      }
    </div>
    <div class="sp-modal-footer">
      @if (!tracker.run()) {
        <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
        <button type="button" class="btn btn-primary" (click)="start()" [disabled]="starting() || vms().length === 0" autofocus>{{ (starting() ? 'backup.starting' : 'action.backup') | t }}</button>
      } @else {
        @if (!done()) { <button type="button" class="btn btn-outline" (click)="cancelRun()">{{ 'backup.cancelRun' | t }}</button> }
        <button type="button" class="btn" [class.btn-primary]="done()" (click)="close()">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button>
      }
    </div>`,
})
export class BackupNowModal {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  readonly tracker = inject(RunTracker);
  readonly ids = contextVmIds(inject(ActivatedRoute), this.sdk);
  readonly vms = signal<VmSummary[]>([]);
  readonly loading = signal(true);
  readonly starting = signal(false);
  readonly done = signal(false);
  readonly error = signal<string | null>(null);
  readonly missing = computed(() => this.ids.filter((id) => !this.vms().some((v) => v.id === id)));

  constructor() { void this.load(); }
  private async load(): Promise<void> {
    try {
      const all = await this.api.vms();
      this.vms.set(all.filter((v) => this.ids.includes(v.id)));
      if (this.ids.length === 0) this.error.set(this.i18n.t('error.noVm'));
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  async start(): Promise<void> {
    this.starting.set(true); this.error.set(null);
    try {
      const run = await this.api.backup({ vmIds: this.vms().map((v) => v.id) });
      this.tracker.track(run, (r) => this.finished(r));
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }
  private finished(run: JobRun): void {
    this.done.set(true);
    if (run.status === 'success' && this.sdk.isPlugin) setTimeout(() => this.sdk.closeModal({ runId: run.id, status: run.status }), 1500);
  }
  async cancelRun(): Promise<void> {
    const run = this.tracker.run();
    if (!run) return;
    try { await this.api.cancelRun(run.id); } catch (e) { this.error.set(errorText(e)); }
  }
  close(): void { const run = this.tracker.run(); this.actions.close(run ? { runId: run.id, status: run.status } : undefined); }
}
