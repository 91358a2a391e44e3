// Tells people when runs finish: one report per finished run (to the global recipients and the job's
// own), the daily summary at the configured hour, and the same as JSON to the chat webhook. Delivery
// problems are logged and never touch the run; nothing here logs a password or a whole message.
import { childLog } from '../common/log.ts';
import type { Job, Run } from '../model/job.ts';
import { renderRunReport, runLink, subjectOf, remedy } from './run-report.ts';
import type { NotificationStore } from './settings.ts';
import { renderSummary, type SummaryFigures } from './summary.ts';
import { DeliveryError, postWebhook, sendMail } from './transport.ts';

const log = childLog('notifications');

export interface NotifierDeps {
  store: NotificationStore;
  job(id: string): Job | undefined;
  /** The dashboard's figures over every VM (service account), for the daily summary. */
  figures(): Promise<SummaryFigures>;
  /** Finished runs of the last 24 hours that did not succeed. */
  problemRuns(since: Date): Run[];
  /** The service's address as users reach it, for links; none: reports carry no links. */
  serviceUrl?(): string | undefined;
}

export interface TestResult { email?: { ok: boolean; message: string }; webhook?: { ok: boolean; message: string } }

/** Whether a finished run gets a report under the settings. */
export function wantsReport(run: Run, s: ReturnType<NotificationStore['settings']>): boolean {
  const problem = run.status === 'failed' || run.status === 'warning' || run.status === 'cancelled';
  if (run.jobId) return s.jobReports === 'always' || (s.jobReports === 'problems' && problem);
  return s.otherRunProblems && (run.status === 'failed' || run.status === 'warning');
}

export class Notifier {
  readonly #d: NotifierDeps;
  #timer: NodeJS.Timeout | undefined;
  #pending = new Set<Promise<unknown>>();

  constructor(deps: NotifierDeps) { this.#d = deps; }

  /** Checks once a minute whether the daily summary is due. */
  start(): void {
    this.#timer = setInterval(() => void this.#summaryIfDue(), 60_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#pending]);
  }

  /** The runner's run-finished hook: sends the run's report in the background. */
  runFinished(run: Run): void {
    const s = this.#d.store.settings();
    if (!wantsReport(run, s)) return;
    this.#track(this.sendRunReport(run).catch((e) => log.warn({ run: run.id, err: (e as Error).message }, 'run report not delivered')));
  }

  /** Recipients of a run's report: the global ones and the job's own. */
  recipients(run: Run): string[] {
    const job = run.jobId ? this.#d.job(run.jobId) : undefined;
    return [...new Set([...this.#d.store.settings().recipients, ...(job?.notify?.recipients ?? [])])];
  }

  async sendRunReport(run: Run): Promise<void> {
    const s = this.#d.store.settings();
    const to = this.recipients(run);
    const serviceUrl = this.#d.serviceUrl?.();
    const jobs: Promise<unknown>[] = [];
    if (s.smtp && to.length) {
      jobs.push(sendMail(s.smtp, this.#d.store.smtpPassword(), to, renderRunReport(run, serviceUrl ? { serviceUrl } : {}))
        .then((r) => log.info({ run: run.id, recipients: to.length, messageId: r.messageId }, 'run report sent')));
    }
    if (s.webhook?.enabled) jobs.push(postWebhook(s.webhook.url, runPayload(run, serviceUrl)).then(() => log.info({ run: run.id }, 'run report posted to the webhook')));
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Sends the daily summary now (to the global recipients and the webhook). */
  async sendSummary(now = new Date()): Promise<{ subject: string }> {
    const s = this.#d.store.settings();
    const figures = await this.#d.figures();
    const problems = this.#d.problemRuns(new Date(now.getTime() - 24 * 3600_000));
    const date = localDate(now);
    const serviceUrl = this.#d.serviceUrl?.();
    const m = renderSummary(figures, problems, { date, ...(serviceUrl ? { serviceUrl } : {}) });
    const jobs: Promise<unknown>[] = [];
    if (s.smtp && s.recipients.length) jobs.push(sendMail(s.smtp, this.#d.store.smtpPassword(), s.recipients, m));
    if (s.webhook?.enabled) jobs.push(postWebhook(s.webhook.url, { event: 'summary', text: m.subject, date, ...figures, problemRuns: problems.map((r) => r.id) }));
    if (!jobs.length) throw new DeliveryError('Nothing to send the summary with: set up e-mail (SMTP server and recipients) or the webhook first.');
    const results = await Promise.allSettled(jobs);
    this.#d.store.markSummarySent(date);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    log.info({ date }, 'daily summary sent');
    return { subject: m.subject };
  }

  /** "Send test message": one e-mail (to `to` or the global recipients) and one webhook post, each reported apart. */
  async test(to?: string[]): Promise<TestResult> {
    const s = this.#d.store.settings();
    const out: TestResult = {};
    const recipients = to?.length ? to : s.recipients;
    const m = {
      subject: '[Stillpoint] Test message',
      text: 'This is a test message from Stillpoint: run reports and the daily summary will arrive like this.',
      html: '<p>This is a test message from <strong>Stillpoint</strong>: run reports and the daily summary will arrive like this.</p>',
    };
    if (s.smtp) {
      if (!recipients.length) out.email = { ok: false, message: 'Add at least one recipient.' };
      else {
        try { await sendMail(s.smtp, this.#d.store.smtpPassword(), recipients, m); out.email = { ok: true, message: `Sent to ${recipients.join(', ')}.` }; }
        catch (e) { out.email = { ok: false, message: (e as Error).message }; }
      }
    }
    if (s.webhook?.url) {
      try { await postWebhook(s.webhook.url, { event: 'test', text: m.text }); out.webhook = { ok: true, message: `Posted to ${new URL(s.webhook.url).origin}.` }; }
      catch (e) { out.webhook = { ok: false, message: (e as Error).message }; }
    }
    return out;
  }

  async #summaryIfDue(now = new Date()): Promise<void> {
    const s = this.#d.store.settings();
    if (!s.dailySummary.enabled || now.getHours() < s.dailySummary.hour) return;
    if (this.#d.store.lastSummaryDate() === localDate(now)) return;
    if (!(s.smtp && s.recipients.length) && !s.webhook?.enabled) return;
    await this.#track(this.sendSummary(now).catch((e) => log.warn({ err: (e as Error).message }, 'daily summary not delivered')));
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
    return p;
  }
}

function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The webhook's JSON for a run: `text` for chat tools, the run's facts for anything else. */
export function runPayload(run: Run, serviceUrl?: string): Record<string, unknown> {
  const link = runLink(run, serviceUrl);
  return {
    event: 'run.finished',
    text: subjectOf(run) + (link ? ` ${link}` : ''),
    run: {
      id: run.id, kind: run.kind, status: run.status, ...(run.jobName ? { job: run.jobName } : {}), startedAt: run.startedAt,
      ...(run.endedAt ? { endedAt: run.endedAt } : {}), ...(run.message ? { message: run.message } : {}), ...(link ? { url: link } : {}),
      vms: run.vms.map((v) => ({
        name: v.vmName, status: v.status, durationMs: v.durationMs, bytesRead: v.bytesRead, bytesStored: v.bytesStored,
        ...(v.message && v.status !== 'success' ? { error: v.message } : {}), ...(remedy(v, run) ? { remedy: remedy(v, run) } : {}),
        ...(v.warnings.length ? { warnings: v.warnings } : {}),
      })),
    },
  };
}
