import { Component, inject, input } from '@angular/core';
import { ActivatedRoute, RouterLink } from '@angular/router';
import { TranslatePipe } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';

/**
 * Which VMs a view is about: the vSphere Client's context objects inside vCenter
 * (`urn:vmomi:VirtualMachine:vm-58:<guid>` → `vm-58`), `?vm=vm-58,vm-59` standalone.
 */
export function contextVmIds(route: ActivatedRoute, sdk: SdkService): string[] {
  if (sdk.isPlugin) {
    const ids = sdk.contextVmIds();
    if (ids.length) return ids;
  }
  const q = route.snapshot.queryParamMap.get('vm') ?? '';
  return q.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Standalone only: tabs between a VM's Summary / Monitor › Backup / Configure › Backup and the actions. */
@Component({
  selector: 'sp-vm-tabs',
  imports: [RouterLink, TranslatePipe],
  template: `
    @if (!sdk.isPlugin) {
      <div class="sp-row" style="margin-bottom: 0.5rem">
        <a routerLink="/vms" class="btn btn-sm btn-link">‹ {{ 'nav.vms' | t }}</a>
        <h2 style="margin: 0">{{ name() || vmId() }}</h2>
      </div>
      <ul class="nav" role="tablist">
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" [class.active]="active() === 'summary'" [attr.aria-selected]="active() === 'summary'" routerLink="/vm/summary" [queryParams]="{ vm: vmId() }">{{ 'vm.tab.summary' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" [class.active]="active() === 'monitor'" [attr.aria-selected]="active() === 'monitor'" routerLink="/vm/monitor" [queryParams]="{ vm: vmId() }">{{ 'vm.tab.monitor' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" [class.active]="active() === 'configure'" [attr.aria-selected]="active() === 'configure'" routerLink="/vm/configure" [queryParams]="{ vm: vmId() }">{{ 'vm.tab.configure' | t }}</a></li>
      </ul>
      <div class="sp-row" style="margin: 0.5rem 0">
        <a class="btn btn-sm btn-primary" routerLink="/actions/backup" [queryParams]="{ vm: vmId() }">{{ 'action.backup' | t }}</a>
        <a class="btn btn-sm btn-outline" routerLink="/actions/restore" [queryParams]="{ vm: vmId() }">{{ 'action.restore' | t }}</a>
        <a class="btn btn-sm btn-outline" routerLink="/actions/recover-files" [queryParams]="{ vm: vmId() }">{{ 'action.recoverFiles' | t }}</a>
        <a class="btn btn-sm btn-outline" routerLink="/actions/add-to-job" [queryParams]="{ vm: vmId() }">{{ 'action.addToJob' | t }}</a>
      </div>
    }`,
})
export class VmTabs {
  readonly sdk = inject(SdkService);
  readonly vmId = input.required<string>();
  readonly name = input<string | undefined>('');
  readonly active = input.required<'summary' | 'monitor' | 'configure'>();
}
