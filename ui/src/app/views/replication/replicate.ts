import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { ClrFormsModule, ClrSpinnerModule } from '@clr/angular';
import type { DatastoreInfo, GuestCredential, HostInfo, JobRun, ReplicationJob, ReplicationJobInput, VmSummary } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES, I18n } from '../../core/i18n';
import { RunTracker } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { Actions } from '../../shared/actions';
import { ErrorAlert } from '../../shared/error-alert';
import { RunProgress } from '../../shared/run-progress';
import { contextVmIds } from '../../shared/vm-context';
import { ReplicationApi } from './replication-api';

interface NetRow { source: string; target: string }

/**
 * "Replicate…" (right-click on VMs): the replication job wizard — DR target (host at any site, datastore,
 * folder, resource pool, name suffix), network mapping, schedule and RPO, recovery points, source and
 * application-aware settings → POST /api/replication-jobs; then "Run now" with live progress, and the way
 * to the DR view. Opened with a job id (query `job`, or the modal's custom data) it edits that job: the
 * same form filled with its settings → PUT /api/replication-jobs/:id.
 */
@Component({
  selector: 'sp-replicate',
  imports: [FormsModule, ClrFormsModule, ClrSpinnerModule, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ (editId ? 'replication.edit.title' : 'repl.wizard.title') | t }}</h2> }
      <sp-error [message]="error()" />
      @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @else if (created(); as job) {
        <div class="alert alert-success" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ (editId ? 'replication.edit.saved' : 'repl.wizard.created') | t: { name: job.name } }}</span></div></div></div>
        @if (tracker.run(); as run) {
          <sp-run-progress [run]="run" />
          @if (runDone()) { <p role="status" id="rp-run-status">{{ 'repl.wizard.runDone.' + run.status | t }}</p> }
        }
      } @else {
        <p>{{ (editId ? 'replication.edit.intro' : 'repl.wizard.intro') | t: { vms: vmNames() } }}</p>
        @if (editId && hasReplicas()) { <p class="sp-muted" id="rp-placement-fixed">{{ 'replication.edit.placementFixed' | t }}</p> }
        <form clrForm clrLayout="horizontal" #f="ngForm">
          <h4>{{ 'repl.wizard.target' | t }}</h4>
          <clr-input-container><label for="rp-name">{{ 'repl.job.name' | t }}</label><input clrInput id="rp-name" name="name" [(ngModel)]="name" required maxlength="128" /></clr-input-container>
          <clr-select-container>
            <label for="rp-host">{{ 'repl.job.host' | t }}</label>
            <select clrSelect id="rp-host" name="host" [(ngModel)]="hostKey" (ngModelChange)="hostChanged()" required>
              @for (h of hosts(); track h.id) { <option [value]="key(h)">{{ h.name }}@if (multiSite()) { ({{ 'repl.job.site' | t }} {{ h.site }}) }</option> }
            </select>
          </clr-select-container>
          <clr-select-container>
            <label for="rp-datastore">{{ 'repl.job.datastore' | t }}</label>
            <select clrSelect id="rp-datastore" name="datastore" [(ngModel)]="datastore" required>
              @for (d of hostDatastores(); track d.id) { <option [value]="d.name">{{ d.name }} · {{ d.freeBytes | bytes }} {{ 'repl.job.free' | t }}</option> }
            </select>
          </clr-select-container>
          <clr-input-container><label for="rp-folder">{{ 'repl.job.folder' | t }}</label><input clrInput id="rp-folder" name="folder" [(ngModel)]="folder" [placeholder]="'repl.job.folderDefault' | t" /></clr-input-container>
          <clr-input-container><label for="rp-pool">{{ 'replication.edit.pool' | t }}</label><input clrInput id="rp-pool" name="pool" [(ngModel)]="pool" [placeholder]="'replication.edit.poolDefault' | t" /></clr-input-container>
          <clr-input-container><label for="rp-suffix">{{ 'repl.job.suffix' | t }}</label><input clrInput id="rp-suffix" name="suffix" [(ngModel)]="suffix" required maxlength="40" />
            <clr-control-helper>{{ 'repl.job.suffixHelp' | t: { example: (vms()[0]?.name ?? 'vm') + suffix } }}</clr-control-helper></clr-input-container>

          <h4>{{ 'repl.wizard.networks' | t }}</h4>
          <p class="sp-muted">{{ 'repl.wizard.networksHelp' | t }}</p>
          @for (n of nets; track $index; let i = $index) {
            <div class="sp-row">
              <input class="clr-input" [id]="'rp-net-src-' + i" [name]="'src' + i" [(ngModel)]="n.source" [attr.aria-label]="'repl.net.source' | t" [placeholder]="'repl.net.source' | t" />
              <span aria-hidden="true">→</span>
              <input class="clr-input" [id]="'rp-net-dst-' + i" [name]="'dst' + i" [(ngModel)]="n.target" [attr.aria-label]="'repl.net.target' | t" [placeholder]="'repl.net.target' | t" />
              <button type="button" class="btn btn-sm btn-link" (click)="nets.splice(i, 1)" [attr.aria-label]="'repl.net.remove' | t">✕</button>
            </div>
          }
          <button type="button" id="rp-add-net" class="btn btn-sm btn-outline" (click)="nets.push({ source: 'VM Network', target: '' })">{{ 'repl.net.add' | t }}</button>

          <h4>{{ 'repl.wizard.schedule' | t }}</h4>
          <clr-input-container><label for="rp-cron">{{ 'repl.job.cron' | t }}</label><input clrInput id="rp-cron" name="cron" [(ngModel)]="cron" [placeholder]="'repl.job.cronManual' | t" />
            <clr-control-helper>{{ 'repl.job.cronHelp' | t }}</clr-control-helper></clr-input-container>
          <clr-input-container><label for="rp-rpo">{{ 'repl.job.rpo' | t }}</label><input clrInput type="number" id="rp-rpo" name="rpo" [(ngModel)]="rpoMinutes" min="1" max="10080" required />
            <clr-control-helper>{{ 'repl.job.rpoHelp' | t }}</clr-control-helper></clr-input-container>
          <clr-input-container><label for="rp-points">{{ 'repl.job.points' | t }}</label><input clrInput type="number" id="rp-points" name="points" [(ngModel)]="keepPoints" min="1" max="28" required />
            <clr-control-helper>{{ 'repl.job.pointsHelp' | t }}</clr-control-helper></clr-input-container>

          <h4>{{ 'repl.wizard.source' | t }}</h4>
          <clr-radio-container>
            <label>{{ 'repl.job.source' | t }}</label>
            <clr-radio-wrapper><input type="radio" clrRadio id="rp-source-snapshot" name="source" value="snapshot" [(ngModel)]="source" /><label for="rp-source-snapshot">{{ 'repl.source.snapshot' | t }}</label></clr-radio-wrapper>
            <clr-radio-wrapper><input type="radio" clrRadio id="rp-source-backup" name="source" value="backup" [(ngModel)]="source" /><label for="rp-source-backup">{{ 'repl.source.backup' | t }}</label></clr-radio-wrapper>
          </clr-radio-container>
          <clr-checkbox-container>
            <label>{{ 'repl.wizard.appAware' | t }}</label>
            <clr-checkbox-wrapper><input type="checkbox" clrCheckbox id="rp-quiesce" name="quiesce" [(ngModel)]="quiesce" [disabled]="source === 'backup'" /><label for="rp-quiesce">{{ 'repl.job.quiesce' | t }}</label></clr-checkbox-wrapper>
          </clr-checkbox-container>
          <clr-select-container>
            <label for="rp-credential">{{ 'appAware.credential' | t }}</label>
            <select clrSelect id="rp-credential" name="cred" [(ngModel)]="credentialId" [disabled]="source === 'backup'">
              <option value="">{{ 'common.none' | t }}</option>
              @for (c of credentials(); track c.id) { <option [value]="c.id">{{ c.name }} ({{ c.username }})</option> }
            </select>
          </clr-select-container>
        </form>
      }
    </div>
    <div class="sp-modal-footer">
      @if (created(); as job) {
        <button type="button" class="btn btn-outline" id="rp-dr" (click)="openDr()">{{ 'repl.wizard.openDr' | t }}</button>
        @if (!tracker.run()) { <button type="button" class="btn btn-primary" id="rp-run" (click)="run(job)" [disabled]="busy()">{{ 'repl.wizard.runNow' | t }}</button> }
        <button type="button" class="btn" [class.btn-primary]="runDone()" (click)="close()">{{ 'common.close' | t }}</button>
      } @else {
        <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
        @if (editId) { <button type="button" class="btn btn-primary" id="rp-save" (click)="save()" [disabled]="busy() || loading() || !hostKey || !datastore || !name">{{ 'replication.edit.save' | t }}</button> }
        @else { <button type="button" class="btn btn-primary" id="rp-create" (click)="create()" [disabled]="busy() || loading() || !hostKey || !datastore || !name">{{ 'repl.wizard.create' | t }}</button> }
      }
    </div>`,
})
export class ReplicateModal {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly repl = inject(ReplicationApi);
  private readonly i18n = inject(I18n);
  private readonly actions = inject(Actions);
  private readonly router = inject(Router);
  readonly tracker = inject(RunTracker);
  private readonly route = inject(ActivatedRoute);
  ids = contextVmIds(this.route, this.sdk);
  /** The job being edited (query `job` standalone, custom data `job` in a vSphere Client modal). */
  readonly editId = this.route.snapshot.queryParamMap.get('job') ?? this.actions.customData()['job'] ?? '';
  /** The edited job as loaded: its placement strings and settings the form does not show are kept as they were. */
  private original: ReplicationJob | null = null;
  private originalHostKey = '';
  private originalDatastore = '';
  readonly hasReplicas = signal(false);
  readonly vms = signal<VmSummary[]>([]);
  readonly hosts = signal<HostInfo[]>([]);
  readonly datastores = signal<DatastoreInfo[]>([]);
  readonly credentials = signal<GuestCredential[]>([]);
  readonly loading = signal(true);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  readonly created = signal<ReplicationJob | null>(null);
  readonly runDone = signal(false);
  readonly hostSel = signal('');
  readonly multiSite = computed(() => new Set(this.hosts().map((h) => h.site ?? '')).size > 1);
  name = '';
  hostKey = '';
  datastore = '';
  folder = '';
  pool = '';
  suffix = '-replica';
  nets: NetRow[] = [];
  cron = '';
  rpoMinutes = 60;
  keepPoints = 7;
  source: 'snapshot' | 'backup' = 'snapshot';
  quiesce = true;
  credentialId = '';

  constructor() { void this.load(); }
  private async load(): Promise<void> {
    try {
      const [vms, hosts, dss, creds, job, replicas] = await Promise.all([this.api.vms(), this.api.hosts(), this.api.datastores(), this.api.credentials(),
        this.editId ? this.repl.job(this.editId) : Promise.resolve(null), this.editId ? this.repl.replicas() : Promise.resolve([])]);
      if (job) this.ids = [...job.vmIds];
      this.vms.set(vms.filter((v) => this.ids.includes(v.id)));
      this.hosts.set(hosts); this.datastores.set(dss); this.credentials.set(creds);
      if (job) { this.fill(job, hosts); this.hasReplicas.set(replicas.some((r) => r.state !== 'none' && job.vmIds.includes(r.vmId))); return; }
      if (!this.ids.length) this.error.set(this.i18n.t('error.noVm'));
      this.name = this.i18n.t('repl.wizard.defaultName', { vm: this.vms().map((v) => v.name).join(', ') || '?' }).slice(0, 128);
      const dr = hosts.find((h) => /dr/i.test(h.name)) ?? hosts[0];
      if (dr) { this.hostKey = this.key(dr); this.hostChanged(); }
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  /** The form filled with a job's settings (editing). */
  private fill(job: ReplicationJob, hosts: HostInfo[]): void {
    this.original = job;
    const t = job.target;
    const named = hosts.filter((h) => h.name === t.host || h.id === t.host);
    const host = named.find((h) => h.site === t.site) ?? named.find((h) => !h.site) ?? named[0];
    this.name = job.name;
    if (host) { this.hostKey = this.key(host); this.hostSel.set(this.hostKey); }
    const ds = this.hostDatastores().find((d) => d.name === t.datastore || d.id === t.datastore);
    this.datastore = ds?.name ?? t.datastore;
    this.originalHostKey = this.hostKey; this.originalDatastore = this.datastore;
    this.folder = t.folder ?? ''; this.pool = t.pool ?? ''; this.suffix = t.suffix ?? '-replica';
    this.nets = (t.networkMap ?? []).map((m) => ({ ...m }));
    this.cron = job.schedule.cron ?? ''; this.rpoMinutes = job.rpoMinutes; this.keepPoints = job.keepPoints;
    this.source = job.source ?? 'snapshot'; this.quiesce = job.appAware.quiesce; this.credentialId = job.appAware.guestCredentialId ?? '';
  }
  key(h: HostInfo): string { return `${h.site ?? ''}|${h.name}`; }
  host(): HostInfo | undefined { return this.hosts().find((h) => this.key(h) === this.hostSel()); }
  hostDatastores(): DatastoreInfo[] {
    const h = this.host();
    return this.datastores().filter((d) => (d.site ?? '') === (h?.site ?? '') && (!h?.datastores.length || h.datastores.includes(d.name) || h.datastores.includes(d.id)));
  }
  hostChanged(): void {
    this.hostSel.set(this.hostKey);
    const ds = this.hostDatastores();
    if (!ds.some((d) => d.name === this.datastore)) this.datastore = ds.find((d) => /dr/i.test(d.name))?.name ?? ds[0]?.name ?? '';
  }
  vmNames(): string { return this.vms().map((v) => v.name).join(', ') || this.ids.join(', '); }
  /** The job as the form says (editing: what the form does not show stays as the job had it). */
  private input(h: HostInfo): ReplicationJobInput {
    const o = this.original;
    // An unchanged host/datastore is sent as the job named it (an id stays an id), so it is not taken for a move.
    const host = o && this.hostKey === this.originalHostKey ? o.target.host : h.name;
    const datastore = o && this.hostKey === this.originalHostKey && this.datastore === this.originalDatastore ? o.target.datastore : this.datastore;
    const site = o && this.hostKey === this.originalHostKey ? o.target.site : h.site;
    const { guestCredentialId: _g, ...keptAppAware } = o?.appAware ?? { onQuiesceFailure: 'fallback' as const, vssBackupType: 'copy' as const, quiesce: true };
    return {
      name: this.name.trim(), vmIds: o ? [...o.vmIds] : this.vms().map((v) => v.id), ...(o?.folderIds?.length ? { folderIds: [...o.folderIds] } : {}),
      target: {
        ...(site ? { site } : {}), host, datastore, ...(this.folder.trim() ? { folder: this.folder.trim() } : {}), ...(this.pool.trim() ? { pool: this.pool.trim() } : {}), suffix: this.suffix,
        networkMap: this.nets.filter((n) => n.source.trim() && n.target.trim()).map((n) => ({ source: n.source.trim(), target: n.target.trim() })),
      },
      source: this.source, schedule: { cron: this.cron.trim() || null }, rpoMinutes: Number(this.rpoMinutes), keepPoints: Number(this.keepPoints),
      appAware: { ...keptAppAware, quiesce: this.quiesce, ...(this.credentialId ? { guestCredentialId: this.credentialId } : {}) },
      ...(o?.concurrency ? { concurrency: o.concurrency } : {}), enabled: o?.enabled ?? true,
    };
  }
  async create(): Promise<void> {
    const h = this.host();
    if (!h) return;
    this.busy.set(true); this.error.set(null);
    try { this.created.set(await this.repl.createJob(this.input(h))); } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }
  async save(): Promise<void> {
    const h = this.host();
    if (!h || !this.editId) return;
    this.busy.set(true); this.error.set(null);
    try { this.created.set(await this.repl.updateJob(this.editId, this.input(h))); } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }
  async run(job: ReplicationJob): Promise<void> {
    this.busy.set(true); this.error.set(null);
    try { this.tracker.track(await this.repl.runJob(job.id), (_r: JobRun) => this.runDone.set(true)); } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }
  openDr(): void {
    if (this.sdk.isPlugin) {
      this.sdk.navigateTo({ targetViewId: 'stillpointDashboard', customData: { route: '/replication' } });
      this.sdk.closeModal();
    } else void this.router.navigate(['/replication']);
  }
  close(): void { const job = this.created(); this.actions.close(job ? { jobId: job.id } : undefined); }
}
