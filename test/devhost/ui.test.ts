// Browser acceptance tests of the plugin UI against the real service and the lab vCenter: the standalone app
// (login, 401 handling, Back up now with live progress, the restore wizard driven by the keyboard only and the new
// VM in the lab inventory, the job wizard creating a scheduled job that runs, German + dark theme, accessible
// names on every route) and, inside the dev host (plugin mode, htmlClientSdk stand-in), the right-click
// "Back up now" flow, the VM's Backup tab, the dashboard and every right-click modal at its manifest size.
// Screenshots go to test-results/ (git-ignored) for a human to look at.
// Needs the UI build (built here when ui/dist is missing) and Chromium (/usr/bin/chromium, from test/lab/setup.sh).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { chromium, type Browser, type BrowserContext, type Frame, type FrameLocator, type Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { Job, JobRun, VmSummary } from '../../backend/api/contract.ts';
import { ROUTE_PATHS } from '../../ui/src/app/route-paths.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
const manifest = JSON.parse(readFileSync(`${root}manifest/plugin.json`, 'utf8')) as {
  objects: { VirtualMachine: { menu: { actions: { id: string; labelKey: string; trigger: { type: string; uri: string; size: { width: number; height: number } } }[] } } };
  definitions: { i18n: { definitions: Record<string, Record<string, string>> } };
};
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));

let svc: TestService;
let browser: Browser;
let token: string;
let vm: VmSummary;      // a powered-on VM with tools running (standalone tests)
let winApp: VmSummary;  // win-app01: Windows with tools → application-consistent (dev host right-click flow)
let linuxDb: VmSummary; // linux-db01: the scheduled job's VM

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  const vms = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  vm = vms.find((v) => v.toolsRunning && v.powerState === 'poweredOn') ?? vms[0]!;
  winApp = vms.find((v) => v.name === 'win-app01')!;
  linuxDb = vms.find((v) => v.name === 'linux-db01')!;
  assert.ok(winApp && linuxDb, `lab VMs present: ${vms.map((v) => v.name).join(', ')}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
});

async function newPage(opts: { locale?: string; dark?: boolean; width?: number; height?: number } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
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
    await page.screenshot({ path: `${SHOTS}devhost-login-failed.png` }).catch(() => undefined);
    throw new Error(`login did not leave the login page (${page.url()}): ${alert.join(' ') || (e as Error).message}`);
  }
}
/** Opens the dev host logged in (URL options: vm, tab, locale). */
async function openDevHost(page: Page, opts: Record<string, string> = {}): Promise<void> {
  const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, ...opts });
  await page.goto(`${svc.service.url}/devhost/?${q}`);
  await page.locator('#tree li[data-id]').first().waitFor();
}
/** The Playwright frame of an iframe (by CSS selector in the dev host page). */
async function frameOf(page: Page, selector: string): Promise<Frame> {
  const handle = await page.locator(selector).elementHandle();
  const frame = await handle?.contentFrame();
  assert.ok(frame, `no frame for ${selector}`);
  return frame;
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
async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, describe: () => Promise<string> = async () => ''): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms ${await describe()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const digits = (s: string | null): number => Number((s ?? '').replace(/\D/g, ''));

/**
 * Form controls (input, select, textarea), buttons and ARIA widgets (Clarity's) that a screen reader would reach
 * without an accessible name. Form controls count label[for], a wrapping label, aria-label and aria-labelledby;
 * buttons and widgets also their text and title. Hidden controls (display/visibility, aria-hidden, inert) are skipped.
 */
async function unnamedControls(target: Page | Frame): Promise<string[]> {
  return target.evaluate(() => {
    const doc = (globalThis as any).document;
    const text = (e: any): string => String(e?.textContent ?? '').replace(/\s+/g, ' ').trim();
    const formSel = 'input:not([type=hidden]), select, textarea';
    const widgetSel = 'button, [role=button], [role=checkbox], [role=radio], [role=combobox], [role=textbox], [role=switch], [role=tab], [role=menuitem], [role=spinbutton], [role=slider], [role=listbox], [role=searchbox]';
    const out: string[] = [];
    for (const e of doc.querySelectorAll(`${formSel}, ${widgetSel}`)) {
      if (!e.checkVisibility({ visibilityProperty: true }) || e.closest('[aria-hidden="true"], [inert]')) continue;
      const names: string[] = [];
      const lb = e.getAttribute('aria-labelledby');
      if (lb) names.push(lb.split(/\s+/).map((id: string) => text(doc.getElementById(id))).join(' '));
      names.push(e.getAttribute('aria-label') ?? '');
      if (e.labels) for (const l of e.labels) names.push(text(l));
      else if (e.closest('label')) names.push(text(e.closest('label')));
      if (!e.matches(formSel)) {
        names.push(text(e), e.getAttribute('title') ?? '');
        for (const img of e.querySelectorAll('[aria-label], img[alt]')) names.push(img.getAttribute('aria-label') ?? img.getAttribute('alt') ?? '');
      } else if (/^(submit|button|reset)$/.test(e.type ?? '')) names.push(e.value ?? '');
      if (!names.some((n) => n.trim())) {
        const cls = typeof e.className === 'string' ? e.className.trim().split(/\s+/).slice(0, 3).join('.') : '';
        const where = e.closest('[id], clr-datagrid, clr-wizard, form, header, table')?.tagName.toLowerCase() ?? '';
        out.push(`<${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${cls ? '.' + cls : ''}${e.type ? ' type=' + e.type : ''}${e.getAttribute('role') ? ' role=' + e.getAttribute('role') : ''}> in ${where}`);
      }
    }
    return out;
  });
}
/** Elements wider than the viewport's right edge (content that overflows a modal iframe horizontally). */
async function horizontalOverflow(target: Page | Frame): Promise<string[]> {
  return target.evaluate(() => {
    const doc = (globalThis as any).document;
    const w = doc.documentElement.clientWidth;
    const out: string[] = [];
    if (doc.scrollingElement.scrollWidth > w + 1) out.push(`page scrolls sideways: ${doc.scrollingElement.scrollWidth} > ${w}`);
    for (const e of doc.querySelectorAll('table, clr-datagrid, .clr-wizard, .sp-modal-footer, .modal-body, form, dl')) {
      if (!e.checkVisibility()) continue;
      const r = e.getBoundingClientRect();
      if (r.right > w + 1) out.push(`<${e.tagName.toLowerCase()}.${String(e.className).split(' ')[0]}> ends at ${Math.round(r.right)} > ${w}`);
    }
    // Form labels whose words do not fit their column run into the control beside them.
    for (const l of doc.querySelectorAll('label, dt')) {
      const cs = (globalThis as any).getComputedStyle(l);
      const srOnly = cs.clip.startsWith('rect(0') || cs.clipPath !== 'none';
      if (!srOnly && l.checkVisibility() && l.clientWidth > 1 && l.scrollWidth > l.clientWidth + 1) out.push(`label "${l.textContent.trim()}" overflows its column (${l.scrollWidth} > ${l.clientWidth})`);
    }
    return out;
  });
}
async function dashboardCounts(frame: Frame, t: Record<string, string>): Promise<{ success: number; restorePoints: number }> {
  const card = (title: string) => frame.locator('.card').filter({ has: frame.locator('.card-header', { hasText: title }) });
  const success = card(t['dashboard.last24h']!).locator('div:has(> .label-success) > .sp-big');
  await success.waitFor();
  const rp = card(t['dashboard.repository']!).locator('dt', { hasText: new RegExp(`^${t['summary.restorePoints']}$`) }).locator('xpath=following-sibling::dd[1]');
  return { success: digits(await success.textContent()), restorePoints: digits(await rp.textContent()) };
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

test('401: the API refuses calls without a valid session; the standalone UI goes back to its login page', async () => {
  const { ctx, page } = await newPage();
  await page.goto(`${svc.service.url}/ui/#/login`);
  await page.locator('#sp-user').waitFor();
  const statuses = await page.evaluate(async () => {
    const f = (globalThis as any).fetch;
    return [
      (await f('/api/vms')).status,
      (await f('/api/vms', { headers: { authorization: 'Bearer not-a-token' } })).status,
      (await f('/api/dashboard', { headers: { 'vmware-api-session-id': 'not-a-session' } })).status,
    ];
  });
  assert.deepEqual(statuses, [401, 401, 401]);

  // A session that ends on the server (logout elsewhere): the next API call gets 401 and the UI asks to log in again.
  await login(page, '/jobs');
  await page.getByRole('heading', { name: en['jobs.title']! }).waitFor();
  const stored = await page.evaluate(() => (globalThis as any).sessionStorage.getItem('stillpoint.token') as string);
  assert.ok(stored);
  assert.equal((await svc.call('POST', '/api/session/logout', { token: stored })).status, 204);
  assert.equal((await page.evaluate(async (t) => (await (globalThis as any).fetch('/api/vms', { headers: { authorization: `Bearer ${t}` } })).status as number, stored)), 401);
  await page.getByRole('link', { name: en['nav.vms']! }).click();
  await page.waitForFunction(() => (globalThis as any).location.hash.startsWith('#/login?returnUrl=%2Fvms'));
  await page.locator('#sp-user').waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('stillpoint.token')), null, 'the dead token is dropped');
  // A made-up token: the guard lets the route load, the API's 401 sends it to the login page.
  await page.evaluate(() => (globalThis as any).sessionStorage.setItem('stillpoint.token', 'forged'));
  await page.goto(`${svc.service.url}/ui/#/dashboard`);
  await page.waitForFunction(() => (globalThis as any).location.hash.startsWith('#/login?returnUrl=%2Fdashboard'));
  await login(page, '/dashboard');
  await page.getByRole('heading', { name: en['dashboard.title']! }).waitFor();
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
  await page.waitForFunction(() => /(^|\D)(1 restore point\b|[1-9]\d* restore points)/.test((globalThis as any).document.querySelector('clr-dg-footer')?.textContent ?? ''));
  await page.locator('clr-datagrid sp-consistency').first().waitFor();
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('dev host: right-click › Back up now, the modal closes itself, the Backup tab and the dashboard show the new restore point', async () => {
  const before = (await svc.call<unknown[]>('GET', `/api/vms/${winApp.id}/restore-points`, { token })).body.length;
  const { ctx, page, errors } = await newPage();
  await openDevHost(page);
  const dash0 = await dashboardCounts(await frameOf(page, 'iframe.view-frame'), en);

  // Right-click the VM in the inventory tree: the menu is built from the manifest's VM actions.
  await page.getByRole('treeitem', { name: winApp.name, exact: true }).click({ button: 'right' });
  const menu = page.getByRole('menu');
  await menu.waitFor();
  const labels = (await menu.getByRole('menuitem').allTextContents()).map((s) => s.trim());
  assert.deepEqual(labels, manifest.objects.VirtualMachine.menu.actions.map((a) => manifest.definitions.i18n.definitions[a.labelKey]!['en-US']));
  await menu.getByRole('menuitem', { name: 'Back up now' }).click();

  // The modal iframe at the manifest's size; confirm; it closes by itself when the backup succeeded.
  await page.locator('#modal').waitFor();
  const size = manifest.objects.VirtualMachine.menu.actions.find((a) => a.id === 'stillpoint.backupNow')!.trigger.size;
  assert.deepEqual(await page.locator('#modal-frame').evaluate((f: any) => [f.offsetWidth, f.offsetHeight]), [size.width, size.height]);
  const modal = page.frameLocator('#modal-frame');
  await modal.getByRole('cell', { name: winApp.name }).waitFor();
  await modal.getByRole('button', { name: 'Back up now' }).click();
  await modal.locator('clr-progress-bar').first().waitFor();
  await page.waitForFunction(() => (globalThis as any).document.querySelector('#modal').hidden, undefined, { timeout: 120_000 });

  // Monitor › Backup of that VM: the new restore point, newest first, with its consistency badge.
  await page.getByRole('tab', { name: 'Monitor' }).click();
  const tab = page.frameLocator('iframe.view-frame');
  await tab.getByRole('heading', { name: en['monitor.restorePoints']! }).waitFor();
  await tab.locator('clr-dg-footer', { hasText: fill(en[`monitor.restorePointCount.${before + 1 === 1 ? 'one' : 'other'}`]!, { n: before + 1 }) }).first().waitFor();
  const newest = tab.locator('clr-datagrid').first().locator('clr-dg-row').first();
  assert.equal((await newest.locator('sp-consistency').textContent())?.trim(), en['consistency.application']);
  assert.equal(await newest.locator('sp-consistency .badge').getAttribute('class').then((c) => /badge-success/.test(c ?? '')), true);

  // Dark theme: the host and the plugin view switch together.
  await page.locator('#theme').click();
  const tabFrame = await frameOf(page, 'iframe.view-frame');
  await tabFrame.waitForFunction(() => (globalThis as any).document.body.getAttribute('cds-theme') === 'dark');
  await page.screenshot({ path: `${SHOTS}devhost-vm-backup-tab-dark.png` });

  // The global view (dashboard) counts it.
  await page.getByRole('treeitem', { name: 'Stillpoint Backup' }).click();
  const dash1 = await dashboardCounts(await frameOf(page, 'iframe.view-frame'), en);
  assert.ok(dash1.success >= dash0.success + 1 && dash1.success >= 1, `last 24 h successes ${dash0.success} → ${dash1.success}`);
  assert.ok(dash1.restorePoints >= dash0.restorePoints + 1, `repository restore points ${dash0.restorePoints} → ${dash1.restorePoints}`);
  await page.screenshot({ path: `${SHOTS}devhost-dashboard-dark.png` });
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('standalone: the restore wizard works with the keyboard only; the new VM appears in the lab and in the dev host', async () => {
  const name = `${vm.name}-kbd`;
  // The dev host is open before the restore: the VM shows up there after its Refresh.
  const host = await newPage();
  await openDevHost(host.page);
  assert.equal(await host.page.getByRole('treeitem', { name, exact: true }).count(), 0);
  assert.equal((await svc.lab.control.vms())[name], undefined);

  const { ctx, page, errors } = await newPage();
  await login(page, `/actions/restore?vm=${vm.id}`);
  await page.locator('input[name=sp-rp]').first().waitFor();
  await tabTo(page, page, (d) => d.startsWith('INPUT #rp-'));
  await tabTo(page, page, (d) => /Next/.test(d));
  await page.keyboard.press('Enter');
  await page.locator('#new-name').waitFor();
  await tabTo(page, page, (d) => d.includes('#new-name'));
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(name);
  const chosenHost = await page.locator('#new-host').inputValue();
  const chosenDs = await page.locator('#new-ds').inputValue();
  assert.ok(chosenHost && chosenDs, 'the wizard proposes a host and a datastore');
  await tabTo(page, page, (d) => /Next/.test(d));
  await page.keyboard.press('Enter');
  await page.getByText(name).waitFor();
  await tabTo(page, page, (d) => /^BUTTON .*Restore$/.test(d));
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => (globalThis as any).document.activeElement?.id === 'sp-restore-progress');
  const status = page.locator('[role=status]');
  await status.waitFor({ timeout: 120_000 });
  assert.match(await status.textContent() ?? '', /Restore finished/);
  assert.deepEqual(errors, []);
  await ctx.close();

  // In the lab vCenter: on the chosen datastore; vCenter places it on the chosen host.
  const labVm = (await svc.lab.control.vms())[name];
  assert.ok(labVm, `${name} exists in the lab inventory`);
  assert.equal(labVm.datastore, chosenDs);
  const restored = await poll('the restored VM in GET /api/vms', async () =>
    (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === name), 15_000);
  assert.equal(restored.id, labVm.moref);
  assert.equal(restored.host, chosenHost);

  await host.page.locator('#refresh').click();
  await host.page.getByRole('treeitem', { name, exact: true }).waitFor({ timeout: 15_000 });
  assert.deepEqual(host.errors, []);
  await host.ctx.close();
});

test('standalone (de-DE): the job wizard creates a job on a seconds schedule; it runs and the job list shows its last run', async () => {
  const jobName = `e2e-every-10s-${Date.now().toString(36)}`;
  const { ctx, page, errors } = await newPage({ locale: 'de-DE' });
  let jobId: string | undefined;
  try {
    await login(page, '/jobs/new');
    const wizard = page.locator('clr-wizard');
    await wizard.getByText(de['jobWizard.newTitle']!).first().waitFor();
    const next = () => page.getByRole('button', { name: de['common.next']!, exact: true }).click();
    await page.locator('#job-name').fill(jobName);
    await next();
    // VMs: select one row of the Clarity datagrid.
    const row = page.locator('clr-dg-row', { hasText: linuxDb.name });
    await row.locator('input[type=checkbox]').check();
    await page.getByText(fill(de['jobWizard.vmsSelected']!, { n: 1 })).waitFor();
    await next();
    // Schedule: a custom cron with the optional leading seconds field.
    await page.locator('label[for=preset-daily]', { hasText: de['schedule.preset.daily']! }).waitFor();
    await page.locator('label[for=preset-custom]').click();
    await page.locator('#job-cron').fill('*/10 * * * * *');
    await page.locator('clr-control-helper', { hasText: de['schedule.cronHelp']! }).waitFor();
    await page.screenshot({ path: `${SHOTS}job-wizard-de.png` });
    assert.deepEqual(await unnamedControls(page), []);
    await next(); // retention
    await page.locator('label[for=keep-last]', { hasText: de['retention.restorePoints']! }).waitFor();
    await next(); // app-aware
    await next(); // scripts
    await next(); // summary
    await page.locator('.sp-kv', { hasText: '*/10 * * * * *' }).waitFor();
    assert.match(await page.locator('.sp-kv').textContent() ?? '', new RegExp(linuxDb.name));
    await page.screenshot({ path: `${SHOTS}job-wizard-summary-de.png` });
    await page.getByRole('button', { name: de['jobWizard.create']! }).click();
    await page.waitForFunction(() => (globalThis as any).location.hash === '#/jobs');

    const job = (await svc.call<Job[]>('GET', '/api/jobs', { token })).body.find((j) => j.name === jobName);
    assert.ok(job, 'the job exists');
    jobId = job.id;
    assert.deepEqual(job.vmIds, [linuxDb.id]);
    assert.equal(job.schedule.cron, '*/10 * * * * *');
    assert.equal(job.enabled, true);

    // The scheduler fires it: a run of this job ends with success.
    const runs = async () => (await svc.call<JobRun[]>('GET', '/api/runs?limit=50', { token })).body.filter((r) => r.jobId === jobId);
    const ok = await poll('a successful scheduled run', async () => (await runs()).find((r) => r.status === 'success'), 60_000,
      async () => JSON.stringify((await runs()).map((r) => [r.status, r.vms.map((v) => v.message)])));
    assert.equal(ok.kind, 'backup');
    assert.deepEqual(ok.vms.map((v) => v.vmId), [linuxDb.id]);

    // The job list shows its last run (live via events, else after Aktualisieren).
    const listRow = page.locator('clr-dg-row', { hasText: jobName });
    await listRow.locator('.label-success', { hasText: de['status.success']! }).waitFor({ timeout: 20_000 }).catch(async (e: Error) => {
      await page.screenshot({ path: `${SHOTS}job-list-de-failed.png` });
      throw new Error(`the job list never showed the successful run: row "${await listRow.innerText()}", API lastRun ${JSON.stringify((await svc.call<Job>('GET', `/api/jobs/${jobId}`, { token })).body.lastRun)}: ${e.message}`);
    });
    await page.screenshot({ path: `${SHOTS}job-list-de.png` });

    // Delete it in the UI so that it stops firing.
    await listRow.getByRole('button', { name: de['common.actions']! }).click();
    await page.getByRole('menuitem', { name: de['common.delete']! }).or(page.locator('.action-item', { hasText: de['common.delete']! })).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(de['jobs.deleteTitle']!).waitFor();
    await dialog.getByRole('button', { name: de['common.delete']! }).click();
    await listRow.waitFor({ state: 'detached' });
    assert.equal((await svc.call('GET', `/api/jobs/${jobId}`, { token })).status, 404);
    jobId = undefined;
    assert.deepEqual(errors, []);
  } finally {
    if (jobId) await svc.call('DELETE', `/api/jobs/${jobId}`, { token });
    await ctx.close();
  }
});

test('standalone: German and the dark theme follow browser language and OS preference (dashboard, restore wizard)', async () => {
  const { ctx, page, errors } = await newPage({ locale: 'de-DE', dark: true });
  await page.goto(`${svc.service.url}/ui/#/login`);
  await page.getByText('Melden Sie sich mit Ihren vCenter-Anmeldedaten an').waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).document.body.getAttribute('cds-theme') as string), 'dark');
  assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.lang as string), 'de-DE');

  await login(page, '/dashboard');
  await page.getByRole('heading', { name: de['dashboard.title']! }).waitFor();
  for (const k of ['dashboard.last24h', 'dashboard.protection', 'dashboard.running', 'dashboard.growth', 'nav.vms']) await page.getByText(de[k]!).first().waitFor();
  const counts = await dashboardCounts(page.mainFrame(), de);
  assert.ok(counts.restorePoints >= 1);
  assert.equal(await page.evaluate(() => (globalThis as any).document.body.getAttribute('cds-theme') as string), 'dark');
  await page.screenshot({ path: `${SHOTS}dashboard-dark-de.png`, fullPage: true });

  await page.goto(`${svc.service.url}/ui/#/actions/restore?vm=${vm.id}`);
  await page.getByText(fill(de['restore.title']!, { vm: vm.name })).first().waitFor();
  await page.locator('input[name=sp-rp]').first().waitFor();
  await page.getByRole('columnheader', { name: de['col.consistency']! }).waitFor();
  await page.locator('sp-consistency').first().waitFor();
  assert.ok((await page.locator('sp-consistency').allTextContents()).every((t) => [de['consistency.application'], de['consistency.filesystem'], de['consistency.crash']].includes(t.trim())));
  await page.screenshot({ path: `${SHOTS}restore-wizard-de-dark.png` });
  await page.getByRole('button', { name: de['common.next']!, exact: true }).click();
  await page.getByText(de['restore.target.new']!).waitFor();
  await page.locator('label[for=power-on]', { hasText: de['restore.powerOn']! }).waitFor();
  await page.screenshot({ path: `${SHOTS}restore-wizard-target-de-dark.png` });
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('dev host (de-DE, dark): every right-click modal at its manifest size: German, accessible names, nothing overflows', async () => {
  const { ctx, page, errors } = await newPage({ width: 1400, height: 900 });
  await openDevHost(page, { vm: vm.id, tab: 'monitor', locale: 'de-DE' });
  await page.locator('#theme').click();
  const problems: string[] = [];
  for (const action of manifest.objects.VirtualMachine.menu.actions) {
    await page.getByRole('treeitem', { name: vm.name, exact: true }).click({ button: 'right' });
    await page.getByRole('menuitem', { name: manifest.definitions.i18n.definitions[action.labelKey]!['de-DE'] }).click();
    await page.locator('#modal').waitFor();
    assert.deepEqual(await page.locator('#modal-frame').evaluate((f: any) => [f.offsetWidth, f.offsetHeight]), [action.trigger.size.width, action.trigger.size.height]);
    const frame = await frameOf(page, '#modal-frame');
    await frame.waitForFunction(() => {
      const d = (globalThis as any).document;
      return d.body?.getAttribute('cds-theme') === 'dark' && d.documentElement.lang === 'de-DE' && !d.querySelector('clr-spinner') && d.querySelector('.sp-modal-footer, clr-wizard');
    });
    await frame.locator('sp-consistency, .sp-modal-body p').first().waitFor();
    const body = await frame.locator('body').textContent() ?? ''; // not innerText: Clarity upper-cases buttons with CSS
    for (const english of ['Cancel', 'Close', 'Next', 'Restore point', 'Back up now', 'Loading', 'None', 'Never']) {
      if (new RegExp(`\\b${english}\\b`).test(body)) problems.push(`${action.id}: English "${english}" in the German modal`);
    }
    if (!body.includes(de['common.cancel']!) && !body.includes(de['common.close']!)) problems.push(`${action.id}: no German "${de['common.cancel']}"/"${de['common.close']}" button`);
    for (const p of await unnamedControls(frame)) problems.push(`${action.id}: unnamed ${p}`);
    for (const p of await horizontalOverflow(frame)) problems.push(`${action.id}: ${p}`);
    await page.screenshot({ path: `${SHOTS}modal-${action.id.replace('stillpoint.', '')}-de-dark.png` });
    if (action.id === 'stillpoint.restoreVm') {
      await frame.getByRole('button', { name: de['common.next']!, exact: true }).click();
      await frame.locator('#new-name').waitFor();
      for (const p of await unnamedControls(frame)) problems.push(`${action.id} (target): unnamed ${p}`);
      for (const p of await horizontalOverflow(frame)) problems.push(`${action.id} (target): ${p}`);
      await page.screenshot({ path: `${SHOTS}modal-restoreVm-target-de-dark.png` });
    }
    await page.locator('#modal-x').click();
    await page.locator('#modal').waitFor({ state: 'hidden' });
  }
  // The job wizard inside the global view (what "Add to job… › New job" opens), in the same iframe layout.
  await page.evaluate((id) => (globalThis as any).__devhost.navigateTo({ targetViewId: 'stillpointDashboard', customData: { route: '/jobs/new', vm: id } }), vm.id);
  const global = await frameOf(page, 'iframe.view-frame');
  await global.locator('#job-name').waitFor();
  await global.getByText(de['jobWizard.newTitle']!).first().waitFor();
  for (const p of await unnamedControls(global)) problems.push(`job wizard (global view): unnamed ${p}`);
  for (const p of await horizontalOverflow(global)) problems.push(`job wizard (global view): ${p}`);
  await page.screenshot({ path: `${SHOTS}devhost-job-wizard-de-dark.png` });
  assert.deepEqual(problems, []);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('accessibility: every route (and every wizard page) has an accessible name on each form control, nothing overflows', async () => {
  // A job to edit (jobs/:id).
  const created = await svc.call<Job>('POST', '/api/jobs', { token, body: { name: 'a11y-job', vmIds: [vm.id], schedule: { cron: null }, retention: { keepLast: 3 }, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: false } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const params: Record<string, string> = { id: created.body.id };
  const query: Record<string, string> = { vmSummary: `vm=${vm.id}`, vmMonitor: `vm=${vm.id}`, vmConfigure: `vm=${vm.id}`, actionBackup: `vm=${vm.id}`, actionRestore: `vm=${vm.id}`, actionRecoverFiles: `vm=${vm.id}`, actionAddToJob: `vm=${vm.id}`, jobNew: `vm=${vm.id}` };
  const problems: string[] = [];
  const visited: string[] = [];
  try {
    const anon = await newPage();
    await anon.page.goto(`${svc.service.url}/ui/#/${ROUTE_PATHS.login}`);
    await anon.page.locator('#sp-user').waitFor();
    for (const p of await unnamedControls(anon.page)) problems.push(`login: ${p}`);
    visited.push('login');
    await anon.ctx.close();

    const { ctx, page, errors } = await newPage();
    await login(page, '/dashboard');
    for (const [name, pattern] of Object.entries(ROUTE_PATHS)) {
      if (name === 'login') continue;
      const path = pattern.replace(/:(\w+)/g, (_, k: string) => { assert.ok(params[k], `no value for :${k} in ${pattern}`); return params[k]!; });
      const url = `${svc.service.url}/ui/#/${path}${query[name] ? '?' + query[name] : ''}`;
      // The previous route's view stays until the router has activated the new one: mark it, and wait for an unmarked view.
      if (page.url() !== url) await page.evaluate(() => (globalThis as any).document.querySelector('router-outlet + *')?.setAttribute('data-sp-previous-route', ''));
      await page.goto(url);
      await page.waitForFunction(() => {
        const d = (globalThis as any).document;
        const view = d.querySelector('router-outlet + *');
        return view && !view.hasAttribute('data-sp-previous-route') && !d.querySelector('clr-spinner, .datagrid-spinner') && !(globalThis as any).location.hash.startsWith('#/login');
      }, undefined, { timeout: 15_000 });
      for (const p of await unnamedControls(page)) problems.push(`${path}: ${p}`);
      for (const p of await horizontalOverflow(page)) problems.push(`${path}: ${p}`);
      // Wizards: every page.
      if (await page.locator('clr-wizard').count()) {
        let seen = 1;
        for (let i = 0; i < 10; i++) {
          const nextBtn = page.locator('.clr-wizard-footer button.clr-wizard-btn--primary:visible, .clr-wizard-footer button:visible', { hasText: /^\s*Next\s*$/ });
          if (!(await nextBtn.count()) || !(await nextBtn.first().isEnabled())) break;
          await nextBtn.first().click();
          seen++;
          // The wizard shows page `seen` (Clarity marks the current clr-wizard-page active).
          await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('clr-wizard-page')[n - 1]?.classList.contains('active'), seen, { timeout: 15_000 });
          for (const p of await unnamedControls(page)) problems.push(`${path} (wizard page ${i + 2}): ${p}`);
          for (const p of await horizontalOverflow(page)) problems.push(`${path} (wizard page ${i + 2}): ${p}`);
        }
        assert.equal(seen, await page.locator('.clr-wizard-stepnav-item').count(), `${path}: every wizard page was checked`);
      }
      visited.push(name);
    }
    assert.deepEqual(errors, []);
    await ctx.close();
  } finally {
    await svc.call('DELETE', `/api/jobs/${created.body.id}`, { token });
  }
  assert.deepEqual(visited.sort(), Object.keys(ROUTE_PATHS).sort());
  assert.deepEqual([...new Set(problems)], []);
});

// Issue 14 item 7: result views lead with the outcome and say each explanation once; Add to job, the job wizard's
// Next and Run now tell the user what happened or why not.

test('standalone (modal size): Back up now of three VMs: the outcome line is in the first viewport, the crash-consistent explanation is said once', async () => {
  const all = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  const three = ['linux-db01', 'web-off01', 'app-notools01'].map((n) => all.find((v) => v.name === n)!);
  // The Back up now modal's size in the manifest: the standalone page (with its app header) must fit it too.
  const size = manifest.objects.VirtualMachine.menu.actions.find((a) => a.trigger.uri.includes('actions/backup'))!.trigger.size;
  const { ctx, page, errors } = await newPage({ width: size.width, height: size.height });
  try {
    await login(page, `/actions/backup?vm=${three.map((v) => v.id).join(',')}`);
    await page.getByRole('button', { name: en['action.backup']!, exact: true }).click();
    await page.locator('[role=status].sp-done').waitFor({ timeout: 180_000 });
    const run = (await svc.call<JobRun[]>('GET', '/api/runs?kind=backup&limit=5', { token })).body
      .find((r) => r.vms.length === 3 && three.every((v) => r.vms.some((x) => x.vmId === v.id)))!;
    assert.ok(run, 'the three-VM backup run in GET /api/runs');
    const count = (s: string) => run.vms.filter((v) => v.status === s).length;
    const crash = run.vms.filter((v) => v.consistency === 'crash');
    assert.ok(crash.length >= 2, `web-off01 and app-notools01 have no running Tools: ${JSON.stringify(run.vms.map((v) => [v.vmName, v.consistency, v.status]))}`);

    // The outcome line: the counts the API has, and the whole line inside the first viewport without scrolling.
    const outcome = page.locator('[data-test=run-outcome]');
    const line = (await outcome.innerText()).replace(/\s+/g, ' ');
    for (const [key, n] of [['ux.outcome.succeeded', count('success')], ['ux.outcome.warnings', count('warning')], ['ux.outcome.failed', count('failed')]] as const) {
      assert.ok(line.includes(fill(en[key]!, { n })), `"${fill(en[key]!, { n })}" in the outcome line "${line}"`);
    }
    assert.match(line, /\d+ s|\d+ min/, 'the duration');
    assert.match(line, / stored \(/, 'the bytes stored and read');
    assert.equal(await page.evaluate(() => (globalThis as any).scrollY as number), 0);
    const box = (await outcome.boundingBox())!;
    assert.ok(box.y >= 0 && box.y + box.height <= size.height, `the outcome line (y ${box.y}..${box.y + box.height}) is within the first ${size.height} px`);
    await page.screenshot({ path: `${SHOTS}backup-three-vms-outcome.png` });

    // The crash-consistent explanation once for both VMs; each reason the service gave once, not once per VM.
    const text = await page.locator('sp-run-progress').textContent() ?? '';
    const times = (s: string) => text.split(s).length - 1;
    assert.equal(times(en['ux.crash.meaning']!), 1, 'the explanation once');
    assert.equal(times(en['ux.crash.remedy']!), 1, 'what to do once');
    const note = await page.locator('[data-test=crash-note]').innerText();
    for (const v of crash) assert.ok(note.includes(v.vmName), `the crash note names ${v.vmName}`);
    for (const w of new Set(crash.flatMap((v) => v.warnings))) assert.equal(times(w), 1, `"${w}" once`);
    assert.equal(await page.locator('sp-run-vm-table tbody tr[data-vm]').count(), 3);
    assert.equal((await page.locator('sp-run-vm-table tr[data-vm="web-off01"] sp-consistency').innerText()).trim(), en['ux.consistency.short.crash']);
    // The VM's own texts on expand.
    const w0 = crash.find((v) => v.vmName === 'web-off01')!.warnings[0];
    await page.getByRole('button', { name: fill(en['ux.run.detailsFor']!, { vm: 'web-off01' }) }).click();
    if (w0) await page.locator('sp-run-vm-table tr.sp-detail', { hasText: w0 }).waitFor();
    assert.equal(await page.getByRole('button', { name: fill(en['ux.run.detailsFor']!, { vm: 'web-off01' }) }).getAttribute('aria-expanded'), 'true');
    assert.deepEqual(errors, []);

    // The same run in the runs list (de-DE): outcome first, the explanation once and in German, no English reason.
    const deCtx = await newPage({ locale: 'de-DE' });
    try {
      await login(deCtx.page, `/runs?run=${run.id}`);
      const detail = deCtx.page.locator(`clr-dg-row[data-run="${run.id}"]`);
      await detail.locator('[data-test=run-outcome]', { hasText: fill(de['ux.outcome.warnings']!, { n: count('warning') }) }).waitFor();
      const deText = await detail.textContent() ?? '';
      assert.equal(deText.split(de['ux.crash.meaning']!).length - 1, 1, 'the German explanation once');
      for (const w of new Set(crash.flatMap((v) => v.warnings))) assert.ok(!deText.includes(w), `the reason "${w}" is shown in German`);
      await deCtx.page.screenshot({ path: `${SHOTS}runs-detail-three-vms-de.png` });
      assert.deepEqual(deCtx.errors, []);
    } finally {
      await deCtx.ctx.close();
    }
  } finally {
    await ctx.close();
  }
});

test('standalone (de-DE): Add to job says what happened, with the next run and a link to the job; a failure stays in the dialog', async () => {
  const name = `ux-nightly-${Date.now().toString(36)}`;
  const body = (n: string) => ({ name: n, vmIds: [winApp.id], schedule: { cron: '0 22 * * *' }, retention: { keepLast: 3 }, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true });
  const job = (await svc.call<Job>('POST', '/api/jobs', { token, body: body(name) })).body;
  const gone = (await svc.call<Job>('POST', '/api/jobs', { token, body: body(`${name}-gone`) })).body;
  const { ctx, page, errors } = await newPage({ locale: 'de-DE' });
  try {
    await login(page, `/actions/add-to-job?vm=${linuxDb.id}`);
    await page.locator(`label[for="job-${job.id}"]`).click();
    await page.getByRole('button', { name: de['addToJob.add']!, exact: true }).click();
    const done = page.locator('[data-test=added-to-job]');
    await done.getByText(fill(de['ux.addToJob.done']!, { vms: linuxDb.name, job: name })).waitFor();
    assert.match(await done.innerText(), new RegExp(`${de['ux.addToJob.nextRun']!.split('{')[0]}\\S`), 'the next run');
    const after = (await svc.call<Job>('GET', `/api/jobs/${job.id}`, { token })).body;
    assert.deepEqual([...after.vmIds].sort(), [winApp.id, linuxDb.id].sort(), 'the job really has the VM');
    await page.screenshot({ path: `${SHOTS}add-to-job-done-de.png` });
    await done.getByRole('link', { name: fill(de['ux.addToJob.openJob']!, { job: name }) }).click();
    await page.waitForFunction((id) => (globalThis as any).location.hash === `#/jobs/${id}`, job.id);
    await page.locator('#job-name').waitFor();
    assert.equal(await page.locator('#job-name').inputValue(), name);

    // The job disappears between choosing it and Add: the error is shown and the dialog stays, with the choice.
    await page.goto(`${svc.service.url}/ui/#/actions/add-to-job?vm=${linuxDb.id}`);
    await page.locator(`label[for="job-${gone.id}"]`).click();
    assert.equal((await svc.call('DELETE', `/api/jobs/${gone.id}`, { token })).status, 204);
    await page.getByRole('button', { name: de['addToJob.add']!, exact: true }).click();
    await page.locator('sp-error [role=alert]').waitFor();
    assert.equal(await page.locator('[data-test=added-to-job]').count(), 0);
    await page.getByRole('button', { name: de['addToJob.add']!, exact: true }).waitFor();
    assert.equal(await page.locator(`#job-${gone.id}`).isChecked(), true);
    assert.deepEqual(errors, []);
  } finally {
    await svc.call('DELETE', `/api/jobs/${job.id}`, { token });
    await svc.call('DELETE', `/api/jobs/${gone.id}`, { token });
    await ctx.close();
  }
});

test('standalone (de-DE): the job wizard says why Next is disabled, beside the fields and as the button\'s description', async () => {
  const { ctx, page, errors } = await newPage({ locale: 'de-DE' });
  try {
    await login(page, '/jobs/new');
    await page.locator('#job-name').waitFor();
    const next = page.getByRole('button', { name: de['common.next']!, exact: true });
    const expectHint = async (id: string, text: string) => {
      await page.locator(`#${id}`, { hasText: text }).waitFor();
      assert.equal(await next.isDisabled(), true);
      assert.equal(await next.getAttribute('aria-describedby'), id);
      assert.equal(await next.getAttribute('title'), text);
    };
    const expectNoHint = async () => {
      await page.waitForFunction(() => !(globalThis as any).document.querySelector('clr-wizard-page.active .sp-next-hint'));
      assert.equal(await next.isDisabled(), false);
      assert.equal(await next.getAttribute('aria-describedby'), null);
    };
    await page.locator('#job-name').fill('');
    await page.locator('#job-name').blur();
    await expectHint('sp-next-hint-general', fill(de['ux.wizard.why.name']!, { field: de['col.name']! }));
    await page.locator('clr-control-error', { hasText: de['form.required']! }).waitFor();
    await page.screenshot({ path: `${SHOTS}job-wizard-next-hint-de.png` });
    await page.locator('#job-name').fill('ux-wizard-hint');
    await expectNoHint();
    await next.click();
    await expectHint('sp-next-hint-vms', de['ux.wizard.why.vms']!);
    await page.locator('clr-dg-row', { hasText: linuxDb.name }).locator('input[type=checkbox]').check({ force: true });
    await expectNoHint();
    await next.click();
    await page.locator('label[for=preset-custom]').click();
    await page.locator('#job-cron').fill('99 * * * *');
    await expectHint('sp-next-hint-schedule', fill(de['ux.wizard.why.cron']!, { field: de['schedule.cron']! }));
    await page.locator('#job-cron').fill('0 3 * * *');
    await expectNoHint();
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

test('standalone: Run now on a job\'s row starts a run, confirmed with a link to its progress', async () => {
  const name = `ux-run-now-${Date.now().toString(36)}`;
  const job = (await svc.call<Job>('POST', '/api/jobs', { token, body: { name, vmIds: [winApp.id], schedule: { cron: null }, retention: { keepLast: 3 }, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true } })).body;
  const { ctx, page, errors } = await newPage();
  let runId: string | undefined;
  try {
    await login(page, '/jobs');
    const row = page.locator('clr-dg-row', { hasText: name });
    const button = row.getByRole('button', { name: fill(en['ux.jobs.runNowFor']!, { name }) });
    assert.equal((await button.innerText()).trim().toLowerCase(), en['jobs.runNow']!.toLowerCase(), 'a visible button on the row, not in the menu');
    await button.click();
    const started = page.locator('[data-test=run-started]');
    await started.waitFor();
    assert.match(await started.innerText(), new RegExp(name));
    const runs = (await svc.call<JobRun[]>('GET', '/api/runs?limit=50', { token })).body.filter((r) => r.jobId === job.id);
    assert.equal(runs.length, 1, 'one run of the job');
    runId = runs[0]!.id;
    await page.screenshot({ path: `${SHOTS}job-run-now-started.png` });
    await started.getByRole('link', { name: en['ux.jobs.showProgress']! }).click();
    await page.waitForFunction((id) => (globalThis as any).location.hash === `#/runs?run=${id}`, runId);
    // The run opened, its outcome line filled in once it ends (live, without a refresh).
    const opened = page.locator(`clr-dg-row[data-run="${runId}"]`);
    await opened.locator('[data-test=run-outcome]', { hasText: fill(en['ux.outcome.succeeded']!, { n: 1 }) }).waitFor({ timeout: 120_000 });
    assert.equal((await svc.waitRun(token, runId)).status, 'success');
    assert.deepEqual(errors, []);
  } finally {
    if (runId) await svc.waitRun(token, runId).catch(() => undefined);
    await svc.call('DELETE', `/api/jobs/${job.id}`, { token });
    await ctx.close();
  }
});
