import { Component, computed, input } from '@angular/core';
import type { JobRun } from '@contract';
import { ClrProgressBarModule } from '@clr/angular';
import { I18N_PIPES } from '../core/i18n';
import { ConsistencyBadge, StatusLabel } from './badges';

/** Progress of one JobRun: overall bar plus one line per VM (phase, bytes, warnings). */
@Component({
  selector: 'sp-run-progress',
  imports: [ClrProgressBarModule, StatusLabel, ConsistencyBadge, ...I18N_PIPES],
  template: `
    @let r = run();
    <div class="sp-row"><strong>{{ (r.kind === 'restore' ? 'run.restore' : r.kind === 'file-restore' ? 'run.fileRestore' : 'run.backup') | t }}</strong>
      <sp-status [value]="r.status" /><span class="sp-grow"></span>
      <span class="sp-muted">{{ 'run.started' | t: { at: (r.startedAt | dt) } }}</span></div>
    @if (stopped()) {
      <!-- A failed or cancelled run did not reach 100 %: the bar shows how far it got, the text says it stopped. -->
      <div class="sp-row sp-stopped"><clr-progress-bar class="sp-grow" [clrValue]="reached()" [clrMax]="100" [clrColor]="color()" [attr.aria-label]="'run.stoppedAria' | t: { p: reached(), status: ('status.' + r.status | t) }" />
        <span class="sp-stopped-text" [class.sp-failed]="r.status === 'failed'">{{ (r.status === 'failed' ? 'run.failedAt' : 'run.cancelledAt') | t: { p: reached() } }}</span></div>
    } @else {
      <clr-progress-bar [clrValue]="r.progress" [clrMax]="100" clrLabeled [clrColor]="color()" [attr.aria-label]="'run.progressAria' | t: { p: r.progress }" />
    }
    <table class="table table-compact table-noborder" style="margin-top: 0.5rem">
      <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'col.phase' | t }}</th><th>{{ 'col.progress' | t }}</th><th>{{ 'col.read' | t }}</th><th>{{ (r.kind === 'restore' ? 'col.written' : 'col.stored') | t }}</th><th class="left">{{ 'col.result' | t }}</th></tr></thead>
      <tbody>
        @for (vm of r.vms; track vm.vmId) {
          <tr>
            <td class="left">{{ vm.vmName }}</td>
            <td class="left">{{ vm.phase }}</td>
            <td>{{ (vm.status === 'success' || vm.status === 'warning' ? 100 : vm.progress) | num }} %</td>
            <td>{{ vm.bytesRead | bytes }}</td>
            <td>{{ vm.bytesStored | bytes }}</td>
            <td class="left"><sp-status [value]="vm.status" />
              @if (vm.consistency) { <sp-consistency [value]="vm.consistency" /> }
              @if (vm.message) { <div class="sp-muted">{{ vm.message }}</div> }
              @for (w of vm.warnings; track $index) { <div class="sp-muted">⚠ {{ w }}</div> }
            </td>
          </tr>
        }
      </tbody>
    </table>`,
  styles: [`
    .sp-stopped { display: flex; flex-wrap: nowrap; align-items: center; gap: 0.75rem; }
    .sp-stopped clr-progress-bar { flex: 1 1 auto; min-width: 0; }
    .sp-stopped-text { white-space: nowrap; font-weight: 600; }
    .sp-failed { color: var(--cds-alias-status-danger, #c21d00); }
  `],
})
export class RunProgress {
  readonly run = input.required<JobRun>();
  /** Failed or cancelled: the bar must not read "100 %" next to VMs at 0 %. */
  readonly stopped = computed(() => this.run().status === 'failed' || this.run().status === 'cancelled');
  /** How far a stopped run got: the mean of its VMs' progress (the run's own figure without VMs). */
  readonly reached = computed(() => {
    const r = this.run();
    if (!r.vms.length) return Math.round(Math.min(r.progress, 100));
    return Math.round(r.vms.reduce((a, v) => a + (v.status === 'success' || v.status === 'warning' ? 100 : v.progress), 0) / r.vms.length);
  });
  readonly color = computed(() => ({ success: 'success', warning: 'warning', failed: 'danger' } as Record<string, string>)[this.run().status] ?? '');
}
