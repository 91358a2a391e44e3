import { Component, computed, inject, input, output, signal, type OnInit } from '@angular/core';
import { ClrSpinnerModule } from '@clr/angular';
import type { FileSearchMatch, FileVersions as FileVersionsDto } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { ErrorAlert } from '../../shared/error-alert';
import { startDownload } from './file-format';

/** One restore point that holds the file: its size and time there, and whether it differs from the older one. */
interface VersionRow { restorePointId: string; createdAt: string; size: number; mtime?: string; changed: boolean }

const normPath = (p: string) => p.replace(/^\/+/, '');

/**
 * "File versions" (from a search match): the same file in every restore point of the VM whose file catalog
 * has it, newest first, with size and modification time; a row where they changed starts a new version.
 * Any of them downloads (looked up by path in that restore point).
 */
@Component({
  selector: 'sp-file-versions',
  imports: [ClrSpinnerModule, ErrorAlert, ...I18N_PIPES],
  template: `
    <div class="sp-row">
      <h3 class="sp-grow sp-fr-vh" id="fr-versions-title">{{ 'fileRestore.versionsOf' | t: { path: '/' + path() } }}</h3>
      <button type="button" class="btn btn-sm btn-link" id="fr-versions-back" (click)="back.emit()">{{ 'fileRestore.backToResults' | t }}</button>
    </div>
    <sp-error [message]="error()" />
    @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
    @else {
      <table class="table table-compact" aria-labelledby="fr-versions-title">
        <thead><tr>
          <th class="left">{{ 'fileRestore.step.point' | t }}</th><th>{{ 'col.size' | t }}</th><th class="left">{{ 'fileRestore.col.modified' | t }}</th>
          <th class="left">{{ 'fileRestore.col.version' | t }}</th><th><span class="sp-sr-only">{{ 'common.actions' | t }}</span></th>
        </tr></thead>
        <tbody>
          @for (r of rows(); track r.restorePointId; let i = $index) {
            <tr class="sp-fr-version">
              <td class="left">{{ r.createdAt | dt }}</td>
              <td class="sp-nowrap">{{ r.size | bytes }}</td>
              <td class="left sp-nowrap">{{ r.mtime | dt }}</td>
              <td class="left">@if (r.changed) { <span class="label label-info">{{ 'fileRestore.versionN' | t: { n: versionNumber(i) } }}</span> } @else { <span class="sp-muted">{{ 'fileRestore.unchanged' | t }}</span> }</td>
              <td><button type="button" class="btn btn-sm btn-link sp-fr-vdl" [disabled]="busy() === r.restorePointId" (click)="download(r)"
                          [attr.aria-label]="'fileRestore.downloadVersion' | t: { at: (r.createdAt | dt) }">{{ 'fileRestore.download' | t }}</button></td>
            </tr>
          } @empty { <tr><td colspan="5" class="left sp-muted">{{ 'fileRestore.noVersions' | t }}</td></tr> }
        </tbody>
      </table>
      @if (pending() > 0) {
        <p class="sp-muted" role="note">{{ 'fileRestore.catalogPending' | t: { n: pending() } }}
          <button type="button" class="btn btn-sm btn-link" (click)="load()">{{ 'common.refresh' | t }}</button></p>
      }
    }`,
  styles: [`.sp-fr-vh { margin: 0; font-size: 0.8rem; word-break: break-all; } .sp-nowrap { white-space: nowrap; } .sp-fr-vdl { margin: 0; }`],
})
export class FileVersions implements OnInit {
  private readonly api = inject(Api);
  readonly vmId = input.required<string>();
  readonly file = input.required<FileSearchMatch>();
  readonly back = output<void>();
  readonly result = signal<FileVersionsDto | null>(null);
  readonly loading = signal(true);
  readonly busy = signal<string | null>(null);
  readonly error = signal<string | null>(null);
  readonly path = computed(() => normPath(this.file().path));
  /** Newest first; `changed` where size or time differ from the next older point (the oldest starts version 1). */
  readonly rows = computed<VersionRow[]>(() => {
    const f = this.file(); const path = this.path();
    const mine = (this.result()?.matches ?? []).filter((m) => m.volumeId === f.volumeId && normPath(m.path) === path)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return mine.map((m, i) => {
      const older = mine[i + 1];
      return { restorePointId: m.restorePointId, createdAt: m.createdAt, size: m.size, mtime: m.mtime, changed: !older || older.size !== m.size || older.mtime !== m.mtime };
    });
  });
  readonly pending = computed(() => (this.result()?.restorePoints ?? []).filter((p) => p.catalog !== 'ready').length);

  ngOnInit(): void { void this.load(); }

  versionNumber(i: number): number { return this.rows().slice(i).filter((r) => r.changed).length; }

  async load(): Promise<void> {
    this.loading.set(true); this.error.set(null);
    // The whole path narrows the catalog search to this file ('*' and '?' in a name may match more: filtered above).
    try { this.result.set(await this.api.fileVersions(this.vmId(), this.path())); }
    catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }
  async download(r: VersionRow): Promise<void> {
    this.busy.set(r.restorePointId); this.error.set(null);
    try {
      const e = await this.api.fileEntryByPath(r.restorePointId, this.file().volumeId, this.path());
      const link = await this.api.fileDownloadLink(r.restorePointId, { kind: 'file', volumeId: e.volumeId, ref: e.ref });
      startDownload(link.url);
    } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(null); }
  }
}
