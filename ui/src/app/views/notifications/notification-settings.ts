import { Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ClrFormsModule, ClrSpinnerModule } from '@clr/angular';
import type { NotificationSettingsDto, NotificationSettingsInput, NotificationTestResult } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { SdkService } from '../../sdk/sdk.service';
import { ErrorAlert } from '../../shared/error-alert';
import { PluginNav } from '../../shared/plugin-nav';

/** The form's model: lists as text (one address per line or comma-separated), the password only when typed. */
interface Model {
  smtpOn: boolean; host: string; port: number; security: 'tls' | 'starttls' | 'none'; username: string; password: string; from: string;
  recipients: string; jobReports: 'always' | 'problems' | 'off'; otherRunProblems: boolean;
  summaryOn: boolean; summaryHour: number; webhookOn: boolean; webhookUrl: string;
}

const split = (s: string): string[] => s.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);

/** Notifications: SMTP server, recipients, which runs get reports, the daily summary, the chat webhook; "Send test message". */
@Component({
  selector: 'sp-notification-settings',
  imports: [FormsModule, ClrFormsModule, ClrSpinnerModule, ErrorAlert, PluginNav, ...I18N_PIPES],
  styles: ['.sp-wide { width: 24rem; max-width: 100%; }', 'textarea { width: 24rem; max-width: 100%; }'],
  template: `
    <div [class]="sdk.isPlugin ? 'sp-plugin-view' : 'sp-page'">
      <sp-plugin-nav />
      <h2 style="margin-top: 0">{{ 'notif.title' | t }}</h2>
      <p class="sp-muted">{{ 'notif.intro' | t }}</p>
      <sp-error [message]="error()" />
      @if (!loaded() && !error()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
      @if (loaded()) {
        <form clrForm clrLayout="horizontal" (submit)="$event.preventDefault(); save()" data-test="notification-form">
          <h3>{{ 'notif.email' | t }}</h3>
          <clr-checkbox-container>
            <label class="sp-sr-only">{{ 'notif.smtpOn' | t }}</label>
            <clr-checkbox-wrapper>
              <input type="checkbox" clrCheckbox id="n-smtp-on" name="smtpOn" [(ngModel)]="m.smtpOn" />
              <label for="n-smtp-on">{{ 'notif.smtpOn' | t }}</label>
            </clr-checkbox-wrapper>
          </clr-checkbox-container>
          @if (m.smtpOn) {
            <clr-input-container>
              <label for="n-host">{{ 'notif.host' | t }}</label>
              <input clrInput id="n-host" class="sp-wide" name="host" [(ngModel)]="m.host" required placeholder="smtp.example.com" />
              <clr-control-error>{{ 'form.required' | t }}</clr-control-error>
            </clr-input-container>
            <clr-input-container>
              <label for="n-port">{{ 'notif.port' | t }}</label>
              <input clrInput type="number" id="n-port" name="port" [(ngModel)]="m.port" min="1" max="65535" required />
            </clr-input-container>
            <clr-select-container>
              <label for="n-security">{{ 'notif.security' | t }}</label>
              <select clrSelect id="n-security" name="security" [(ngModel)]="m.security">
                <option value="starttls">{{ 'notif.security.starttls' | t }}</option>
                <option value="tls">{{ 'notif.security.tls' | t }}</option>
                <option value="none">{{ 'notif.security.none' | t }}</option>
              </select>
            </clr-select-container>
            <clr-input-container>
              <label for="n-user">{{ 'notif.username' | t }}</label>
              <input clrInput id="n-user" class="sp-wide" name="username" [(ngModel)]="m.username" autocomplete="off" />
              <clr-control-helper>{{ 'notif.usernameHelp' | t }}</clr-control-helper>
            </clr-input-container>
            <clr-password-container>
              <label for="n-password">{{ 'notif.password' | t }}</label>
              <input clrPassword id="n-password" class="sp-wide" name="password" [(ngModel)]="m.password" autocomplete="new-password"
                [placeholder]="passwordSet() ? ('notif.passwordKept' | t) : ''" />
            </clr-password-container>
            <clr-input-container>
              <label for="n-from">{{ 'notif.from' | t }}</label>
              <input clrInput id="n-from" class="sp-wide" name="from" [(ngModel)]="m.from" required placeholder="Stillpoint <backup@example.com>" />
            </clr-input-container>
            <clr-textarea-container>
              <label for="n-recipients">{{ 'notif.recipients' | t }}</label>
              <textarea clrTextarea id="n-recipients" name="recipients" [(ngModel)]="m.recipients" rows="2"></textarea>
              <clr-control-helper>{{ 'notif.recipientsHelp' | t }}</clr-control-helper>
            </clr-textarea-container>
            <clr-select-container>
              <label for="n-reports">{{ 'notif.jobReports' | t }}</label>
              <select clrSelect id="n-reports" name="jobReports" [(ngModel)]="m.jobReports">
                <option value="always">{{ 'notif.jobReports.always' | t }}</option>
                <option value="problems">{{ 'notif.jobReports.problems' | t }}</option>
                <option value="off">{{ 'notif.jobReports.off' | t }}</option>
              </select>
            </clr-select-container>
            <clr-checkbox-container>
              <label class="sp-sr-only">{{ 'notif.otherRuns' | t }}</label>
              <clr-checkbox-wrapper>
                <input type="checkbox" clrCheckbox id="n-other" name="otherRunProblems" [(ngModel)]="m.otherRunProblems" />
                <label for="n-other">{{ 'notif.otherRuns' | t }}</label>
              </clr-checkbox-wrapper>
            </clr-checkbox-container>
            <clr-checkbox-container>
              <label class="sp-sr-only">{{ 'notif.summary' | t }}</label>
              <clr-checkbox-wrapper>
                <input type="checkbox" clrCheckbox id="n-summary" name="summaryOn" [(ngModel)]="m.summaryOn" />
                <label for="n-summary">{{ 'notif.summary' | t }}</label>
              </clr-checkbox-wrapper>
            </clr-checkbox-container>
            @if (m.summaryOn) {
              <clr-input-container>
                <label for="n-hour">{{ 'notif.summaryHour' | t }}</label>
                <input clrInput type="number" id="n-hour" name="summaryHour" [(ngModel)]="m.summaryHour" min="0" max="23" />
              </clr-input-container>
            }
          }
          <h3>{{ 'notif.webhook' | t }}</h3>
          <clr-checkbox-container>
            <label class="sp-sr-only">{{ 'notif.webhookOn' | t }}</label>
            <clr-checkbox-wrapper>
              <input type="checkbox" clrCheckbox id="n-hook-on" name="webhookOn" [(ngModel)]="m.webhookOn" />
              <label for="n-hook-on">{{ 'notif.webhookOn' | t }}</label>
            </clr-checkbox-wrapper>
          </clr-checkbox-container>
          @if (m.webhookOn) {
            <clr-input-container>
              <label for="n-hook">{{ 'notif.webhookUrl' | t }}</label>
              <input clrInput id="n-hook" class="sp-wide" name="webhookUrl" [(ngModel)]="m.webhookUrl" placeholder="https://chat.example.com/hooks/…" />
              <clr-control-helper>{{ 'notif.webhookHelp' | t }}</clr-control-helper>
            </clr-input-container>
          }
          <div class="sp-row" style="margin-top: 1rem">
            <button type="submit" class="btn btn-primary" [disabled]="busy()">{{ 'common.save' | t }}</button>
            <button type="button" class="btn btn-outline" (click)="test()" [disabled]="busy() || (!m.smtpOn && !m.webhookOn)">{{ 'notif.test' | t }}</button>
            @if (busy()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
          </div>
        </form>
        @if (saved()) { <div class="alert alert-success alert-sm" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'notif.saved' | t }}</span></div></div></div> }
        @if (tested(); as r) {
          <div role="status" data-test="test-result">
            @if (r.email; as e) { <div class="alert alert-sm" [class.alert-success]="e.ok" [class.alert-danger]="!e.ok"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'notif.email' | t }}: {{ e.message }}</span></div></div></div> }
            @if (r.webhook; as w) { <div class="alert alert-sm" [class.alert-success]="w.ok" [class.alert-danger]="!w.ok"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'notif.webhook' | t }}: {{ w.message }}</span></div></div></div> }
          </div>
        }
      }
    </div>`,
})
export class NotificationSettingsPage {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  readonly loaded = signal(false);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  readonly saved = signal(false);
  readonly tested = signal<NotificationTestResult | null>(null);
  readonly passwordSet = signal(false);
  m: Model = {
    smtpOn: false, host: '', port: 587, security: 'starttls', username: '', password: '', from: '', recipients: '', jobReports: 'always',
    otherRunProblems: true, summaryOn: true, summaryHour: 7, webhookOn: false, webhookUrl: '',
  };

  constructor() { void this.load(); }

  private fill(s: NotificationSettingsDto): void {
    this.passwordSet.set(!!s.smtp?.passwordSet);
    this.m = {
      smtpOn: !!s.smtp, host: s.smtp?.host ?? '', port: s.smtp?.port ?? 587, security: s.smtp?.security ?? 'starttls', username: s.smtp?.username ?? '',
      password: '', from: s.smtp?.from ?? '', recipients: s.recipients.join('\n'), jobReports: s.jobReports, otherRunProblems: s.otherRunProblems,
      summaryOn: s.dailySummary.enabled, summaryHour: s.dailySummary.hour, webhookOn: !!s.webhook?.enabled, webhookUrl: s.webhook?.url ?? '',
    };
  }

  async load(): Promise<void> {
    try { this.fill(await this.api.notificationSettings()); this.loaded.set(true); this.error.set(null); } catch (e) { this.error.set(errorText(e)); }
  }

  async save(): Promise<boolean> {
    const m = this.m;
    const body: NotificationSettingsInput = {
      smtp: m.smtpOn ? {
        host: m.host.trim(), port: Number(m.port), security: m.security, from: m.from.trim(),
        ...(m.username.trim() ? { username: m.username.trim() } : {}), ...(m.password ? { password: m.password } : {}),
      } : null,
      recipients: split(m.recipients), jobReports: m.jobReports, otherRunProblems: m.otherRunProblems,
      dailySummary: { enabled: m.summaryOn, hour: Number(m.summaryHour) },
      webhook: m.webhookUrl.trim() ? { url: m.webhookUrl.trim(), enabled: m.webhookOn } : null,
    };
    this.busy.set(true); this.saved.set(false); this.tested.set(null);
    try {
      this.fill(await this.api.saveNotificationSettings(body));
      this.saved.set(true); this.error.set(null);
      return true;
    } catch (e) { this.error.set(errorText(e)); return false; } finally { this.busy.set(false); }
  }

  /** Saves first, so the test uses what the form shows. */
  async test(): Promise<void> {
    if (!(await this.save())) return;
    this.busy.set(true); this.saved.set(false);
    try { this.tested.set(await this.api.testNotifications()); this.error.set(null); }
    catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }

}
