import { Component, computed, effect, inject, signal } from '@angular/core';
import { ActivatedRoute } from '@angular/router';
import { ClrSpinnerModule } from '@clr/angular';
import type { FileEntry, FileVolume, JobRun, RestorePoint, VmDetail } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { RunTracker } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { Actions } from '../../shared/actions';
import { ConsistencyBadge } from '../../shared/badges';
import { ErrorAlert } from '../../shared/error-alert';
import { RunProgress } from '../../shared/run-progress';
import { contextVmIds } from '../../shared/vm-context';
import { FileBrowser } from './file-browser';
import { startDownload } from './file-format';
import { EMPTY_PUT_BACK, FilePutBack, type PutBackChoice } from './put-back';

type Step = 'point' | 'volume' | 'browse' | 'putBack';
const STEPS: readonly Step[] = ['point', 'volume', 'browse', 'putBack'];

/**
 * "Recover files…" (VM right-click, or a restore point's row in Monitor › Backup): restore point → volume
 * (filesystem, label, size, what the filesystem says about its consistency; volumes that cannot be opened
 * say why) → files (breadcrumbs, search, multi-select) → download (one file as is, several or folders as
 * a zip) or restore into the VM's guest (target folder, existing files, guest account) with the run's
 * live progress. Native radios, checkboxes and buttons only, so the whole flow works from the keyboard.
 */
@Component({
  selector: 'sp-recover-files',
  imports: [ClrSpinnerModule, ConsistencyBadge, ErrorAlert, FileBrowser, FilePutBack, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    @if (tracker.run(); as run) {
      <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
        <h2 tabindex="-1" id="fr-progress" class="sp-fr-h">{{ (done() ? 'fileRestore.progressDone' : 'fileRestore.progress') | t: { n: putBackItems().length, vm: vm()?.name ?? vmId } }}</h2>
        <sp-run-progress [run]="run" />
        @if (done()) { <p role="status" class="sp-fr-done">{{ 'fileRestore.done.' + run.status | t }}</p> }
      </div>
      <div class="sp-modal-footer"><button type="button" class="btn btn-primary" (click)="close(run)">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button></div>
    } @else {
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'action.recoverFiles.title' | t }}</h2> }
      <ol class="sp-steps" [attr.aria-label]="'fileRestore.steps' | t">
        @for (s of steps; track s; let i = $index) {
          <li [class.sp-step-active]="step() === s" [attr.aria-current]="step() === s ? 'step' : null" [attr.id]="step() === s ? 'fr-step-current' : null" [attr.tabindex]="step() === s ? -1 : null">{{ i + 1 }}. {{ 'fileRestore.step.' + s | t }}</li>
        }
      </ol>
      <sp-error [message]="error()" />
      @switch (step()) {
        @case ('point') {
          <p>{{ 'recover.intro' | t }}</p>
          @if (loading()) { <clr-spinner clrInline>{{ 'common.loading' | t }}</clr-spinner> }
          @else if (points().length === 0) { <p>{{ 'monitor.noRestorePoints' | t }}</p> }
          @else {
            <table class="table table-compact">
              <caption class="sp-sr-only">{{ 'monitor.restorePoints' | t }}</caption>
              <thead><tr><th class="left">{{ 'col.created' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th><th class="left">{{ 'col.disks' | t }}</th></tr></thead>
              <tbody>
                @for (rp of points(); track rp.id; let i = $index) {
                  <tr [class.sp-selected]="point()?.id === rp.id">
                    <td class="left"><input type="radio" name="sp-rp" [id]="'rp-' + i" [checked]="point()?.id === rp.id" (change)="choosePoint(rp)" />
                      <label [for]="'rp-' + i"> {{ rp.createdAt | dt }}</label></td>
                    <td class="left"><sp-consistency [value]="rp.consistency" /></td>
                    <td class="left">@for (d of rp.disks; track d.key) { <div>{{ d.label }} · {{ d.capacityBytes | bytes }}</div> }</td>
                  </tr>
                }
              </tbody>
            </table>
          }
        }
        @case ('volume') {
          <p>{{ 'fileRestore.volumeIntro' | t: { at: (point()?.createdAt | dt) } }}</p>
          @if (volumesLoading()) { <clr-spinner clrInline>{{ 'fileRestore.opening' | t }}</clr-spinner> }
          @else if (volumes().length === 0 && !error()) { <p>{{ 'fileRestore.noVolumes' | t }}</p> }
          @else {
            <table class="table table-compact">
              <caption class="sp-sr-only">{{ 'fileRestore.step.volume' | t }}</caption>
              <thead><tr>
                <th class="left">{{ 'fileRestore.col.volume' | t }}</th><th class="left">{{ 'fileRestore.col.filesystem' | t }}</th>
                <th class="left">{{ 'fileRestore.col.label' | t }}</th><th>{{ 'col.size' | t }}</th><th class="left">{{ 'col.consistency' | t }}</th>
              </tr></thead>
              <tbody>
                @for (v of volumes(); track v.id; let i = $index) {
                  <tr [class.sp-selected]="volume()?.id === v.id" [class.sp-disabled]="!v.browsable">
                    <td class="left"><input type="radio" name="sp-vol" [id]="'vol-' + i" [checked]="volume()?.id === v.id" [disabled]="!v.browsable" (change)="volume.set(v)" />
                      <label [for]="'vol-' + i"> {{ v.diskLabel }} › {{ v.partition !== undefined ? ('fileRestore.partitionN' | t: { n: v.partition }) : ('fileRestore.wholeDisk' | t) }}</label>
                      @if (v.partitionType) { <div class="sp-muted">{{ v.partitionType }}</div> }</td>
                    <td class="left">{{ v.filesystem ? ('fileRestore.fs.' + v.filesystem | t) : ('fileRestore.fs.unknown' | t) }}</td>
                    <td class="left">{{ v.label || '—' }}</td>
                    <td class="sp-nowrap">{{ v.sizeBytes | bytes }}</td>
                    <td class="left">
                      @if (v.consistency; as c) {
                        <span class="label" [class.label-success]="c.clean" [class.label-warning]="!c.clean">{{ (c.clean ? 'fileRestore.clean' : 'fileRestore.notClean') | t }}</span>
                        @if (!c.clean) { <div class="sp-muted">{{ c.summary }}</div> }
                      }
                      @if (v.problem) { <div class="sp-fr-problem" role="note">⚠ {{ v.problem }}</div> }
                    </td>
                  </tr>
                }
              </tbody>
            </table>
          }
        }
        @case ('putBack') {
          <sp-file-put-back [vm]="vm()" [items]="putBackItems()" [(choice)]="putBack" />
        }
      }
      <!-- The browser stays while the put-back page is shown, so Back returns to the same folder or search. -->
      @if (step() === 'browse' || step() === 'putBack') { @if (point(); as rp) { @if (volume(); as v) {
        <sp-file-browser [hidden]="step() !== 'browse'" [vmId]="vmId" [rpId]="rp.id" [volume]="v" [volumes]="volumes()" [selection]="selection" />
      } } }
    </div>
    <div class="sp-modal-footer">
      @if (step() === 'browse') {
        <span class="sp-grow sp-muted sp-fr-selected" role="status">{{ 'fileRestore.selected' | t: { n: selection().size } }}@if (tooMany()) { — <span class="sp-fr-problem">{{ 'fileRestore.tooMany' | t: { max: maxItems } }}</span> }</span>
      }
      <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
      @if (step() !== 'point') { <button type="button" class="btn btn-outline" (click)="back()">{{ 'common.back' | t }}</button> }
      @if (step() === 'browse') {
        <button type="button" class="btn btn-outline" id="fr-put-back" [disabled]="selection().size === 0 || tooMany()" (click)="step.set('putBack')">{{ 'fileRestore.putBack.open' | t }}</button>
        <button type="button" class="btn btn-primary" id="fr-download" [disabled]="selection().size === 0 || tooMany() || downloading()" (click)="download()">{{ (downloading() ? 'fileRestore.preparing' : downloadLabel()) | t: { n: selection().size } }}</button>
      } @else if (step() === 'putBack') {
        <button type="button" class="btn btn-primary" id="fr-start" [disabled]="!putBack().valid || starting()" (click)="start()">{{ (starting() ? 'fileRestore.putBack.starting' : 'fileRestore.putBack.start') | t }}</button>
      } @else {
        <button type="button" class="btn btn-primary" [disabled]="!canNext()" (click)="next()">{{ 'common.next' | t }}</button>
      }
    </div>
    }`,
  styles: [`
    .sp-steps { list-style: none; margin: 0 0 0.5rem; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; font-size: 0.65rem; }
    .sp-steps li { opacity: 0.7; }
    .sp-steps li:focus { outline: none; }
    .sp-steps li.sp-step-active { opacity: 1; font-weight: 600; border-bottom: 2px solid var(--cds-alias-status-info, #0072a3); }
    tr.sp-selected td { background: var(--cds-alias-object-interaction-background-selected, rgba(0, 114, 163, 0.12)); }
    tr.sp-disabled td { opacity: 0.8; }
    .sp-fr-problem { color: var(--cds-alias-status-danger, #c21d00); }
    .sp-nowrap { white-space: nowrap; }
    .sp-fr-selected { align-self: center; }
    .sp-fr-h { margin-top: 0; }
    input[type='radio'] { margin-right: 0.25rem; }
  `],
})
export class RecoverFilesModal {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly actions = inject(Actions);
  private readonly route = inject(ActivatedRoute);
  readonly steps = STEPS;
  readonly vmId = contextVmIds(this.route, this.sdk)[0] ?? '';
  readonly vm = signal<VmDetail | null>(null);
  readonly step = signal<Step>('point');
  readonly points = signal<RestorePoint[]>([]);
  readonly point = signal<RestorePoint | undefined>(undefined);
  readonly volumes = signal<FileVolume[]>([]);
  readonly volume = signal<FileVolume | undefined>(undefined);
  readonly selection = signal(new Map<string, FileEntry>());
  readonly loading = signal(true);
  readonly volumesLoading = signal(false);
  readonly downloading = signal(false);
  readonly error = signal<string | null>(null);
  readonly tracker = inject(RunTracker);
  readonly putBack = signal<PutBackChoice>(EMPTY_PUT_BACK);
  readonly putBackItems = computed(() => [...this.selection().values()]);
  readonly starting = signal(false);
  /** The service takes up to this many items per zip or put-back (a folder counts as one, with everything in it). */
  readonly maxItems = 1000;
  readonly tooMany = computed(() => this.selection().size > this.maxItems);
  readonly done = signal(false);
  private volumesFor = '';
  readonly canNext = computed(() => this.step() === 'point' ? !!this.point() : this.step() === 'volume' ? !!this.volume()?.browsable : false);
  /** One file downloads as itself; anything else (several, or a folder) as a zip. */
  readonly downloadLabel = computed(() => {
    const items = [...this.selection().values()];
    return items.length > 1 || items[0]?.type === 'dir' ? 'fileRestore.downloadZip' : 'fileRestore.download';
  });

  constructor() {
    void this.load();
    // Keyboard and screen-reader users land on the new step's name, not on a button that may be gone.
    let first = true;
    effect(() => {
      this.step();
      if (first) { first = false; return; }
      setTimeout(() => document.getElementById('fr-step-current')?.focus());
    });
  }
  private async load(): Promise<void> {
    try {
      const [vm, pts] = await Promise.all([this.api.vm(this.vmId), this.api.restorePoints(this.vmId)]);
      this.vm.set(vm);
      this.points.set(pts);
      const want = this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp'];
      this.point.set(pts.find((p) => p.id === want) ?? pts[0]);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loading.set(false); }
  }

  choosePoint(rp: RestorePoint): void { this.point.set(rp); }
  next(): void {
    this.error.set(null);
    if (this.step() === 'point') { this.step.set('volume'); void this.loadVolumes(); }
    else if (this.step() === 'volume' && this.volume()?.browsable) this.step.set('browse');
  }
  back(): void {
    this.error.set(null);
    const i = STEPS.indexOf(this.step());
    this.step.set(STEPS[Math.max(0, i - 1)]!);
  }

  private async loadVolumes(): Promise<void> {
    const rp = this.point();
    if (!rp || this.volumesFor === rp.id) return;
    this.volumesFor = rp.id;
    this.volumes.set([]); this.volume.set(undefined); this.selection.set(new Map());
    this.volumesLoading.set(true);
    try {
      const vols = await this.api.fileVolumes(rp.id);
      if (this.point()?.id !== rp.id) return;
      this.volumes.set(vols);
      this.volume.set(vols.find((v) => v.browsable));
    } catch (e) { this.volumesFor = ''; this.error.set(errorText(e)); } finally { this.volumesLoading.set(false); }
  }

  async download(): Promise<void> {
    const rp = this.point();
    const items = [...this.selection().values()];
    if (!rp || items.length === 0) return;
    this.downloading.set(true); this.error.set(null);
    try {
      const single = items.length === 1 && items[0]!.type !== 'dir' ? items[0]! : null;
      const link = single
        ? await this.api.fileDownloadLink(rp.id, { kind: 'file', volumeId: single.volumeId, ref: single.ref })
        : await this.api.fileDownloadLink(rp.id, { kind: 'zip', items: items.map((e) => ({ volumeId: e.volumeId, ref: e.ref })) });
      startDownload(link.url);
    } catch (e) { this.error.set(errorText(e)); } finally { this.downloading.set(false); }
  }
  /** Puts the selection back into the guest: a run of kind file-restore, followed like any run. */
  async start(): Promise<void> {
    const rp = this.point();
    const choice = this.putBack();
    const items = this.putBackItems();
    if (!rp || !choice.valid || items.length === 0) return;
    this.starting.set(true); this.error.set(null);
    try {
      const run = await this.api.putBackFiles(rp.id, {
        items: items.map((e) => ({ volumeId: e.volumeId, ref: e.ref })), target: choice.target, existing: choice.existing, credentialId: choice.credentialId,
      });
      this.tracker.track(run, () => this.done.set(true));
      setTimeout(() => document.getElementById('fr-progress')?.focus());
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }
  close(run?: JobRun): void { this.actions.close(run ? { runId: run.id, status: run.status } : undefined, '/vm/monitor?vm=' + this.vmId); }
}
