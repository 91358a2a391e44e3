import { Component, ElementRef, afterEveryRender, inject, signal, viewChild } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { ClrCheckboxModule, ClrDatagridModule, ClrFormsModule, ClrSpinnerModule, ClrWizardModule } from '@clr/angular';
import type { GuestCredential, Job, JobInput, VmSummary } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES, I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { CRON_PRESETS, describeRetention, describeSchedule, isValidCron } from '../shared/describe';
import { ErrorAlert } from '../shared/error-alert';
import { NumberStepperLabels } from '../shared/number-steppers';

interface ScriptModel { enabled: boolean; content: string; interpreter: string; timeoutSec: number }
interface Model {
  name: string; enabled: boolean; concurrency: number;
  preset: string; cron: string;
  retentionMode: 'keepLast' | 'gfs'; keepLast: number; daily: number; weekly: number; monthly: number; yearly: number;
  quiesce: boolean; onQuiesceFailure: 'fail' | 'fallback'; vssBackupType: 'copy' | 'full'; guestCredentialId: string;
  preFreeze: ScriptModel; postThaw: ScriptModel;
  /** Run reports for this job also go here (one address per line), besides the global recipients. */
  recipients: string;
}

/** Job wizard (create at #/jobs/new, edit at #/jobs/:id): VMs, schedule, retention, app-aware, scripts, credentials, concurrency. */
@Component({
  selector: 'sp-job-wizard',
  imports: [FormsModule, ClrWizardModule, ClrFormsModule, ClrCheckboxModule, ClrDatagridModule, ClrSpinnerModule, ErrorAlert, NumberStepperLabels, ...I18N_PIPES],
  template: `
    <div class="sp-wizard-host" [class.sp-page]="!sdk.isPlugin">
    @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> } @else {
    <clr-wizard [clrWizardOpen]="true" [clrWizardInPage]="true" [clrWizardInPageFillContentArea]="true" [clrWizardClosable]="false"
                clrWizardSize="xl" (clrWizardOnCancel)="cancel()">
      <clr-wizard-title>{{ (editId ? 'jobWizard.editTitle' : 'jobWizard.newTitle') | t: { name: m.name } }}</clr-wizard-title>
      <clr-wizard-button [type]="'cancel'">{{ 'common.cancel' | t }}</clr-wizard-button>
      <clr-wizard-button [type]="'previous'">{{ 'common.back' | t }}</clr-wizard-button>
      <clr-wizard-button #nextButton [type]="'next'">{{ 'common.next' | t }}</clr-wizard-button>
      <clr-wizard-button [type]="'finish'">{{ (editId ? 'common.save' : 'jobWizard.create') | t }}</clr-wizard-button>

      <clr-wizard-page [clrWizardPageNextDisabled]="!!whyGeneral()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.general' | t }}</ng-template>
        <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault()">
          <clr-input-container>
            <label for="job-name">{{ 'col.name' | t }}</label>
            <input clrInput id="job-name" name="name" [(ngModel)]="m.name" required maxlength="80" />
            <clr-control-error>{{ 'form.required' | t }}</clr-control-error>
          </clr-input-container>
          <clr-number-input-container>
            <label for="job-concurrency">{{ 'job.concurrency' | t }}</label>
            <input clrNumberInput type="number" id="job-concurrency" name="concurrency" [(ngModel)]="m.concurrency" min="1" max="8" required />
            <clr-control-helper>{{ 'jobWizard.concurrencyHelp' | t }}</clr-control-helper>
            <clr-control-error>{{ 'jobWizard.concurrencyRange' | t }}</clr-control-error>
          </clr-number-input-container>
          <clr-checkbox-container>
            <label class="sp-sr-only">{{ 'jobWizard.enabled' | t }}</label>
            <clr-checkbox-wrapper>
              <input type="checkbox" clrCheckbox id="job-enabled" name="enabled" [(ngModel)]="m.enabled" />
              <label for="job-enabled">{{ 'jobWizard.enabled' | t }}</label>
            </clr-checkbox-wrapper>
          </clr-checkbox-container>
          <clr-textarea-container>
            <label for="job-recipients">{{ 'jobWizard.recipients' | t }}</label>
            <textarea clrTextarea id="job-recipients" name="recipients" [(ngModel)]="m.recipients" rows="2"></textarea>
            <clr-control-helper>{{ 'jobWizard.recipientsHelp' | t }}</clr-control-helper>
          </clr-textarea-container>
        </form>
        @if (whyGeneral(); as why) { <p class="sp-next-hint" id="sp-next-hint-general" role="note">{{ why }}</p> }
      </clr-wizard-page>

      <clr-wizard-page [clrWizardPageNextDisabled]="!!whyVms()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.vms' | t }}</ng-template>
        <clr-datagrid clrDgSelectionType="multi" [clrDgSelected]="selectedVms()" (clrDgSelectedChange)="selectedVms.set($event)" [attr.aria-label]="'jobWizard.step.vms' | t">
          <clr-dg-column [clrDgField]="'name'">{{ 'col.name' | t }}</clr-dg-column>
          <clr-dg-column [clrDgField]="'guestOs'">{{ 'col.guestOs' | t }}</clr-dg-column>
          <clr-dg-column [clrDgField]="'host'">{{ 'col.host' | t }}</clr-dg-column>
          <clr-dg-column>{{ 'col.protection' | t }}</clr-dg-column>
          <clr-dg-row *clrDgItems="let vm of vms()" [clrDgItem]="vm">
            <clr-dg-cell>{{ vm.name }}</clr-dg-cell>
            <clr-dg-cell>{{ vm.guestOs }}</clr-dg-cell>
            <clr-dg-cell>{{ vm.host }}</clr-dg-cell>
            <clr-dg-cell>{{ (vm.protected ? 'summary.protected' : 'summary.unprotected') | t }}</clr-dg-cell>
          </clr-dg-row>
          <clr-dg-footer>{{ 'jobWizard.vmsSelected' | t: { n: selectedVms().length } }}</clr-dg-footer>
        </clr-datagrid>
        @if (whyVms(); as why) { <p class="sp-next-hint" id="sp-next-hint-vms" role="note">{{ why }}</p> }
      </clr-wizard-page>

      <clr-wizard-page [clrWizardPageNextDisabled]="!!whySchedule()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.schedule' | t }}</ng-template>
        <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault()">
          <clr-radio-container>
            <label>{{ 'job.schedule' | t }}</label>
            @for (p of presets; track p.id) {
              <clr-radio-wrapper>
                <input type="radio" clrRadio name="preset" [id]="'preset-' + p.id" [value]="p.id" [(ngModel)]="m.preset" />
                <label [for]="'preset-' + p.id">{{ 'schedule.preset.' + p.id | t }}@if (p.cron) { <code class="sp-muted"> {{ p.cron }}</code> }</label>
              </clr-radio-wrapper>
            }
            <clr-radio-wrapper>
              <input type="radio" clrRadio name="preset" id="preset-custom" value="custom" [(ngModel)]="m.preset" />
              <label for="preset-custom">{{ 'schedule.custom' | t }}</label>
            </clr-radio-wrapper>
          </clr-radio-container>
          @if (m.preset === 'custom') {
            <clr-input-container>
              <label for="job-cron">{{ 'schedule.cron' | t }}</label>
              <input clrInput id="job-cron" name="cron" [(ngModel)]="m.cron" placeholder="0 22 * * *" required />
              <clr-control-helper>{{ (cronValid() ? 'schedule.cronHelp' : 'schedule.cronInvalid') | t }}</clr-control-helper>
            </clr-input-container>
          }
        </form>
        @if (whySchedule(); as why) { <p class="sp-next-hint" id="sp-next-hint-schedule" role="note">{{ why }}</p> }
      </clr-wizard-page>

      <clr-wizard-page [clrWizardPageNextDisabled]="!!whyRetention()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.retention' | t }}</ng-template>
        <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault()">
          <clr-radio-container>
            <label>{{ 'job.retention' | t }}</label>
            <clr-radio-wrapper><input type="radio" clrRadio name="rmode" id="rmode-last" value="keepLast" [(ngModel)]="m.retentionMode" /><label for="rmode-last">{{ 'retention.keepLast' | t }}</label></clr-radio-wrapper>
            <clr-radio-wrapper><input type="radio" clrRadio name="rmode" id="rmode-gfs" value="gfs" [(ngModel)]="m.retentionMode" /><label for="rmode-gfs">{{ 'retention.gfs' | t }}</label></clr-radio-wrapper>
          </clr-radio-container>
          @if (m.retentionMode === 'keepLast') {
            <clr-number-input-container>
              <label for="keep-last">{{ 'retention.restorePoints' | t }}</label>
              <input clrNumberInput type="number" id="keep-last" name="keepLast" [(ngModel)]="m.keepLast" min="1" max="1000" required />
            </clr-number-input-container>
          } @else {
            @for (k of gfsKeys; track k) {
              <clr-number-input-container>
                <label [for]="'gfs-' + k">{{ 'retention.gfsLabel.' + k | t }}</label>
                <input clrNumberInput type="number" [id]="'gfs-' + k" [name]="'gfs-' + k" [(ngModel)]="m[k]" min="0" max="1000" />
              </clr-number-input-container>
            }
          }
          <p class="sp-muted">{{ retentionText() }}</p>
        </form>
        @if (whyRetention(); as why) { <p class="sp-next-hint" id="sp-next-hint-retention" role="note">{{ why }}</p> }
      </clr-wizard-page>

      <clr-wizard-page>
        <ng-template clrPageTitle>{{ 'jobWizard.step.appAware' | t }}</ng-template>
        <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault()">
          <clr-checkbox-container>
            <label class="sp-sr-only">{{ 'appAware.quiesce' | t }}</label>
            <clr-checkbox-wrapper>
              <input type="checkbox" clrCheckbox id="aa-quiesce" name="quiesce" [(ngModel)]="m.quiesce" />
              <label for="aa-quiesce">{{ 'appAware.quiesceLong' | t }}</label>
            </clr-checkbox-wrapper>
          </clr-checkbox-container>
          <clr-radio-container>
            <label>{{ 'appAware.onFailure' | t }}</label>
            <clr-radio-wrapper><input type="radio" clrRadio name="onfail" id="onfail-fail" value="fail" [(ngModel)]="m.onQuiesceFailure" [disabled]="!m.quiesce" /><label for="onfail-fail">{{ 'appAware.onFailure.fail' | t }}</label></clr-radio-wrapper>
            <clr-radio-wrapper><input type="radio" clrRadio name="onfail" id="onfail-fallback" value="fallback" [(ngModel)]="m.onQuiesceFailure" [disabled]="!m.quiesce" /><label for="onfail-fallback">{{ 'appAware.onFailure.fallback' | t }}</label></clr-radio-wrapper>
          </clr-radio-container>
          <clr-radio-container>
            <label>{{ 'appAware.vss' | t }}</label>
            <clr-radio-wrapper><input type="radio" clrRadio name="vss" id="vss-copy" value="copy" [(ngModel)]="m.vssBackupType" [disabled]="!m.quiesce" /><label for="vss-copy">{{ 'appAware.vss.copy' | t }}</label></clr-radio-wrapper>
            <clr-radio-wrapper><input type="radio" clrRadio name="vss" id="vss-full" value="full" [(ngModel)]="m.vssBackupType" [disabled]="!m.quiesce" /><label for="vss-full">{{ 'appAware.vss.full' | t }}</label></clr-radio-wrapper>
            <clr-control-helper>{{ 'appAware.vssHelp' | t }}</clr-control-helper>
          </clr-radio-container>
          <clr-select-container>
            <label for="aa-cred">{{ 'appAware.credential' | t }}</label>
            <select clrSelect id="aa-cred" name="cred" [(ngModel)]="m.guestCredentialId">
              <option value="">{{ 'common.none' | t }}</option>
              @for (c of credentials(); track c.id) { <option [value]="c.id">{{ c.name }} ({{ c.username }})</option> }
            </select>
            <clr-control-helper>{{ 'appAware.credentialHelp' | t }}</clr-control-helper>
          </clr-select-container>
        </form>
        <details class="sp-newcred" [open]="credentials().length === 0">
          <summary>{{ 'credentials.new' | t }}</summary>
          <form clrForm clrLayout="horizontal" (ngSubmit)="createCredential()" #cf="ngForm">
            <clr-input-container><label for="cred-name">{{ 'credentials.name' | t }}</label><input clrInput id="cred-name" name="cname" [(ngModel)]="newCred.name" required /></clr-input-container>
            <clr-input-container><label for="cred-user">{{ 'credentials.username' | t }}</label><input clrInput id="cred-user" name="cuser" [(ngModel)]="newCred.username" required autocomplete="off" /></clr-input-container>
            <clr-password-container><label for="cred-pass">{{ 'credentials.password' | t }}</label><input clrPassword id="cred-pass" name="cpass" [(ngModel)]="newCred.password" required autocomplete="new-password" /></clr-password-container>
            <sp-error [message]="credError()" />
            <button type="submit" class="btn btn-sm btn-outline" [disabled]="!cf.valid || credBusy()">{{ 'credentials.save' | t }}</button>
          </form>
        </details>
      </clr-wizard-page>

      <clr-wizard-page [clrWizardPageNextDisabled]="!!whyScripts()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.scripts' | t }}</ng-template>
        <p class="sp-muted">{{ 'scripts.help' | t }}</p>
        @for (s of scriptKinds; track s) {
          <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault()">
            <clr-checkbox-container>
              <label class="sp-sr-only">{{ 'scripts.' + s | t }}</label>
              <clr-checkbox-wrapper>
                <input type="checkbox" clrCheckbox [id]="s + '-on'" [name]="s + '-on'" [(ngModel)]="m[s].enabled" />
                <label [for]="s + '-on'">{{ 'scripts.enable.' + s | t }}</label>
              </clr-checkbox-wrapper>
            </clr-checkbox-container>
            @if (m[s].enabled) {
              <clr-textarea-container>
                <label [for]="s + '-content'">{{ 'scripts.content' | t }}</label>
                <textarea clrTextarea [id]="s + '-content'" [name]="s + '-content'" [(ngModel)]="m[s].content" rows="5" cols="60" required spellcheck="false"></textarea>
              </clr-textarea-container>
              <clr-input-container>
                <label [for]="s + '-interp'">{{ 'scripts.interpreter' | t }}</label>
                <input clrInput [id]="s + '-interp'" [name]="s + '-interp'" [(ngModel)]="m[s].interpreter" placeholder="/bin/sh" />
                <clr-control-helper>{{ 'scripts.interpreterHelp' | t }}</clr-control-helper>
              </clr-input-container>
              <clr-number-input-container>
                <label [for]="s + '-timeout'">{{ 'scripts.timeout' | t }}</label>
                <input clrNumberInput type="number" [id]="s + '-timeout'" [name]="s + '-timeout'" [(ngModel)]="m[s].timeoutSec" min="1" max="3600" required />
              </clr-number-input-container>
            }
          </form>
        }
        @if (whyScripts(); as why) { <p class="sp-next-hint" id="sp-next-hint-scripts" role="note">{{ why }}</p> }
      </clr-wizard-page>

      <clr-wizard-page [clrWizardPagePreventDefault]="true" (clrWizardPageFinish)="save()" [clrWizardPageNextDisabled]="saving()">
        <ng-template clrPageTitle>{{ 'jobWizard.step.summary' | t }}</ng-template>
        <sp-error [message]="error()" />
        <dl class="sp-kv">
          <dt>{{ 'col.name' | t }}</dt><dd>{{ m.name }} @if (!m.enabled) { <span class="label">{{ 'job.disabled' | t }}</span> }</dd>
          <dt>{{ 'col.vms' | t }}</dt><dd>{{ vmNames() }}</dd>
          <dt>{{ 'job.schedule' | t }}</dt><dd>{{ scheduleText() }}</dd>
          <dt>{{ 'job.retention' | t }}</dt><dd>{{ retentionText() }}</dd>
          <dt>{{ 'appAware.quiesce' | t }}</dt><dd>{{ (m.quiesce ? 'common.yes' : 'common.no') | t }}@if (m.quiesce) { · {{ 'appAware.onFailure.' + m.onQuiesceFailure | t }} · {{ 'appAware.vss.' + m.vssBackupType | t }} }</dd>
          <dt>{{ 'appAware.credential' | t }}</dt><dd>{{ credentialText() }}</dd>
          <dt>{{ 'scripts.preFreeze' | t }}</dt><dd>{{ (m.preFreeze.enabled ? 'common.yes' : 'common.no') | t }}</dd>
          <dt>{{ 'scripts.postThaw' | t }}</dt><dd>{{ (m.postThaw.enabled ? 'common.yes' : 'common.no') | t }}</dd>
          <dt>{{ 'job.concurrency' | t }}</dt><dd>{{ m.concurrency | num }}</dd>
        </dl>
      </clr-wizard-page>
    </clr-wizard>
    }
    </div>`,
  styles: [`
    .sp-wizard-host { height: 100vh; box-sizing: border-box; }
    .sp-page.sp-wizard-host { height: calc(100vh - 5rem); }
    .sp-newcred { margin-top: 1rem; }
    .sp-newcred summary { cursor: pointer; font-weight: 600; }
    .sp-next-hint { margin-top: 0.75rem; color: var(--cds-alias-status-danger, #c21d00); }
  `],
})
export class JobWizardPage {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);
  readonly editId = this.route.snapshot.paramMap.get('id');
  readonly presets = CRON_PRESETS;
  readonly gfsKeys = ['daily', 'weekly', 'monthly', 'yearly'] as const;
  readonly scriptKinds = ['preFreeze', 'postThaw'] as const;
  readonly vms = signal<VmSummary[]>([]);
  readonly selectedVms = signal<VmSummary[]>([]);
  readonly credentials = signal<GuestCredential[]>([]);
  readonly loading = signal(true);
  readonly saving = signal(false);
  readonly error = signal<string | null>(null);
  readonly credBusy = signal(false);
  readonly credError = signal<string | null>(null);
  newCred = { name: '', username: '', password: '' };
  m: Model = {
    name: '', enabled: true, concurrency: 2, preset: 'daily', cron: '0 22 * * *',
    retentionMode: 'keepLast', keepLast: 14, daily: 7, weekly: 4, monthly: 12, yearly: 0,
    quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy', guestCredentialId: '',
    preFreeze: { enabled: false, content: '', interpreter: '', timeoutSec: 300 },
    postThaw: { enabled: false, content: '', interpreter: '', timeoutSec: 300 },
    recipients: '',
  };

  private readonly nextButton = viewChild('nextButton', { read: ElementRef<HTMLElement> });

  constructor() {
    void this.load();
    afterEveryRender({ write: () => this.describeNext() });
  }
  private async load(): Promise<void> {
    try {
      const [vms, creds, job] = await Promise.all([this.api.vms(), this.api.credentials(), this.editId ? this.api.job(this.editId) : Promise.resolve(null)]);
      this.vms.set(vms); this.credentials.set(creds);
      const preselect = job?.vmIds ?? (this.route.snapshot.queryParamMap.get('vm') ?? '').split(',').filter(Boolean);
      this.selectedVms.set(vms.filter((v) => preselect.includes(v.id)));
      if (job) this.fromJob(job);
      else this.m.name = this.i18n.t('jobWizard.defaultName');
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  private fromJob(job: Job): void {
    const preset = CRON_PRESETS.find((p) => p.cron === job.schedule.cron);
    const r = job.retention;
    const gfs = !!(r.daily || r.weekly || r.monthly || r.yearly);
    const script = (s?: { content: string; interpreter?: string; timeoutSec: number }): ScriptModel =>
      s ? { enabled: true, content: s.content, interpreter: s.interpreter ?? '', timeoutSec: s.timeoutSec } : { enabled: false, content: '', interpreter: '', timeoutSec: 300 };
    this.m = {
      name: job.name, enabled: job.enabled, concurrency: job.concurrency,
      preset: preset ? preset.id : 'custom', cron: job.schedule.cron ?? '',
      retentionMode: gfs ? 'gfs' : 'keepLast', keepLast: r.keepLast ?? 14, daily: r.daily ?? 0, weekly: r.weekly ?? 0, monthly: r.monthly ?? 0, yearly: r.yearly ?? 0,
      quiesce: job.appAware.quiesce, onQuiesceFailure: job.appAware.onQuiesceFailure, vssBackupType: job.appAware.vssBackupType,
      guestCredentialId: job.appAware.guestCredentialId ?? '',
      preFreeze: script(job.appAware.preFreeze), postThaw: script(job.appAware.postThaw),
      recipients: (job.notify?.recipients ?? []).join('\n'),
    };
  }
  cronValid(): boolean { return isValidCron(this.m.cron); }

  // Why Next is disabled on each page, naming the field to fix (null: Next is enabled). Shown under the page's
  // fields and given to the Next button as its description (aria-describedby) and tooltip.
  whyGeneral(): string | null {
    if (!this.m.name.trim()) return this.i18n.t('ux.wizard.why.name', { field: this.i18n.t('col.name') });
    if (!(this.m.concurrency >= 1 && this.m.concurrency <= 8)) return this.i18n.t('ux.wizard.why.concurrency', { field: this.i18n.t('job.concurrency') });
    return null;
  }
  whyVms(): string | null { return this.selectedVms().length ? null : this.i18n.t('ux.wizard.why.vms'); }
  whySchedule(): string | null {
    if (this.m.preset !== 'custom' || this.cronValid()) return null;
    return this.i18n.t(this.m.cron.trim() ? 'ux.wizard.why.cron' : 'ux.wizard.why.cronEmpty', { field: this.i18n.t('schedule.cron') });
  }
  whyRetention(): string | null {
    if (this.retentionValid()) return null;
    if (this.m.retentionMode === 'keepLast') return this.i18n.t('ux.wizard.why.keepLast', { field: this.i18n.t('retention.restorePoints') });
    return this.i18n.t('ux.wizard.why.gfs');
  }
  whyScripts(): string | null {
    for (const k of this.scriptKinds) {
      const sc = this.m[k];
      if (!sc.enabled) continue;
      if (!sc.content.trim()) return this.i18n.t('ux.wizard.why.scriptContent', { script: this.i18n.t('scripts.' + k) });
      if (!(sc.timeoutSec >= 1)) return this.i18n.t('ux.wizard.why.scriptTimeout', { script: this.i18n.t('scripts.' + k), field: this.i18n.t('scripts.timeout') });
    }
    return null;
  }
  /** The hint of the page on show, given to Clarity's Next button (which renders outside our templates). */
  private describeNext(): void {
    const btn = this.nextButton()?.nativeElement.querySelector('button');
    if (!btn) return;
    const hint = document.querySelector<HTMLElement>('clr-wizard-page.active .sp-next-hint');
    if (hint) {
      if (btn.getAttribute('aria-describedby') !== hint.id) btn.setAttribute('aria-describedby', hint.id);
      if (btn.title !== hint.textContent?.trim()) btn.title = hint.textContent?.trim() ?? '';
    } else if (btn.hasAttribute('aria-describedby') || btn.title) {
      btn.removeAttribute('aria-describedby'); btn.removeAttribute('title');
    }
  }
  cron(): string | null { return this.m.preset === 'custom' ? this.m.cron.trim() : CRON_PRESETS.find((p) => p.id === this.m.preset)?.cron ?? null; }
  retentionValid(): boolean {
    return this.m.retentionMode === 'keepLast' ? this.m.keepLast >= 1 : this.gfsKeys.some((k) => this.m[k] > 0) && this.gfsKeys.every((k) => this.m[k] >= 0);
  }
  scriptsValid(): boolean { return this.scriptKinds.every((k) => !this.m[k].enabled || (!!this.m[k].content.trim() && this.m[k].timeoutSec >= 1)); }
  retention(): JobInput['retention'] {
    if (this.m.retentionMode === 'keepLast') return { keepLast: this.m.keepLast };
    const r: JobInput['retention'] = {};
    for (const k of this.gfsKeys) if (this.m[k] > 0) r[k] = this.m[k];
    return r;
  }
  scheduleText(): string { return describeSchedule(this.cron(), this.i18n); }
  retentionText(): string { return describeRetention(this.retention(), this.i18n); }
  vmNames(): string { return this.selectedVms().map((v) => v.name).join(', '); }
  credentialText(): string {
    const c = this.credentials().find((x) => x.id === this.m.guestCredentialId);
    return c ? `${c.name} (${c.username})` : this.i18n.t('common.none');
  }
  async createCredential(): Promise<void> {
    this.credBusy.set(true); this.credError.set(null);
    try {
      const c = await this.api.createCredential({ ...this.newCred });
      this.credentials.set([...this.credentials(), c]);
      this.m.guestCredentialId = c.id;
      this.newCred = { name: '', username: '', password: '' };
    } catch (e) { this.credError.set(errorText(e)); } finally { this.credBusy.set(false); }
  }
  input(): JobInput {
    const script = (s: ScriptModel) => s.enabled ? { content: s.content, timeoutSec: s.timeoutSec, ...(s.interpreter.trim() ? { interpreter: s.interpreter.trim() } : {}) } : undefined;
    return {
      name: this.m.name.trim(),
      vmIds: this.selectedVms().map((v) => v.id),
      schedule: { cron: this.cron() },
      retention: this.retention(),
      appAware: {
        quiesce: this.m.quiesce, onQuiesceFailure: this.m.onQuiesceFailure, vssBackupType: this.m.vssBackupType,
        preFreeze: script(this.m.preFreeze), postThaw: script(this.m.postThaw),
        guestCredentialId: this.m.guestCredentialId || undefined,
      },
      concurrency: this.m.concurrency,
      enabled: this.m.enabled,
      notify: { recipients: this.m.recipients.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean) },
    };
  }
  async save(): Promise<void> {
    this.saving.set(true); this.error.set(null);
    try {
      if (this.editId) await this.api.updateJob(this.editId, this.input()); else await this.api.createJob(this.input());
      await this.router.navigate(['/jobs']);
    } catch (e) { this.error.set(errorText(e)); } finally { this.saving.set(false); }
  }
  cancel(): void { void this.router.navigate(['/jobs']); }
}
