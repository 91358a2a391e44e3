import { Component, inject, signal } from '@angular/core';
import { liveView } from '../shared/live-view';
import { ActivatedRoute } from '@angular/router';
import { ClrSpinnerModule } from '@clr/angular';
import type { RestorePoint, VmDetail } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { ConsistencyBadge, StatusLabel } from '../shared/badges';
import { VmTabs, contextVmIds } from '../shared/vm-context';
import { ErrorAlert } from '../shared/error-alert';

/** Summary card on the VM's Summary tab: protection, last backup with consistency, next run. */
@Component({
  selector: 'sp-vm-summary',
  imports: [ClrSpinnerModule, ErrorAlert, ConsistencyBadge, StatusLabel, VmTabs, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-vm-tabs [vmId]="vmId" [name]="vm()?.name" active="summary" />
      <!-- Inside vCenter the client draws the card frame and title; standalone draws its own card. -->
      <div [class.card]="!sdk.isPlugin" style="margin-top: 0">
        @if (!sdk.isPlugin) { <div class="card-header">{{ 'summary.title' | t }}</div> }
        <div [class.card-block]="!sdk.isPlugin">
          <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
          @if (error()) {} @else if (!vm()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
          @else {
            @let v = vm()!;
            <dl class="sp-kv">
              <dt>{{ 'summary.protection' | t }}</dt>
              <dd>@if (v.protected) { <span class="label label-success">{{ 'summary.protected' | t }}</span> } @else { <span class="label label-warning">{{ 'summary.unprotected' | t }}</span> }</dd>
              <dt>{{ 'summary.lastBackup' | t }}</dt>
              <dd>
                @if (v.lastBackup; as lb) {
                  <span [attr.title]="lb.at | dt">{{ lb.at | dt }}</span>&nbsp;
                  <sp-status [value]="lb.status" />
                  @if (lb.consistency) { <sp-consistency [value]="lb.consistency" /> }
                } @else { <span class="sp-muted">{{ 'summary.never' | t }}</span> }
              </dd>
              <dt>{{ 'summary.nextRun' | t }}</dt>
              <dd>@if (v.nextRun) { <span [attr.title]="v.nextRun | dt">{{ v.nextRun | dt }}</span> } @else { <span class="sp-muted">{{ 'summary.noSchedule' | t }}</span> }</dd>
              <dt>{{ 'summary.restorePoints' | t }}</dt>
              <dd>{{ points().length | num }}@if (points()[0]; as p) { · {{ p.logicalBytes | bytes }} }</dd>
            </dl>
          }
        </div>
        <div [class.card-footer]="!sdk.isPlugin" class="sp-summary-actions">
          <button type="button" class="btn btn-sm btn-link" (click)="backup()">{{ 'action.backup' | t }}</button>
          <button type="button" class="btn btn-sm btn-link" (click)="restore()" [disabled]="points().length === 0">{{ 'action.restore' | t }}</button>
        </div>
      </div>
    </div>`,
})
export class VmSummaryCard {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  readonly vmId = contextVmIds(inject(ActivatedRoute), this.sdk)[0] ?? '';
  readonly vm = signal<VmDetail | null>(null);
  readonly points = signal<RestorePoint[]>([]);
  readonly error = signal<string | null>(null);

  constructor() {
    void this.load();
    liveView(() => void this.load(), (e) => {
      if ((e.type === 'run' && e.run.vms.some((v) => v.vmId === this.vmId) && e.run.endedAt) || (e.type === 'restorePoint' && e.restorePoint.vmId === this.vmId)) void this.load();
    });
  }
  async load(): Promise<void> {
    if (!this.vmId) { this.error.set(this.i18n.t('error.noVm')); return; }
    try {
      const [vm, points] = await Promise.all([this.api.vm(this.vmId), this.api.restorePoints(this.vmId)]);
      this.vm.set(vm); this.points.set(points); this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); }
  }
  backup(): void { this.actions.open('backup', [this.vmId], {}, () => void this.load()); }
  restore(): void { this.actions.open('restore', [this.vmId], {}, () => void this.load()); }
}
