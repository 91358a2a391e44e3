import { Component, computed, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute } from '@angular/router';
import { ClrCheckboxModule, ClrFormsModule, ClrWizardModule, ClrSpinnerModule } from '@clr/angular';
import type { DatastoreInfo, HostInfo, JobRun, RestorePoint, RestoreTarget, VmDetail } from '@contract';
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
  imports: [FormsModule, ClrWizardModule, ClrFormsModule, ClrCheckboxModule, ClrSpinnerModule, ConsistencyBadge, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    @if (tracker.run(); as run) {
      <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
        <h2 tabindex="-1" id="sp-restore-progress">{{ (done() ? 'restore.progressDone' : 'restore.progress') | t: { vm: vm()?.name ?? vmId } }}</h2>
        <sp-run-progress [run]="run" />
        @if (done()) { <p role="status">{{ 'restore.done.' + run.status | t }}</p> }
      </div>
      <div class="sp-modal-footer"><button type="button" class="btn btn-primary" (click)="close(run)">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button></div>
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
          @else if (points().length === 0) { <p>{{ 'monitor.noRestorePoints' | t }}</p> }
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
                <input clrInput id="new-name" name="newName" [(ngModel)]="newName" required maxlength="80" />
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
      this.host = hosts.find((h) => h.name === vm.host)?.name ?? hosts[0]?.name ?? '';
      this.hostChanged();
      this.datastore = this.hostDatastores().find((d) => vm.datastores.includes(d.name))?.name ?? this.hostDatastores()[0]?.name ?? '';
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  hostChanged(): void {
    this.hostSig.set(this.host);
    if (!this.hostDatastores().some((d) => d.name === this.datastore)) this.datastore = this.hostDatastores()[0]?.name ?? '';
  }
  targetValid(): boolean {
    return this.kind === 'new' ? !!this.newName.trim() && !!this.host && !!this.datastore : this.confirmOriginal;
  }
  async start(): Promise<void> {
    const rp = this.selected();
    if (!rp || !this.targetValid()) return;
    const target: RestoreTarget = this.kind === 'new'
      ? { kind: 'new', name: this.newName.trim(), host: this.host, datastore: this.datastore, powerOn: this.powerOn }
      : { kind: 'original', confirm: true, powerOn: this.powerOn };
    this.starting.set(true); this.error.set(null);
    try {
      const run = await this.api.restore(rp.id, { target });
      this.tracker.track(run, () => this.done.set(true));
      setTimeout(() => document.getElementById('sp-restore-progress')?.focus());
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }
  close(run?: JobRun): void { this.actions.close(run ? { runId: run.id, status: run.status } : undefined, '/vm/monitor?vm=' + this.vmId); }
}
