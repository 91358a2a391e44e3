// Browser test of the Notifications page against a real SMTP receiver and webhook server: an admin
// fills in the SMTP server, recipients and webhook, saves, and "Send test message" reports success
// for both while the message and the JSON post arrive. Also rendered dark in de-DE.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from './receivers.ts';
import type { NotificationSettingsDto } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
let svc: TestService;
let smtp: SmtpReceiver;
let hook: WebhookReceiver;
let browser: Browser;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  [svc, smtp, hook] = await Promise.all([startTestService({ config: { devHost: true }, register: false }), startSmtpReceiver(), startWebhookReceiver()]);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); await smtp?.stop(); await hook?.stop(); });

async function open(opts: { dark?: boolean; locale?: string } = {}): Promise<Page> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1300, height: 1000 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await ctx.newPage();
  await page.goto(`${svc.service.url}/ui/#/notifications${opts.locale ? `?locale=${opts.locale}` : ''}`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  await page.locator('[data-test="notification-form"]').waitFor({ timeout: 20_000 });
  return page;
}

test('set up e-mail and webhook in the page, save, and Send test message reaches both', async () => {
  const page = await open();
  try {
    await page.locator('label[for="n-smtp-on"]').click();
    await page.locator('#n-host').fill('127.0.0.1');
    await page.locator('#n-port').fill(String(smtp.port));
    await page.locator('#n-security').selectOption('none');
    await page.locator('#n-user').fill('stillpoint');
    await page.locator('#n-password').fill('Page-Secret-7');
    await page.locator('#n-from').fill('Stillpoint <backup@lab.local>');
    await page.locator('#n-recipients').fill('ops@lab.local\nboss@lab.local');
    await page.locator('label[for="n-hook-on"]').click();
    await page.locator('#n-hook').fill(hook.url);
    await page.getByRole('button', { name: 'Send test message' }).click();
    const result = page.locator('[data-test="test-result"]');
    await result.waitFor({ timeout: 30_000 });
    const text = await result.innerText();
    assert.match(text, /E-mail: Sent to ops@lab\.local, boss@lab\.local\./);
    assert.match(text, /Webhook: Posted to http:\/\/127\.0\.0\.1:\d+\./);
    const mail = await smtp.waitFor((all) => all.find((m) => m.mail.subject === '[Stillpoint] Test message'), 'the test e-mail');
    assert.deepEqual([...mail.to].sort(), ['boss@lab.local', 'ops@lab.local']);
    assert.equal(mail.password, 'Page-Secret-7');
    await hook.waitFor((all) => all.find((p) => p.body.event === 'test'), 'the test post');
    await page.screenshot({ path: `${SHOTS}notifications-light.png`, fullPage: true });
    const token = await svc.login();
    const saved = (await svc.call<NotificationSettingsDto>('GET', '/api/notifications/settings', { token })).body;
    assert.equal(saved.smtp?.host, '127.0.0.1');
    assert.equal(saved.smtp?.passwordSet, true);
    assert.deepEqual(saved.recipients, ['ops@lab.local', 'boss@lab.local']);
    assert.deepEqual(saved.webhook, { url: hook.url, enabled: true });
    // The stored password is kept when the form is saved again without typing it.
    await page.reload();
    await page.locator('[data-test="notification-form"]').waitFor();
    assert.equal(await page.locator('#n-password').getAttribute('placeholder'), 'Stored; type to replace');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await svc.call<NotificationSettingsDto>('GET', '/api/notifications/settings', { token })).body.smtp?.passwordSet, true);
  } finally {
    await page.context().close();
  }
});

test('the page in dark de-DE', async () => {
  const page = await open({ dark: true, locale: 'de-DE' });
  try {
    await page.getByRole('heading', { name: de['notif.title']! }).waitFor();
    await page.getByRole('button', { name: de['notif.test']! }).waitFor();
    assert.equal(await page.locator('#n-host').inputValue(), '127.0.0.1', 'the saved settings are shown');
    await page.screenshot({ path: `${SHOTS}notifications-dark-de.png`, fullPage: true });
  } finally {
    await page.context().close();
  }
});
