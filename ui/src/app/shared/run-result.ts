import { Component, computed, inject, input, signal } from '@angular/core';
import type { JobRun, JobRunVm, ServiceText } from '@contract';
import { I18N_PIPES, I18n } from '../core/i18n';
import { ConsistencyBadge, StatusLabel } from './badges';

/** What a run's VMs came to, counted for the one-line outcome. */
export interface RunTotals {
  succeeded: number; warnings: number; failed: number; cancelled: number; active: number;
  durationMs: number; bytesRead: number; bytesStored: number;
}

export function runTotals(run: JobRun, now = Date.now()): RunTotals {
  const count = (s: JobRunVm['status'][]) => run.vms.filter((v) => s.includes(v.status)).length;
  const end = run.endedAt ? Date.parse(run.endedAt) : now;
  return {
    succeeded: count(['success']), warnings: count(['warning']), failed: count(['failed']), cancelled: count(['cancelled']),
    active: count(['running', 'queued']),
    durationMs: Math.max(0, end - Date.parse(run.startedAt)),
    bytesRead: run.vms.reduce((a, v) => a + v.bytesRead, 0),
    bytesStored: run.vms.reduce((a, v) => a + v.bytesStored, 0),
  };
}

/** The same text from several VMs, said once with the VMs it applies to. */
export interface GroupedNote { text: string; vms: string[]; hint?: string }
export interface RunNotes {
  /** Crash-consistent VMs of a backup/replication, and the distinct reasons their runs gave. */
  crash: { vms: string[]; reasons: GroupedNote[] } | null;
  failures: GroupedNote[];
  warnings: GroupedNote[];
}

/** Renders a text the service wrote, from its message key when it sent one (I18n.svc). */
export type ServiceTextRenderer = (text: string | undefined, key: ServiceText | null | undefined) => string;
const asIs: ServiceTextRenderer = (text) => text ?? '';

function group(items: { text: string; vm: string; hint?: string }[]): GroupedNote[] {
  const out = new Map<string, GroupedNote>();
  for (const it of items) {
    const key = `${it.text}\u0000${it.hint ?? ''}`;
    const g = out.get(key) ?? { text: it.text, vms: [], ...(it.hint ? { hint: it.hint } : {}) };
    if (!g.vms.includes(it.vm)) g.vms.push(it.vm);
    out.set(key, g);
  }
  return [...out.values()];
}

/**
 * Groups a run's per-VM explanations so each is said once: the crash-consistent VMs together (the reasons their
 * backups gave, each once), failures by message, other warnings by text. A crash-consistent VM's warnings are
 * its reasons, so they are not repeated among the warnings.
 */
export function runNotes(run: JobRun, say: ServiceTextRenderer = asIs): RunNotes {
  const warnings = (v: JobRunVm) => v.warnings.map((w, i) => ({ text: say(w, v.texts?.warnings?.[i]), vm: v.vmName }));
  const snapshotKinds = ['backup', 'replicate', 'replication', 'copy'];
  const crashVms = snapshotKinds.includes(run.kind) ? run.vms.filter((v) => v.consistency === 'crash' && (v.status === 'success' || v.status === 'warning')) : [];
  const crashIds = new Set(crashVms.map((v) => v.vmId));
  return {
    crash: crashVms.length ? { vms: crashVms.map((v) => v.vmName), reasons: group(crashVms.flatMap(warnings)) } : null,
    failures: group(run.vms.filter((v) => v.status === 'failed' && v.message).map((v) => ({ text: say(v.message, v.texts?.message), vm: v.vmName, hint: v.hint ? say(v.hint, v.texts?.hint) : undefined }))),
    warnings: group(run.vms.filter((v) => !crashIds.has(v.vmId)).flatMap(warnings)),
  };
}

/**
 * A run's outcome in one line (N succeeded · N with warnings · N failed · duration · bytes), then each
 * explanation once for all the VMs it applies to (crash-consistent VMs grouped with why and what to do).
 */
@Component({
  selector: 'sp-run-outcome',
  imports: [...I18N_PIPES],
  template: `
    @let r = run();
    @let s = totals();
    @if (r.vms.length) {
      <p class="sp-outcome" data-test="run-outcome">
        <span class="sp-ok">{{ 'ux.outcome.succeeded' | t: { n: (s.succeeded | num) } }}</span>
        <span [class.sp-warn]="s.warnings > 0">{{ 'ux.outcome.warnings' | t: { n: (s.warnings | num) } }}</span>
        <span [class.sp-bad]="s.failed > 0">{{ 'ux.outcome.failed' | t: { n: (s.failed | num) } }}</span>
        @if (s.cancelled) { <span>{{ 'ux.outcome.cancelled' | t: { n: (s.cancelled | num) } }}</span> }
        @if (s.active) { <span>{{ 'ux.outcome.active' | t: { n: (s.active | num) } }}</span> }
        <span>{{ s.durationMs | duration }}</span>
        <span>@if (isRestore()) { {{ 'ux.outcome.written' | t: { bytes: (s.bytesStored | bytes) } }} }
          @else { {{ 'ux.outcome.stored' | t: { stored: (s.bytesStored | bytes), read: (s.bytesRead | bytes) } }} }</span>
      </p>
    }
    @let n = notes();
    @if (n.crash; as c) {
      <div class="alert alert-warning alert-sm sp-note" data-test="crash-note"><div class="alert-items"><div class="alert-item static"><div class="alert-text">
        <strong>{{ (c.vms.length === 1 ? 'ux.crash.one' : 'ux.crash.other') | t: { n: c.vms.length, vms: c.vms.join(', ') } }}</strong>
        {{ 'ux.crash.meaning' | t }}
        <strong>{{ 'ux.crash.why' | t }}</strong>
        @for (g of c.reasons; track $index) { {{ g.text }}@if (c.vms.length > 1 && g.vms.length < c.vms.length) { ({{ g.vms.join(', ') }}) } }
        @empty { {{ 'ux.crash.noQuiesce' | t }} }
        <strong>{{ 'runs.remedy' | t }}</strong> {{ 'ux.crash.remedy' | t }}
      </div></div></div></div>
    }
    @for (g of n.failures; track $index) {
      <div class="alert alert-danger alert-sm sp-note" data-test="failure-note"><div class="alert-items"><div class="alert-item static"><div class="alert-text">
        <strong>{{ g.vms.join(', ') }}:</strong> {{ g.text }}
        @if (g.hint) { <div>{{ 'runs.remedy' | t }} {{ g.hint }}</div> }
      </div></div></div></div>
    }
    @if (n.warnings.length) {
      <ul class="sp-warnings list-unstyled" data-test="warning-notes">
        @for (g of n.warnings; track $index) { <li>⚠ {{ g.text }}@if (r.vms.length > 1) { <span class="sp-muted"> — {{ g.vms.join(', ') }}</span> }</li> }
      </ul>
    }`,
  styles: [`
    .sp-outcome { margin: 0.25rem 0 0.5rem; font-weight: 600; display: flex; flex-wrap: wrap; gap: 0 0.75rem; }
    .sp-outcome > span:not(:last-child)::after { content: '·'; margin-left: 0.75rem; font-weight: 400; opacity: 0.6; }
    .sp-warn { color: var(--cds-alias-status-warning-dark, #a36500); }
    .sp-bad { color: var(--cds-alias-status-danger, #c21d00); }
    .sp-note { margin: 0.25rem 0; }
    .sp-note strong:not(:first-child) { margin-left: 0.25em; }
    .sp-warnings { margin: 0.25rem 0; }
  `],
})
export class RunOutcome {
  private readonly i18n = inject(I18n);
  readonly run = input.required<JobRun>();
  readonly totals = computed(() => runTotals(this.run()));
  readonly notes = computed(() => { this.i18n.locale(); return runNotes(this.run(), (text, key) => this.i18n.svc(text, key)); });
  readonly isRestore = computed(() => this.run().kind === 'restore' || this.run().kind === 'file-restore');
}

/** One compact row per VM (VM, consistency, result, size, time); the figures and texts behind it on expand. */
@Component({
  selector: 'sp-run-vm-table',
  imports: [StatusLabel, ConsistencyBadge, ...I18N_PIPES],
  template: `
    @let r = run();
    <table class="table table-compact table-noborder sp-vm-table">
      <thead><tr>
        <th class="left">{{ 'col.vm' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th><th class="left">{{ 'col.result' | t }}</th>
        <th>{{ (isRestore() ? 'col.written' : 'col.stored') | t }}</th><th>{{ 'col.duration' | t }}</th><th><span class="sp-sr-only">{{ 'ux.run.details' | t }}</span></th>
      </tr></thead>
      <tbody>
        @for (vm of r.vms; track vm.vmId; let i = $index) {
          <tr [attr.data-vm]="vm.vmName">
            <td class="left">{{ vm.vmName }}</td>
            <td class="left">@if (vm.consistency) { <sp-consistency [value]="vm.consistency" [short]="true" /> }</td>
            <td class="left"><sp-status [value]="vm.status" />
              @if (vm.status === 'running' || vm.status === 'queued') { <span class="sp-muted"> {{ i18n.svc(vm.phase, vm.texts?.phase) }} · {{ vm.progress | num }} %</span> }</td>
            <td>{{ vm.bytesStored | bytes }}</td>
            <td>{{ vm.durationMs | duration }}</td>
            <td><button type="button" class="btn btn-sm btn-link sp-expand" [attr.aria-expanded]="isOpen(vm.vmId)" [attr.aria-controls]="idPrefix + i"
                  [attr.aria-label]="'ux.run.detailsFor' | t: { vm: vm.vmName }" (click)="toggle(vm.vmId)">{{ (isOpen(vm.vmId) ? 'ux.run.hide' : 'ux.run.details') | t }}</button></td>
          </tr>
          @if (isOpen(vm.vmId)) {
            <tr class="sp-detail" [id]="idPrefix + i"><td class="left" colspan="6">
              <div class="sp-muted">{{ 'col.phase' | t }}: {{ i18n.svc(vm.phase, vm.texts?.phase) }} · {{ 'col.read' | t }} {{ vm.bytesRead | bytes }} · {{ (isRestore() ? 'col.written' : 'col.stored') | t }} {{ vm.bytesStored | bytes }}
                @if (vm.consistency) { · {{ 'consistency.' + vm.consistency | t }} }</div>
              @if (vm.message) { <div>{{ i18n.svc(vm.message, vm.texts?.message) }}</div> }
              @if (vm.hint && vm.status === 'failed') { <div>{{ 'runs.remedy' | t }} {{ i18n.svc(vm.hint, vm.texts?.hint) }}</div> }
              @for (w of vm.warnings; track $index) { <div>⚠ {{ i18n.svc(w, vm.texts?.warnings?.[$index]) }}</div> }
            </td></tr>
          }
        }
      </tbody>
    </table>`,
  styles: [`
    .sp-vm-table { margin-top: 0.25rem; }
    .sp-vm-table td, .sp-vm-table th { white-space: nowrap; }
    .sp-vm-table tr.sp-detail td { white-space: normal; }
    .sp-expand { margin: 0; padding: 0; min-width: 0; height: auto; line-height: inherit; }
  `],
})
export class RunVmTable {
  private static seq = 0;
  readonly i18n = inject(I18n);
  readonly run = input.required<JobRun>();
  readonly idPrefix = `sp-vm-detail-${++RunVmTable.seq}-`;
  private readonly open = signal<ReadonlySet<string>>(new Set());
  readonly isRestore = computed(() => this.run().kind === 'restore' || this.run().kind === 'file-restore');
  isOpen(id: string): boolean { return this.open().has(id); }
  toggle(id: string): void {
    const next = new Set(this.open());
    if (!next.delete(id)) next.add(id);
    this.open.set(next);
  }
}
