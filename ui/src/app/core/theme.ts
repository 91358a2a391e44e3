import { Injectable, signal } from '@angular/core';
import { SdkService } from '../sdk/sdk.service';
import { inject } from '@angular/core';

export type ThemeName = 'light' | 'dark';
export type ThemePreference = ThemeName | 'system';
const STORAGE_KEY = 'stillpoint.theme';

/** Clarity light/dark theme via `cds-theme` + `data-theme` on <body>. Follows vCenter in plugin mode. */
@Injectable({ providedIn: 'root' })
export class ThemeService {
  private readonly sdk = inject(SdkService);
  readonly theme = signal<ThemeName>('light');
  readonly preference = signal<ThemePreference>('system');
  private media = matchMedia('(prefers-color-scheme: dark)');

  init(): void {
    if (this.sdk.isPlugin) {
      this.apply(this.sdk.theme() ?? 'light');
      this.sdk.onThemeChanged((name) => this.apply(name));
      return;
    }
    const q = /[?&]theme=(light|dark)/.exec(location.search + '&' + location.hash)?.[1] as ThemeName | undefined;
    let stored: string | null = null;
    try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* ignore */ }
    this.preference.set(q ?? (stored === 'light' || stored === 'dark' ? stored : 'system'));
    this.media.addEventListener('change', () => { if (this.preference() === 'system') this.apply(this.systemTheme()); });
    this.apply(this.resolve());
  }
  setPreference(p: ThemePreference): void {
    this.preference.set(p);
    try { localStorage.setItem(STORAGE_KEY, p); } catch { /* ignore */ }
    this.apply(this.resolve());
  }
  toggle(): void { this.setPreference(this.theme() === 'dark' ? 'light' : 'dark'); }
  private resolve(): ThemeName { const p = this.preference(); return p === 'system' ? this.systemTheme() : p; }
  private systemTheme(): ThemeName { return this.media.matches ? 'dark' : 'light'; }
  private apply(name: ThemeName): void {
    this.theme.set(name);
    document.body.setAttribute('cds-theme', name);
    document.body.setAttribute('data-theme', name);
    document.documentElement.style.colorScheme = name;
  }
}
