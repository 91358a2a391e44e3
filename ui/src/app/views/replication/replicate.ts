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
 * folder, name suffix), network mapping, schedule and RPO, recovery points, source and application-aware
 * settings → POST /api/replication-jobs; then "Run now" with live progress, and the way to the DR view.
 */
@Component({
  selector: 'sp-replicate',
  imports: [FormsModule, ClrFormsModule, ClrSpinnerModule, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'repl.wizard.title' | t }}</h2> }
      <sp-error [message]="error()" />
      @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @else if (created(); as job) {
        <div class="alert alert-success" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'repl.wizard.created' | t: { name: job.name } }}</span></div></div></div>
        @if (tracker.run(); as run) {
          <sp-run-progress [run]="run" />
          @if (runDone()) { <p role="status" id="rp-run-status">{{ 'repl.wizard.runDone.' + run.status | t }}</p> }
        }
      } @else {
        <p>{{ 'repl.wizard.intro' | t: { vms: vmNames() } }}</p>
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
            <clr-radio-wrapper><input type="radio" clrRadio id="rp-source-snapshot" name="source" value="snapshot" [(ngModel)]="source" [disabled]="crossSite()" /><label for="rp-source-snapshot">{{ 'repl.source.snapshot' | t }}</label></clr-radio-wrapper>
            <clr-radio-wrapper><input type="radio" clrRadio id="rp-source-backup" name="source" value="backup" [(ngModel)]="source" /><label for="rp-source-backup">{{ 'repl.source.backup' | t }}</label></clr-radio-wrapper>
            @if (crossSite()) { <clr-control-helper>{{ 'repl.source.crossSite' | t }}</clr-control-helper> }
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
        <button type="button" class="btn btn-primary" id="rp-create" (click)="create()" [disabled]="busy() || loading() || !hostKey || !datastore || !name">{{ 'repl.wizard.create' | t }}</button>
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
  readonly ids = contextVmIds(inject(ActivatedRoute), this.sdk);
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
      const [vms, hosts, dss, creds] = await Promise.all([this.api.vms(), this.api.hosts(), this.api.datastores(), this.api.credentials()]);
      this.vms.set(vms.filter((v) => this.ids.includes(v.id)));
      this.hosts.set(hosts); this.datastores.set(dss); this.credentials.set(creds);
      if (!this.ids.length) this.error.set(this.i18n.t('error.noVm'));
      this.name = this.i18n.t('repl.wizard.defaultName', { vm: this.vms().map((v) => v.name).join(', ') || '?' }).slice(0, 128);
      const dr = hosts.find((h) => /dr/i.test(h.name)) ?? hosts[0];
      if (dr) { this.hostKey = this.key(dr); this.hostChanged(); }
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  key(h: HostInfo): string { return `${h.site ?? ''}|${h.name}`; }
  host(): HostInfo | undefined { return this.hosts().find((h) => this.key(h) === this.hostSel()); }
  hostDatastores(): DatastoreInfo[] {
    const h = this.host();
    return this.datastores().filter((d) => (d.site ?? '') === (h?.site ?? '') && (!h?.datastores.length || h.datastores.includes(d.name) || h.datastores.includes(d.id)));
  }
  crossSite(): boolean {
    const h = this.host();
    return !!h && this.vms().some((v) => (v.site ?? h.site) !== h.site);
  }
  hostChanged(): void {
    this.hostSel.set(this.hostKey);
    const ds = this.hostDatastores();
    if (!ds.some((d) => d.name === this.datastore)) this.datastore = ds.find((d) => /dr/i.test(d.name))?.name ?? ds[0]?.name ?? '';
    if (this.crossSite()) this.source = 'backup';
  }
  vmNames(): string { return this.vms().map((v) => v.name).join(', ') || this.ids.join(', '); }
  async create(): Promise<void> {
    const h = this.host();
    if (!h) return;
    this.busy.set(true); this.error.set(null);
    const body: ReplicationJobInput = {
      name: this.name.trim(), vmIds: this.vms().map((v) => v.id),
      target: {
        ...(h.site ? { site: h.site } : {}), host: h.name, datastore: this.datastore, ...(this.folder.trim() ? { folder: this.folder.trim() } : {}), suffix: this.suffix,
        networkMap: this.nets.filter((n) => n.source.trim() && n.target.trim()).map((n) => ({ source: n.source.trim(), target: n.target.trim() })),
      },
      source: this.source, schedule: { cron: this.cron.trim() || null }, rpoMinutes: Number(this.rpoMinutes), keepPoints: Number(this.keepPoints),
      appAware: { quiesce: this.quiesce, onQuiesceFailure: 'fallback', vssBackupType: 'copy', ...(this.credentialId ? { guestCredentialId: this.credentialId } : {}) },
      enabled: true,
    };
    try { this.created.set(await this.repl.createJob(body)); } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
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
