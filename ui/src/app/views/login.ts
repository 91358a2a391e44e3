import { Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { ClrAlertModule, ClrFormsModule } from '@clr/angular';
import { Api, errorText } from '../core/api';
import { AuthService } from '../core/auth';
import { I18n, LOCALES, TranslatePipe, type Locale } from '../core/i18n';
import { ThemeService } from '../core/theme';

/** Standalone login with vCenter credentials → POST /api/session/login; token kept in sessionStorage. */
@Component({
  selector: 'sp-login',
  imports: [FormsModule, ClrFormsModule, ClrAlertModule, TranslatePipe],
  template: `
    <div class="login-wrapper">
      <form class="login" (ngSubmit)="submit()" #f="ngForm" clrForm clrLayout="vertical">
        <section class="title">
          <h3 class="welcome">{{ 'login.welcome' | t }}</h3>
          Stillpoint
          <h5 class="hint">{{ 'login.hint' | t }}</h5>
        </section>
        <div class="login-group">
          <clr-input-container>
            <label for="sp-user">{{ 'login.username' | t }}</label>
            <input clrInput id="sp-user" name="username" autocomplete="username" [(ngModel)]="username" required />
            <clr-control-error>{{ 'form.required' | t }}</clr-control-error>
          </clr-input-container>
          <clr-password-container>
            <label for="sp-pass">{{ 'login.password' | t }}</label>
            <input clrPassword id="sp-pass" name="password" autocomplete="current-password" [(ngModel)]="password" required />
            <clr-control-error>{{ 'form.required' | t }}</clr-control-error>
          </clr-password-container>
          @if (error(); as e) { <div class="error active" role="alert">{{ e }}</div> }
          <button type="submit" class="btn btn-primary" [disabled]="busy() || !f.valid">{{ (busy() ? 'login.busy' : 'login.submit') | t }}</button>
          <div class="sp-row" style="margin-top: 1rem">
            <label for="sp-login-locale">{{ 'shell.language' | t }}</label>
            <select id="sp-login-locale" class="clr-select" (change)="setLocale($any($event.target).value)">
              @for (l of locales; track l) { <option [value]="l" [selected]="l === i18n.locale()">{{ 'locale.' + l | t }}</option> }
            </select>
            <button type="button" class="btn btn-sm btn-link" (click)="theme.toggle()">{{ (theme.theme() === 'dark' ? 'shell.themeLight' : 'shell.themeDark') | t }}</button>
          </div>
        </div>
      </form>
    </div>`,
})
export class LoginPage {
  private readonly api = inject(Api);
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);
  readonly i18n = inject(I18n);
  readonly theme = inject(ThemeService);
  readonly locales = LOCALES;
  username = '';
  password = '';
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);

  setLocale(l: Locale): void { this.i18n.set(l); }
  async submit(): Promise<void> {
    this.busy.set(true); this.error.set(null);
    try {
      const res = await this.api.login({ username: this.username, password: this.password });
      this.auth.storeLogin(res.token, res.username);
      const returnUrl = this.route.snapshot.queryParamMap.get('returnUrl');
      await this.router.navigateByUrl(returnUrl && !returnUrl.startsWith('/login') ? returnUrl : '/dashboard');
    } catch (e) {
      this.error.set(errorText(e));
    } finally {
      this.busy.set(false);
    }
  }
}
