// The plugin's "Virtual machines" tab (issue 14, item 5): inside the dev host's global view, beside Dashboard
// and Jobs, the list of every VM the user can see with its protection (a VM backed up now is protected, the
// others are not); the dashboard's "N unprotected VMs" link opens that list filtered and keeps the plugin's
// tabs. One run light en-US, one dark de-DE.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Frame } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { JobRun, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const texts: Record<string, Record<string, string>> = {
  'en-US': JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')),
  'de-DE': JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')),
};
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
/** A counted catalog text in the UI's plural form for n (key.one / key.other, as I18n.t picks them). */
const counted = (locale: string, key: string, n: number) => fill(texts[locale]![`${key}.${new Intl.PluralRules(locale).select(n)}`] ?? texts[locale]![`${key}.other`]!, { n });

let svc: TestService;
let browser: Browser;
let token: string;
let vms: VmSummary[];

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  const all = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  const win = all.find((v) => v.name === 'win-app01')!;
  const started = (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [win.id] } })).body;
  assert.equal((await svc.waitRun(token, started.id)).status, 'success');
  vms = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  assert.ok(vms.find((v) => v.name === 'win-app01')?.protected, 'win-app01 is protected after its backup');
  assert.ok(vms.some((v) => !v.protected), 'some VMs are not protected');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

async function globalView(page: import('playwright-core').Page): Promise<Frame> {
  await page.locator('#main iframe.view-frame').waitFor();
  const frame = await (await page.locator('#main iframe.view-frame').elementHandle())?.contentFrame();
  assert.ok(frame, 'the global view frame');
  return frame;
}

for (const variant of [{ name: 'light en-US', locale: 'en-US', dark: false }, { name: 'dark de-DE', locale: 'de-DE', dark: true }]) {
  test(`dev host ${variant.name}: the Virtual machines tab lists every VM with its protection; the unprotected link keeps the tabs`, async () => {
    const t = texts[variant.locale]!;
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: variant.locale, colorScheme: variant.dark ? 'dark' : 'light' });
    if (variant.dark) await ctx.addInitScript(() => (globalThis as any).localStorage.setItem('devhost.theme', 'dark'));
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${svc.service.url}/devhost/?${new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, locale: variant.locale })}`);
    const view = await globalView(page);
    const tabs = view.getByRole('tablist');
    const tab = (key: string) => tabs.getByRole('tab', { name: t[key]!, exact: true });
    await tab('nav.dashboard').waitFor();
    if (variant.dark) await view.waitForFunction(() => (globalThis as any).document.body.getAttribute('cds-theme') === 'dark');

    // The tab: every VM with its protection.
    await tab('nav.vms').click();
    await view.locator('clr-dg-footer', { hasText: counted(variant.locale, 'vms.count', vms.length) }).waitFor();
    for (const vm of vms) {
      const row = view.locator('clr-dg-row', { has: view.locator('a', { hasText: new RegExp(`^\\s*${vm.name}\\s*$`) }) });
      await row.locator('.label', { hasText: t[vm.protected ? 'summary.protected' : 'summary.unprotected']! }).waitFor();
    }
    assert.match(await tab('nav.vms').getAttribute('class') ?? '', /\bactive\b/);
    await page.screenshot({ path: `${SHOTS}devhost-vm-list-${variant.locale}${variant.dark ? '-dark' : ''}.png` });

    // Dashboard › "N unprotected VMs": the list, filtered, still inside the plugin's tabs.
    await tab('nav.dashboard').click();
    const unprotected = vms.filter((v) => !v.protected).length;
    await view.getByRole('link', { name: counted(variant.locale, 'dashboard.unprotectedN', unprotected) }).click();
    await view.locator('clr-dg-footer', { hasText: counted(variant.locale, 'vms.count', unprotected) }).waitFor();
    assert.equal(await view.locator('clr-dg-row', { hasText: 'win-app01' }).count(), 0, 'the protected VM is filtered out');
    await tab('nav.dashboard').waitFor();
    await tab('nav.jobs').waitFor();
    assert.match(await tab('nav.vms').getAttribute('class') ?? '', /\bactive\b/);
    await tab('nav.jobs').click();
    await view.waitForFunction(() => (globalThis as any).location.hash.startsWith('#/jobs'));
    assert.deepEqual(errors, []);
    await ctx.close();
  });
}
