// The dashboard tells the truth (issue 14): failed and cancelled runs of every kind count (a failed backup,
// a failed restore, a cancelled backup), every counter drills down to the runs behind it (API and browser),
// and "Protected" means a good restore point within the window: a VM backed up a minute ago is protected, a
// VM only in a manual job without a point is not. Browser checks in light en-US and dark de-DE.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { Dashboard, Job, JobRun, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
let svc: TestService;
let browser: Browser;
let token: string;
const runs: Record<string, JobRun> = {};
let vms: Record<string, VmSummary>;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vms = Object.fromEntries((await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.map((v) => [v.name, v]));
  const backup = async (name: string) => (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vms[name]!.id] } })).body;
  // A good backup, then a restore of it that fails in vCenter.
  runs.good = await svc.waitRun(token, (await backup('win-app01')).id);
  assert.equal(runs.good.status, 'success', JSON.stringify(runs.good));
  await svc.lab.control.injectFault({ method: 'CreateVM_Task', fault: 'InsufficientResourcesFault', count: 1 });
  const restore = await svc.call<JobRun>('POST', `/api/restore-points/${runs.good.vms[0]!.restorePointId}/restore`, {
    token, body: { target: { kind: 'new', name: 'win-app01-restored', host: 'esx-prod-01.lab.local', datastore: 'prod-ds1', powerOn: false } },
  });
  assert.equal(restore.status, 202, JSON.stringify(restore.body));
  runs.restore = await svc.waitRun(token, restore.body.id);
  assert.equal(runs.restore.status, 'failed');
  // A failed backup.
  await svc.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01', count: 1 });
  runs.failed = await svc.waitRun(token, (await backup('linux-db01')).id);
  assert.equal(runs.failed.status, 'failed');
  // A cancelled backup of a VM that is only in a manual job.
  const job = await svc.call<Job>('POST', '/api/jobs', { token, body: { name: 'manual only', vmIds: [vms['web-off01']!.id], schedule: { cron: null }, retention: { keepLast: 3 }, appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true } });
  assert.equal(job.status, 201);
  await svc.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: '', vm: 'web-off01', delayMs: 4000, count: 1 });
  const slow = await backup('web-off01');
  for (let r = slow; r.vms[0]!.status !== 'running'; r = (await svc.call<JobRun>('GET', `/api/runs/${slow.id}`, { token })).body) await new Promise((res) => setTimeout(res, 50));
  await svc.call('POST', `/api/runs/${slow.id}/cancel`, { token });
  runs.cancelled = await svc.waitRun(token, slow.id);
  assert.equal(runs.cancelled.status, 'cancelled');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

test('failed and cancelled runs of every kind count, and each figure lists the runs behind it', async () => {
  const d = (await svc.call<Dashboard>('GET', '/api/dashboard', { token })).body;
  assert.equal(d.last24h.failed, 2, JSON.stringify(d.last24h));   // the backup and the restore
  assert.equal(d.last24h.cancelled, 1);
  assert.ok(d.last24h.success >= 1);
  const failed = (await svc.call<JobRun[]>('GET', `/api/runs?status=failed&since=${encodeURIComponent(d.last24h.since)}`, { token })).body;
  assert.deepEqual(failed.map((r) => r.id).sort(), [runs.failed!.id, runs.restore!.id].sort());
  assert.deepEqual(new Set(failed.map((r) => r.kind)), new Set(['backup', 'restore']));
  const cancelled = (await svc.call<JobRun[]>('GET', '/api/runs?status=cancelled&since=24h', { token })).body;
  assert.deepEqual(cancelled.map((r) => r.id), [runs.cancelled!.id]);
  const restores = (await svc.call<JobRun[]>('GET', '/api/runs?kind=restore', { token })).body;
  assert.deepEqual(restores.map((r) => r.id), [runs.restore!.id]);
  assert.equal((await svc.call('GET', '/api/runs?status=bogus', { token })).status, 400);
  // The same drill-down from the command line.
  // (asynchronously: the service answers from this process)
  const cli = await promisify(execFile)(process.execPath, ['bin/stillpoint.mjs', 'runs', '--status', 'failed', '--since', '24h', '--json'], {
    cwd: root, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, STILLPOINT_URL: svc.service.url, STILLPOINT_DATA_DIR: svc.dataDir, STILLPOINT_USER: svc.lab.username, STILLPOINT_PASSWORD: svc.lab.password },
  });
  assert.deepEqual((JSON.parse(cli.stdout) as JobRun[]).map((r) => r.id).sort(), [runs.failed!.id, runs.restore!.id].sort(), cli.stderr);
});

test('Protected: backed up a minute ago is protected; only in a manual job without a point is not', async () => {
  const list = Object.fromEntries((await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.map((v) => [v.name, v]));
  assert.equal(list['win-app01']!.protected, true);
  assert.ok(list['win-app01']!.lastProtectedAt);
  assert.equal(list['web-off01']!.protected, false, 'a manual job is no protection');
  assert.equal(list['web-off01']!.inScheduledJob, false);
  assert.equal(list['linux-db01']!.protected, false, 'a failed backup made no point');
  const d = (await svc.call<Dashboard>('GET', '/api/dashboard', { token })).body;
  assert.equal(d.vms.protected, 1);
  assert.equal(d.protectionWindowHours, 26);
});

async function standalone(path: string, opts: { dark?: boolean; locale?: string }): Promise<Page> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await ctx.newPage();
  await page.goto(`${svc.service.url}/ui/#${path}${opts.locale ? `?locale=${opts.locale}` : ''}`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'), undefined, { timeout: 15_000 });
  return page;
}

for (const variant of [{ name: 'light', dark: false }, { name: 'dark-de', dark: true, locale: 'de-DE' }]) {
  test(`the failed counter drills down to the failed runs (${variant.name})`, async () => {
    const page = await standalone('/dashboard', variant);
    try {
      const counter = page.locator('[data-counter="failed"]');
      await counter.waitFor();
      assert.equal((await counter.locator('.sp-big').innerText()).trim(), '2');
      assert.equal((await page.locator('[data-counter="cancelled"] .sp-big').innerText()).trim(), '1');
      await page.screenshot({ path: `${SHOTS}dashboard-counters-${variant.name}.png` });
      await counter.click();
      await page.waitForFunction(() => (globalThis as any).location.hash.startsWith('#/runs?'));
      assert.match(page.url(), /status=failed/);
      for (const r of [runs.failed!, runs.restore!]) await page.locator(`clr-dg-row[data-run="${r.id}"]`).waitFor();
      assert.equal(await page.locator('clr-dg-row[data-run]').count(), 2, 'only the failed runs');
      const filter = await page.locator('[data-test="runs-filter"]').innerText();
      assert.match(filter, new RegExp(variant.locale ? de['status.failed']! : 'Failed'));
      assert.match(await page.locator(`clr-dg-row[data-run="${runs.failed!.id}"]`).innerText(), /linux-db01/);
      await page.screenshot({ path: `${SHOTS}dashboard-drilldown-${variant.name}.png` });
    } finally {
      await page.context().close();
    }
  });
}

test('the VM list says Protected for the VM backed up a minute ago and Not protected for the manual-only one', async () => {
  const page = await standalone('/vms', {});
  try {
    const row = (name: string) => page.locator('clr-dg-row', { hasText: name });
    await row('win-app01').waitFor();
    assert.match(await row('win-app01').innerText(), /\bProtected\b/);
    assert.doesNotMatch(await row('win-app01').innerText(), /Not protected/);
    assert.match(await row('web-off01').innerText(), /Not protected/);
  } finally {
    await page.context().close();
  }
});

test('a backup faster than a refresh shows under Running jobs with its outcome, and its duration bar names the VM', async () => {
  const page = await standalone('/dashboard', {});
  try {
    await page.locator('[data-counter="failed"]').waitFor();
    const run = (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vms['win-app01']!.id] } })).body;
    assert.equal((await svc.waitRun(token, run.id)).status, 'success');
    const card = page.locator('.card', { hasText: 'Running jobs' });
    await card.getByText('Just finished: Success').waitFor({ timeout: 30_000 });
    assert.match(await card.innerText(), /win-app01/);
    const titles = await page.locator('rect.bar title').allTextContents();
    assert.ok(titles.some((t) => t.startsWith('win-app01 · ')), `a duration bar's tooltip names the VM: ${JSON.stringify(titles)}`);
  } finally {
    await page.context().close();
  }
});
