import { Component, inject } from '@angular/core';
import { RouterLink, RouterLinkActive } from '@angular/router';
import { TranslatePipe } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';

/** Inside vCenter the global view has no app header: a small tab bar switches Dashboard / Virtual machines / Jobs / Replication. */
@Component({
  selector: 'sp-plugin-nav',
  imports: [RouterLink, RouterLinkActive, TranslatePipe],
  template: `
    @if (sdk.isPlugin) {
      <ul class="nav" role="tablist" style="margin-bottom: 0.5rem">
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" routerLink="/dashboard" routerLinkActive="active">{{ 'nav.dashboard' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" routerLink="/vms" routerLinkActive="active">{{ 'nav.vms' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" routerLink="/jobs" routerLinkActive="active" [routerLinkActiveOptions]="{ exact: false }">{{ 'nav.jobs' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" routerLink="/replication" routerLinkActive="active">{{ 'nav.replication' | t }}</a></li>
        <li class="nav-item" role="presentation"><a class="nav-link" role="tab" routerLink="/repository" routerLinkActive="active">{{ 'nav.repository' | t }}</a></li>
      </ul>
    }`,
})
export class PluginNav { readonly sdk = inject(SdkService); }
