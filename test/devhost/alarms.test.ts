// Browser test: after an injected backup failure, the dev host shows what vCenter shows — the
// "Stillpoint: backup failed" alarm triggered on the VM (Alarms pane), our BackupFailed event and the
// alarm's status change (Events pane), and the failed backup task (Recent Tasks) — in the light theme,
// and again in dark with de-DE. The lab presents itself as vCenter 8.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { EVENT_TYPES } from '../../backend/model/vcenter-tasks.ts';
import type { JobRun, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
let svc: TestService;
let browser: Browser;
let run: JobRun;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true } });
  const token = await svc.login();
  const vm = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'linux-db01')!;
  await svc.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01', count: 1 });
  const started = await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.id] } });
  run = await svc.waitRun(token, started.body.id);
  assert.equal(run.status, 'failed');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

async function devhost(opts: { dark?: boolean; locale?: string }): Promise<Page> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: opts.locale ?? 'en-US' });
  const page = await ctx.newPage();
  const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, ...(opts.locale ? { locale: opts.locale } : {}) });
  await page.goto(`${svc.service.url}/devhost/?${q}`);
  await page.locator('#tree li[data-id]').first().waitFor();
  if (opts.dark) await page.locator('#theme').click();
  return page;
}

for (const variant of [{ name: 'light', dark: false }, { name: 'dark-de', dark: true, locale: 'de-DE' }]) {
  test(`the dev host shows the alarm, the events and the failed task of a failed backup (${variant.name})`, async () => {
    const page = await devhost(variant);
    try {
      await page.locator('#pane-tab-alarms').click();
      const alarm = page.locator('#pane tr[data-alarm="Stillpoint: backup failed"][data-entity="linux-db01"]');
      await alarm.waitFor({ timeout: 30_000 });
      assert.match(await alarm.innerText(), /Critical/);
      const shown = await page.locator('#pane tr[data-alarm]').count();
      assert.ok(shown >= 1 && (await page.locator('#alarm-count').innerText()) === String(shown), 'the tab counts the triggered alarms');

      await page.locator('#pane-tab-events').click();
      const failed = page.locator(`#pane tr[data-type="${EVENT_TYPES.backupFailed}"]`).first();
      await failed.waitFor({ timeout: 30_000 });
      assert.match(await failed.innerText(), /Stillpoint: backup failed/);
      assert.match(await failed.innerText(), /linux-db01/);
      const changed = page.locator('#pane tr[data-type="AlarmStatusChangedEvent"]').first();
      assert.match(await changed.innerText(), /Alarm 'Stillpoint: backup failed' on linux-db01 changed from Green to Red/);

      await page.locator('#pane-tab-tasks').click();
      const label = variant.locale === 'de-DE' ? 'VM sichern (Stillpoint)' : 'Back up VM (Stillpoint)';
      const task = page.locator('#pane tr[data-task]', { hasText: label }).first();
      await task.waitFor({ timeout: 30_000 });
      assert.match(await task.innerText(), /linux-db01/);
      assert.match(await task.innerText(), /Failed/);
      if (variant.dark) {
        assert.equal(await page.evaluate(() => (globalThis as any).document.body.dataset.theme), 'dark');
        const colour = await page.locator('#pane tr[data-task] td.st-error').first().evaluate((e: any) => (globalThis as any).getComputedStyle(e).color);
        assert.equal(colour, 'rgb(255, 138, 117)', 'failed status is readable on the dark panel');
      }
      await page.screenshot({ path: `${SHOTS}devhost-alarms-${variant.name}.png` });
    } finally {
      await page.context().close();
    }
  });
}
