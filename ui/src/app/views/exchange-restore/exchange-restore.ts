import { Component, computed, inject, signal } from '@angular/core';
import { ActivatedRoute } from '@angular/router';
import { ClrSpinnerModule, ClrTreeViewModule } from '@clr/angular';
import type {
  ExchangeDatabaseInfo, ExchangeDatabaseStateDto, ExchangeDeliveryReport, ExchangeFolderDto, ExchangeMessageDto, ExchangeMessageSummaryDto, JobRun, RestorePoint,
} from '@contract';
import { Api, errorText } from '../../core/api';
import { I18N_PIPES } from '../../core/i18n';
import { RunTracker } from '../../core/run-tracker';
import { SdkService } from '../../sdk/sdk.service';
import { Actions } from '../../shared/actions';
import { ErrorAlert } from '../../shared/error-alert';
import { RunProgress } from '../../shared/run-progress';
import { contextVmIds } from '../../shared/vm-context';
import { ExchangeApi, type DownloadedFile, type ExchangeQuery } from './exchange-api';

type Step = 'point' | 'database' | 'items' | 'deliver';
const STEPS: readonly Step[] = ['point', 'database', 'items', 'deliver'];
type Delivery = 'imap' | 'smtp';

/** Saves a downloaded file under the name the service gave it. */
function save(f: DownloadedFile): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(f.blob);
  a.download = f.fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/** The readable text of an HTML body (parsed inertly: no scripts run, nothing is fetched). */
function htmlText(html: string): string {
  return new DOMParser().parseFromString(html, 'text/html').body.textContent?.trim() ?? '';
}

/**
 * "Restore Exchange items…" (a restore point of a mail server whose VSS manifest has the Exchange writer):
 * restore point → its mailbox database (clean or dirty, the log generations it needs, the logs found) →
 * mailbox and folder tree with the message list, search (sender, subject, date range, attachment name),
 * details pane (headers, body, attachments) and downloads (EML, MSG, a folder as zip) → deliver the
 * chosen messages into an IMAP folder or to mailboxes over SMTP with your own mail account (used for
 * this run only, never stored) → the run's progress and what happened to each message.
 */
@Component({
  selector: 'sp-exchange-restore',
  imports: [ClrSpinnerModule, ClrTreeViewModule, ErrorAlert, RunProgress, ...I18N_PIPES],
  providers: [RunTracker],
  template: `
    @if (tracker.run(); as run) {
      <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
        <h2 tabindex="-1" id="ex-progress">{{ (done() ? 'exchange.progressDone' : 'exchange.progress') | t: { n: selected().size } }}</h2>
        <sp-run-progress [run]="run" />
        @if (report(); as rep) {
          <table class="table table-compact" id="ex-report">
            <caption class="sp-sr-only">{{ 'exchange.report' | t }}</caption>
            <thead><tr><th class="left">{{ 'exchange.col.subject' | t }}</th><th class="left">{{ 'exchange.col.result' | t }}</th></tr></thead>
            <tbody>
              @for (r of rep.results; track r.documentId) { <tr><td class="left">{{ r.subject }}</td><td class="left">{{ r.detail }}</td></tr> }
            </tbody>
          </table>
          @if (rep.error) { <p class="sp-ex-problem" role="alert">{{ rep.error }}</p> }
        }
      </div>
      <div class="sp-modal-footer"><button type="button" class="btn btn-primary" (click)="close(run)">{{ (done() ? 'common.close' : 'backup.runInBackground') | t }}</button></div>
    } @else {
    <div class="sp-modal-body" [class.sp-page]="!sdk.isPlugin">
      @if (!sdk.isPlugin) { <h2>{{ 'exchange.title' | t }}</h2> }
      <ol class="sp-steps" [attr.aria-label]="'exchange.steps' | t">
        @for (s of steps; track s; let i = $index) {
          <li [class.sp-step-active]="step() === s" [attr.aria-current]="step() === s ? 'step' : null">{{ i + 1 }}. {{ 'exchange.step.' + s | t }}</li>
        }
      </ol>
      <sp-error [message]="error()" />
      @switch (step()) {
        @case ('point') {
          @if (loadingPoints()) { <clr-spinner clrInline>{{ 'exchange.loadingPoints' | t }}</clr-spinner> }
          @else if (!points().length) { <p class="sp-muted" id="ex-no-points">{{ 'exchange.noPoints' | t }}</p> }
          @else {
            <fieldset id="ex-points"><legend>{{ 'exchange.pickPoint' | t }}</legend>
              @for (p of points(); track p.id) {
                <div><label><input type="radio" name="ex-rp" [value]="p.id" [checked]="rpId() === p.id" (change)="pickPoint(p.id)" />
                  {{ p.createdAt | dt }} · {{ 'consistency.' + p.consistency | t }}</label></div>
              }
            </fieldset>
          }
        }
        @case ('database') {
          @if (loadingInfo()) { <clr-spinner clrInline>{{ 'exchange.opening' | t }}</clr-spinner> }
          @if (info(); as db) {
            <dl class="sp-ex-facts" id="ex-db">
              <dt>{{ 'exchange.db.path' | t }}</dt><dd>{{ db.path }}</dd>
              @if (db.caption) { <dt>{{ 'exchange.db.name' | t }}</dt><dd>{{ db.caption }}</dd> }
              <dt>{{ 'exchange.db.size' | t }}</dt><dd>{{ db.sizeBytes | bytes }}</dd>
              <dt>{{ 'exchange.db.state' | t }}</dt>
              <dd id="ex-state"><span class="label" [class.label-warning]="db.database.state === 'dirty'" [class.label-success]="db.database.state === 'clean'">{{ 'exchange.state.' + db.database.state | t }}</span>
                <div class="sp-muted">{{ (db.database.state === 'dirty' ? 'exchange.state.dirtyHelp' : 'exchange.state.cleanHelp') | t }}</div>
                @if (db.database.requiredLogs; as l) { <div id="ex-logs-needed">{{ 'exchange.logsNeeded' | t: { min: l.min, max: l.max, minHex: hex(l.min), maxHex: hex(l.max) } }}</div> }</dd>
              <dt>{{ 'exchange.db.logs' | t }}</dt>
              <dd id="ex-logs">@if (db.logs.length) { {{ 'exchange.logsFound' | t: { n: db.logs.length, dir: db.logDir ?? '' } }}
                  <div class="sp-muted">{{ logNames(db) }}</div> } @else { {{ 'exchange.noLogs' | t }} }</dd>
              <dt>{{ 'exchange.db.mailboxes' | t }}</dt><dd>{{ db.mailboxes.length | num }}</dd>
            </dl>
          }
        }
        @case ('items') {
          <div class="sp-ex-bar">
            <label for="ex-mailbox">{{ 'exchange.mailbox' | t }}</label>
            <select id="ex-mailbox" class="clr-select" (change)="pickMailbox(+$any($event.target).value)">
              @for (m of info()?.mailboxes ?? []; track m.number) { <option [value]="m.number" [selected]="m.number === mailbox()">{{ m.smtp ? m.displayName + ' <' + m.smtp + '>' : m.displayName }} ({{ m.messageCount | num }})</option> }
            </select>
            @if (databaseState()?.state === 'dirty') { <span class="label label-warning" [title]="'exchange.state.dirtyHelp' | t">{{ 'exchange.state.dirty' | t }}</span> }
          </div>
          <form class="sp-ex-search" id="ex-search" (submit)="$event.preventDefault(); search()">
            <div><label for="ex-q-from">{{ 'exchange.search.from' | t }}</label><input id="ex-q-from" class="clr-input" [value]="q.from()" (input)="q.from.set($any($event.target).value)" /></div>
            <div><label for="ex-q-subject">{{ 'exchange.search.subject' | t }}</label><input id="ex-q-subject" class="clr-input" [value]="q.subject()" (input)="q.subject.set($any($event.target).value)" /></div>
            <div><label for="ex-q-after">{{ 'exchange.search.after' | t }}</label><input id="ex-q-after" type="date" class="clr-input" [value]="q.after()" (input)="q.after.set($any($event.target).value)" /></div>
            <div><label for="ex-q-before">{{ 'exchange.search.before' | t }}</label><input id="ex-q-before" type="date" class="clr-input" [value]="q.before()" (input)="q.before.set($any($event.target).value)" /></div>
            <div><label for="ex-q-attachment">{{ 'exchange.search.attachment' | t }}</label><input id="ex-q-attachment" class="clr-input" [value]="q.attachment()" (input)="q.attachment.set($any($event.target).value)" /></div>
            <button type="submit" class="btn btn-sm btn-outline" id="ex-search-go">{{ 'exchange.search.go' | t }}</button>
            @if (searching()) { <button type="button" class="btn btn-sm btn-link" (click)="clearSearch()">{{ 'exchange.search.clear' | t }}</button> }
          </form>
          <div class="sp-ex-panes">
            <div class="sp-ex-tree">
              <clr-tree [attr.aria-label]="'exchange.folders' | t">
                <clr-tree-node *clrRecursiveFor="let f of folderRoots(); getChildren: childrenOf" [clrExpanded]="true">
                  <button type="button" class="clr-treenode-link sp-ex-folder" [class.active]="!searching() && f.id === folder()?.id" (click)="openFolder(f)">{{ f.name || ('exchange.root' | t) }}
                    @if (f.messageCount) { <span class="badge">{{ f.messageCount | num }}</span> }</button>
                </clr-tree-node>
              </clr-tree>
            </div>
            <div class="sp-ex-list">
              <div class="sp-ex-bar">
                <strong id="ex-list-title">{{ searching() ? ('exchange.results' | t: { n: messages().length }) : (folder()?.path ?? '') }}</strong>
                <span class="sp-grow"></span>
                @if (folder() && !searching()) { <button type="button" class="btn btn-sm btn-link" id="ex-folder-zip" [disabled]="busy()" (click)="downloadFolder()">{{ 'exchange.downloadZip' | t }}</button> }
              </div>
              @if (loadingMessages()) { <clr-spinner clrInline>{{ 'exchange.loadingMessages' | t }}</clr-spinner> }
              <table class="table table-compact sp-ex-messages" id="ex-messages">
                <caption class="sp-sr-only">{{ 'exchange.messages' | t }}</caption>
                <thead><tr>
                  <th><input type="checkbox" [checked]="allPicked()" (change)="pickAll($any($event.target).checked)" [attr.aria-label]="'exchange.pickAll' | t" /></th>
                  <th class="left">{{ 'exchange.col.from' | t }}</th><th class="left">{{ 'exchange.col.subject' | t }}</th>
                  <th class="left">{{ 'exchange.col.date' | t }}</th><th>{{ 'exchange.col.size' | t }}</th>
                  <th><span class="sp-sr-only">{{ 'exchange.col.attachments' | t }}</span></th></tr></thead>
                <tbody>
                  @for (m of messages(); track m.documentId) {
                    <tr [class.sp-ex-current]="details()?.documentId === m.documentId" [class.sp-ex-unread]="!m.read">
                      <td><input type="checkbox" [checked]="selected().has(m.documentId)" (change)="pick(m, $any($event.target).checked)" [attr.aria-label]="'exchange.pickMessage' | t: { subject: m.subject }" /></td>
                      <td class="left">{{ m.from.name || m.from.address }}</td>
                      <td class="left"><button type="button" class="btn btn-link btn-sm sp-ex-subject" (click)="show(m)">{{ m.subject || ('exchange.noSubject' | t) }}</button></td>
                      <td class="left">{{ (m.sent ?? m.received) | dt }}</td>
                      <td>{{ m.size | bytes }}</td>
                      <td>@if (m.hasAttachments) { <span role="img" class="sp-ex-clip" [attr.aria-label]="'exchange.hasAttachments' | t" [title]="'exchange.hasAttachments' | t"><svg class="sp-ex-clip-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg></span> }</td>
                    </tr>
                  } @empty { @if (!loadingMessages()) { <tr><td colspan="6" class="left sp-muted">{{ 'exchange.noMessages' | t }}</td></tr> } }
                </tbody>
              </table>
            </div>
            <div class="sp-ex-details" aria-live="polite" id="ex-details">
              @if (details(); as d) {
                <h3>{{ d.subject || ('exchange.noSubject' | t) }}</h3>
                <div class="sp-ex-bar">
                  <button type="button" class="btn btn-sm btn-outline" id="ex-eml" [disabled]="busy()" (click)="download(d, 'eml')">{{ 'exchange.downloadEml' | t }}</button>
                  <button type="button" class="btn btn-sm btn-outline" id="ex-msg" [disabled]="busy()" (click)="download(d, 'msg')">{{ 'exchange.downloadMsg' | t }}</button>
                </div>
                <table class="table table-compact table-noborder sp-ex-headers"><tbody>
                  <tr><th class="left">{{ 'exchange.h.from' | t }}</th><td class="left" id="ex-d-from">{{ addr(d.from) }}</td></tr>
                  <tr><th class="left">{{ 'exchange.h.to' | t }}</th><td class="left">{{ addrs(d.to) }}</td></tr>
                  @if (d.cc.length) { <tr><th class="left">{{ 'exchange.h.cc' | t }}</th><td class="left">{{ addrs(d.cc) }}</td></tr> }
                  @if (d.bcc.length) { <tr><th class="left">{{ 'exchange.h.bcc' | t }}</th><td class="left">{{ addrs(d.bcc) }}</td></tr> }
                  @if (d.sent) { <tr><th class="left">{{ 'exchange.h.sent' | t }}</th><td class="left">{{ d.sent | dt }}</td></tr> }
                  @if (d.received) { <tr><th class="left">{{ 'exchange.h.received' | t }}</th><td class="left">{{ d.received | dt }}</td></tr> }
                  <tr><th class="left">{{ 'exchange.h.folder' | t }}</th><td class="left">{{ d.folderPath }}</td></tr>
                  @if (d.messageId) { <tr><th class="left">{{ 'exchange.h.messageId' | t }}</th><td class="left sp-ex-mono">{{ d.messageId }}</td></tr> }
                </tbody></table>
                @if (d.attachments.length) {
                  <h4>{{ 'exchange.attachments' | t: { n: d.attachments.length } }}</h4>
                  <ul class="sp-ex-attachments" id="ex-d-attachments">
                    @for (a of d.attachments; track a.id) { <li><svg class="sp-ex-clip-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg> {{ a.filename }} <span class="sp-muted">{{ a.contentType }} · {{ a.size | bytes }}</span></li> }
                  </ul>
                }
                <h4>{{ 'exchange.body' | t }}</h4>
                <pre class="sp-ex-body" id="ex-d-body">{{ bodyText(d) }}</pre>
                @for (p of d.problems; track $index) { <div class="sp-ex-problem">⚠ {{ p }}</div> }
              } @else { <p class="sp-muted">{{ 'exchange.pick' | t }}</p> }
            </div>
          </div>
        }
        @case ('deliver') {
          <fieldset><legend>{{ 'exchange.deliver.how' | t }}</legend>
            <label><input type="radio" name="ex-how" id="ex-how-imap" [checked]="how() === 'imap'" (change)="setHow('imap')" /> {{ 'exchange.deliver.imap' | t }}</label>
            <label><input type="radio" name="ex-how" id="ex-how-smtp" [checked]="how() === 'smtp'" (change)="setHow('smtp')" /> {{ 'exchange.deliver.smtp' | t }}</label>
          </fieldset>
          <p class="sp-muted">{{ (how() === 'imap' ? 'exchange.deliver.imapIntro' : 'exchange.deliver.smtpIntro') | t: { n: selected().size } }}</p>
          <div class="clr-form-control"><label for="ex-host">{{ 'exchange.opt.host' | t }}</label><input id="ex-host" class="clr-input" [value]="host()" (input)="host.set($any($event.target).value)" placeholder="mail.corp.example" /></div>
          <div class="clr-form-control"><label for="ex-port">{{ 'exchange.opt.port' | t }}</label><input id="ex-port" type="number" min="1" max="65535" class="clr-input" [value]="port()" (input)="port.set(+$any($event.target).value)" /></div>
          <label><input type="checkbox" id="ex-secure" [checked]="secure()" (change)="setSecure($any($event.target).checked)" /> {{ 'exchange.opt.secure' | t }}</label>
          <div class="clr-form-control"><label for="ex-user">{{ (how() === 'imap' ? 'exchange.opt.user' : 'exchange.opt.userOptional') | t }}</label><input id="ex-user" class="clr-input" autocomplete="username" [value]="user()" (input)="user.set($any($event.target).value)" /></div>
          <div class="clr-form-control"><label for="ex-pw">{{ 'exchange.opt.password' | t }}</label><input id="ex-pw" type="password" class="clr-input" autocomplete="current-password" [value]="password()" (input)="password.set($any($event.target).value)" /></div>
          @if (how() === 'imap') {
            <div class="clr-form-control"><label for="ex-folder">{{ 'exchange.opt.folder' | t }}</label><input id="ex-folder" class="clr-input" [value]="targetFolder()" (input)="targetFolder.set($any($event.target).value)" /></div>
          } @else {
            <div class="clr-form-control"><label for="ex-envelope-from">{{ 'exchange.opt.envelopeFrom' | t }}</label><input id="ex-envelope-from" class="clr-input" [value]="envelopeFrom()" (input)="envelopeFrom.set($any($event.target).value)" placeholder="restore@corp.example" /></div>
            <div class="clr-form-control"><label for="ex-to">{{ 'exchange.opt.to' | t }}</label><input id="ex-to" class="clr-input" [value]="to()" (input)="to.set($any($event.target).value)" placeholder="alice@corp.example" /></div>
          }
          <div class="clr-form-control"><label for="ex-ca">{{ 'exchange.opt.ca' | t }}</label><textarea id="ex-ca" class="clr-textarea" rows="3" [value]="caPem()" (input)="caPem.set($any($event.target).value)" placeholder="-----BEGIN CERTIFICATE-----"></textarea></div>
          <p class="sp-muted">{{ 'exchange.opt.passwordNote' | t }}</p>
        }
      }
    </div>
    <div class="sp-modal-footer">
      @if (step() === 'items') { <span class="sp-grow sp-muted" role="status" id="ex-selected">{{ 'exchange.selected' | t: { n: selected().size } }}</span> }
      <button type="button" class="btn btn-outline" (click)="close()">{{ 'common.cancel' | t }}</button>
      @if (step() !== 'point') { <button type="button" class="btn btn-outline" (click)="back()">{{ 'common.back' | t }}</button> }
      @if (step() === 'deliver') {
        <button type="button" class="btn btn-primary" id="ex-start" [disabled]="starting() || !canStart()" (click)="start()">{{ (how() === 'imap' ? 'exchange.startImap' : 'exchange.startSmtp') | t: { n: selected().size } }}</button>
      } @else {
        <button type="button" class="btn btn-primary" id="ex-next" [disabled]="!canNext()" (click)="next()">{{ 'common.next' | t }}</button>
      }
    </div>
    }`,
  styles: [`
    /* Inside vCenter the iframe is the modal: the content scrolls, the button row stays at the bottom. */
    :host-context(html[data-mode='plugin']) { display: flex; flex-direction: column; height: 100vh; }
    .sp-steps { list-style: none; margin: 0 0 0.5rem; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; font-size: 0.65rem; }
    .sp-steps li { opacity: 0.7; }
    .sp-steps li.sp-step-active { opacity: 1; font-weight: 600; border-bottom: 2px solid var(--cds-alias-status-info, #0072a3); }
    .sp-ex-facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; margin: 0.5rem 0; }
    .sp-ex-facts dt { font-weight: 600; }
    .sp-ex-facts dd { margin: 0; word-break: break-all; }
    .sp-ex-bar { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin-bottom: 0.4rem; }
    .sp-ex-search { display: flex; gap: 0.5rem; align-items: flex-end; flex-wrap: wrap; margin-bottom: 0.5rem; }
    .sp-ex-search > div { display: flex; flex-direction: column; }
    .sp-ex-search input { width: 9rem; }
    .sp-ex-panes { display: grid; grid-template-columns: minmax(10rem, 0.7fr) minmax(16rem, 1.6fr) minmax(14rem, 1.2fr); gap: 0.75rem; max-height: 26rem; }
    .sp-ex-tree, .sp-ex-list, .sp-ex-details { overflow: auto; min-height: 0; }
    .sp-ex-messages { margin-top: 0; }
    .sp-ex-subject { margin: 0; padding: 0; text-transform: none; text-align: left; white-space: normal; }
    .sp-ex-unread .sp-ex-subject { font-weight: 600; }
    .sp-ex-current { background: var(--cds-alias-object-interaction-background-selected, rgba(0, 114, 163, 0.12)); }
    .sp-ex-folder.active { font-weight: 600; }
    .sp-ex-body { white-space: pre-wrap; word-break: break-word; max-height: 12rem; overflow: auto; font-size: 0.6rem; }
    .sp-ex-mono { font-family: monospace; word-break: break-all; }
    .sp-ex-attachments { list-style: none; margin: 0; padding: 0; }
    .sp-ex-clip-icon { width: 0.8rem; height: 0.8rem; vertical-align: middle; }
    .sp-ex-problem { color: var(--cds-alias-status-danger, #c21d00); }
    fieldset { margin: 0.5rem 0; }
    fieldset label { margin-right: 1rem; }
  `],
})
export class ExchangeRestoreModal {
  readonly sdk = inject(SdkService);
  private readonly api = inject(Api);
  private readonly exchange = inject(ExchangeApi);
  private readonly actions = inject(Actions);
  private readonly route = inject(ActivatedRoute);
  readonly tracker = inject(RunTracker);
  readonly steps = STEPS;
  readonly vmId = contextVmIds(this.route, this.sdk)[0] ?? '';
  readonly step = signal<Step>('point');
  readonly error = signal<string | null>(null);
  readonly loadingPoints = signal(true);
  readonly points = signal<RestorePoint[]>([]);
  readonly rpId = signal<string>(this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp'] ?? '');
  readonly loadingInfo = signal(false);
  readonly info = signal<ExchangeDatabaseInfo | null>(null);
  private infoFor = '';
  readonly mailbox = signal<number | null>(null);
  readonly folders = signal<ExchangeFolderDto[]>([]);
  readonly folder = signal<ExchangeFolderDto | null>(null);
  readonly databaseState = signal<ExchangeDatabaseStateDto | null>(null);
  readonly messages = signal<ExchangeMessageSummaryDto[]>([]);
  readonly loadingMessages = signal(false);
  readonly searching = signal(false);
  readonly q = { from: signal(''), subject: signal(''), after: signal(''), before: signal(''), attachment: signal('') };
  readonly details = signal<ExchangeMessageDto | null>(null);
  readonly selected = signal(new Map<number, ExchangeMessageSummaryDto>());
  readonly busy = signal(false);
  readonly how = signal<Delivery>('imap');
  readonly host = signal('');
  readonly port = signal(993);
  readonly secure = signal(true);
  readonly user = signal('');
  readonly password = signal('');
  readonly targetFolder = signal('Restored items');
  readonly envelopeFrom = signal('');
  readonly to = signal('');
  readonly caPem = signal('');
  readonly starting = signal(false);
  readonly done = signal(false);
  readonly report = signal<ExchangeDeliveryReport | null>(null);

  /** Folders by parent id (the tree's children); roots are the folders whose parent is not listed. */
  private readonly childMap = computed(() => {
    const m = new Map<string, ExchangeFolderDto[]>();
    for (const f of this.folders()) if (f.parentId) m.set(f.parentId, [...(m.get(f.parentId) ?? []), f]);
    return m;
  });
  readonly folderRoots = computed(() => { const ids = new Set(this.folders().map((f) => f.id)); return this.folders().filter((f) => !f.parentId || !ids.has(f.parentId)); });
  readonly childrenOf = (f: ExchangeFolderDto): ExchangeFolderDto[] => this.childMap().get(f.id) ?? [];
  readonly allPicked = computed(() => this.messages().length > 0 && this.messages().every((m) => this.selected().has(m.documentId)));
  readonly canNext = computed(() => {
    switch (this.step()) {
      case 'point': return !!this.rpId() && this.points().some((p) => p.id === this.rpId());
      case 'database': return !!this.info() && !this.loadingInfo();
      default: return this.selected().size > 0;
    }
  });
  readonly canStart = computed(() => {
    if (!this.host().trim() || !(this.port() >= 1 && this.port() <= 65535)) return false;
    if (this.how() === 'imap') return !!this.user().trim() && !!this.password() && !!this.targetFolder().trim();
    return /@/.test(this.envelopeFrom()) && this.recipients().length > 0;
  });
  private readonly recipients = computed(() => this.to().split(/[,;\s]+/).map((s) => s.trim()).filter(Boolean));

  constructor() { void this.loadPoints(); }

  private async loadPoints(): Promise<void> {
    try {
      const all = await this.api.restorePoints(this.vmId);
      const points = all.filter((p) => p.applicationItems?.includes('exchange')).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      this.points.set(points);
      if (!points.some((p) => p.id === this.rpId())) this.rpId.set(points[0]?.id ?? '');
      // Opened from a restore point's row: that point is chosen, go straight to its database.
      else if (this.route.snapshot.queryParamMap.get('rp') ?? this.actions.customData()['rp']) await this.next();
    } catch (e) { this.error.set(errorText(e)); } finally { this.loadingPoints.set(false); }
  }

  pickPoint(id: string): void { this.rpId.set(id); }
  hex(n: number): string { return '0x' + n.toString(16).toUpperCase(); }
  logNames(db: ExchangeDatabaseInfo): string { return db.logs.map((l) => l.name).join(', '); }
  addr(a: { name: string; address: string }): string { return a.name && a.name !== a.address ? `${a.name} <${a.address}>` : a.address; }
  addrs(l: { name: string; address: string }[]): string { return l.map((a) => this.addr(a)).join(', '); }
  bodyText(d: ExchangeMessageDto): string { return d.text?.trim() || (d.html ? htmlText(d.html) : ''); }

  private async openDatabase(): Promise<void> {
    if (this.infoFor === this.rpId() && this.info()) return;
    this.loadingInfo.set(true); this.info.set(null);
    this.folders.set([]); this.messages.set([]); this.details.set(null); this.selected.set(new Map()); this.folder.set(null); this.mailbox.set(null);
    try {
      const info = await this.exchange.info(this.rpId());
      this.info.set(info); this.infoFor = this.rpId(); this.databaseState.set(info.database);
    } catch (e) { this.error.set(errorText(e)); } finally { this.loadingInfo.set(false); }
  }

  async pickMailbox(n: number): Promise<void> {
    this.error.set(null);
    this.mailbox.set(n); this.folders.set([]); this.folder.set(null); this.messages.set([]); this.details.set(null); this.selected.set(new Map()); this.searching.set(false);
    try {
      const f = await this.exchange.folders(this.rpId(), n);
      this.folders.set(f.items); this.databaseState.set(f.database);
      const first = f.items.find((x) => /^inbox$/i.test(x.path.split('/').pop() ?? '') && x.messageCount) ?? f.items.find((x) => x.messageCount) ?? f.items[0];
      if (first) await this.openFolder(first);
    } catch (e) { this.error.set(errorText(e)); }
  }

  async openFolder(f: ExchangeFolderDto): Promise<void> {
    this.folder.set(f); this.searching.set(false);
    await this.list({ folderId: f.id });
  }

  async search(): Promise<void> {
    const q: ExchangeQuery = { from: this.q.from(), subject: this.q.subject(), attachment: this.q.attachment() };
    // A date range is whole days in the browser's time zone: "before" includes the day given.
    if (this.q.after()) q.after = new Date(`${this.q.after()}T00:00:00`).toISOString();
    if (this.q.before()) { const d = new Date(`${this.q.before()}T00:00:00`); d.setDate(d.getDate() + 1); q.before = d.toISOString(); }
    this.searching.set(true);
    await this.list(q);
  }

  async clearSearch(): Promise<void> {
    for (const s of Object.values(this.q)) s.set('');
    const f = this.folder();
    if (f) await this.openFolder(f); else { this.searching.set(false); this.messages.set([]); }
  }

  /** Lists messages; only the latest request's answer is shown (a folder click and a search may overlap). */
  private async list(q: ExchangeQuery): Promise<void> {
    const mb = this.mailbox();
    if (mb === null) return;
    const seq = ++this.listSeq;
    this.error.set(null); this.loadingMessages.set(true); this.messages.set([]);
    try {
      const r = await this.exchange.messages(this.rpId(), mb, q);
      if (seq !== this.listSeq) return;
      this.messages.set(r.items); this.databaseState.set(r.database);
    } catch (e) { if (seq === this.listSeq) this.error.set(errorText(e)); } finally { if (seq === this.listSeq) this.loadingMessages.set(false); }
  }
  private listSeq = 0;

  async show(m: ExchangeMessageSummaryDto): Promise<void> {
    this.error.set(null);
    try { this.details.set((await this.exchange.message(this.rpId(), m.mailbox, m.documentId)).items); } catch (e) { this.error.set(errorText(e)); }
  }

  pick(m: ExchangeMessageSummaryDto, on: boolean): void {
    const s = new Map(this.selected());
    if (on) s.set(m.documentId, m); else s.delete(m.documentId);
    this.selected.set(s);
  }
  pickAll(on: boolean): void {
    const s = new Map(this.selected());
    for (const m of this.messages()) { if (on) s.set(m.documentId, m); else s.delete(m.documentId); }
    this.selected.set(s);
  }

  async download(d: ExchangeMessageDto, format: 'eml' | 'msg'): Promise<void> {
    await this.fetchFile(() => this.exchange.exportMessage(this.rpId(), d.mailbox, d.documentId, format));
  }
  async downloadFolder(): Promise<void> {
    const f = this.folder(), mb = this.mailbox();
    if (f && mb !== null) await this.fetchFile(() => this.exchange.exportFolder(this.rpId(), mb, f.id));
  }
  private async fetchFile(get: () => Promise<DownloadedFile>): Promise<void> {
    this.busy.set(true); this.error.set(null);
    try { save(await get()); } catch (e) { this.error.set(errorText(e)); } finally { this.busy.set(false); }
  }

  setHow(h: Delivery): void {
    this.how.set(h);
    this.port.set(h === 'imap' ? (this.secure() ? 993 : 143) : (this.secure() ? 465 : 587));
  }
  setSecure(on: boolean): void {
    this.secure.set(on);
    const defaults = this.how() === 'imap' ? [993, 143] : [465, 587];
    if (defaults.includes(this.port())) this.port.set(on ? defaults[0]! : defaults[1]!);
  }

  async next(): Promise<void> {
    this.error.set(null);
    const s = this.step();
    if (s === 'point') { this.step.set('database'); await this.openDatabase(); return; }
    if (s === 'database') {
      this.step.set('items');
      const first = this.info()?.mailboxes[0];
      if (this.mailbox() === null && first) await this.pickMailbox(first.number);
      return;
    }
    if (s === 'items') this.step.set('deliver');
  }

  back(): void {
    this.error.set(null);
    this.step.set(STEPS[Math.max(0, STEPS.indexOf(this.step()) - 1)]!);
  }

  async start(): Promise<void> {
    const mb = this.mailbox();
    if (mb === null) return;
    this.starting.set(true); this.error.set(null);
    const messages = [...this.selected().keys()];
    const tls = this.caPem().trim() ? { caPem: this.caPem() } : {};
    try {
      const run = this.how() === 'imap'
        ? await this.exchange.restore(this.rpId(), { mailbox: mb, messages, imap: { host: this.host().trim(), port: this.port(), secure: this.secure(), user: this.user().trim(), password: this.password(), folder: this.targetFolder().trim(), ...tls } })
        : await this.exchange.send(this.rpId(), { mailbox: mb, messages, smtp: {
          host: this.host().trim(), port: this.port(), secure: this.secure(), envelopeFrom: this.envelopeFrom().trim(), to: this.recipients(),
          ...(this.user().trim() ? { user: this.user().trim(), password: this.password() } : {}), ...tls } });
      this.password.set('');
      this.tracker.track(run, (r) => { this.done.set(true); void this.exchange.report(r.id).then((rep) => this.report.set(rep), () => undefined); });
      setTimeout(() => document.getElementById('ex-progress')?.focus());
    } catch (e) { this.error.set(errorText(e)); } finally { this.starting.set(false); }
  }

  close(run?: JobRun): void { this.actions.close(run ? { runId: run.id, status: run.status } : undefined, '/vm/monitor?vm=' + this.vmId); }
}
