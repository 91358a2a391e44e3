import { Component, computed, inject, signal } from '@angular/core';
import { liveView } from '../shared/live-view';
import { ActivatedRoute } from '@angular/router';
import { ClrDatagridModule, ClrSpinnerModule } from '@clr/angular';
import type { JobRun, ReplicaState, RestorePoint, VmDetail } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { ConsistencyBadge, StatusLabel } from '../shared/badges';
import { ErrorAlert } from '../shared/error-alert';
import { RunProgress } from '../shared/run-progress';
import { VmTabs, contextVmIds } from '../shared/vm-context';
import { RpoBadge } from './replication/rpo-badge';

/** Monitor › Backup: restore points (consistency, size, duration), job history, replica state. */
@Component({
  selector: 'sp-vm-monitor',
  imports: [ClrDatagridModule, ClrSpinnerModule, ConsistencyBadge, StatusLabel, ErrorAlert, RunProgress, VmTabs, RpoBadge, ...I18N_PIPES],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-vm-tabs [vmId]="vmId" [name]="vm()?.name" active="monitor" />
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      @for (r of running(); track r.id) { <div class="card"><div class="card-block"><sp-run-progress [run]="r" /></div></div> }

      <h3>{{ 'monitor.restorePoints' | t }}</h3>
      <clr-datagrid [clrDgLoading]="loading()" aria-label="{{ 'monitor.restorePoints' | t }}">
        <clr-dg-column [clrDgField]="'createdAt'" [clrDgSortOrder]="-1">{{ 'col.created' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'consistency'">{{ 'col.consistency' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'logicalBytes'">{{ 'col.size' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'storedBytes'">{{ 'col.stored' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'durationMs'">{{ 'col.duration' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.notes' | t }}</clr-dg-column>
        <clr-dg-row *clrDgItems="let rp of points()" [clrDgItem]="rp">
          <clr-dg-action-overflow [clrDgActionOverflowButtonLabel]="'common.actions' | t">
            <button type="button" class="action-item" (click)="restore(rp)">{{ 'action.restore' | t }}</button>
            <button type="button" class="action-item" (click)="recover(rp)">{{ 'action.recoverFiles' | t }}</button>
            @if (rp.applicationItems?.includes('ntds')) { <button type="button" class="action-item" (click)="restoreAd(rp)">{{ 'action.restoreAd' | t }}</button> }
            @if (rp.applicationItems?.includes('exchange')) { <button type="button" class="action-item" (click)="restoreExchange(rp)">{{ 'exchange.action' | t }}</button> }
          </clr-dg-action-overflow>
          <clr-dg-cell>{{ rp.createdAt | dt }}</clr-dg-cell>
          <clr-dg-cell><sp-consistency [value]="rp.consistency" /></clr-dg-cell>
          <clr-dg-cell>{{ rp.logicalBytes | bytes }}</clr-dg-cell>
          <clr-dg-cell>{{ rp.storedBytes | bytes }}</clr-dg-cell>
          <clr-dg-cell>{{ rp.durationMs | duration }}</clr-dg-cell>
          <clr-dg-cell>
            @if (rp.lockedUntil) { <span class="label">{{ 'monitor.locked' | t: { until: (rp.lockedUntil | dt) } }}</span> }
            @for (w of rp.warnings; track $index) { <div class="sp-muted">⚠ {{ w }}</div> }
            @if (rp.notes) { <div>{{ rp.notes }}</div> }
          </clr-dg-cell>
        </clr-dg-row>
        <clr-dg-placeholder>{{ 'monitor.noRestorePoints' | t }}</clr-dg-placeholder>
        <clr-dg-footer>{{ 'monitor.restorePointCount' | t: { n: points().length } }}</clr-dg-footer>
      </clr-datagrid>

      <h3>{{ 'monitor.history' | t }}</h3>
      <clr-datagrid [clrDgLoading]="loading()" aria-label="{{ 'monitor.history' | t }}">
        <clr-dg-column [clrDgField]="'startedAt'" [clrDgSortOrder]="-1">{{ 'col.started' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.kind' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.job' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.status' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.duration' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.read' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.stored' | t }}</clr-dg-column>
        <clr-dg-row *clrDgItems="let r of history()" [clrDgItem]="r">
          <clr-dg-cell>{{ r.run.startedAt | dt }}</clr-dg-cell>
          <clr-dg-cell>{{ 'kind.' + r.run.kind | t }}</clr-dg-cell>
          <clr-dg-cell>{{ r.run.jobName ?? ('monitor.adHoc' | t) }}</clr-dg-cell>
          <clr-dg-cell><sp-status [value]="r.vm?.status ?? r.run.status" />
            @if (r.vm?.consistency; as c) { <sp-consistency [value]="c" /> }
            @if (r.vm?.message; as m) { <div class="sp-muted">{{ m }}</div> }</clr-dg-cell>
          <clr-dg-cell>{{ r.vm?.durationMs | duration }}</clr-dg-cell>
          <clr-dg-cell>{{ r.vm?.bytesRead | bytes }}</clr-dg-cell>
          <clr-dg-cell>{{ r.vm?.bytesStored | bytes }}</clr-dg-cell>
        </clr-dg-row>
        <clr-dg-placeholder>{{ 'monitor.noHistory' | t }}</clr-dg-placeholder>
      </clr-datagrid>

      <h3>{{ 'monitor.replica' | t }}</h3>
      @if (replica(); as rep) { @if (rep.state !== 'none') {
        <dl class="sp-kv">
          <dt>{{ 'replica.state' | t }}</dt><dd><span class="label" [class.label-success]="rep.state === 'ready'" [class.label-info]="rep.state === 'syncing'" [class.label-warning]="rep.state === 'failedOver'" [class.label-danger]="rep.state === 'error'">{{ 'replica.state.' + rep.state | t }}</span></dd>
          <dt>{{ 'replica.vm' | t }}</dt><dd>{{ rep.replicaName ?? rep.replicaVmId }}</dd>
          <dt>{{ 'replica.host' | t }}</dt><dd>{{ rep.targetHost }}</dd>
          <dt>{{ 'replica.lastSync' | t }}</dt><dd>{{ rep.lastSync | dt }}@if (rep.consistency) { <sp-consistency [value]="rep.consistency" /> }</dd>
          @if (rep.lastSyncDurationMs !== undefined) { <dt>{{ 'repl.monitor.duration' | t }}</dt><dd>{{ rep.lastSyncDurationMs | duration }} · {{ 'repl.monitor.bytes' | t }} {{ rep.lastSyncBytes ?? 0 | bytes }}</dd> }
          <dt>{{ 'repl.monitor.rpo' | t }}</dt><dd id="replica-rpo"><sp-rpo [value]="rep.rpo" />@if (rep.rpo; as r) { <span class="sp-muted"> · {{ 'repl.monitor.job' | t }} {{ r.jobName }}</span> }</dd>
          <dt>{{ 'replica.points' | t }}</dt><dd>{{ rep.recoveryPoints | num }}</dd>
        </dl>
        @if (rep.points?.length) {
          <table class="table table-compact" id="replica-points"><caption class="sp-sr-only">{{ 'replica.points' | t }}</caption>
            <thead><tr><th class="left">{{ 'col.created' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th></tr></thead>
            <tbody>@for (p of rep.points; track p.id) { <tr><td class="left">{{ p.createdAt | dt }}</td><td class="left">@if (p.consistency) { <sp-consistency [value]="p.consistency" /> }</td></tr> }</tbody>
          </table>
        }
      } @else { <p class="sp-muted">{{ 'replica.none' | t }}</p> } }
    </div>`,
})
export class VmMonitorView {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  readonly vmId = contextVmIds(inject(ActivatedRoute), this.sdk)[0] ?? '';
  readonly vm = signal<VmDetail | null>(null);
  readonly points = signal<RestorePoint[]>([]);
  readonly runs = signal<JobRun[]>([]);
  readonly replica = signal<ReplicaState | null>(null);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  readonly running = computed(() => this.runs().filter((r) => r.status === 'running' || r.status === 'queued'));
  readonly history = computed(() => this.runs().map((run) => ({ run, vm: run.vms.find((v) => v.vmId === this.vmId) })));

  constructor() {
    void this.load();
    liveView(() => void this.load(), (e) => {
      if (e.type === 'run' && e.run.vms.some((v) => v.vmId === this.vmId)) {
        const others = this.runs().filter((r) => r.id !== e.run.id);
        this.runs.set([e.run, ...others].sort((a, b) => b.startedAt.localeCompare(a.startedAt)));
        if (e.run.endedAt) void this.load();
      } else if (e.type === 'restorePoint' && e.restorePoint.vmId === this.vmId) void this.load();
    });
  }
  async load(): Promise<void> {
    if (!this.vmId) { this.error.set(this.i18n.t('error.noVm')); this.loading.set(false); return; }
    try {
      const [vm, points, runs, replica] = await Promise.all([
        this.api.vm(this.vmId), this.api.restorePoints(this.vmId), this.api.vmRuns(this.vmId), this.api.replica(this.vmId),
      ]);
      this.vm.set(vm); this.points.set(points); this.runs.set(runs); this.replica.set(replica); this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  restore(rp: RestorePoint): void { this.actions.open('restore', [this.vmId], { rp: rp.id }, () => void this.load()); }
  recover(rp: RestorePoint): void { this.actions.open('recover-files', [this.vmId], { rp: rp.id }); }
  restoreAd(rp: RestorePoint): void { this.actions.open('restore-ad', [this.vmId], { rp: rp.id }); }
  restoreExchange(rp: RestorePoint): void { this.actions.open('restore-exchange', [this.vmId], { rp: rp.id }); }
}
