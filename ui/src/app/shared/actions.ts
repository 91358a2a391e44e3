import { Injectable, inject } from '@angular/core';
import { Router } from '@angular/router';
import { I18n } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';

export type ActionName = 'backup' | 'restore' | 'recover-files' | 'add-to-job' | 'replicate' | 'restore-ad' | 'restore-exchange';
const SIZES: Record<ActionName, { width: number; height: number; titleKey: string }> = {
  backup: { width: 640, height: 460, titleKey: 'action.backup.title' },
  restore: { width: 960, height: 640, titleKey: 'action.restore.title' },
  'recover-files': { width: 800, height: 560, titleKey: 'action.recoverFiles.title' },
  'add-to-job': { width: 600, height: 440, titleKey: 'action.addToJob.title' },
  replicate: { width: 900, height: 680, titleKey: 'repl.wizard.title' },
  'restore-ad': { width: 1000, height: 680, titleKey: 'action.restoreAd.title' },
  'restore-exchange': { width: 1200, height: 720, titleKey: 'exchange.title' },
};

/** Opens an action: a vSphere Client modal inside vCenter, a route standalone. Closes it again. */
@Injectable({ providedIn: 'root' })
export class Actions {
  private readonly sdk = inject(SdkService);
  private readonly router = inject(Router);
  private readonly i18n = inject(I18n);

  /** `titleKey`: the modal's title when the action opens in another mode (e.g. the replication wizard editing a job). */
  open(action: ActionName, vmIds: string[], extra: Record<string, string> = {}, onClosed?: () => void, titleKey?: string): void {
    if (this.sdk.isPlugin) {
      const ctx = this.sdk.contextObjects();
      const s = SIZES[action];
      const title = this.i18n.t(titleKey ?? s.titleKey);
      this.sdk.openModal({
        url: `ui/index.html#/actions/${action}`,
        title,
        accessibilityTitle: title,
        size: { width: s.width, height: s.height },
        contextObjects: ctx.length ? ctx : vmIds.map((id) => ({ id })),
        customData: extra,
        onClosed: () => onClosed?.(),
      });
      return;
    }
    void this.router.navigate(['/actions', action], { queryParams: { vm: vmIds.join(','), ...extra } });
  }
  /** Leave a modal / action page. Standalone goes back to where the user came from (or `fallback`). */
  close(result?: unknown, fallback = '/vms'): void {
    if (this.sdk.isPlugin) { this.sdk.closeModal(result); return; }
    if (history.length > 1) history.back(); else void this.router.navigateByUrl(fallback);
  }
  /** Plugin: custom data passed to modal.open (the dev host and vCenter both support getCustomData). */
  customData(): Record<string, string> {
    const d = this.sdk.isPlugin ? (window.htmlClientSdk?.modal.getCustomData?.() as Record<string, string> | null) : null;
    return d && typeof d === 'object' ? d : {};
  }
}
