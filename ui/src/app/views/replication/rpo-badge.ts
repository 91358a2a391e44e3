import { Component, computed, input } from '@angular/core';
import type { ReplicaRpo } from '@contract';
import { TranslatePipe } from '../../core/i18n';

/** RPO compliance of a replica: met (green), warning (over 1×), error (over 2× or no point). */
@Component({
  selector: 'sp-rpo',
  imports: [TranslatePipe],
  template: `@if (value(); as r) {
    <span [class]="cls()" [attr.title]="'repl.rpo.help' | t: { rpo: r.rpoMinutes, job: r.jobName }">{{ 'repl.rpo.' + r.level | t: { ratio: r.ratio ?? '–', age: r.ageMinutes ?? '–', rpo: r.rpoMinutes } }}</span>
  } @else { <span class="sp-muted">{{ 'repl.rpo.none' | t }}</span> }`,
})
export class RpoBadge {
  readonly value = input<ReplicaRpo | undefined>();
  readonly cls = computed(() => 'label ' + ({ ok: 'label-success', warning: 'label-warning', error: 'label-danger' } as const)[this.value()?.level ?? 'ok']);
}
