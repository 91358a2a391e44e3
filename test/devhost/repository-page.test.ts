// The repository page (issue 14 item 8): a job's retention preview lists exactly the restore points its
// retention run then removes, usage and growth agree with the dashboard, and "Verify now" runs to success.
// A job keeping 3 points backs up one VM three times; its policy then changes to keep 1, so its next
// retention removes the two older points. Browser checks in light en-US and dark de-DE.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { Dashboard, Job, JobRun, RepositoryOverviewDto, RestorePoint, RetentionPreviewDto, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
let svc: TestService;
let browser: Browser;
let token: string;
let job: Job;
let vm: VmSummary;
let pointsBefore: RestorePoint[];

/** Polls `probe` until it answers something truthy; fails with `what` after the deadline. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const points = async (): Promise<RestorePoint[]> => (await svc.call<RestorePoint[]>('GET', `/api/vms/${vm.id}/restore-points`, { token })).body;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vm = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'win-app01')!;
  const input = { name: 'keeps few', vmIds: [vm.id], schedule: { cron: null }, retention: { keepLast: 3 }, appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true };
  const created = await svc.call<Job>('POST', '/api/jobs', { token, body: input });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  job = created.body;
  for (let i = 1; i <= 3; i++) {
    const started = await svc.call<JobRun>('POST', `/api/jobs/${job.id}/run`, { token });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal((await svc.waitRun(token, started.body.id)).status, 'success');
    // Each run of the job queues its retention (keep 3: removes nothing); wait until it has ended.
    await until(`retention run ${i}`, async () => {
      const r = (await svc.call<JobRun[]>('GET', '/api/runs?kind=retention', { token })).body;
      return r.length >= i && r.every((x) => x.status !== 'running' && x.status !== 'queued');
    });
  }
  pointsBefore = await points();
  assert.equal(pointsBefore.length, 3, 'three points of the job, none pruned yet');
  const changed = await svc.call<Job>('PUT', `/api/jobs/${job.id}`, { token, body: { ...input, retention: { keepLast: 1 } } });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

async function standalone(path: string, opts: { dark?: boolean; locale?: string }): Promise<Page> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await ctx.newPage();
  await page.goto(`${svc.service.url}/ui/#${path}${opts.locale ? `?locale=${opts.locale}` : ''}`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'), undefined, { timeout: 15_000 });
  return page;
}

test('usage and growth are the dashboard\'s figures; points per VM count what the repository holds', async () => {
  const o = (await svc.call<RepositoryOverviewDto>('GET', '/api/repository', { token })).body;
  const d = (await svc.call<Dashboard>('GET', '/api/dashboard', { token })).body;
  assert.equal(o.usage.sizeOnDiskBytes, d.repository.usedBytes);
  assert.equal(o.usage.logicalBytes, d.repository.logicalBytes);
  assert.equal(o.usage.dedupRatio, d.repository.dedupRatio);
  assert.equal(o.usage.capacityBytes, d.repository.capacityBytes);
  assert.deepEqual(o.growth, d.growth);
  assert.ok(o.usage.sizeOnDiskBytes > 0 && o.usage.freeBytes !== undefined && o.usage.freeBytes > 0, JSON.stringify(o.usage));
  const row = o.vms.find((v) => v.vmId === vm.id)!;
  assert.equal(row.restorePoints, 3);
  assert.equal(row.oldest, pointsBefore.at(-1)!.createdAt);
  assert.equal(row.newest, pointsBefore[0]!.createdAt);
});

test('the retention preview lists exactly the points the job\'s retention then removes; Verify and GC now succeed (light, en-US)', async () => {
  const preview = (await svc.call<RetentionPreviewDto>('GET', `/api/repository/retention-preview?jobId=${job.id}`, { token })).body;
  const expected = pointsBefore.slice(1).map((p) => p.id).sort();  // keep last 1: the two older points go
  assert.deepEqual(preview.jobs[0]!.remove.map((r) => r.id).sort(), expected);
  assert.deepEqual(preview.jobs[0]!.keep.map((k) => k.id), [pointsBefore[0]!.id]);

  const page = await standalone('/repository', {});
  try {
    const card = page.locator(`[data-test="retention-job"][data-job="${job.id}"]`);
    await card.locator('tr[data-point]').first().waitFor();
    const shown = (await card.locator('tr[data-point]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-point')!))).sort();
    assert.deepEqual(shown, expected, 'the page lists the points the API previews');
    assert.match(await page.locator(`[data-test="repo-vms"] tr[data-vm="${vm.id}"] [data-test="count"]`).innerText(), /^3$/);
    await page.screenshot({ path: `${SHOTS}repository-preview-light.png`, fullPage: true });

    await card.locator('[data-test="apply-retention"]').click();
    await page.locator('[data-test="task-retention"][data-status="success"]').waitFor({ timeout: 60_000 });
    const after = await points();
    assert.deepEqual(after.map((p) => p.id), [pointsBefore[0]!.id], 'exactly the previewed points were removed');
    const removed = pointsBefore.filter((p) => !after.some((a) => a.id === p.id)).map((p) => p.id).sort();
    assert.deepEqual(removed, shown);
    // The page reloads: nothing left to remove, one point left.
    await page.waitForFunction((id) => !(globalThis as any).document.querySelector(`[data-job="${id}"] tr[data-point]`), job.id);
    assert.match(await page.locator(`[data-test="repo-vms"] tr[data-vm="${vm.id}"] [data-test="count"]`).innerText(), /^1$/);

    await page.locator('[data-test="verify-now"]').click();
    await page.locator('[data-test="task-verify"][data-status="success"]').waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-test="task-verify"] [data-test="task-message"]').innerText(), /matched its hash/);
    await page.screenshot({ path: `${SHOTS}repository-verified-light.png`, fullPage: true });
    await page.locator('[data-test="gc-now"]').click();
    await page.locator('[data-test="task-gc"][data-status="success"]').waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-test="task-gc"] [data-test="task-message"]').innerText(), /^Reclaimed /);
    assert.deepEqual((await points()).map((p) => p.id), [pointsBefore[0]!.id], 'GC removes no restore point');
  } finally {
    await page.context().close();
  }
});

test('the page in dark de-DE speaks German', async () => {
  const page = await standalone('/repository', { dark: true, locale: 'de-DE' });
  try {
    await page.locator('[data-test="verify-now"]').waitFor();
    assert.equal((await page.locator('[data-test="verify-now"]').textContent())!.trim(), de['repo.verifyNow']);
    assert.equal((await page.locator('[data-test="gc-now"]').textContent())!.trim(), de['repo.gcNow']);
    const text = (await page.locator('body').innerText()).toLowerCase();  // Clarity upper-cases some headers
    for (const k of ['repo.perVm', 'repo.locks', 'repo.retention']) assert.ok(text.includes(de[k]!.toLowerCase()), `${k} in German`);
    assert.doesNotMatch(text, /retention preview|restore points per vm|immutability locks/);
    await page.screenshot({ path: `${SHOTS}repository-dark-de.png`, fullPage: true });
  } finally {
    await page.context().close();
  }
});

test('inside vCenter (dev host) the Repository tab sits beside Dashboard and Jobs and opens the page', async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  try {
    const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password });
    await page.goto(`${svc.service.url}/devhost/?${q}`);
    await page.locator('#tree li[data-id]').first().waitFor();
    await page.getByRole('treeitem', { name: 'Stillpoint Backup' }).click();
    const handle = await page.locator('iframe.view-frame').elementHandle();
    const frame = (await handle?.contentFrame()) as Frame;
    assert.ok(frame, 'the global view is shown');
    const tabs = frame.locator('sp-plugin-nav [role="tab"]');
    await tabs.first().waitFor();
    const names = (await tabs.allTextContents()).map((t) => t.trim());
    assert.ok(names.includes('Dashboard') && names.includes('Jobs') && names.includes('Repository'), names.join(', '));
    await frame.getByRole('tab', { name: 'Repository' }).click();
    await frame.locator(`[data-test="repo-vms"] tr[data-vm="${vm.id}"]`).waitFor();
    assert.match(await frame.locator(`[data-test="repo-vms"] tr[data-vm="${vm.id}"] [data-test="count"]`).innerText(), /^1$/);
    await page.screenshot({ path: `${SHOTS}devhost-repository.png` });
  } finally {
    await ctx.close();
  }
});
