import { Component, computed, inject } from '@angular/core';
import { Router, RouterLink, RouterLinkActive, RouterOutlet, NavigationEnd } from '@angular/router';
import { toSignal } from '@angular/core/rxjs-interop';
import { filter, map } from 'rxjs';
import { ClrIcon, ClrMainContainerModule, ClrNavigationModule, ClrAlertModule } from '@clr/angular';
import { Api } from './core/api';
import { AuthService } from './core/auth';
import { I18n, LOCALES, TranslatePipe, type Locale } from './core/i18n';
import { ThemeService } from './core/theme';
import { SdkService } from './sdk/sdk.service';

/**
 * App shell. Inside vCenter every view is bare (the client draws the chrome); standalone gets a Clarity
 * header with Dashboard / VMs / Jobs, a theme toggle and a language switch.
 */
@Component({
  selector: 'sp-root',
  imports: [RouterOutlet, RouterLink, RouterLinkActive, ClrIcon, ClrMainContainerModule, ClrNavigationModule, ClrAlertModule, TranslatePipe],
  template: `
    @if (sdk.isPlugin) {
      @if (auth.pluginAuthError(); as err) {
        <div class="alert alert-danger" role="alert">
          <div class="alert-items"><div class="alert-item static">
            <div class="alert-icon-wrapper"><cds-icon class="alert-icon" shape="error-standard"></cds-icon></div>
            <span class="alert-text">{{ 'error.pluginSession' | t }} ({{ err }})</span>
          </div></div>
        </div>
      }
      <router-outlet />
    } @else if (bare()) {
      <router-outlet />
    } @else {
      <div class="main-container">
        <header class="header header-6">
          <div class="branding">
            <a routerLink="/dashboard" class="nav-link">
              <cds-icon shape="sp-backup" size="24" class="sp-logo"></cds-icon>
              <span class="title">Stillpoint</span>
            </a>
          </div>
          <div class="header-nav">
            <a class="nav-link nav-text" routerLink="/dashboard" routerLinkActive="active">{{ 'nav.dashboard' | t }}</a>
            <a class="nav-link nav-text" routerLink="/vms" routerLinkActive="active">{{ 'nav.vms' | t }}</a>
            <a class="nav-link nav-text" routerLink="/jobs" routerLinkActive="active">{{ 'nav.jobs' | t }}</a>
            <a class="nav-link nav-text" routerLink="/replication" routerLinkActive="active">{{ 'nav.replication' | t }}</a>
            <a class="nav-link nav-text" routerLink="/repository" routerLinkActive="active">{{ 'nav.repository' | t }}</a>
          </div>
          <div class="sp-header-controls">
            <label class="sp-sr-only" for="sp-locale">{{ 'shell.language' | t }}</label>
            <select id="sp-locale" (change)="setLocale($any($event.target).value)">
              @for (l of locales; track l) { <option [value]="l" [selected]="l === i18n.locale()">{{ 'locale.' + l | t }}</option> }
            </select>
            <button type="button" class="btn btn-sm btn-link btn-inverse btn-icon" (click)="theme.toggle()"
                    [attr.aria-label]="(theme.theme() === 'dark' ? 'shell.themeLight' : 'shell.themeDark') | t"
                    [attr.title]="(theme.theme() === 'dark' ? 'shell.themeLight' : 'shell.themeDark') | t">
              <cds-icon [shape]="theme.theme() === 'dark' ? 'sp-sun' : 'sp-moon'"></cds-icon>
            </button>
            @if (auth.username(); as user) {
              <span class="nav-text">{{ user }}</span>
              <button type="button" class="btn btn-sm btn-link btn-inverse" (click)="logout()">{{ 'shell.logout' | t }}</button>
            }
          </div>
        </header>
        <div class="content-container">
          <main class="content-area"><router-outlet /></main>
        </div>
      </div>
    }
  `,
})
export class App {
  readonly sdk = inject(SdkService);
  readonly auth = inject(AuthService);
  readonly theme = inject(ThemeService);
  readonly i18n = inject(I18n);
  private readonly api = inject(Api);
  private readonly router = inject(Router);
  readonly locales = LOCALES;
  private readonly url = toSignal(this.router.events.pipe(filter((e) => e instanceof NavigationEnd), map(() => this.router.url)), { initialValue: '' });
  /** The login page has no header. */
  readonly bare = computed(() => this.url().startsWith('/login'));

  setLocale(l: Locale): void { this.i18n.set(l); }
  async logout(): Promise<void> {
    try { await this.api.logout(); } catch { /* token may be gone already */ }
    this.auth.clear();
    await this.router.navigate(['/login']);
  }
}
