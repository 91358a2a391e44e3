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
    <clr-progress-bar [clrValue]="r.progress" [clrMax]="100" clrLabeled [clrColor]="color()" [attr.aria-label]="'run.progressAria' | t: { p: r.progress }" />
    <table class="table table-compact table-noborder" style="margin-top: 0.5rem">
      <thead><tr><th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'col.phase' | t }}</th><th>{{ 'col.progress' | t }}</th><th>{{ 'col.read' | t }}</th><th>{{ 'col.stored' | t }}</th><th class="left">{{ 'col.result' | t }}</th></tr></thead>
      <tbody>
        @for (vm of r.vms; track vm.vmId) {
          <tr>
            <td class="left">{{ vm.vmName }}</td>
            <td class="left">{{ vm.phase }}</td>
            <td>{{ vm.progress | num }} %</td>
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
})
export class RunProgress {
  readonly run = input.required<JobRun>();
  readonly color = computed(() => ({ success: 'success', warning: 'warning', failed: 'danger' } as Record<string, string>)[this.run().status] ?? '');
}
