import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, RouterLink } from '@angular/router';
import { ClrCheckboxModule, ClrFormsModule, ClrWizardModule, ClrSpinnerModule } from '@clr/angular';
import type { DatastoreInfo, HostInfo, JobRun, RestorePoint, RestoreTarget, VmDetail } from '@contract';
import { vcGuidFromContextId } from '../sdk/html-client-sdk';
import { Api, errorText } from '../core/api';
import { I18N_PIPES } from '../core/i18n';
import { RunTracker } from '../core/run-tracker';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { ConsistencyBadge } from '../shared/badges';
import { ErrorAlert } from '../shared/error-alert';
import { RunProgress } from '../shared/run-progress';
import { contextVmIds } from '../shared/vm-context';

/**
 * Restore wizard: restore point (with consistency) → target (new VM: name/host/datastore/power on, or the
 * original location with an explicit confirmation) → summary → progress with live status.
 * Keyboard only: native radio groups and form controls, Clarity wizard buttons; no pointer-only widgets.
 */
@Component({
  selector: 'sp-restore-wizard',
  imports: [FormsModule, RouterLink, ClrWizardModule, ClrFormsModule, ClrCheckboxModule, ClrSpinnerModule, ConsistencyBadge, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    @if (tracker.run(); as run) {
      <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
        <h2 tabindex="-1" id="sp-restore-progress">{{ (done() ? 'restore.progressDone' : 'restore.progress') | t: { vm: vm()?.name ?? vmId } }}</h2>
        <sp-run-progress [run]="run" />
        @if (done()) {
          <p role="status">{{ 'restore.done.' + run.status | t }}
            @if (restoredVm(); as rv) {
              @if (sdk.isPlugin) { <button type="button" class="btn btn-link btn-sm" id="sp-open-restored" (click)="openRestored(rv.id)">{{ 'restore.openVm' | t: { vm: rv.name } }}</button> }
              @else { <a id="sp-open-restored" routerLink="/vm/summary" [queryParams]="{ vm: rv.id }">{{ 'restore.openVm' | t: { vm: rv.name } }}</a> }
            }
          </p>
        }
        <sp-error [message]="error()" />
      </div>
      <div class="sp-modal-footer">
        @if (!done()) { <button type="button" class="btn btn-outline" id="sp-cancel-restore" [disabled]="cancelling()" (click)="cancel(run)">{{ (cancelling() ? 'restore.cancelling' : 'restore.cancelRun') | t }}</button> }
        <button type="button" class="btn btn-primary" (click)="close(run)">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button>
      </div>
    } @else {
      <div class="sp-wizard-host" [class.sp-page]="!sdk.isPlugin">
      <clr-wizard [clrWizardOpen]="true" [clrWizardInPage]="true" [clrWizardInPageFillContentArea]="true" [clrWizardClosable]="false"
                  clrWizardSize="lg" (clrWizardOnCancel)="close()">
        <clr-wizard-title>{{ 'restore.title' | t: { vm: vm()?.name ?? vmId } }}</clr-wizard-title>
        <clr-wizard-button [type]="'cancel'">{{ 'common.cancel' | t }}</clr-wizard-button>
        <clr-wizard-button [type]="'previous'">{{ 'common.back' | t }}</clr-wizard-button>
        <clr-wizard-button [type]="'next'">{{ 'common.next' | t }}</clr-wizard-button>
        <clr-wizard-button [type]="'finish'">{{ 'restore.start' | t }}</clr-wizard-button>

        <clr-wizard-page [clrWizardPageNextDisabled]="!selected()">
          <ng-template clrPageTitle>{{ 'restore.step.point' | t }}</ng-template>
          <sp-error [message]="error()" />
          @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
          @else if (points().length === 0) { <p role="status" id="sp-no-points">{{ 'restore.noPoints' | t: { vm: vm()?.name ?? vmId } }}</p> }
          @else {
            <fieldset class="sp-fieldset">
              <legend class="sp-sr-only">{{ 'restore.step.point' | t }}</legend>
              <table class="table table-compact" style="margin-top: 0">
                <thead><tr><th class="left">{{ 'col.created' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th><th>{{ 'col.size' | t }}</th><th class="left">{{ 'col.notes' | t }}</th></tr></thead>
                <tbody>
                  @for (rp of points(); track rp.id; let i = $index) {
                    <tr [class.sp-selected]="selected()?.id === rp.id">
                      <td class="left">
                        <input type="radio" name="sp-rp" [id]="'rp-' + i" [checked]="selected()?.id === rp.id" (change)="selected.set(rp)" />
                        <label [for]="'rp-' + i"> {{ rp.createdAt | dt }}</label>
                      </td>
                      <td class="left"><sp-consistency [value]="rp.consistency" /></td>
                      <td style="white-space: nowrap">{{ rp.logicalBytes | bytes }}</td>
                      <td class="left">@for (w of rp.warnings; track $index) { <div class="sp-muted">⚠ {{ w }}</div> } {{ rp.notes }}</td>
                    </tr>
                  }
                </tbody>
              </table>
            </fieldset>
            @if (selected()?.consistency === 'crash') { <p class="sp-muted" role="note">{{ 'restore.crashHint' | t }}</p> }
          }
        </clr-wizard-page>

        <clr-wizard-page [clrWizardPageNextDisabled]="!targetValid()">
          <ng-template clrPageTitle>{{ 'restore.step.target' | t }}</ng-template>
          <form clrForm clrLayout="horizontal" [clrLabelSize]="3" (submit)="$event.preventDefault()">
            <clr-radio-container>
              <label>{{ 'restore.target' | t }}</label>
              <clr-radio-wrapper>
                <input type="radio" clrRadio name="kind" id="kind-new" value="new" [(ngModel)]="kind" />
                <label for="kind-new">{{ 'restore.target.new' | t }}</label>
              </clr-radio-wrapper>
              <clr-radio-wrapper>
                <input type="radio" clrRadio name="kind" id="kind-original" value="original" [(ngModel)]="kind" />
                <label for="kind-original">{{ 'restore.target.original' | t }}</label>
              </clr-radio-wrapper>
            </clr-radio-container>
            @if (kind === 'new') {
              <clr-input-container>
                <label for="new-name">{{ 'restore.newName' | t }}</label>
                <input clrInput id="new-name" name="newName" [(ngModel)]="newName" (ngModelChange)="nameChanged()" required maxlength="80" aria-describedby="sp-name-check" />
                <clr-control-helper><span id="sp-name-check" role="status" [class.sp-name-taken]="nameState() === 'taken'">
                  @switch (nameState()) {
                    @case ('checking') { {{ 'restore.name.checking' | t }} }
                    @case ('available') { {{ 'restore.name.available' | t }} }
                    @case ('taken') { {{ 'restore.name.taken' | t: { name: checkedName() } }} }
                    @case ('error') { {{ 'restore.name.checkFailed' | t: { error: nameError() } }} }
                  }
                </span></clr-control-helper>
                <clr-control-error>{{ 'form.required' | t }}</clr-control-error>
              </clr-input-container>
              <clr-select-container>
                <label for="new-host">{{ 'restore.host' | t }}</label>
                <select clrSelect id="new-host" name="host" [(ngModel)]="host" (ngModelChange)="hostChanged()" required>
                  @for (h of hosts(); track h.id) { <option [value]="h.name">{{ h.name }}@if (h.cluster) { ({{ h.cluster }}) }</option> }
                </select>
              </clr-select-container>
              <clr-select-container>
                <label for="new-ds">{{ 'restore.datastore' | t }}</label>
                <select clrSelect id="new-ds" name="datastore" [(ngModel)]="datastore" required>
                  @for (d of hostDatastores(); track d.id) { <option [value]="d.name">{{ d.name }} — {{ 'restore.free' | t: { free: (d.freeBytes | bytes), cap: (d.capacityBytes | bytes) } }}</option> }
                </select>
                <clr-control-helper>{{ 'restore.needs' | t: { size: (selected()?.logicalBytes | bytes) } }}</clr-control-helper>
              </clr-select-container>
            } @else {
              <div class="alert alert-danger" role="alert" style="margin-top: 1rem"><div class="alert-items"><div class="alert-item static">
                <span class="alert-text">{{ 'restore.originalWarning' | t: { vm: vm()?.name ?? vmId } }}</span>
              </div></div></div>
              <clr-checkbox-container>
                <label class="sp-sr-only">{{ 'restore.confirmLabel' | t }}</label>
                <clr-checkbox-wrapper>
                  <input type="checkbox" clrCheckbox id="confirm-original" name="confirm" [(ngModel)]="confirmOriginal" />
                  <label for="confirm-original">{{ 'restore.confirmOriginal' | t: { vm: vm()?.name ?? vmId } }}</label>
                </clr-checkbox-wrapper>
              </clr-checkbox-container>
            }
            @if (nextBlockedBy(); as why) { <p class="sp-next-hint" id="sp-next-hint" role="note">{{ why | t: { name: checkedName() } }}</p> }
            <clr-checkbox-container>
              <label class="sp-sr-only">{{ 'restore.powerOn' | t }}</label>
              <clr-checkbox-wrapper>
                <input type="checkbox" clrCheckbox id="power-on" name="powerOn" [(ngModel)]="powerOn" />
                <label for="power-on">{{ 'restore.powerOn' | t }}</label>
              </clr-checkbox-wrapper>
            </clr-checkbox-container>
          </form>
        </clr-wizard-page>

        <clr-wizard-page [clrWizardPageNextDisabled]="starting()" [clrWizardPagePreventDefault]="true" (clrWizardPageFinish)="start()">
          <ng-template clrPageTitle>{{ 'restore.step.summary' | t }}</ng-template>
          <sp-error [message]="error()" />
          @if (selected(); as rp) {
            <dl class="sp-kv">
              <dt>{{ 'col.vm' | t }}</dt><dd>{{ vm()?.name ?? vmId }}</dd>
              <dt>{{ 'restore.step.point' | t }}</dt><dd>{{ rp.createdAt | dt }} <sp-consistency [value]="rp.consistency" /></dd>
              <dt>{{ 'col.size' | t }}</dt><dd>{{ rp.logicalBytes | bytes }}</dd>
              <dt>{{ 'restore.target' | t }}</dt>
              <dd>@if (kind === 'new') { {{ 'restore.summary.new' | t: { name: newName, host: host, ds: datastore } }} } @else { <strong>{{ 'restore.summary.original' | t }}</strong> }</dd>
              <dt>{{ 'restore.powerOn' | t }}</dt><dd>{{ (powerOn ? 'common.yes' : 'common.no') | t }}</dd>
            </dl>
          }
        </clr-wizard-page>
      </clr-wizard>
      </div>
    }`,
  styles: [`
    .sp-wizard-host { height: 100vh; box-sizing: border-box; }
    .sp-page.sp-wizard-host { height: calc(100vh - 5rem); }
    .sp-fieldset { border: 0; padding: 0; margin: 0; }
    tr.sp-selected td { background: var(--cds-alias-object-interaction-background-selected, rgba(0, 114, 163, 0.12)); }
    input[type='radio'] { margin-right: 0.25rem; }
    .sp-name-taken, .sp-next-hint { color: var(--cds-alias-status-danger, #c21d00); }
    .sp-next-hint { margin-top: 0.75rem; }
  `],
})
export class RestoreWizard {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly actions = inject(Actions);
  private readonly route = inject(ActivatedRoute);
  readonly tracker = inject(RunTracker);
  readonly vmId = contextVmIds(this.route, this.sdk)[0] ?? '';
  readonly vm = signal<VmDetail | null>(null);
  readonly points = signal<RestorePoint[]>([]);
  readonly hosts = signal<HostInfo[]>([]);
  readonly datastores = signal<DatastoreInfo[]>([]);
  readonly selected = signal<RestorePoint | undefined>(undefined);
  readonly loading = signal(true);
  readonly starting = signal(false);
  readonly done = signal(false);
  readonly error = signal<string | null>(null);
  readonly cancelling = signal(false);
  /** The VM the restore made (or overwrote), once it finished. */
  readonly restoredVm = signal<{ id: string; name: string } | null>(null);
  /** The name check against the target vCenter's VMs (GET /api/restore-points/:id/target-name). */
  readonly nameState = signal<'idle' | 'checking' | 'available' | 'taken' | 'error'>('idle');
  readonly checkedName = signal('');
  readonly nameError = signal('');
  private nameTimer: ReturnType<typeof setTimeout> | undefined;
  private nameSeq = 0;
  kind: 'new' | 'original' = 'new';
  newName = '';
  host = '';
  datastore = '';
  powerOn = false;
  confirmOriginal = false;
  private readonly hostSig = signal('');
  readonly hostDatastores = computed(() => {
    const h = this.hosts().find((x) => x.name === this.hostSig());
    return h ? this.datastores().filter((d) => h.datastores.includes(d.name) || h.datastores.includes(d.id)) : this.datastores();
  });

  constructor() { void this.load(); }
  private async load(): Promise<void> {
    try {
      const [vm, points, hosts, datastores] = await Promise.all([
        this.api.vm(this.vmId), this.api.restorePoints(this.vmId), this.api.hosts(), this.api.datastores(),
      ]);
      this.vm.set(vm); this.points.set(points); this.hosts.set(hosts); this.datastores.set(datastores);
      const want = this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp'];
      this.selected.set(points.find((p) => p.id === want) ?? points[0]);
      this.newName = `${vm.name}-restored`;
      this.nameChanged(0);
      this.host = hosts.find((h) => h.name === vm.host)?.name ?? hosts[0]?.name ?? '';
      this.hostChanged();
      this.datastore = this.hostDatastores().find((d) => vm.datastores.includes(d.name))?.name ?? this.hostDatastores()[0]?.name ?? '';
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  hostChanged(): void {
    this.hostSig.set(this.host);
    if (!this.hostDatastores().some((d) => d.name === this.datastore)) this.datastore = this.hostDatastores()[0]?.name ?? '';
  }
  /** Checks the new VM's name against the VMs of the restore point's vCenter, shortly after typing stops. */
  nameChanged(delayMs = 300): void {
    clearTimeout(this.nameTimer);
    const name = this.newName.trim();
    const rp = this.selected();
    const seq = ++this.nameSeq;
    if (!name || !rp) { this.nameState.set('idle'); return; }
    this.nameState.set('checking');
    this.nameTimer = setTimeout(() => {
      this.api.restoreTargetName(rp.id, name).then((c) => {
        if (seq !== this.nameSeq) return;
        this.checkedName.set(c.name); this.nameState.set(c.available ? 'available' : 'taken');
      }, (e) => {
        if (seq !== this.nameSeq) return;
        this.nameError.set(errorText(e)); this.nameState.set('error');
      });
    }, delayMs);
  }
  /** Why Next is disabled on the Target step (an i18n key), or null. */
  nextBlockedBy(): string | null {
    if (this.kind === 'original') return this.confirmOriginal ? null : 'restore.why.confirm';
    if (!this.newName.trim()) return 'restore.why.name';
    if (this.nameState() === 'taken') return 'restore.why.nameTaken';
    if (this.nameState() === 'checking' || this.nameState() === 'idle') return 'restore.why.checking';
    if (this.nameState() === 'error') return 'restore.why.checkFailed';
    if (!this.host || !this.datastore) return 'restore.why.placement';
    return null;
  }
  targetValid(): boolean { return this.nextBlockedBy() === null; }
  async start(): Promise<void> {
    const rp = this.selected();
    if (!rp || !this.targetValid()) return;
    const target: RestoreTarget = this.kind === 'new'
      ? { kind: 'new', name: this.newName.trim(), host: this.host, datastore: this.datastore, powerOn: this.powerOn }
      : { kind: 'original', confirm: true, powerOn: this.powerOn };
    this.starting.set(true); this.error.set(null);
    try {
      const run = await this.api.restore(rp.id, { target });
      this.tracker.track(run, (r) => { this.done.set(true); void this.findRestored(r, target); });
      setTimeout(() => document.getElementById('sp-restore-progress')?.focus());
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }
  async cancel(run: JobRun): Promise<void> {
    this.cancelling.set(true); this.error.set(null);
    try { await this.api.cancelRun(run.id); } catch (e) { this.error.set(errorText(e)); this.cancelling.set(false); }
  }
  /** After a good restore: the new VM by its name in the restore point's vCenter, or the original VM. */
  private async findRestored(run: JobRun, target: RestoreTarget): Promise<void> {
    if (run.status !== 'success' && run.status !== 'warning') return;
    if (target.kind === 'original') { this.restoredVm.set({ id: this.vmId, name: this.vm()?.name ?? this.vmId }); return; }
    const site = this.vmId.includes(':') ? this.vmId.slice(0, this.vmId.indexOf(':') + 1) : '';
    const atSite = (id: string) => (site ? id.startsWith(site) : !id.includes(':'));
    try {
      const vm = (await this.api.vms()).find((v) => v.name === target.name && atSite(v.id));
      if (vm) this.restoredVm.set({ id: vm.id, name: vm.name });
    } catch (e) { this.error.set(errorText(e)); }
  }
  /** Inside vCenter: the new VM's Monitor › Backup view (same vCenter as the VM the wizard was opened on). */
  openRestored(id: string): void {
    const guid = vcGuidFromContextId(String(this.sdk.contextObjects()[0]?.id ?? ''));
    const moref = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
    this.sdk.navigateTo({ targetViewId: 'stillpointVmMonitor', objectId: `urn:vmomi:VirtualMachine:${moref}${guid ? ':' + guid : ':'}` });
    this.sdk.closeModal();
  }
  close(run?: JobRun): void { this.actions.close(run ? { runId: run.id, status: run.status } : undefined, '/vm/monitor?vm=' + this.vmId); }
}
