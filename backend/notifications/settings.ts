// Who is told what, and how: the SMTP server and recipients of run reports and the daily summary, and
// the chat webhook. Kept in <dataDir>/notifications.json; the SMTP password is sealed with the
// installation's SecretBox and never leaves this module in the clear except to the mail transport.
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../common/durable.ts';
import type { SecretBox } from '../common/secrets.ts';
import { InvalidRequest } from '../common/errors.ts';

export type SmtpSecurity = 'tls' | 'starttls' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  /** tls: TLS from the first byte (465); starttls: upgrade required (587); none: plain (a relay on the local network). */
  security: SmtpSecurity;
  username?: string;
  /** The sender, e.g. "Stillpoint <backup@example.com>". */
  from: string;
}

/** Which runs of a job get a report: every run, only runs with warnings or failures, or none. */
export type JobReports = 'always' | 'problems' | 'off';

export interface NotificationSettings {
  smtp?: SmtpSettings;
  /** Get every report and the daily summary. */
  recipients: string[];
  jobReports: JobReports;
  /** Runs that are not a job's (back up now, restores, maintenance): a report when they fail or warn. */
  otherRunProblems: boolean;
  /** The daily summary, sent once a day at this hour (the service's local time). */
  dailySummary: { enabled: boolean; hour: number };
  /** A JSON POST per report and summary, for chat tools (Slack, Teams, Mattermost, Rocket.Chat incoming webhooks). */
  webhook?: { url: string; enabled: boolean };
}

/** A change: smtpPassword undefined keeps the stored one, '' removes it. */
export type SettingsChange = Partial<Omit<NotificationSettings, 'smtp'>> & { smtp?: SmtpSettings | null; smtpPassword?: string };

interface Stored extends NotificationSettings { smtpPasswordSealed?: string; lastSummaryDate?: string }

export const DEFAULT_SETTINGS: NotificationSettings = Object.freeze({
  recipients: [], jobReports: 'always', otherRunProblems: true, dailySummary: { enabled: true, hour: 7 },
}) as NotificationSettings;

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/;

export function checkAddresses(list: string[], what: string): void {
  const bad = list.filter((a) => !EMAIL.test(a));
  if (bad.length) throw new InvalidRequest(`${what}: '${bad[0]}' is not an e-mail address (name@example.com).`);
}

export class NotificationStore {
  readonly #file: string;
  readonly #box: SecretBox;
  #s: Stored;

  constructor(dataDir: string, box: SecretBox) {
    this.#file = join(dataDir, 'notifications.json');
    this.#box = box;
    this.#s = { ...structuredClone(DEFAULT_SETTINGS), ...(readJson<Stored>(this.#file) ?? {}) };
  }

  settings(): NotificationSettings {
    const { smtpPasswordSealed: _p, lastSummaryDate: _d, ...s } = this.#s;
    return structuredClone(s);
  }

  hasSmtpPassword(): boolean { return !!this.#s.smtpPasswordSealed; }

  /** The clear SMTP password, for the mail transport only. */
  smtpPassword(): string | undefined { return this.#s.smtpPasswordSealed ? this.#box.open(this.#s.smtpPasswordSealed) : undefined; }

  update(c: SettingsChange): NotificationSettings {
    if (c.recipients) checkAddresses(c.recipients, 'Recipients');
    if (c.smtp) {
      if (!c.smtp.host.trim()) throw new InvalidRequest('Give the SMTP server\'s host name.');
      if (!EMAIL.test(c.smtp.from.replace(/^.*<([^>]+)>\s*$/, '$1'))) throw new InvalidRequest(`Sender '${c.smtp.from}' is not an e-mail address: give e.g. "Stillpoint <backup@example.com>".`);
    }
    if (c.webhook?.url) {
      let u: URL;
      try { u = new URL(c.webhook.url); } catch { throw new InvalidRequest(`Webhook '${c.webhook.url}' is not a URL: give the chat tool's incoming-webhook address (https://…).`); }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new InvalidRequest(`Webhook '${c.webhook.url}' must be an http(s) address.`);
    }
    const { smtpPassword, smtp, ...rest } = c;
    const next: Stored = { ...this.#s, ...structuredClone(rest) };
    if (smtp === null) { delete next.smtp; delete next.smtpPasswordSealed; } else if (smtp) next.smtp = structuredClone(smtp);
    if (smtpPassword === '') delete next.smtpPasswordSealed;
    else if (smtpPassword !== undefined) next.smtpPasswordSealed = this.#box.seal(smtpPassword);
    if (next.webhook && !next.webhook.url) delete next.webhook;
    this.#s = next;
    this.#save();
    return this.settings();
  }

  lastSummaryDate(): string | undefined { return this.#s.lastSummaryDate; }
  markSummarySent(date: string): void { this.#s.lastSummaryDate = date; this.#save(); }

  #save(): void { writeFileDurable(this.#file, JSON.stringify(this.#s, null, 1)); }
}
