import { Component, computed, input } from '@angular/core';
import type { JobRun } from '@contract';
import { ClrProgressBarModule } from '@clr/angular';
import { I18N_PIPES } from '../core/i18n';
import { StatusLabel } from './badges';
import { RunOutcome, RunVmTable } from './run-result';

/**
 * Progress of one JobRun: overall bar, the outcome in one line with each explanation said once, then a compact
 * row per VM (details on expand), so the outcome stays in view however many VMs the run has.
 */
@Component({
  selector: 'sp-run-progress',
  imports: [ClrProgressBarModule, StatusLabel, RunOutcome, RunVmTable, ...I18N_PIPES],
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
    <sp-run-outcome [run]="r" />
    <sp-run-vm-table [run]="r" />`,
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
