// Notification settings, "send test message" and "send the daily summary now" (contracts/notifications.ts).
// Only vCenter administrators (Global.Settings on the root folder) may read or change them.
import type { NotificationSettingsDto, NotificationSettingsInput, NotificationTestRequest, NotificationTestResult } from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import type { Schema } from '../schema.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { requirePrivileges, siteSession } from './operations.ts';
import { checkAddresses, type NotificationStore, type SettingsChange } from '../../notifications/settings.ts';
import type { Notifier } from '../../notifications/notifier.ts';
import { InvalidRequest, Unavailable } from '../../common/errors.ts';
import { DeliveryError } from '../../notifications/transport.ts';

export interface NotificationDeps { store: NotificationStore; notifier: Notifier }

const EMAILS: Schema = { type: 'array', items: { type: 'string', minLength: 3, maxLength: 254 }, maxItems: 100, uniqueItems: true };
const SMTP: Schema = {
  type: 'object', additionalProperties: false, required: ['host', 'port', 'security', 'from'], properties: {
    host: { type: 'string', minLength: 1, maxLength: 253 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    security: { type: 'string', enum: ['tls', 'starttls', 'none'] },
    username: { type: 'string', maxLength: 254 },
    password: { type: 'string', maxLength: 1024, description: 'omitted: keep the stored password; empty: remove it' },
    from: { type: 'string', minLength: 3, maxLength: 320 },
  },
};
const SettingsSchema: Schema = {
  type: 'object', additionalProperties: false, properties: {
    smtp: { oneOf: [SMTP, { type: 'null' }] },
    recipients: EMAILS,
    jobReports: { type: 'string', enum: ['always', 'problems', 'off'] },
    otherRunProblems: { type: 'boolean' },
    dailySummary: {
      type: 'object', additionalProperties: false, required: ['enabled', 'hour'],
      properties: { enabled: { type: 'boolean' }, hour: { type: 'integer', minimum: 0, maximum: 23 } },
    },
    webhook: {
      oneOf: [{
        type: 'object', additionalProperties: false, required: ['url', 'enabled'],
        properties: { url: { type: 'string', minLength: 8, maxLength: 2048 }, enabled: { type: 'boolean' } },
      }, { type: 'null' }],
    },
  },
};
const TestSchema: Schema = { type: 'object', additionalProperties: false, properties: { to: EMAILS } };

async function requireAdmin(user: UserContext, what: string): Promise<void> {
  const { vs } = siteSession(user, '');
  await requirePrivileges(vs, what, [{ entity: vs.client.serviceContent.rootFolder, label: 'the root folder', rules: PRIVILEGES.administer, on: 'root' }]);
}

export function settingsDto(store: NotificationStore): NotificationSettingsDto {
  const s = store.settings();
  return {
    smtp: s.smtp ? { ...s.smtp, passwordSet: store.hasSmtpPassword() } : null,
    recipients: s.recipients, jobReports: s.jobReports, otherRunProblems: s.otherRunProblems, dailySummary: s.dailySummary,
    webhook: s.webhook ?? null,
  };
}

export function notificationRoutes(d: NotificationDeps): RouteDef[] {
  return [
    {
      method: 'get', path: '/notifications/settings', tag: 'notifications', summary: 'Notification settings (SMTP, recipients, daily summary, webhook)',
      handler: async ({ user }) => { await requireAdmin(user, 'Reading the notification settings'); return settingsDto(d.store); },
    },
    {
      method: 'put', path: '/notifications/settings', tag: 'notifications', body: SettingsSchema,
      summary: 'Change the notification settings (the SMTP password is write-only)',
      handler: async ({ user, body }) => {
        await requireAdmin(user, 'Changing the notification settings');
        const b = body as NotificationSettingsInput;
        const change: SettingsChange = {
          ...(b.recipients ? { recipients: b.recipients } : {}), ...(b.jobReports ? { jobReports: b.jobReports } : {}),
          ...(b.otherRunProblems !== undefined ? { otherRunProblems: b.otherRunProblems } : {}),
          ...(b.dailySummary ? { dailySummary: b.dailySummary } : {}),
        };
        if (b.webhook !== undefined) change.webhook = b.webhook ?? { url: '', enabled: false };
        if (b.smtp === null) change.smtp = null;
        else if (b.smtp) {
          const { password, ...smtp } = b.smtp;
          change.smtp = { ...smtp, ...(smtp.username ? { username: smtp.username } : {}) };
          if (!smtp.username) delete change.smtp.username;
          if (password !== undefined) change.smtpPassword = password;
        }
        d.store.update(change);
        return settingsDto(d.store);
      },
    },
    {
      method: 'post', path: '/notifications/test', tag: 'notifications', body: TestSchema,
      summary: 'Send a test e-mail and a test webhook post with the saved settings',
      handler: async ({ user, body }): Promise<NotificationTestResult> => {
        await requireAdmin(user, 'Sending a test message');
        const to = (body as NotificationTestRequest).to;
        if (to?.length) checkAddresses(to, 'Test recipients');
        const s = d.store.settings();
        if (!s.smtp && !s.webhook?.url) throw new InvalidRequest('Nothing to test: save an SMTP server or a webhook first.');
        return d.notifier.test(to);
      },
    },
    {
      method: 'post', path: '/notifications/summary', tag: 'notifications',
      summary: 'Send the daily summary now (to the global recipients and the webhook)',
      handler: async ({ user }) => {
        await requireAdmin(user, 'Sending the daily summary');
        const s = d.store.settings();
        // Nothing set up is the caller's to fix (400), not a delivery that failed (503).
        if (!(s.smtp && s.recipients.length) && !s.webhook?.enabled) {
          throw new InvalidRequest('Nothing to send the summary with: set up e-mail (SMTP server and recipients) or the webhook first.');
        }
        try { return await d.notifier.sendSummary(); } catch (e) {
          if (e instanceof DeliveryError) throw new Unavailable('delivery_failed', e.message, e);
          throw e;
        }
      },
    },
  ];
}
