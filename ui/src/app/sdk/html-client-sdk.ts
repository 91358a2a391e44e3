// Hand-written types for the parts of the vSphere Client JS API (window.htmlClientSdk) that Stillpoint uses.
// The real script is served by the vSphere Client at /api/ui/htmlClientSdk.js (test/devhost has a stand-in).

export interface SdkContextObject { id: string; [key: string]: unknown }
export interface SdkTheme { name: 'light' | 'dark' }
export interface SdkSessionInfo { sessionToken: string; nodeId?: string }
export interface SdkBackendServer { proxiedUrl: string; proxiedBaseUrl: string; type: string }
export interface SdkPluginBackendInfo {
  allPluginBackendServers: SdkBackendServer[];
  backendServersPerVc?: Record<string, SdkBackendServer[]>;
  backendServersPerVcObject?: Record<string, SdkBackendServer[]>;
}
export interface SdkModalSize { width: number; height: number }
export interface SdkModalOpenOptions {
  url: string;                       // relative to the plugin (manifest) server, like manifest uris
  title?: string;
  accessibilityTitle?: string;
  size?: SdkModalSize;
  closable?: boolean;
  onClosed?: (result?: unknown) => void;
  contextObjects?: SdkContextObject[];
  customData?: unknown;
}
export interface SdkNavigateOptions { targetViewId: string; objectId?: string; customData?: unknown }

export interface HtmlClientSdk {
  initialize(callback: () => void): void;
  isInitialized(): boolean;
  getProxiedPluginServerOrigin?(): string;
  app: {
    getContextObjects(): SdkContextObject[];
    getTheme(): SdkTheme;
    getClientLocale(): string;
    getClientInfo?(): { type: string; version: string };
    getSessionInfo(callback: (info: SdkSessionInfo) => void): void;
    getPluginBackendInfo?(callback: (info: SdkPluginBackendInfo) => void): void;
    getNavigationData?(): unknown;
    navigateTo(options: SdkNavigateOptions): void;
  };
  modal: {
    open(options: SdkModalOpenOptions): void;
    close(data?: unknown): void;
    setOptions?(options: Partial<Pick<SdkModalOpenOptions, 'title' | 'accessibilityTitle' | 'closable'>>): void;
    getCustomData?(): unknown;
  };
  event: {
    onThemeChanged(callback: (theme: SdkTheme) => void): void;
    onGlobalRefresh?(callback: () => void): void;
  };
}

declare global {
  interface Window {
    htmlClientSdk?: HtmlClientSdk;
    __SP_MODE__?: 'plugin' | 'standalone';
  }
}

/** `urn:vmomi:VirtualMachine:vm-58:<vcGuid>` → `vm-58`; plain ids pass through. */
export function moRefFromContextId(id: string): string {
  const m = /^urn:vmomi:[A-Za-z]+:([^:]+):/.exec(id);
  return m ? m[1] : id;
}
/** `urn:vmomi:VirtualMachine:vm-58:<vcGuid>` → `<vcGuid>` (undefined for plain ids). */
export function vcGuidFromContextId(id: string): string | undefined {
  const m = /^urn:vmomi:[A-Za-z]+:[^:]+:(.+)$/.exec(id);
  return m ? m[1] : undefined;
}
