// Browser tests of the plugin UI against the real service and the lab vCenter: the standalone app (login,
// Back up now with live progress, the restore wizard driven by the keyboard only, German + dark theme) and,
// inside the dev host (plugin mode, htmlClientSdk stand-in), the VM's Backup tab and the right-click modal.
// Needs the UI build (built here when ui/dist is missing) and Chromium (/usr/bin/chromium, from test/lab/setup.sh).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { chromium, type Browser, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
let svc: TestService;
let browser: Browser;
let vm: VmSummary;

before(async () => {
  ensureUiBuilt();
  svc = await startTestService({ config: { devHost: true }, register: false });
  const token = await svc.login();
  const vms = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  vm = vms.find((v) => v.toolsRunning && v.powerState === 'poweredOn') ?? vms[0]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
});

async function newPage(opts: { locale?: string; dark?: boolean } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { ctx, page, errors };
}
async function login(page: Page, path: string): Promise<void> {
  await page.goto(`${svc.service.url}/ui/#${path}`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  try {
    await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'), undefined, { timeout: 15_000 });
  } catch (e) {
    const alert = await page.locator('.login [role=alert]').allTextContents();
    await page.screenshot({ path: `${root}test-results/devhost-login-failed.png` }).catch(() => undefined);
    throw new Error(`login did not leave the login page (${page.url()}): ${alert.join(' ') || (e as Error).message}`);
  }
}
/** Tab until the focused element's description matches. */
async function tabTo(target: Page | Frame, page: Page, pred: (desc: string) => boolean, max = 60): Promise<string> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const d = await target.evaluate(() => {
      const a = (globalThis as any).document.activeElement;
      return a ? `${a.tagName} #${a.id} ${String(a.textContent ?? '').trim().slice(0, 40)}` : '';
    });
    if (pred(d)) return d;
  }
  throw new Error('focus never reached the target');
}

test('standalone: login redirects back, dashboard and VM list render', async () => {
  const { ctx, page, errors } = await newPage();
  await page.goto(`${svc.service.url}/ui/#/vms`);
  await page.locator('#sp-user').fill(svc.lab.username);
  assert.match(page.url(), /#\/login\?returnUrl=%2Fvms/);
  await page.locator('#sp-pass').fill('wrong');
  await page.locator('.login button[type=submit]').click();
  await page.locator('.login [role=alert]').waitFor();
  await login(page, '/vms');
  assert.match(page.url(), /#\/vms/);
  await page.getByRole('link', { name: vm.name }).waitFor();
  await page.goto(`${svc.service.url}/ui/#/dashboard`);
  await page.getByRole('heading', { name: 'Backup overview' }).waitFor();
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('standalone: Back up now shows live progress, then the restore point with its consistency', async () => {
  const { ctx, page, errors } = await newPage();
  await login(page, `/actions/backup?vm=${vm.id}`);
  await page.getByRole('button', { name: 'Back up now' }).click();
  await page.locator('clr-progress-bar').waitFor();
  const status = page.locator('[role=status]');
  await status.waitFor({ timeout: 120_000 });
  assert.match(await status.textContent() ?? '', /Backup finished/);
  await page.goto(`${svc.service.url}/ui/#/vm/monitor?vm=${vm.id}`);
  await page.waitForFunction(() => /[1-9]\d* restore points/.test((globalThis as any).document.querySelector('clr-dg-footer')?.textContent ?? ''));
  await page.locator('clr-datagrid sp-consistency').first().waitFor();
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('standalone: the restore wizard works with the keyboard only', async () => {
  const { ctx, page, errors } = await newPage();
  await login(page, `/actions/restore?vm=${vm.id}`);
  await page.locator('input[name=sp-rp]').first().waitFor();
  await tabTo(page, page, (d) => d.startsWith('INPUT #rp-'));
  await tabTo(page, page, (d) => /Next/.test(d));
  await page.keyboard.press('Enter');
  await page.locator('#new-name').waitFor();
  await tabTo(page, page, (d) => d.includes('#new-name'));
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(`${vm.name}-kbd`);
  await tabTo(page, page, (d) => /Next/.test(d));
  await page.keyboard.press('Enter');
  await page.getByText(`${vm.name}-kbd`).waitFor();
  await tabTo(page, page, (d) => /^BUTTON .*Restore$/.test(d));
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => (globalThis as any).document.activeElement?.id === 'sp-restore-progress');
  const status = page.locator('[role=status]');
  await status.waitFor({ timeout: 120_000 });
  assert.match(await status.textContent() ?? '', /Restore finished/);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('standalone: German and the dark theme follow browser language and OS preference', async () => {
  const { ctx, page } = await newPage({ locale: 'de-DE', dark: true });
  await page.goto(`${svc.service.url}/ui/#/login`);
  await page.getByText('Melden Sie sich mit Ihren vCenter-Anmeldedaten an').waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).document.body.getAttribute('cds-theme') as string), 'dark');
  assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.lang as string), 'de-DE');
  await ctx.close();
});

test('dev host: plugin views and the Back up now modal inside the vSphere Client stand-in', async () => {
  const sdk = await svc.call('GET', '/api/ui/htmlClientSdk.js');
  assert.equal(sdk.status, 200, 'the dev host serves the htmlClientSdk stand-in');
  const uiSession = await svc.call<{ sessionToken: string }>('POST', '/api/devhost/ui-session', { body: { username: svc.lab.username, password: svc.lab.password } });
  assert.equal(uiSession.status, 200);
  const asPlugin = await svc.call<{ mode: string }>('GET', '/api/session', { headers: { 'vmware-api-session-id': uiSession.body.sessionToken } });
  assert.equal(asPlugin.body.mode, 'plugin');

  const { ctx, page, errors } = await newPage();
  const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, vm: vm.id, tab: 'monitor' });
  await page.goto(`${svc.service.url}/devhost/?${q}`);
  const view = page.frameLocator('iframe.view-frame');
  await view.getByRole('heading', { name: 'Restore points' }).waitFor();
  const frame = page.frames().find((f) => f.url().includes('/vm/monitor'))!;
  assert.equal(await frame.evaluate(() => (globalThis as any).document.documentElement.dataset.mode as string), 'plugin');

  await page.locator('#theme').click();
  await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('iframe')]
    .find((i: any) => i.src.includes('/vm/monitor'))?.contentDocument?.body.getAttribute('cds-theme') === 'dark');

  await page.evaluate((id) => (globalThis as any).__devhost.runAction('stillpoint.backupNow', [id]), vm.id);
  await page.frameLocator('#modal-frame').getByRole('button', { name: 'Back up now' }).click();
  await page.waitForFunction(() => (globalThis as any).document.querySelector('#modal').hidden, undefined, { timeout: 120_000 });
  assert.deepEqual(errors, []);
  await ctx.close();
});
