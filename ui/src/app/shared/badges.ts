import { Component, computed, input } from '@angular/core';
import type { Consistency, RunStatus } from '@contract';
import { TranslatePipe } from '../core/i18n';

/** Consistency of a restore point: application (green), file system (blue), crash (orange). */
@Component({
  selector: 'sp-consistency',
  imports: [TranslatePipe],
  template: `<span class="badge" [class]="cls()" [attr.title]="'consistency.' + value() + '.help' | t">{{ (short() ? 'ux.consistency.short.' : 'consistency.') + value() | t }}</span>`,
})
export class ConsistencyBadge {
  readonly value = input.required<Consistency>();
  /** One word (Application / File system / Crash) for compact tables; the title still explains it. */
  readonly short = input(false);
  readonly cls = computed(() => ({ application: 'badge badge-success', filesystem: 'badge badge-info', crash: 'badge badge-warning' })[this.value()]);
}

/** Status label for runs. */
@Component({
  selector: 'sp-status',
  imports: [TranslatePipe],
  template: `<span [class]="cls()">{{ 'status.' + value() | t }}</span>`,
})
export class StatusLabel {
  readonly value = input.required<RunStatus>();
  readonly cls = computed(() => 'label ' + ({
    queued: '', running: 'label-info', success: 'label-success', warning: 'label-warning', failed: 'label-danger', cancelled: '',
  } as Record<RunStatus, string>)[this.value()]);
}
