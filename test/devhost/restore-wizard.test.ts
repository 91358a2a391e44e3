// The restore wizard (issue 14, item 4) against the real service and the lab vCenter: a name that already
// exists in vCenter is refused on the Target step (Next disabled, with the reason) and by the API with a 409
// before any run starts; "Restore VM…" is disabled, with its reason, for a VM without restore points; a
// restore can be cancelled, its result shows the bytes it copied and opens the new VM; a failed restore
// shows where it stopped, not a red 100 % bar. In the dev host (plugin mode) dark + de-DE, standalone light en-US.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { JobRun, TargetNameCheck, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));

let svc: TestService;
let browser: Browser;
let token: string;
let vms: Record<string, VmSummary>;
let good: JobRun;       // a good backup of win-app01
let rpId: string;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vms = Object.fromEntries((await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.map((v) => [v.name, v]));
  assert.ok(vms['win-app01'] && vms['linux-db01'] && vms['web-off01'], Object.keys(vms).join(', '));
  const started = (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vms['win-app01']!.id] } })).body;
  good = await svc.waitRun(token, started.id);
  assert.equal(good.status, 'success', JSON.stringify(good));
  rpId = good.vms[0]!.restorePointId!;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

const target = (name: string) => ({ target: { kind: 'new', name, host: 'esx-prod-01.lab.local', datastore: 'prod-ds1', powerOn: false } });

test('API: a name already in vCenter is reported taken and a restore to it is refused with 409 before any run starts', async () => {
  const taken = await svc.call<TargetNameCheck>('GET', `/api/restore-points/${rpId}/target-name?name=linux-db01`, { token });
  assert.equal(taken.status, 200);
  assert.deepEqual(taken.body, { name: 'linux-db01', available: false, existingVmIds: [vms['linux-db01']!.id] });
  const free = await svc.call<TargetNameCheck>('GET', `/api/restore-points/${rpId}/target-name?name=linux-db01-copy`, { token });
  assert.deepEqual(free.body, { name: 'linux-db01-copy', available: true });
  assert.equal((await svc.call('GET', `/api/restore-points/${rpId}/target-name`, { token })).status, 400);

  const refused = await svc.call<{ message: string }>('POST', `/api/restore-points/${rpId}/restore`, { token, body: target('linux-db01') });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(refused.body.message, /A VM named 'linux-db01' already exists/);
  assert.deepEqual((await svc.call<JobRun[]>('GET', '/api/runs?kind=restore', { token })).body, [], 'no restore run was started');
});

async function devHost(opts: { locale: string; dark: boolean; vm?: string }): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: opts.locale, colorScheme: opts.dark ? 'dark' : 'light' });
  if (opts.dark) await ctx.addInitScript(() => (globalThis as any).localStorage.setItem('devhost.theme', 'dark'));
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, locale: opts.locale, ...(opts.vm ? { vm: opts.vm, tab: 'monitor' } : {}) });
  await page.goto(`${svc.service.url}/devhost/?${q}`);
  await page.locator('#tree li[data-id]').first().waitFor();
  return { ctx, page, errors };
}
async function modalFrame(page: Page): Promise<Frame> {
  await page.locator('#modal-frame[src]').waitFor();
  const frame = await (await page.locator('#modal-frame').elementHandle())?.contentFrame();
  assert.ok(frame, 'the modal iframe');
  return frame;
}

test('dev host, dark de-DE: the Target step refuses an existing name with the reason; a restore offers Cancel, shows its bytes and opens the new VM', async () => {
  const { ctx, page, errors } = await devHost({ locale: 'de-DE', dark: true, vm: vms['win-app01']!.id });
  const name = 'win-app01-h9';
  await page.evaluate((id) => (globalThis as any).__devhost.runAction('stillpoint.restoreVm', [id]), vms['win-app01']!.id);
  const modal = await modalFrame(page);
  await modal.locator('input[name=sp-rp]').first().waitFor();
  await modal.waitForFunction(() => (globalThis as any).document.body.getAttribute('cds-theme') === 'dark');
  const next = modal.getByRole('button', { name: de['common.next']!, exact: true });
  await next.click();
  const nameInput = modal.locator('#new-name');
  await nameInput.waitFor();
  // The proposed name is free: vCenter says so, Next is enabled.
  await modal.locator('#sp-name-check', { hasText: de['restore.name.available']! }).waitFor();
  assert.equal(await next.isEnabled(), true);
  // An existing VM's name: the check says so, Next is disabled and the hint says why.
  await nameInput.fill('linux-db01');
  await modal.locator('#sp-name-check', { hasText: fill(de['restore.name.taken']!, { name: 'linux-db01' }) }).waitFor();
  await modal.locator('#sp-next-hint', { hasText: fill(de['restore.why.nameTaken']!, { name: 'linux-db01' }) }).waitFor();
  assert.equal(await next.isDisabled(), true);
  await modal.locator('.sp-wizard-host').screenshot({ path: `${SHOTS}restore-wizard-name-taken-de-dark.png` });
  // The VM's own name is taken too.
  await nameInput.fill('win-app01');
  await modal.locator('#sp-name-check', { hasText: fill(de['restore.name.taken']!, { name: 'win-app01' }) }).waitFor();
  assert.equal(await next.isDisabled(), true);
  await nameInput.fill(name);
  await modal.locator('#sp-name-check', { hasText: de['restore.name.available']! }).waitFor();
  assert.equal(await modal.locator('#sp-next-hint').count(), 0);
  await next.click();
  await modal.getByText(name).first().waitFor();

  // A slow CreateVM keeps the restore running long enough to see the Cancel button, which is not pressed here.
  await svc.lab.control.injectFault({ method: 'CreateVM_Task', fault: '', delayMs: 1500, count: 1 });
  await modal.getByRole('button', { name: de['restore.start']!, exact: true }).click();
  await modal.locator('#sp-cancel-restore', { hasText: de['restore.cancelRun']! }).waitFor();
  await modal.getByRole('button', { name: de['backup.runInBackground']!, exact: true }).waitFor();
  await modal.locator('p[role=status]', { hasText: de['restore.done.success']! }).waitFor({ timeout: 120_000 });
  assert.equal(await modal.locator('#sp-cancel-restore').count(), 0, 'no Cancel once the restore finished');
  const run = (await svc.call<JobRun[]>('GET', '/api/runs?kind=restore', { token })).body[0]!;
  assert.equal(run.status, 'success');
  const disks = good.vms[0]!.bytesRead;
  assert.ok(run.vms[0]!.bytesRead > 1024 && run.vms[0]!.bytesStored === run.vms[0]!.bytesRead, `restore figures ${JSON.stringify(run.vms[0])} (backup read ${disks})`);
  const cells = await modal.locator('sp-run-progress tbody tr').first().locator('td').allTextContents();
  assert.ok(!cells.some((c) => /^\s*(1 B|0 B)\s*$/.test(c)), `no "1 B / 0 B" in the result: ${cells.join(' | ')}`);
  await modal.getByRole('columnheader', { name: de['col.written']! }).waitFor();
  await page.screenshot({ path: `${SHOTS}restore-wizard-done-de-dark.png` });
  // The link opens the new VM in the dev host (its Monitor › Backup view) and closes the modal.
  const restored = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === name);
  assert.ok(restored, `${name} in GET /api/vms`);
  await modal.locator('#sp-open-restored', { hasText: fill(de['restore.openVm']!, { vm: name }) }).click();
  await page.waitForFunction((id) => (globalThis as any).__devhost.state.object === id, restored.id);
  assert.equal(await page.evaluate(() => (globalThis as any).__devhost.state.tab), 'monitor');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('standalone en-US: "Restore VM…" is disabled with its reason for a VM without restore points; a failed or cancelled restore shows where it stopped', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: 'en-US' });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${svc.service.url}/ui/#/vms`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  const row = (n: string) => page.locator('clr-dg-row', { has: page.locator('a', { hasText: new RegExp(`^\\s*${n}\\s*$`) }) });
  await row('web-off01').waitFor();
  const restoreBtn = page.locator('#sp-vms-restore');
  await row('web-off01').locator('input[type=checkbox]').check({ force: true });
  await page.locator('#sp-vms-restore-why', { hasText: fill(en['vms.restoreNoPoints']!, { vm: 'web-off01' }) }).waitFor();
  assert.equal(await restoreBtn.isDisabled(), true);
  assert.equal(await restoreBtn.locator('xpath=..').getAttribute('title'), fill(en['vms.restoreNoPoints']!, { vm: 'web-off01' }));
  await row('web-off01').locator('input[type=checkbox]').uncheck({ force: true });
  await row('win-app01').locator('input[type=checkbox]').check({ force: true });
  await page.waitForFunction(() => !(globalThis as any).document.querySelector('#sp-vms-restore').disabled);
  assert.equal(await page.locator('#sp-vms-restore-why').count(), 0);

  // The wizard opened on a VM without points says so and offers no Next.
  await page.goto(`${svc.service.url}/ui/#/actions/restore?vm=${vms['web-off01']!.id}`);
  await page.locator('#sp-no-points', { hasText: fill(en['restore.noPoints']!, { vm: 'web-off01' }) }).waitFor();
  assert.equal(await page.getByRole('button', { name: en['common.next']!, exact: true }).isDisabled(), true);

  // A restore that vCenter refuses: failed, "Failed at N %", never a 100 % bar.
  // (a fresh load: the router keeps the wizard of the same route when only the query changes)
  await page.goto(`${svc.service.url}/ui/#/actions/restore?vm=${vms['win-app01']!.id}`);
  await page.reload();
  await page.locator('input[name=sp-rp]').first().waitFor();
  await page.getByRole('button', { name: en['common.next']!, exact: true }).click();
  await page.locator('#new-name').fill('win-app01-fails');
  await page.locator('#sp-name-check', { hasText: en['restore.name.available']! }).waitFor();
  await page.getByRole('button', { name: en['common.next']!, exact: true }).click();
  await svc.lab.control.injectFault({ method: 'CreateVM_Task', fault: 'InsufficientResourcesFault', count: 1 });
  await page.getByRole('button', { name: en['restore.start']!, exact: true }).click();
  await page.locator('p[role=status]', { hasText: en['restore.done.failed']! }).waitFor({ timeout: 120_000 });
  const stopped = await page.locator('.sp-stopped-text').textContent();
  assert.match(stopped ?? '', /^Failed at \d+ %$/);
  assert.notEqual(stopped, fill(en['run.failedAt']!, { p: 100 }));
  assert.equal(await page.locator('sp-run-progress clr-progress-bar[clrlabeled], sp-run-progress .progress.labeled').count(), 0, 'no labelled bar');
  await page.screenshot({ path: `${SHOTS}restore-wizard-failed.png` });

  // Cancel while restoring: the run ends cancelled and the wizard says where it stopped.
  await page.goto(`${svc.service.url}/ui/#/actions/restore?vm=${vms['win-app01']!.id}`);
  await page.reload();
  await page.locator('input[name=sp-rp]').first().waitFor();
  await page.getByRole('button', { name: en['common.next']!, exact: true }).click();
  await page.locator('#new-name').fill('win-app01-cancelled');
  await page.locator('#sp-name-check', { hasText: en['restore.name.available']! }).waitFor();
  await page.getByRole('button', { name: en['common.next']!, exact: true }).click();
  await svc.lab.control.injectFault({ method: 'CreateVM_Task', fault: '', delayMs: 5000, count: 1 });
  await page.getByRole('button', { name: en['restore.start']!, exact: true }).click();
  await page.locator('#sp-cancel-restore', { hasText: en['restore.cancelRun']! }).click();
  await page.locator('p[role=status]', { hasText: en['restore.done.cancelled']! }).waitFor({ timeout: 120_000 });
  assert.match(await page.locator('.sp-stopped-text').textContent() ?? '', /^Cancelled at \d+ %$/);
  const cancelled = (await svc.call<JobRun[]>('GET', '/api/runs?kind=restore&status=cancelled', { token })).body;
  assert.equal(cancelled.length, 1, JSON.stringify(cancelled));
  assert.deepEqual(errors, []);
  await ctx.close();
});
