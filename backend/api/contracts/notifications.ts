// Notifications (issue 14): e-mail reports per run and a daily summary over SMTP, and a webhook (JSON
// POST) for chat tools. Managing them needs Global.Settings on vCenter's root folder (model/privileges.ts
// administer).
//
// Routes (under /api):
//   GET  /api/notifications/settings            -> NotificationSettingsDto
//   PUT  /api/notifications/settings  NotificationSettingsInput -> NotificationSettingsDto
//   POST /api/notifications/test      NotificationTestRequest   -> NotificationTestResult
//   POST /api/notifications/summary                             -> { subject } (sends the daily summary now)
//
// The SMTP password is write-only: the settings say whether one is stored (smtp.passwordSet).

export interface SmtpSettingsDto {
  host: string;
  port: number;
  /** tls: TLS from the first byte (port 465); starttls: plain, then upgraded, required (587); none: never encrypted. */
  security: 'tls' | 'starttls' | 'none';
  username?: string;
  /** Sender, e.g. "Stillpoint <backup@example.com>". */
  from: string;
  passwordSet: boolean;
}

export interface NotificationSettingsDto {
  smtp: SmtpSettingsDto | null;
  /** Get every report and the daily summary; jobs add their own recipients (Job.notify). */
  recipients: string[];
  /** Which runs of jobs get a report. */
  jobReports: 'always' | 'problems' | 'off';
  /** Back up now, restores, maintenance: a report when they fail or end with warnings. */
  otherRunProblems: boolean;
  dailySummary: { enabled: boolean; hour: number };
  webhook: { url: string; enabled: boolean } | null;
}

export interface NotificationSettingsInput {
  /** null removes the SMTP server (and its password). */
  smtp?: (Omit<SmtpSettingsDto, 'passwordSet'> & { /** omitted: keep the stored one; '': remove it */ password?: string }) | null;
  recipients?: string[];
  jobReports?: 'always' | 'problems' | 'off';
  otherRunProblems?: boolean;
  dailySummary?: { enabled: boolean; hour: number };
  webhook?: { url: string; enabled: boolean } | null;
}

export interface NotificationTestRequest {
  /** Send the test e-mail here instead of to the global recipients. */
  to?: string[];
}

export interface NotificationTestResult {
  email?: { ok: boolean; message: string };
  webhook?: { ok: boolean; message: string };
}
