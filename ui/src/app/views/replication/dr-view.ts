import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ClrModalModule } from '@clr/angular';
import type { JobRun, ReplicaState, ReplicationJob } from '@contract';
import { errorText } from '../../core/api';
import { I18N_PIPES, I18n } from '../../core/i18n';
import { RunTracker } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { Actions } from '../../shared/actions';
import { ConsistencyBadge, StatusLabel } from '../../shared/badges';
import { ErrorAlert } from '../../shared/error-alert';
import { liveView } from '../../shared/live-view';
import { PluginNav } from '../../shared/plugin-nav';
import { RunProgress } from '../../shared/run-progress';
import { asRun, ReplicationApi, type DrAction, type FailbackChoice, type FailoverPlan, type Replica } from './replication-api';
import { RpoBadge } from './rpo-badge';

/** Which actions a replica in a state offers: failover kinds while it is a replica, the rest once failed over (commit or undo while a failback waits). */
const OFFERED: Record<Replica['state'], DrAction[]> = {
  ready: ['failover', 'test', 'planned'], error: ['failover', 'test'], syncing: [], failedOver: ['undo', 'permanent', 'failback'],
};

/**
 * The DR view: every replica the user can see (state, last sync, RPO compliance, points) with the
 * failover actions, each behind a confirmation that says what it does to the replica and the source;
 * and the replication jobs with "Run now".
 */
@Component({
  selector: 'sp-dr-view',
  imports: [FormsModule, ClrModalModule, ConsistencyBadge, StatusLabel, ErrorAlert, PluginNav, RunProgress, RpoBadge, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'repl.dr.title' | t }}</h2><span class="sp-grow"></span>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      <sp-error [message]="error()" />
      @if (notice(); as n) { <div class="alert alert-info alert-sm" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ n }}</span></div></div></div> }
      @if (tracker.run(); as run) { <sp-run-progress [run]="run" /> }

      <h3>{{ 'repl.dr.replicas' | t }}</h3>
      <table class="table table-compact" id="dr-replicas">
        <caption class="sp-sr-only">{{ 'repl.dr.replicas' | t }}</caption>
        <thead><tr>
          <th class="left">{{ 'repl.col.replica' | t }}</th><th class="left">{{ 'repl.col.source' | t }}</th><th class="left">{{ 'replica.state' | t }}</th>
          <th class="left">{{ 'replica.lastSync' | t }}</th><th class="left">{{ 'repl.col.rpo' | t }}</th><th>{{ 'replica.points' | t }}</th><th class="left">{{ 'common.actions' | t }}</th>
        </tr></thead>
        <tbody>
          @for (r of replicas(); track r.replicaVmId) {
            <tr class="sp-dr-replica" [attr.data-replica]="r.replicaName">
              <td class="left">{{ r.replicaName ?? r.replicaVmId }}<br /><span class="sp-muted">{{ r.targetHost }}</span></td>
              <td class="left">{{ r.sourceName ?? r.vmId }}</td>
              <td class="left"><span class="label" [class.label-success]="r.state === 'ready'" [class.label-info]="r.state === 'syncing'" [class.label-warning]="r.state === 'failedOver'" [class.label-danger]="r.state === 'error'">{{ 'replica.state.' + r.state | t }}</span>
                @if (r.error) { <br /><span class="sp-muted">{{ r.error }}</span> }
                @if (r.failback; as fb) { <br /><span class="sp-muted" data-failback-waits>{{ (fb.newVmName ? 'dr.failback.waitsNew' : 'dr.failback.waits') | t: { name: fb.newVmName ?? r.sourceName ?? r.vmId } }}</span> }</td>
              <td class="left">{{ r.lastSync | dt }}@if (r.consistency) { <sp-consistency [value]="r.consistency" /> }
                @if (r.lastSyncBytes !== undefined) { <br /><span class="sp-muted">{{ r.lastSyncBytes | bytes }} · {{ r.lastSyncDurationMs ?? 0 | duration }}</span> }</td>
              <td class="left"><sp-rpo [value]="r.rpo" /></td>
              <td>{{ r.recoveryPoints | num }}</td>
              <td class="left"><div class="btn-group btn-sm">
                @for (a of actionsFor(r); track a) { <button type="button" class="btn btn-sm btn-outline" [attr.data-action]="a" (click)="ask(r, a)">{{ actionKey(a) | t }}</button> }
              </div></td>
            </tr>
          } @empty { <tr><td colspan="7" class="left sp-muted">{{ 'repl.dr.noReplicas' | t }}</td></tr> }
        </tbody>
      </table>

      <h3>{{ 'repl.dr.plans' | t }}</h3>
      <table class="table table-compact" id="dr-plans">
        <caption class="sp-sr-only">{{ 'repl.dr.plans' | t }}</caption>
        <thead><tr><th class="left">{{ 'col.name' | t }}</th><th class="left">{{ 'repl.plan.order' | t }}</th><th class="left">{{ 'common.actions' | t }}</th></tr></thead>
        <tbody>
          @for (p of plans(); track p.id) {
            <tr>
              <td class="left">{{ p.name }}@if (p.description) { <br /><span class="sp-muted">{{ p.description }}</span> }</td>
              <td class="left">@for (g of p.groups; track $index; let i = $index) { <div>{{ 'repl.plan.group' | t: { n: i + 1, vms: names(g.replicaIds), delay: g.delaySeconds ?? 0 } }}</div> }</td>
              <td class="left"><div class="btn-group btn-sm">
                <button type="button" class="btn btn-sm btn-outline" (click)="askPlan(p, 'normal')">{{ 'repl.action.failover' | t }}</button>
                <button type="button" class="btn btn-sm btn-outline" (click)="askPlan(p, 'test')">{{ 'repl.action.test' | t }}</button>
              </div></td>
            </tr>
          } @empty { <tr><td colspan="3" class="left sp-muted">{{ 'repl.dr.noPlans' | t }}</td></tr> }
        </tbody>
      </table>

      <h3>{{ 'repl.dr.jobs' | t }}</h3>
      <table class="table table-compact" id="dr-jobs">
        <caption class="sp-sr-only">{{ 'repl.dr.jobs' | t }}</caption>
        <thead><tr><th class="left">{{ 'col.name' | t }}</th><th>{{ 'col.vms' | t }}</th><th class="left">{{ 'repl.col.target' | t }}</th><th class="left">{{ 'job.schedule' | t }}</th><th>{{ 'repl.col.rpoTarget' | t }}</th><th class="left">{{ 'col.lastRun' | t }}</th><th class="left">{{ 'common.actions' | t }}</th></tr></thead>
        <tbody>
          @for (j of jobs(); track j.id) {
            <tr>
              <td class="left">{{ j.name }}@if (!j.enabled) { <span class="label">{{ 'job.disabled' | t }}</span> }</td>
              <td>{{ j.vmIds.length + (j.folderIds?.length ?? 0) | num }}</td>
              <td class="left">{{ j.target.host }} · {{ j.target.datastore }}@if (j.target.site) { <span class="sp-muted"> ({{ j.target.site }})</span> }</td>
              <td class="left">{{ j.schedule.cron ?? ('repl.job.cronManual' | t) }}</td>
              <td>{{ 'repl.minutes' | t: { n: j.rpoMinutes } }}</td>
              <td class="left">@if (j.lastRun; as lr) { <sp-status [value]="lr.status" /> {{ lr.endedAt | dt }} } @else { <span class="sp-muted">{{ 'summary.never' | t }}</span> }</td>
              <td class="left"><button type="button" class="btn btn-sm btn-outline" (click)="runJob(j)">{{ 'jobs.runNow' | t }}</button>
                <button type="button" class="btn btn-sm btn-link" [attr.data-edit-job]="j.id" (click)="editJob(j)">{{ 'replication.edit.button' | t }}</button>
                <button type="button" class="btn btn-sm btn-link" (click)="confirmDelete.set(j)">{{ 'common.delete' | t }}</button></td>
            </tr>
          } @empty { <tr><td colspan="7" class="left sp-muted">{{ 'repl.dr.noJobs' | t }}</td></tr> }
        </tbody>
      </table>
    </div>

    <clr-modal [clrModalOpen]="!!pending()" (clrModalOpenChange)="!$event && pending.set(null)">
      <h3 class="modal-title">@if (pending(); as p) { {{ confirmKey(p, 'title') | t: { name: p.replica.replicaName } }} }</h3>
      <div class="modal-body" id="dr-confirm">
        @if (pending(); as p) {
          @if (p.action === 'failback') {
            <fieldset class="sp-failback-choice">
              <legend>{{ 'dr.failback.to' | t }}</legend>
              <label><input type="radio" name="fbTarget" value="original" [(ngModel)]="fbTarget" /> {{ 'dr.failback.toOriginal' | t: { name: p.replica.sourceName ?? p.replica.vmId } }}</label><br />
              <label><input type="radio" name="fbTarget" value="new" [(ngModel)]="fbTarget" /> {{ 'dr.failback.toNew' | t }}</label>
            </fieldset>
            @if (fbTarget === 'original') {
              <label for="dr-fb-transport">{{ 'dr.failback.transport' | t }}</label>
              <select class="clr-select" id="dr-fb-transport" name="fbTransport" [(ngModel)]="fbTransport">
                <option value="auto">{{ 'dr.failback.transport.auto' | t }}</option>
                <option value="hot-add">{{ 'dr.failback.transport.hot-add' | t }}</option>
                <option value="full-upload">{{ 'dr.failback.transport.full-upload' | t }}</option>
              </select>
            } @else {
              <div class="sp-failback-new">
                <label for="dr-fb-name">{{ 'dr.failback.name' | t }}</label> <input class="clr-input" id="dr-fb-name" name="fbName" [(ngModel)]="fbName" /><br />
                <label for="dr-fb-host">{{ 'dr.failback.host' | t }}</label> <input class="clr-input" id="dr-fb-host" name="fbHost" [(ngModel)]="fbHost" /><br />
                <label for="dr-fb-datastore">{{ 'dr.failback.datastore' | t }}</label> <input class="clr-input" id="dr-fb-datastore" name="fbDatastore" [(ngModel)]="fbDatastore" /><br />
                <label for="dr-fb-folder">{{ 'dr.failback.folder' | t }}</label> <input class="clr-input" id="dr-fb-folder" name="fbFolder" [(ngModel)]="fbFolder" />
              </div>
            }
          }
          <p><strong>{{ 'repl.confirm.replica' | t }}</strong> {{ confirmKey(p, 'replica') | t }}</p>
          <p><strong>{{ 'repl.confirm.source' | t: { name: p.replica.failback?.newVmName ?? p.replica.sourceName ?? p.replica.vmId } }}</strong> {{ confirmKey(p, 'source') | t: { name: fbName || p.replica.failback?.newVmName || '' } }}</p>
          @if (pointChoice(p.action) && (p.replica.points?.length ?? 0) > 1) {
            <label for="dr-point">{{ 'repl.confirm.point' | t }}</label>
            <select class="clr-select" id="dr-point" name="point" [(ngModel)]="point">
              <option value="">{{ 'repl.confirm.latest' | t }}</option>
              @for (pt of p.replica.points ?? []; track pt.id) { <option [value]="pt.id">{{ pt.name }}</option> }
            </select>
          }
        }
      </div>
      <div class="modal-footer">
        @if (pending(); as p) {
          <button type="button" class="btn btn-outline" (click)="pending.set(null)">{{ 'common.cancel' | t }}</button>
          <button type="button" class="btn" id="dr-confirm-go" [class.btn-danger]="p.action === 'failover' || p.action === 'permanent'" [class.btn-primary]="p.action !== 'failover' && p.action !== 'permanent'" [disabled]="p.action === 'failback' && !fbReady()" (click)="go()">{{ actionKey(p.action) | t }}</button>
        }
      </div>
    </clr-modal>
    <clr-modal [clrModalOpen]="!!pendingPlan()" (clrModalOpenChange)="!$event && pendingPlan.set(null)">
      <h3 class="modal-title">@if (pendingPlan(); as pp) { {{ 'repl.plan.confirm.' + pp.mode + '.title' | t: { name: pp.plan.name } }} }</h3>
      <div class="modal-body" id="dr-plan-confirm">
        @if (pendingPlan(); as pp) {
          <p><strong>{{ 'repl.plan.confirm.replicas' | t }}</strong> {{ 'repl.confirm.' + planKind(pp.mode) + '.replica' | t }}</p>
          <p><strong>{{ 'repl.plan.confirm.sources' | t }}</strong> {{ 'repl.confirm.' + planKind(pp.mode) + '.source' | t }}</p>
          <p class="sp-muted">{{ 'repl.plan.confirm.order' | t }}</p>
        }
      </div>
      <div class="modal-footer">
        @if (pendingPlan(); as pp) {
          <button type="button" class="btn btn-outline" (click)="pendingPlan.set(null)">{{ 'common.cancel' | t }}</button>
          <button type="button" class="btn" [class.btn-danger]="pp.mode === 'normal'" [class.btn-primary]="pp.mode === 'test'" (click)="runPlan()">{{ planAction(pp.mode) | t }}</button>
        }
      </div>
    </clr-modal>
    <clr-modal [clrModalOpen]="!!confirmDelete()" (clrModalOpenChange)="!$event && confirmDelete.set(null)" clrModalSize="sm">
      <h3 class="modal-title">{{ 'jobs.deleteTitle' | t }}</h3>
      <div class="modal-body"><p>{{ 'repl.dr.deleteJob' | t: { name: confirmDelete()?.name } }}</p></div>
      <div class="modal-footer">
        <button type="button" class="btn btn-outline" (click)="confirmDelete.set(null)">{{ 'common.cancel' | t }}</button>
        <button type="button" class="btn btn-danger" (click)="removeJob()">{{ 'common.delete' | t }}</button>
      </div>
    </clr-modal>`,
})
export class DrView {
  readonly sdk = inject(SdkService);
  private readonly repl = inject(ReplicationApi);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  readonly tracker = inject(RunTracker);
  readonly all = signal<ReplicaState[]>([]);
  readonly replicas = computed(() => this.all().filter((r): r is Replica => r.state !== 'none'));
  readonly jobs = signal<ReplicationJob[]>([]);
  readonly error = signal<string | null>(null);
  readonly notice = signal<string | null>(null);
  readonly pending = signal<{ replica: Replica; action: DrAction } | null>(null);
  readonly confirmDelete = signal<ReplicationJob | null>(null);
  readonly plans = signal<FailoverPlan[]>([]);
  readonly pendingPlan = signal<{ plan: FailoverPlan; mode: 'normal' | 'test' } | null>(null);
  point = '';
  /** The failback confirmation's choices: to the original VM (transport) or to a new VM (where). */
  fbTarget: 'original' | 'new' = 'original';
  fbTransport: 'auto' | 'hot-add' | 'full-upload' = 'auto';
  fbName = '';
  fbHost = '';
  fbDatastore = '';
  fbFolder = '';

  constructor() {
    void this.load();
    liveView(() => void this.load(), (e) => { if (e.type === 'run' && e.run.endedAt && (e.run.kind === 'replication' || e.run.kind === 'replicate' || e.run.kind.startsWith('failover') || e.run.kind === 'failback')) void this.load(); });
  }
  async load(): Promise<void> {
    try {
      const [reps, jobs, plans] = await Promise.all([this.repl.replicas(), this.repl.jobs(), this.repl.plans().catch(() => [])]);
      this.all.set(reps); this.jobs.set(jobs); this.plans.set(plans); this.error.set(null);
    } catch (e) { this.error.set(errorText(e)); }
  }
  actionsFor(r: Replica): DrAction[] { return r.state === 'failedOver' && r.failback ? ['failbackCommit', 'failbackUndo'] : OFFERED[r.state] ?? []; }
  /** i18n key of an action's label, and of its confirmation's parts (failback's own keys live under dr.failback.). */
  actionKey(a: DrAction): string { return a === 'failbackCommit' ? 'dr.failback.action.commit' : a === 'failbackUndo' ? 'dr.failback.action.undo' : 'repl.action.' + a; }
  confirmKey(p: { replica: Replica; action: DrAction }, part: 'title' | 'replica' | 'source'): string {
    if (p.action === 'failbackCommit' || p.action === 'failbackUndo') return `dr.failback.${p.action === 'failbackCommit' ? 'commit' : 'undo'}${p.replica.failback?.newVmName ? 'New' : ''}.${part}`;
    if (p.action === 'failback' && part !== 'title') {
      return this.fbTarget === 'new' ? `dr.failback.new.${part}` : `dr.failback.original.${this.fbTransport}.${part}`;
    }
    return `repl.confirm.${p.action}.${part}`;
  }
  fbReady(): boolean { return this.fbTarget === 'original' || (!!this.fbName.trim() && !!this.fbHost.trim() && !!this.fbDatastore.trim()); }
  private fbChoice(): FailbackChoice {
    return this.fbTarget === 'new'
      ? { target: 'new', name: this.fbName.trim(), host: this.fbHost.trim(), datastore: this.fbDatastore.trim(), ...(this.fbFolder.trim() ? { folder: this.fbFolder.trim() } : {}) }
      : { target: 'original', transport: this.fbTransport };
  }
  pointChoice(a: DrAction): boolean { return a === 'failover' || a === 'test'; }
  ask(replica: Replica, action: DrAction): void {
    this.point = '';
    this.fbTarget = 'original'; this.fbTransport = 'auto'; this.fbName = ''; this.fbHost = ''; this.fbDatastore = ''; this.fbFolder = '';
    this.pending.set({ replica, action });
  }
  async go(): Promise<void> {
    const p = this.pending();
    this.pending.set(null);
    if (!p) return;
    this.error.set(null);
    try {
      const r = await this.repl.act(p.replica.replicaVmId, p.action, this.pointChoice(p.action) && this.point ? this.point : undefined, p.action === 'failback' ? this.fbChoice() : undefined);
      const run = asRun(r);
      if (run) this.tracker.track(run, (_x: JobRun) => void this.load());
      this.notice.set(this.i18n.t('repl.dr.started', { action: this.i18n.t(this.actionKey(p.action)), name: p.replica.replicaName ?? p.replica.replicaVmId }));
      await this.load();
    } catch (e) { this.error.set(errorText(e)); }
  }
  names(ids: string[]): string { return ids.map((id) => this.replicas().find((r) => r.replicaVmId === id)?.replicaName ?? id).join(', '); }
  planKind(mode: 'normal' | 'test'): DrAction { return mode === 'test' ? 'test' : 'failover'; }
  planAction(mode: 'normal' | 'test'): string { return `repl.action.${this.planKind(mode)}`; }
  askPlan(plan: FailoverPlan, mode: 'normal' | 'test'): void { this.pendingPlan.set({ plan, mode }); }
  async runPlan(): Promise<void> {
    const p = this.pendingPlan();
    this.pendingPlan.set(null);
    if (!p) return;
    try {
      this.tracker.track(await this.repl.runPlan(p.plan.id, p.mode), () => void this.load());
      this.notice.set(this.i18n.t('repl.dr.started', { action: this.i18n.t(this.planAction(p.mode)), name: p.plan.name }));
    } catch (e) { this.error.set(errorText(e)); }
  }
  async runJob(j: ReplicationJob): Promise<void> {
    try { this.tracker.track(await this.repl.runJob(j.id), () => void this.load()); this.notice.set(this.i18n.t('jobs.started', { name: j.name })); } catch (e) { this.error.set(errorText(e)); }
  }
  /** Opens the replication job wizard filled with the job's settings (saving updates the job). */
  editJob(j: ReplicationJob): void { this.actions.open('replicate', j.vmIds, { job: j.id }, () => void this.load(), 'replication.edit.title'); }
  async removeJob(): Promise<void> {
    const j = this.confirmDelete();
    this.confirmDelete.set(null);
    if (!j) return;
    try { await this.repl.deleteJob(j.id); await this.load(); } catch (e) { this.error.set(errorText(e)); }
  }
}
