import { Component, computed, inject, input, model, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ClrFormsModule } from '@clr/angular';
import type { ExistingFileChoice, FileEntry, FileRestoreTarget, GuestCredential, VmDetail } from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { ErrorAlert } from '../../shared/error-alert';

/** What the user chose on the put-back page; `valid` once everything needed is there. */
export interface PutBackChoice { target: FileRestoreTarget; existing: ExistingFileChoice; credentialId: string; valid: boolean }
export const EMPTY_PUT_BACK: PutBackChoice = { target: { kind: 'original' }, existing: 'keep-both', credentialId: '', valid: false };

/**
 * "Restore to the VM": where the selected files go in the guest (their original folders, or another folder),
 * what happens to files that exist there (skip, overwrite, keep both), and the guest account that writes them
 * (a stored guest credential; a new one can be saved here, as in the job wizard).
 */
@Component({
  selector: 'sp-file-put-back',
  imports: [FormsModule, ClrFormsModule, ErrorAlert, ...I18N_PIPES],
  template: `
    <p>{{ 'fileRestore.putBack.intro' | t: { n: items().length, vm: vm()?.name ?? '' } }}</p>
    @if (!guestReady()) { <div class="alert alert-warning alert-sm" role="alert"><div class="alert-items"><div class="alert-item static"><span class="alert-text">{{ 'fileRestore.putBack.noTools' | t }}</span></div></div></div> }
    <sp-error [message]="error()" />
    <form clrForm clrLayout="horizontal" [clrLabelSize]="4" (submit)="$event.preventDefault()">
      <clr-radio-container>
        <label>{{ 'fileRestore.putBack.target' | t }}</label>
        <clr-radio-wrapper>
          <input type="radio" clrRadio name="fr-target" id="fr-target-original" value="original" [(ngModel)]="targetKind" (ngModelChange)="emit()" />
          <label for="fr-target-original">{{ 'fileRestore.putBack.original' | t }}</label>
        </clr-radio-wrapper>
        <clr-radio-wrapper>
          <input type="radio" clrRadio name="fr-target" id="fr-target-folder" value="folder" [(ngModel)]="targetKind" (ngModelChange)="emit()" />
          <label for="fr-target-folder">{{ 'fileRestore.putBack.folder' | t }}</label>
        </clr-radio-wrapper>
      </clr-radio-container>
      @if (targetKind === 'folder') {
        <clr-input-container>
          <label for="fr-folder">{{ 'fileRestore.putBack.folderPath' | t }}</label>
          <input clrInput id="fr-folder" name="folder" [(ngModel)]="folder" (ngModelChange)="emit()" required maxlength="1024" [placeholder]="folderExample()" />
          <clr-control-helper>{{ 'fileRestore.putBack.folderHelp' | t: { example: folderExample() } }}</clr-control-helper>
          <clr-control-error>{{ 'fileRestore.putBack.folderInvalid' | t }}</clr-control-error>
        </clr-input-container>
      }
      <clr-radio-container>
        <label>{{ 'fileRestore.putBack.existing' | t }}</label>
        @for (c of existingChoices; track c) {
          <clr-radio-wrapper>
            <input type="radio" clrRadio name="fr-existing" [id]="'fr-existing-' + c" [value]="c" [(ngModel)]="existing" (ngModelChange)="emit()" />
            <label [for]="'fr-existing-' + c">{{ 'fileRestore.putBack.existing.' + c | t }}</label>
          </clr-radio-wrapper>
        }
      </clr-radio-container>
      <clr-select-container>
        <label for="fr-credential">{{ 'fileRestore.putBack.credential' | t }}</label>
        <select clrSelect id="fr-credential" name="credential" [(ngModel)]="credentialId" (ngModelChange)="emit()" required>
          @if (credentials().length === 0) { <option value="">{{ 'fileRestore.putBack.noCredential' | t }}</option> }
          @for (c of credentials(); track c.id) { <option [value]="c.id">{{ c.name }} ({{ c.username }})</option> }
        </select>
        <clr-control-helper>{{ 'fileRestore.putBack.credentialHelp' | t }}</clr-control-helper>
      </clr-select-container>
    </form>
    <details class="sp-fr-newcred" [open]="credentials().length === 0">
      <summary>{{ 'credentials.new' | t }}</summary>
      <form clrForm clrLayout="horizontal" [clrLabelSize]="4" (ngSubmit)="createCredential()" #cf="ngForm">
        <clr-input-container><label for="fr-cred-name">{{ 'credentials.name' | t }}</label><input clrInput id="fr-cred-name" name="cname" [(ngModel)]="newCred.name" required maxlength="80" /></clr-input-container>
        <clr-input-container><label for="fr-cred-user">{{ 'credentials.username' | t }}</label><input clrInput id="fr-cred-user" name="cuser" [(ngModel)]="newCred.username" required autocomplete="off" maxlength="256" /></clr-input-container>
        <clr-password-container><label for="fr-cred-pass">{{ 'credentials.password' | t }}</label><input clrPassword id="fr-cred-pass" name="cpass" [(ngModel)]="newCred.password" required autocomplete="new-password" maxlength="256" /></clr-password-container>
        <button type="submit" class="btn btn-sm btn-outline" id="fr-cred-save" [disabled]="!cf.valid || credBusy()">{{ 'credentials.save' | t }}</button>
      </form>
    </details>
    <h4>{{ 'fileRestore.putBack.items' | t: { n: items().length } }}</h4>
    <ul class="sp-fr-items">
      @for (e of shown(); track e.volumeId + e.ref) { <li>{{ itemLabel(e) }}</li> }
      @if (items().length > shown().length) { <li class="sp-muted">{{ 'fileRestore.putBack.more' | t: { n: items().length - shown().length } }}</li> }
    </ul>`,
  styles: [`.sp-fr-items { margin: 0.25rem 0 0 1rem; word-break: break-all; } h4 { margin-top: 0.75rem; } .sp-fr-newcred { margin-top: 0.5rem; } .sp-fr-newcred summary { cursor: pointer; }`],
})
export class FilePutBack {
  private readonly api = inject(Api);
  readonly vm = input<VmDetail | null>(null);
  readonly items = input.required<FileEntry[]>();
  readonly choice = model<PutBackChoice>(EMPTY_PUT_BACK);
  readonly credentials = signal<GuestCredential[]>([]);
  readonly error = signal<string | null>(null);
  readonly existingChoices: readonly ExistingFileChoice[] = ['skip', 'overwrite', 'keep-both'];
  readonly credBusy = signal(false);
  newCred = { name: '', username: '', password: '' };
  readonly shown = computed(() => this.items().slice(0, 20));
  /** The service writes through VMware Tools: the VM must be on with Tools running (it answers 409 otherwise). */
  readonly guestReady = computed(() => { const v = this.vm(); return !v || (v.powerState === 'poweredOn' && v.toolsRunning); });
  readonly folderExample = computed(() => this.vm()?.guestFamily === 'windows' ? 'C:\\Restored' : '/tmp/restored');
  targetKind: 'original' | 'folder' = 'original';
  folder = '';
  existing: ExistingFileChoice = 'keep-both';
  credentialId = '';

  constructor() { void this.load(); }
  itemLabel(e: FileEntry): string { return (e.path ?? e.name) + (e.type === 'dir' ? '/' : ''); }
  private async load(): Promise<void> {
    try {
      const list = await this.api.credentials();
      this.credentials.set(list);
      if (list.length && !this.credentialId) this.credentialId = list[0]!.id;
    } catch (e) { this.error.set(errorText(e)); }
    this.emit();
  }
  async createCredential(): Promise<void> {
    this.credBusy.set(true); this.error.set(null);
    try {
      const c = await this.api.createCredential({ ...this.newCred });
      this.credentials.set([...this.credentials(), c]);
      this.credentialId = c.id;
      this.newCred = { name: '', username: '', password: '' };
      this.emit();
    } catch (e) { this.error.set(errorText(e)); } finally { this.credBusy.set(false); }
  }
  emit(): void {
    const folder = this.folder.trim();
    const target: FileRestoreTarget = this.targetKind === 'folder' ? { kind: 'folder', path: folder } : { kind: 'original' };
    const absolute = this.vm()?.guestFamily === 'windows' ? /^[A-Za-z]:[\\/]/.test(folder) : folder.startsWith('/');
    this.choice.set({ target, existing: this.existing, credentialId: this.credentialId, valid: this.guestReady() && !!this.credentialId && (this.targetKind === 'original' || absolute) });
  }
}
