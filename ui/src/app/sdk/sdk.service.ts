import { Injectable, NgZone, inject } from '@angular/core';
import { Subject } from 'rxjs';
import {
  type HtmlClientSdk, type SdkContextObject, type SdkModalOpenOptions, type SdkNavigateOptions,
  type SdkPluginBackendInfo, type SdkTheme, moRefFromContextId,
} from './html-client-sdk';

export type AppMode = 'plugin' | 'standalone';

export function appMode(): AppMode {
  return window.__SP_MODE__ === 'plugin' && window.htmlClientSdk ? 'plugin' : 'standalone';
}

/** Called before bootstrap: inside vCenter, wait (at most 10 s) for htmlClientSdk.initialize(). */
export function initSdk(): Promise<void> {
  const sdk = window.htmlClientSdk;
  if (appMode() !== 'plugin' || !sdk) return Promise.resolve();
  if (sdk.isInitialized?.()) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    sdk.initialize(() => { clearTimeout(timer); resolve(); });
  });
}

/** Typed, mode-aware wrapper over window.htmlClientSdk. Every method is safe to call standalone. */
@Injectable({ providedIn: 'root' })
export class SdkService {
  readonly mode: AppMode = appMode();
  readonly isPlugin = this.mode === 'plugin';
  private readonly sdk: HtmlClientSdk | null = this.isPlugin ? window.htmlClientSdk ?? null : null;
  private readonly refreshSubject = new Subject<void>();
  /** The vSphere Client's global refresh (its refresh button, or after an action's modal closed). */
  readonly refresh$ = this.refreshSubject.asObservable();

  constructor() {
    const zone = inject(NgZone);
    try { this.sdk?.event.onGlobalRefresh?.(() => zone.run(() => this.refreshSubject.next())); } catch { /* older clients */ }
  }

  contextObjects(): SdkContextObject[] {
    try { return this.sdk?.app.getContextObjects() ?? []; } catch { return []; }
  }
  /** Managed object ids (vm-58) of the context objects. */
  contextVmIds(): string[] {
    return this.contextObjects().map((o) => moRefFromContextId(String(o.id)));
  }
  theme(): SdkTheme['name'] | null {
    try { return this.sdk?.app.getTheme()?.name ?? null; } catch { return null; }
  }
  clientLocale(): string | null {
    try { return this.sdk?.app.getClientLocale() ?? null; } catch { return null; }
  }
  onThemeChanged(cb: (name: SdkTheme['name']) => void): void {
    this.sdk?.event.onThemeChanged((t) => cb(t?.name === 'dark' ? 'dark' : 'light'));
  }
  sessionToken(): Promise<string> {
    const sdk = this.sdk;
    if (!sdk) return Promise.reject(new Error('not running inside the vSphere Client'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('getSessionInfo timed out')), 10_000);
      sdk.app.getSessionInfo((info) => { clearTimeout(timer); info?.sessionToken ? resolve(info.sessionToken) : reject(new Error('no session token')); });
    });
  }
  proxiedPluginServerOrigin(): string | null {
    try { return this.sdk?.getProxiedPluginServerOrigin?.() || null; } catch { return null; }
  }
  pluginBackendInfo(): Promise<SdkPluginBackendInfo | null> {
    const fn = this.sdk?.app.getPluginBackendInfo;
    if (!this.sdk || !fn) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 5_000);
      fn.call(this.sdk!.app, (info) => { clearTimeout(timer); resolve(info ?? null); });
    });
  }
  openModal(options: SdkModalOpenOptions): void { this.sdk?.modal.open(options); }
  closeModal(data?: unknown): void { this.sdk?.modal.close(data); }
  navigateTo(options: SdkNavigateOptions): void { this.sdk?.app.navigateTo(options); }
  navigationData(): unknown {
    try { return this.sdk?.app.getNavigationData?.() ?? null; } catch { return null; }
  }
}
