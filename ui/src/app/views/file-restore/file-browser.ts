import { Component, computed, effect, inject, input, signal, untracked, type WritableSignal } from '@angular/core';
import { ClarityIcons, ClrIcon, ClrSpinnerModule, fileIcon, folderIcon, linkIcon } from '@clr/angular';
import type { FileEntry, FileSearchMatch, FileSearchResult, FileVolume } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES, I18n } from '../../core/i18n';
import { ErrorAlert } from '../../shared/error-alert';
import { attributesText, entryKey, volumeName } from './file-format';
import { FileVersions } from './file-versions';

const PAGE = 500;
ClarityIcons.addIcons(fileIcon, folderIcon, linkIcon);

/**
 * The files of one volume: breadcrumbs, a directory listing (name, size, modified, attributes) with
 * multi-select, and a glob search over the whole restore point whose matches can be selected too or
 * opened in the "file versions" view. The selection lives with the wizard (download / put back).
 */
@Component({
  selector: 'sp-file-browser',
  imports: [ClrIcon, ClrSpinnerModule, ErrorAlert, FileVersions, ...I18N_PIPES],
  template: `
    @if (versionsOf(); as f) {
      <sp-file-versions [vmId]="vmId()" [file]="f" (back)="versionsOf.set(null)" />
    } @else {
    <div class="sp-row sp-fr-toolbar">
      <nav class="sp-grow" [attr.aria-label]="'fileRestore.breadcrumbs' | t">
        <ol class="sp-crumbs">
          <li><button type="button" class="btn btn-link btn-sm" id="fr-crumb-root" (click)="openCrumb(-1)" [attr.aria-current]="!searching() && path().length === 0 ? 'location' : null">{{ volumeTitle() }}</button></li>
          @for (d of path(); track d.ref; let i = $index) {
            <li><button type="button" class="btn btn-link btn-sm" (click)="openCrumb(i)" [attr.aria-current]="!searching() && i === path().length - 1 ? 'location' : null">{{ d.name }}</button></li>
          }
        </ol>
      </nav>
      <form class="sp-row sp-fr-search" role="search" (submit)="$event.preventDefault(); search()">
        <input type="search" id="fr-search" class="clr-input" [value]="pattern()" (input)="pattern.set($any($event.target).value)"
               [attr.aria-label]="'fileRestore.search' | t" [placeholder]="'fileRestore.searchPlaceholder' | t" maxlength="200" />
        <button type="submit" class="btn btn-sm btn-outline" [disabled]="!pattern().trim() || busy()">{{ 'fileRestore.searchButton' | t }}</button>
      </form>
    </div>
    <sp-error [message]="error()" />
    @if (searching(); as res) {
      <div class="sp-row" role="status">
        <span>{{ (res.truncated ? 'fileRestore.searchTruncated' : 'fileRestore.searchCount') | t: { n: res.matches.length, pattern: res.pattern } }}</span>
        <button type="button" class="btn btn-link btn-sm" (click)="clearSearch()">{{ 'fileRestore.backToFolder' | t }}</button>
      </div>
      @for (p of res.problems ?? []; track p.volumeId) { <p class="sp-muted">⚠ {{ volumeLabel(p.volumeId) }}: {{ p.message }}</p> }
    }
    @if (busy()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
    <table class="table table-compact sp-fr-table" [attr.aria-busy]="busy()">
      <caption class="sp-sr-only">{{ (searching() ? 'fileRestore.searchResults' : 'fileRestore.folderContents') | t }}</caption>
      <thead><tr>
        <th class="sp-fr-check"><input type="checkbox" id="fr-select-all" [checked]="allSelected()" [disabled]="rows().length === 0" (change)="selectAll($any($event.target).checked)" [attr.aria-label]="'fileRestore.selectAll' | t" /></th>
        <th class="left">{{ 'col.name' | t }}</th>
        @if (searching()) { <th class="left">{{ 'fileRestore.col.folder' | t }}</th> }
        <th>{{ 'col.size' | t }}</th>
        <th class="left">{{ 'fileRestore.col.modified' | t }}</th>
        <th class="left">{{ 'fileRestore.col.attributes' | t }}</th>
        @if (searching()) { <th><span class="sp-sr-only">{{ 'common.actions' | t }}</span></th> }
      </tr></thead>
      <tbody>
        @for (e of rows(); track key(e); let i = $index) {
          <tr [class.sp-selected]="isSelected(e)" (dblclick)="e.type === 'dir' && !searching() && open(e)">
            <td class="sp-fr-check"><input type="checkbox" [id]="'fr-row-' + i" [checked]="isSelected(e)" (change)="toggle(e, $any($event.target).checked)" [attr.aria-label]="'fileRestore.selectItem' | t: { name: e.name }" /></td>
            <td class="left sp-fr-name">
              <cds-icon aria-hidden="true" class="sp-fr-icon" [shape]="e.type === 'dir' ? 'folder' : e.type === 'symlink' || e.type === 'reparse' ? 'link' : 'file'"></cds-icon>
              @if (e.type === 'dir' && !searching()) {
                <button type="button" class="btn btn-link btn-sm sp-fr-open" (click)="open(e)">{{ e.name }}</button>
              } @else {
                <span class="sp-fr-file">{{ e.name }}</span>
              }
              @if (e.linkTarget) { <span class="sp-muted"> → {{ e.linkTarget }}</span> }
              @if (e.streams?.length) { <span class="sp-muted"> {{ 'fileRestore.streams' | t: { n: e.streams!.length } }}</span> }
            </td>
            @if (searching()) { <td class="left sp-muted sp-fr-path">{{ folderOf(e) }}</td> }
            <td class="sp-nowrap">{{ e.type === 'dir' ? '' : (e.size | bytes) }}</td>
            <td class="left sp-nowrap">{{ e.mtime | dt }}</td>
            <td class="left sp-muted">{{ attrs(e) }}</td>
            @if (searching()) {
              <td>@if (e.type === 'file') { <button type="button" class="btn btn-link btn-sm sp-fr-versions" (click)="versionsOf.set(asMatch(e))" [attr.aria-label]="'fileRestore.versionsOfName' | t: { name: e.name }">{{ 'fileRestore.versions' | t }}</button> }</td>
            }
          </tr>
        } @empty {
          @if (!busy()) { <tr><td [attr.colspan]="searching() ? 7 : 5" class="left sp-muted">{{ (searching() ? 'fileRestore.noMatches' : 'fileRestore.emptyFolder') | t }}</td></tr> }
        }
      </tbody>
    </table>
    @if (!searching() && entries().length < total()) {
      <button type="button" class="btn btn-sm btn-link" (click)="more()" [disabled]="busy()">{{ 'fileRestore.loadMore' | t: { shown: entries().length, total: total() } }}</button>
    }
    }`,
  styles: [`
    .sp-fr-toolbar { align-items: flex-start; }
    .sp-crumbs { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; align-items: center; }
    .sp-crumbs li + li::before { content: '›'; margin: 0 0.15rem; opacity: 0.6; }
    .sp-crumbs .btn { margin: 0; padding: 0 0.25rem; text-transform: none; }
    .sp-crumbs .btn[aria-current] { font-weight: 600; color: inherit; }
    .sp-fr-search { gap: 0.25rem; flex-wrap: nowrap; }
    .sp-fr-search input { width: 14rem; }
    .sp-fr-search .btn { margin: 0; }
    .sp-fr-table { margin-top: 0.25rem; }
    .sp-fr-table td, .sp-fr-table th { vertical-align: middle; }
    .sp-fr-check { width: 2rem; }
    .sp-fr-name { word-break: break-word; }
    .sp-fr-open { margin: 0; padding: 0; text-transform: none; text-align: left; height: auto; line-height: inherit; min-width: 0; }
    .sp-fr-versions { margin: 0; padding: 0; text-transform: none; height: auto; line-height: inherit; }
    .sp-fr-icon { margin-right: 0.25rem; }
    .sp-fr-path { word-break: break-all; }
    .sp-nowrap { white-space: nowrap; }
    tr.sp-selected td { background: var(--cds-alias-object-interaction-background-selected, rgba(0, 114, 163, 0.12)); }
  `],
})
export class FileBrowser {
  private readonly api = inject(Api);
  private readonly i18n = inject(I18n);
  readonly rpId = input.required<string>();
  readonly volume = input.required<FileVolume>();
  readonly volumes = input<FileVolume[]>([]);
  readonly vmId = input.required<string>();
  readonly selection = input.required<WritableSignal<Map<string, FileEntry>>>();
  /** The search match whose versions are shown instead of the list. */
  readonly versionsOf = signal<FileSearchMatch | null>(null);

  readonly path = signal<FileEntry[]>([]);
  readonly entries = signal<FileEntry[]>([]);
  readonly total = signal(0);
  readonly pattern = signal('');
  readonly searching = signal<FileSearchResult | null>(null);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  readonly rows = computed<FileEntry[]>(() => this.searching()?.matches ?? this.entries());
  readonly allSelected = computed(() => {
    const rows = this.rows(); const sel = this.selection()();
    return rows.length > 0 && rows.every((e) => sel.has(entryKey(e)));
  });
  readonly volumeTitle = computed(() => volumeName(this.volume(), this.i18n));
  private loadSeq = 0;

  constructor() {
    // A new volume (or restore point) starts at its root.
    effect(() => { const rp = this.rpId(); const v = this.volume(); untracked(() => this.reset(rp, v)); });
  }

  key = entryKey;
  attrs(e: FileEntry): string { return attributesText(e, this.i18n); }
  isSelected(e: FileEntry): boolean { return this.selection()().has(entryKey(e)); }
  asMatch(e: FileEntry): FileSearchMatch { return e as FileSearchMatch; }
  volumeLabel(id: string): string { return volumeName(this.volumes().find((v) => v.id === id), this.i18n) || id; }
  folderOf(e: FileEntry): string {
    const p = e.path ?? '';
    const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    const vol = e.volumeId === this.volume().id ? '' : this.volumeLabel(e.volumeId) + ' › ';
    return vol + '/' + dir;
  }

  toggle(e: FileEntry, on: boolean): void { this.select([e], on); }
  selectAll(on: boolean): void { this.select(this.rows(), on); }
  /** Selected entries keep their display path (listings do not carry one), for the put-back summary. */
  private select(list: FileEntry[], on: boolean): void {
    const dir = this.path().map((d) => d.name);
    this.selection().update((m) => {
      const n = new Map(m);
      for (const e of list) {
        if (on) n.set(entryKey(e), e.path ? e : { ...e, path: [...dir, e.name].join('/') });
        else n.delete(entryKey(e));
      }
      return n;
    });
  }

  open(dir: FileEntry): void { this.path.update((p) => [...p, dir]); void this.load(dir.ref, 0); }
  openCrumb(i: number): void {
    this.searching.set(null);
    this.path.update((p) => p.slice(0, i + 1));
    void this.load(this.path().at(-1)?.ref, 0);
  }
  more(): void { void this.load(this.path().at(-1)?.ref, this.entries().length); }

  async search(): Promise<void> {
    const pattern = this.pattern().trim();
    if (!pattern) return;
    const seq = ++this.loadSeq;
    this.busy.set(true); this.error.set(null);
    try {
      const res = await this.api.fileSearch(this.rpId(), pattern, { limit: 1000 });
      if (seq === this.loadSeq) this.searching.set(res);
    } catch (e) { if (seq === this.loadSeq) this.error.set(errorText(e)); } finally { if (seq === this.loadSeq) this.busy.set(false); }
  }
  clearSearch(): void { this.searching.set(null); }

  private reset(rpId: string, v: FileVolume): void {
    this.path.set([]); this.searching.set(null); this.versionsOf.set(null); this.entries.set([]); this.total.set(0);
    if (rpId && v?.browsable) void this.load(undefined, 0);
  }
  private async load(ref: string | undefined, offset: number): Promise<void> {
    const seq = ++this.loadSeq;
    this.busy.set(true); this.error.set(null);
    if (offset === 0) { this.entries.set([]); this.total.set(0); }
    try {
      const l = await this.api.fileList(this.rpId(), this.volume().id, ref, offset, PAGE);
      if (seq !== this.loadSeq) return;
      this.entries.update((cur) => offset === 0 ? l.entries : [...cur, ...l.entries]);
      this.total.set(l.total);
    } catch (e) { if (seq === this.loadSeq) this.error.set(errorText(e)); } finally { if (seq === this.loadSeq) this.busy.set(false); }
  }
}
