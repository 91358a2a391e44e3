import { Injectable, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import { SdkService } from '../sdk/sdk.service';

const TOKEN_KEY = 'stillpoint.token';
const USER_KEY = 'stillpoint.user';

/**
 * Where the REST API lives and how requests authenticate.
 * - plugin: `${proxied plugin server origin}/api/...` with `vmware-api-session-id: <sessionToken>`.
 * - standalone: `<folder above /ui/>/api/...` with `Authorization: Bearer <token>` from POST /api/session/login.
 */
@Injectable({ providedIn: 'root' })
export class AuthService {
  private readonly sdk = inject(SdkService);
  private readonly router = inject(Router);
  private sessionToken: Promise<string> | null = null;
  /** Root of the backend (no trailing slash), e.g. https://host:8443 or https://vc/plugins/remote~…/ */
  apiRoot = '';
  readonly username = signal<string | null>(sessionGet(USER_KEY));
  /** Plugin mode: set when the vCenter session could not be used (401); the shell shows it. */
  readonly pluginAuthError = signal<string | null>(null);

  async init(): Promise<void> {
    if (this.sdk.isPlugin) {
      let origin = this.sdk.proxiedPluginServerOrigin();
      if (!origin) {
        const info = await this.sdk.pluginBackendInfo();
        const server = info?.allPluginBackendServers?.[0];
        if (server) origin = server.proxiedBaseUrl.startsWith('http') ? server.proxiedBaseUrl : location.origin + server.proxiedBaseUrl;
      }
      this.apiRoot = (origin ?? new URL('..', document.baseURI).href).replace(/\/$/, '');
    } else {
      this.apiRoot = new URL('..', document.baseURI).href.replace(/\/$/, '');
    }
  }
  url(path: string): string { return `${this.apiRoot}/api/${path.replace(/^\/?(api\/)?/, '')}`; }
  isApiUrl(url: string): boolean { return url.startsWith(this.apiRoot + '/api/'); }

  /** The token for `vmware-api-session-id` (plugin) or Bearer (standalone). */
  async token(refresh = false): Promise<string | null> {
    if (this.sdk.isPlugin) {
      if (!this.sessionToken || refresh) this.sessionToken = this.sdk.sessionToken();
      try { return await this.sessionToken; } catch (e) { this.sessionToken = null; this.pluginAuthError.set(String((e as Error).message ?? e)); return null; }
    }
    return sessionGet(TOKEN_KEY);
  }
  isLoggedIn(): boolean { return this.sdk.isPlugin || !!sessionGet(TOKEN_KEY); }
  storeLogin(token: string, username: string): void {
    sessionSet(TOKEN_KEY, token); sessionSet(USER_KEY, username); this.username.set(username);
  }
  clear(): void {
    try { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(USER_KEY); } catch { /* ignore */ }
    this.username.set(null);
  }
  /** A 401 from the API. */
  unauthorized(message?: string): void {
    if (this.sdk.isPlugin) { this.pluginAuthError.set(message ?? 'unauthorized'); return; }
    this.clear();
    const current = this.router.url;
    if (!current.startsWith('/login')) void this.router.navigate(['/login'], { queryParams: { returnUrl: current } });
  }
}

function sessionGet(k: string): string | null { try { return sessionStorage.getItem(k); } catch { return null; } }
function sessionSet(k: string, v: string): void { try { sessionStorage.setItem(k, v); } catch { /* ignore */ } }
