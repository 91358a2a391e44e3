import { Component, inject, signal } from '@angular/core';
import { ActivatedRoute } from '@angular/router';
import type { RestorePoint } from '@contract';
import { Api, errorText } from '../core/api';
import { I18N_PIPES } from '../core/i18n';
import { SdkService } from '../sdk/sdk.service';
import { Actions } from '../shared/actions';
import { ConsistencyBadge } from '../shared/badges';
import { ErrorAlert } from '../shared/error-alert';
import { contextVmIds } from '../shared/vm-context';

/**
 * "Recover files…": choose the restore point to browse. The REST contract has no item-level browse routes
 * yet, so this step ends with the selection (shown with its disks) and an explanation.
 */
@Component({
  selector: 'sp-recover-files',
  imports: [ConsistencyBadge, ErrorAlert, ...I18N_PIPES],
  template: `
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'action.recoverFiles.title' | t }}</h2> }
      <sp-error [message]="error()" />
      <p>{{ 'recover.intro' | t }}</p>
      @if (!loading() && points().length === 0) { <p>{{ 'monitor.noRestorePoints' | t }}</p> }
      <table class="table table-compact">
        <caption class="sp-sr-only">{{ 'monitor.restorePoints' | t }}</caption>
        <thead><tr><th class="left">{{ 'col.created' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th><th class="left">{{ 'col.disks' | t }}</th></tr></thead>
        <tbody>
          @for (rp of points(); track rp.id; let i = $index) {
            <tr>
              <td class="left"><input type="radio" name="sp-rp" [id]="'rp-' + i" [checked]="selected()?.id === rp.id" (change)="selected.set(rp)" />
                <label [for]="'rp-' + i"> {{ rp.createdAt | dt }}</label></td>
              <td class="left"><sp-consistency [value]="rp.consistency" /></td>
              <td class="left">@for (d of rp.disks; track d.key) { <div>{{ d.label }} · {{ d.capacityBytes | bytes }}</div> }</td>
            </tr>
          }
        </tbody>
      </table>
      @if (selected(); as rp) {
        <div class="alert alert-info" role="status"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'recover.notAvailable' | t: { at: (rp.createdAt | dt) } }}</span></div></div></div>
      }
    </div>
    <div class="sp-modal-footer"><button type="button" class="btn btn-primary" (click)="actions.close()">{{ 'common.close' | t }}</button></div>`,
})
export class RecoverFilesModal {
  readonly sdk = inject(SdkService);
  readonly actions = inject(Actions);
  private readonly api = inject(Api);
  private readonly route = inject(ActivatedRoute);
  readonly vmId = contextVmIds(this.route, this.sdk)[0] ?? '';
  readonly points = signal<RestorePoint[]>([]);
  readonly selected = signal<RestorePoint | undefined>(undefined);
  readonly loading = signal(true);
  readonly error = signal<string | null>(null);

  constructor() { void this.load(); }
  private async load(): Promise<void> {
    try {
      const pts = await this.api.restorePoints(this.vmId);
      this.points.set(pts);
      const want = this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp'];
      this.selected.set(pts.find((p) => p.id === want) ?? pts[0]);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
}
