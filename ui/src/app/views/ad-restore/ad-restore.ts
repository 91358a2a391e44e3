import { Component, computed, inject, signal } from '@angular/core';
import { ActivatedRoute } from '@angular/router';
import { ClrSpinnerModule } from '@clr/angular';
import type { AdComparison, AdConnection, AdDatabaseInfo, AdObject, AdObjectSummary, AdRestoreReport, JobRun } from '@contract';
import { errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { RunTracker } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { Actions } from '../../shared/actions';
import { ErrorAlert } from '../../shared/error-alert';
import { RunProgress } from '../../shared/run-progress';
import { contextVmIds } from '../../shared/vm-context';
import { AdApi } from './ad-api';

type Step = 'browse' | 'connect' | 'compare' | 'options';
const STEPS: readonly Step[] = ['browse', 'connect', 'compare', 'options'];
interface Node { o: AdObjectSummary; depth: number; open: boolean }

/**
 * "Restore AD objects…" (a restore point of a domain controller whose VSS manifest has the NTDS writer):
 * browse the backed-up directory (tree, search, details pane with every attribute; secrets withheld),
 * pick objects → the live DC and your own directory account (used for this restore only, never stored)
 * → compare (deleted, changed attributes, memberships) → options (attributes, memberships, password,
 * account state, target container) → the run's progress and what happened to each object.
 */
@Component({
  selector: 'sp-ad-restore',
  imports: [ClrSpinnerModule, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    @if (tracker.run(); as run) {
      <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
        <h2 tabindex="-1" id="ad-progress">{{ (done() ? 'ad.progressDone' : 'ad.progress') | t: { n: selected().size } }}</h2>
        <sp-run-progress [run]="run" />
        @if (report(); as rep) {
          <table class="table table-compact" id="ad-report">
            <caption class="sp-sr-only">{{ 'ad.report' | t }}</caption>
            <thead><tr><th class="left">{{ 'ad.col.object' | t }}</th><th class="left">{{ 'ad.col.result' | t }}</th></tr></thead>
            <tbody>
              @for (r of rep.results; track r.objectGUID) {
                <tr><td class="left">{{ r.liveDn }}</td><td class="left">{{ 'ad.action.' + r.action | t }}
                  @if (r.reanimatedFrom) { <div class="sp-muted" [id]="'ad-from-' + r.objectGUID">{{ 'ad.from.' + r.reanimatedFrom | t }}</div> }
                  @if (r.permissions.status === 'restored') { <div class="sp-muted">{{ 'ad.permissionsRestored' | t: { changes: r.permissions.changes.join('; ') } }}</div> }
                  @if (r.groupsAdded.length) { <div class="sp-muted">{{ 'ad.groupsAdded' | t: { n: r.groupsAdded.length } }}</div> }
                  @for (p of r.problems; track $index) { <div class="sp-ad-problem">⚠ {{ p }}</div> }</td></tr>
              }
            </tbody>
          </table>
          @if (rep.error) { <p class="sp-ad-problem" role="alert">{{ rep.error.message }}</p> }
        }
      </div>
      <div class="sp-modal-footer"><button type="button" class="btn btn-primary" (click)="close(run)">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button></div>
    } @else {
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'action.restoreAd.title' | t }}</h2> }
      <ol class="sp-steps" [attr.aria-label]="'ad.steps' | t">
        @for (s of steps; track s; let i = $index) {
          <li [class.sp-step-active]="step() === s" [attr.aria-current]="step() === s ? 'step' : null">{{ i + 1 }}. {{ 'ad.step.' + s | t }}</li>
        }
      </ol>
      <sp-error [message]="error()" />
      @if (info(); as db) {
        <p class="sp-muted" id="ad-db">{{ 'ad.database' | t: { path: db.path, n: db.objectCount } }}
          @if (db.consistency.state === 'dirty') { <span class="label label-warning">{{ 'ad.dirty' | t }}</span> }</p>
      }
      @switch (step()) {
        @case ('browse') {
          @if (loading()) { <clr-spinner clrInline>{{ 'ad.opening' | t }}</clr-spinner> }
          <form class="sp-ad-search" (submit)="$event.preventDefault(); search()">
            <label for="ad-q">{{ 'ad.search' | t }}</label>
            <input id="ad-q" type="search" class="clr-input" [value]="query()" (input)="query.set($any($event.target).value)" />
            <label><input type="checkbox" [checked]="deleted()" (change)="deleted.set($any($event.target).checked)" /> {{ 'ad.showDeleted' | t }}</label>
            <button type="submit" class="btn btn-sm btn-outline">{{ 'ad.searchButton' | t }}</button>
            @if (results()) { <button type="button" class="btn btn-sm btn-link" (click)="results.set(null)">{{ 'ad.backToTree' | t }}</button> }
          </form>
          <div class="sp-ad-panes">
            <ul class="sp-ad-tree" role="tree" [attr.aria-label]="'ad.tree' | t">
              @for (n of (results() ?? tree()); track n.o.dnt) {
                <li role="treeitem" [style.padding-left.rem]="n.depth * 0.8" [attr.aria-expanded]="n.o.hasChildren ? n.open : null">
                  @if (n.o.hasChildren && !results()) { <button type="button" class="btn btn-link btn-sm sp-ad-tw" (click)="toggle(n)" [attr.aria-label]="(n.open ? 'ad.collapse' : 'ad.expand') | t">{{ n.open ? '▾' : '▸' }}</button> }
                  <input type="checkbox" [id]="'ad-o-' + n.o.dnt" [checked]="selected().has(n.o.dn)" (change)="pick(n.o, $any($event.target).checked)" />
                  <button type="button" class="btn btn-link btn-sm sp-ad-name" [class.sp-ad-deleted]="n.o.deleted" (click)="show(n.o)">{{ n.o.name }}</button>
                  <span class="sp-muted">{{ n.o.objectClass[0] }}@if (n.o.deleted) { · {{ 'ad.deleted' | t }} }</span>
                </li>
              }
            </ul>
            <div class="sp-ad-details" aria-live="polite">
              @if (details(); as d) {
                <h3>{{ d.name }}</h3>
                <p class="sp-muted">{{ d.dn }}</p>
                <button type="button" class="btn btn-sm btn-outline" (click)="ldif(d)">{{ 'ad.exportLdif' | t }}</button>
                <table class="table table-compact"><tbody>
                  @for (a of attributes(d); track a[0]) { <tr><th class="left">{{ a[0] }}</th><td class="left">{{ a[1] }}</td></tr> }
                </tbody></table>
                @if (d.withheld.length) { <p class="sp-muted">{{ 'ad.withheld' | t: { names: d.withheld.join(', ') } }}</p> }
              } @else { <p class="sp-muted">{{ 'ad.pick' | t }}</p> }
            </div>
          </div>
        }
        @case ('connect') {
          <p>{{ 'ad.connectIntro' | t }}</p>
          <div class="clr-form-control"><label for="ad-url">{{ 'ad.dc' | t }}</label><input id="ad-url" class="clr-input" [value]="url()" (input)="url.set($any($event.target).value)" placeholder="ldaps://dc01.corp.example:636" /></div>
          <div class="clr-form-control"><label for="ad-user">{{ 'ad.user' | t }}</label><input id="ad-user" class="clr-input" autocomplete="username" [value]="user()" (input)="user.set($any($event.target).value)" /></div>
          <div class="clr-form-control"><label for="ad-pw">{{ 'ad.password' | t }}</label><input id="ad-pw" type="password" class="clr-input" autocomplete="current-password" [value]="password()" (input)="password.set($any($event.target).value)" /></div>
          <div class="clr-form-control"><label for="ad-ca">{{ 'ad.ca' | t }}</label><textarea id="ad-ca" class="clr-textarea" rows="3" [value]="caPem()" (input)="caPem.set($any($event.target).value)"></textarea></div>
          <div class="clr-form-control"><label for="ad-server-name">{{ 'ad.serverName' | t }}</label><input id="ad-server-name" class="clr-input" [value]="serverName()" (input)="serverName.set($any($event.target).value)" placeholder="dc01.corp.example" /></div>
        }
        @case ('compare') {
          @if (comparing()) { <clr-spinner clrInline>{{ 'ad.comparing' | t }}</clr-spinner> }
          <table class="table table-compact" id="ad-compare">
            <caption class="sp-sr-only">{{ 'ad.step.compare' | t }}</caption>
            <thead><tr><th class="left">{{ 'ad.col.object' | t }}</th><th class="left">{{ 'ad.col.status' | t }}</th><th class="left">{{ 'ad.col.differences' | t }}</th></tr></thead>
            <tbody>
              @for (c of comparisons(); track c.objectGUID) {
                <tr><td class="left">{{ c.dn }}</td>
                  <td class="left"><span class="label" [class.label-danger]="c.status === 'deleted' || c.status === 'missing'" [class.label-warning]="c.status === 'changed'">{{ 'ad.status.' + c.status | t }}</span></td>
                  <td class="left">
                    @for (a of c.attributes; track a.name) { <div>{{ a.name }}: {{ a.backup.join(', ') || '—' }} → {{ a.live.join(', ') || '—' }}</div> }
                    @for (g of c.memberOf.removed; track g) { <div>{{ 'ad.memberOfRemoved' | t: { group: g } }}</div> }
                    @for (m of c.members.removed; track m) { <div>{{ 'ad.memberRemoved' | t: { member: m } }}</div> }
                  </td></tr>
              }
            </tbody>
          </table>
        }
        @case ('options') {
          <fieldset><legend>{{ 'ad.opt.password' | t }}</legend>
            @for (m of ['none', 'new', 'must-change']; track m) {
              <label><input type="radio" name="ad-pw-mode" [id]="'ad-pw-' + m" [checked]="pwMode() === m" (change)="pwMode.set($any(m))" /> {{ 'ad.pw.' + m | t }}</label>
            }
            @if (pwMode() === 'new') {
              <div class="clr-form-control"><label for="ad-newpw">{{ 'ad.newPassword' | t }}</label><input id="ad-newpw" type="password" autocomplete="new-password" class="clr-input" [value]="newPassword()" (input)="newPassword.set($any($event.target).value)" /></div>
              <label><input type="checkbox" [checked]="mustChange()" (change)="mustChange.set($any($event.target).checked)" /> {{ 'ad.pw.must-change' | t }}</label>
            }
          </fieldset>
          <fieldset><legend>{{ 'ad.opt.state' | t }}</legend>
            @for (s of ['keep', 'enabled', 'disabled']; track s) {
              <label><input type="radio" name="ad-state" [checked]="accountState() === s" (change)="accountState.set($any(s))" /> {{ 'ad.state.' + s | t }}</label>
            }
          </fieldset>
          <label><input type="checkbox" id="ad-memberships" [checked]="memberships()" (change)="memberships.set($any($event.target).checked)" /> {{ 'ad.opt.memberships' | t }}</label>
          <label><input type="checkbox" id="ad-permissions" [checked]="permissions()" (change)="permissions.set($any($event.target).checked)" /> {{ 'ad.opt.permissions' | t }}</label>
          <div class="clr-form-control"><label for="ad-target">{{ 'ad.opt.target' | t }}</label><input id="ad-target" class="clr-input" [value]="target()" (input)="target.set($any($event.target).value)" [placeholder]="'ad.opt.targetDefault' | t" /></div>
        }
      }
    </div>
    <div class="sp-modal-footer">
      @if (step() === 'browse') { <span class="sp-grow sp-muted" role="status">{{ 'ad.selected' | t: { n: selected().size } }}</span> }
      <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
      @if (step() !== 'browse') { <button type="button" class="btn btn-outline" (click)="back()">{{ 'common.back' | t }}</button> }
      @if (step() === 'options') {
        <button type="button" class="btn btn-primary" id="ad-start" [disabled]="starting() || (pwMode() === 'new' && !newPassword())" (click)="start()">{{ 'ad.start' | t }}</button>
      } @else {
        <button type="button" class="btn btn-primary" id="ad-next" [disabled]="!canNext()" (click)="next()">{{ 'common.next' | t }}</button>
      }
    </div>
    }`,
  styles: [`
    .sp-steps { list-style: none; margin: 0 0 0.5rem; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; font-size: 0.65rem; }
    .sp-steps li { opacity: 0.7; }
    .sp-steps li.sp-step-active { opacity: 1; font-weight: 600; border-bottom: 2px solid var(--cds-alias-status-info, #0072a3); }
    .sp-ad-panes { display: grid; grid-template-columns: minmax(14rem, 1fr) minmax(14rem, 1.2fr); gap: 1rem; max-height: 24rem; }
    .sp-ad-tree { list-style: none; margin: 0; padding: 0; overflow: auto; }
    .sp-ad-details { overflow: auto; }
    .sp-ad-tw { min-width: 1.2rem; padding: 0; margin: 0; }
    .sp-ad-name { margin: 0; padding: 0 0.2rem; text-transform: none; }
    .sp-ad-deleted { text-decoration: line-through; }
    .sp-ad-problem { color: var(--cds-alias-status-danger, #c21d00); }
    .sp-ad-search { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin-bottom: 0.5rem; }
    fieldset { margin: 0.5rem 0; }
    fieldset label { margin-right: 1rem; }
  `],
})
export class AdRestoreModal {
  readonly sdk = inject(SdkService);
  private readonly ad = inject(AdApi);
  private readonly actions = inject(Actions);
  private readonly route = inject(ActivatedRoute);
  readonly tracker = inject(RunTracker);
  readonly steps = STEPS;
  readonly vmId = contextVmIds(this.route, this.sdk)[0] ?? '';
  readonly rpId = this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp'] ?? '';
  readonly step = signal<Step>('browse');
  readonly error = signal<string | null>(null);
  readonly loading = signal(true);
  readonly info = signal<AdDatabaseInfo | null>(null);
  readonly tree = signal<Node[]>([]);
  readonly results = signal<Node[] | null>(null);
  readonly query = signal('');
  readonly deleted = signal(true);
  readonly details = signal<AdObject | null>(null);
  readonly selected = signal(new Map<string, AdObjectSummary>());
  readonly url = signal('');
  readonly user = signal('');
  readonly password = signal('');
  readonly caPem = signal('');
  readonly serverName = signal('');
  readonly comparing = signal(false);
  readonly comparisons = signal<AdComparison['objects']>([]);
  readonly pwMode = signal<'none' | 'new' | 'must-change'>('none');
  readonly newPassword = signal('');
  readonly mustChange = signal(false);
  readonly accountState = signal<'keep' | 'enabled' | 'disabled'>('keep');
  readonly memberships = signal(true);
  /** On: the default (permissions of reanimated and recreated objects put back when they differ); off: never. */
  readonly permissions = signal(true);
  readonly target = signal('');
  readonly starting = signal(false);
  readonly done = signal(false);
  readonly report = signal<AdRestoreReport | null>(null);
  readonly canNext = computed(() => this.step() === 'browse' ? this.selected().size > 0
    : this.step() === 'connect' ? /^ldaps:\/\//i.test(this.url()) && !!this.user() && !!this.password() : !this.comparing());

  constructor() { void this.load(); }

  private async load(): Promise<void> {
    try {
      const info = await this.ad.info(this.rpId);
      this.info.set(info);
      this.tree.set(info.roots.map((o) => ({ o, depth: 0, open: false })));
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }

  async toggle(n: Node): Promise<void> {
    const list = this.tree();
    const i = list.indexOf(n);
    if (n.open) {
      let j = i + 1;
      while (j < list.length && list[j]!.depth > n.depth) j++;
      this.tree.set([...list.slice(0, i), { ...n, open: false }, ...list.slice(j)]);
      return;
    }
    try {
      const kids = (await this.ad.children(this.rpId, n.o.dn, this.deleted())).result;
      const now = this.tree();
      const k = now.findIndex((x) => x.o.dnt === n.o.dnt);
      this.tree.set([...now.slice(0, k), { ...n, open: true }, ...kids.map((o) => ({ o, depth: n.depth + 1, open: false })), ...now.slice(k + 1)]);
    } catch (e) { this.error.set(errorText(e)); }
  }

  async search(): Promise<void> {
    this.error.set(null);
    try { this.results.set((await this.ad.search(this.rpId, this.query(), this.deleted())).result.map((o) => ({ o, depth: 0, open: false }))); }
    catch (e) { this.error.set(errorText(e)); }
  }

  async show(o: AdObjectSummary): Promise<void> {
    try { this.details.set((await this.ad.object(this.rpId, o.objectGUID ?? o.dn)).result); } catch (e) { this.error.set(errorText(e)); }
  }

  attributes(d: AdObject): [string, string][] {
    return Object.entries(d.attributes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, Array.isArray(v) ? v.join('; ') : String(v)]);
  }

  pick(o: AdObjectSummary, on: boolean): void {
    const m = new Map(this.selected());
    if (on) m.set(o.dn, o); else m.delete(o.dn);
    this.selected.set(m);
  }

  async ldif(d: AdObject): Promise<void> {
    try {
      const text = await this.ad.ldif(this.rpId, d.objectGUID ?? d.dn);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
      a.download = `${d.name}.ldif`;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (e) { this.error.set(errorText(e)); }
  }

  private connection(): AdConnection {
    return { url: this.url().trim(), username: this.user().trim(), password: this.password(), ...(this.caPem().trim() ? { caPem: this.caPem() } : {}), ...(this.serverName().trim() ? { serverName: this.serverName().trim() } : {}) };
  }

  async next(): Promise<void> {
    this.error.set(null);
    if (this.step() === 'browse') { this.step.set('connect'); return; }
    if (this.step() === 'connect') {
      this.step.set('compare');
      this.comparing.set(true);
      this.comparisons.set([]);
      try {
        for (const o of this.selected().values()) {
          const c = await this.ad.compare(this.rpId, o.objectGUID ?? o.dn, this.connection());
          this.comparisons.set([...this.comparisons(), ...c.objects]);
        }
      } catch (e) { this.error.set(errorText(e)); this.step.set('connect'); } finally { this.comparing.set(false); }
      return;
    }
    if (this.step() === 'compare') this.step.set('options');
  }

  back(): void {
    this.error.set(null);
    this.step.set(STEPS[Math.max(0, STEPS.indexOf(this.step()) - 1)]!);
  }

  async start(): Promise<void> {
    this.starting.set(true); this.error.set(null);
    try {
      const pw = this.pwMode() === 'new' ? { mode: 'new' as const, value: this.newPassword(), ...(this.mustChange() ? { mustChange: true } : {}) } : { mode: this.pwMode() as 'none' | 'must-change' };
      const run = await this.ad.restore(this.rpId, {
        objects: [...this.selected().values()].map((o) => o.objectGUID ?? o.dn), connection: this.connection(),
        options: { memberships: this.memberships(), ...(this.permissions() ? {} : { permissions: false }), password: pw, accountState: this.accountState(), ...(this.target().trim() ? { targetContainer: this.target().trim() } : {}) },
      });
      this.password.set(''); this.newPassword.set('');
      this.tracker.track(run, (r) => { this.done.set(true); void this.ad.report(r.id).then((rep) => this.report.set(rep), () => undefined); });
      setTimeout(() => document.getElementById('ad-progress')?.focus());
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }

  close(run?: JobRun): void { this.actions.close(run ? { runId: run.id, status: run.status } : undefined, '/vm/monitor?vm=' + this.vmId); }
}
