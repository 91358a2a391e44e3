import { Component, computed, inject, signal } from '@angular/core';
import { ActivatedRoute, RouterLink } from '@angular/router';
import { ClrDatagridModule } from '@clr/angular';
import type { VmSummary } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES } from '../core/i18n';
import { Actions } from '../shared/actions';
import { ConsistencyBadge, StatusLabel } from '../shared/badges';
import { ErrorAlert } from '../shared/error-alert';
import { PluginNav } from '../shared/plugin-nav';

/**
 * VM list with each VM's protection: a page of the standalone UI and, inside vCenter, the "Virtual machines"
 * tab of the plugin's global view (beside Dashboard and Jobs). Rows open the VM's Backup tab; the action bar
 * runs the right-click actions.
 */
@Component({
  selector: 'sp-vm-list',
  imports: [RouterLink, ClrDatagridModule, PluginNav, ConsistencyBadge, StatusLabel, ErrorAlert, ...I18N_PIPES],
  template: `
    <div class="sp-page">
      <sp-plugin-nav />
      <div class="sp-row"><h2 style="margin-top: 0">{{ 'nav.vms' | t }}</h2><span class="sp-grow"></span>
        <label><input type="checkbox" [checked]="onlyUnprotected()" (change)="onlyUnprotected.set($any($event.target).checked)" /> {{ 'vms.onlyUnprotected' | t }}</label>
        <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></div>
      <sp-error [message]="error()" [retryable]="true" (retry)="load()" />
      @if (selected().length === 1 && restoreBlockedBy(); as why) { <p class="sp-muted" id="sp-vms-restore-why" role="note">{{ why | t: { vm: selected()[0]!.name } }}</p> }
      <clr-datagrid [clrDgLoading]="loading()" clrDgSelectionType="multi" [clrDgSelected]="selected()" (clrDgSelectedChange)="selected.set($event)" [attr.aria-label]="'nav.vms' | t">
        <clr-dg-action-bar>
          <div class="btn-group" role="group" [attr.aria-label]="'common.actions' | t">
            <button type="button" class="btn btn-sm btn-primary" [disabled]="!selected().length" (click)="open('backup')">{{ 'action.backup' | t }}</button>
            <button type="button" class="btn btn-sm btn-outline" [disabled]="!selected().length" (click)="open('add-to-job')">{{ 'action.addToJob' | t }}</button>
            <span [attr.title]="restoreBlockedBy() ? (restoreBlockedBy() | t: { vm: selected()[0]?.name ?? '' }) : null"><button type="button" class="btn btn-sm btn-outline" id="sp-vms-restore" [disabled]="!!restoreBlockedBy()" [attr.aria-describedby]="restoreBlockedBy() ? 'sp-vms-restore-why' : null" (click)="open('restore')">{{ 'action.restore' | t }}</button></span>
            <button type="button" class="btn btn-sm btn-outline" [disabled]="selected().length !== 1" (click)="open('recover-files')">{{ 'action.recoverFiles' | t }}</button>
          </div>
        </clr-dg-action-bar>
        <clr-dg-column [clrDgField]="'name'">{{ 'col.name' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'powerState'">{{ 'col.power' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'guestOs'">{{ 'col.guestOs' | t }}</clr-dg-column>
        <clr-dg-column [clrDgField]="'host'">{{ 'col.host' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.protection' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'col.lastBackup' | t }}</clr-dg-column>
        <clr-dg-column>{{ 'summary.nextRun' | t }}</clr-dg-column>
        <clr-dg-row *clrDgItems="let vm of shown()" [clrDgItem]="vm">
          <clr-dg-cell><a routerLink="/vm/monitor" [queryParams]="{ vm: vm.id }">{{ vm.name }}</a></clr-dg-cell>
          <clr-dg-cell>{{ 'power.' + vm.powerState | t }}</clr-dg-cell>
          <clr-dg-cell>{{ vm.guestOs }}</clr-dg-cell>
          <clr-dg-cell>{{ vm.host }}</clr-dg-cell>
          <clr-dg-cell>@if (vm.protected) { <span class="label label-success">{{ 'summary.protected' | t }}</span> } @else { <span class="label label-warning">{{ 'summary.unprotected' | t }}</span> }</clr-dg-cell>
          <clr-dg-cell>@if (vm.lastBackup; as lb) { {{ lb.at | dt }} <sp-status [value]="lb.status" /> @if (lb.consistency) { <sp-consistency [value]="lb.consistency" /> } } @else { <span class="sp-muted">{{ 'summary.never' | t }}</span> }</clr-dg-cell>
          <clr-dg-cell>{{ vm.nextRun | dt }}</clr-dg-cell>
        </clr-dg-row>
        <clr-dg-placeholder>{{ 'vms.none' | t }}</clr-dg-placeholder>
        <clr-dg-footer>{{ 'vms.count' | t: { n: shown().length } }}</clr-dg-footer>
      </clr-datagrid>
    </div>`,
})
export class VmListPage {
  private readonly api = inject(Api);
  private readonly actions = inject(Actions);
  readonly vms = signal<VmSummary[]>([]);
  readonly selected = signal<VmSummary[]>([]);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);
  readonly onlyUnprotected = signal(inject(ActivatedRoute).snapshot.queryParamMap.get('filter') === 'unprotected');
  /** Why "Restore VM…" is disabled for the selection (an i18n key), or '' when it is enabled. */
  readonly restoreBlockedBy = computed(() => {
    const sel = this.selected();
    if (sel.length !== 1) return 'vms.restoreOne';
    const vm = sel[0]!;
    return vm.lastProtectedAt || vm.lastBackup?.restorePointId ? '' : 'vms.restoreNoPoints';
  });
  readonly shown = computed(() => this.onlyUnprotected() ? this.vms().filter((v) => !v.protected) : this.vms());

  constructor() { void this.load(); }
  async load(): Promise<void> {
    this.loading.set(true);
    try { this.vms.set(await this.api.vms()); this.error.set(null); } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  open(action: 'backup' | 'add-to-job' | 'restore' | 'recover-files'): void { this.actions.open(action, this.selected().map((v) => v.id)); }
}
