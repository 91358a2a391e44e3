// No English left in de-DE (issue 14 item 6): with real data in the service (a job's finished backups and its
// retention, a failed backup, a replica, maintenance runs, a failed restore), every main screen of the UI in
// German is scanned for English phrases: the texts of the en-US catalog and the service's own English texts
// (backend/common/service-text.ts), minus what German shares with English (names such as "VMware Tools").
// The screen and the phrase are named on failure; each screen is also saved as a screenshot in test-results/.
// Also: counts use plural forms ("1 Wiederherstellungspunkt"), and every date on a screen has the one format.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { CHROMIUM } from '../helpers/devhost-page.ts';
import { SERVICE_TEXTS } from '../../backend/common/service-text.ts';
import type { Job, JobRun, VmSummary } from '../../backend/api/contract.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const catalog = (l: string) => JSON.parse(readFileSync(`${root}ui/src/app/i18n/${l}.json`, 'utf8')) as Record<string, string>;
const en = catalog('en-US');
const de = catalog('de-DE');

/**
 * The English phrases to look for: each literal stretch (between placeholders) of every en-US text and every
 * service text, with at least two words or one long word, that no German text contains as well.
 */
export function englishPhrases(): string[] {
  const sources = [...Object.values(en), ...Object.values(SERVICE_TEXTS).flatMap((t) => (typeof t === 'string' ? [t] : [t.one, t.other]))];
  const german = Object.values(de);
  const phrases = new Set<string>();
  for (const text of sources) {
    for (const raw of text.split(/\{\w+\}/)) {
      const p = raw.replace(/^[\s.,:;()"'„“”‘’—–·…?!/+×%-]+|[\s.,:;()"'„“”‘’—–·…?!/+×%-]+$/g, '');
      const words = p.match(/[A-Za-z]{2,}/g) ?? [];
      if (!(words.length >= 2 && p.length >= 8) && !(words.length === 1 && p === words[0] && p.length >= 7)) continue;
      if (german.some((g) => g.includes(p))) continue;
      phrases.add(p);
    }
  }
  return [...phrases];
}
const PHRASES = englishPhrases();
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PATTERNS = PHRASES.map((p) => ({ p, re: new RegExp(`(?<![A-Za-z])${escapeRe(p)}(?![A-Za-z])`) }));

let svc: TestService;
let browser: Browser;
let token: string;
let vms: Record<string, VmSummary>;
const runs: Record<string, JobRun> = {};
let job: Job;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vms = Object.fromEntries((await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.map((v) => [v.name, v]));
  // A scheduled job that keeps one point, run twice: two finished backups, and its retention removes one point.
  const made = await svc.call<Job>('POST', '/api/jobs', { token, body: { name: 'Nacht', vmIds: [vms['win-app01']!.id], schedule: { cron: '0 22 * * *' }, retention: { keepLast: 1 }, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  job = made.body;
  for (const name of ['first', 'good']) {
    const started = await svc.call<JobRun>('POST', `/api/jobs/${job.id}/run`, { token });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    runs[name] = await svc.waitRun(token, started.body.id);
    assert.ok(['success', 'warning'].includes(runs[name]!.status), JSON.stringify(runs[name]));
  }
  // The job's retention runs after its run (started when the run ended); else it is started here.
  const since = encodeURIComponent(runs.good!.endedAt!);
  const queued = (await svc.call<JobRun[]>('GET', `/api/runs?kind=retention&since=${since}`, { token })).body[0];
  const retention = queued ?? (await svc.call<JobRun>('POST', `/api/repository/retention/${job.id}/run`, { token })).body;
  runs.retention = await svc.waitRun(token, retention.id);
  assert.equal(runs.retention.status, 'success', JSON.stringify(runs.retention));
  // One point of a VM outside the job ("1 Wiederherstellungspunkt"); it is off, so crash-consistent with a warning.
  runs.single = await svc.waitRun(token, (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vms['web-off01']!.id] } })).body.id);
  assert.ok(['success', 'warning'].includes(runs.single.status), JSON.stringify(runs.single));
  // A backup vCenter refuses (a failed run with its remedy), and repository maintenance.
  await svc.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01', count: 1 });
  runs.failed = await svc.waitRun(token, (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vms['linux-db01']!.id] } })).body.id);
  assert.equal(runs.failed.status, 'failed');
  assert.ok(runs.failed.vms[0]!.texts?.hint, `the remedy has a key: ${JSON.stringify(runs.failed.vms[0])}`);
  for (const kind of ['gc', 'verify']) {
    const task = await svc.call<JobRun>('POST', `/api/maintenance/${kind}/run`, { token });
    assert.equal(task.status, 202, JSON.stringify(task.body));
    await svc.waitRun(token, task.body.id);
  }
  // A replica at the DR site, for the DR view.
  const repl = await svc.call<{ id: string }>('POST', '/api/replication-jobs', {
    token, body: {
      name: 'DR', vmIds: [vms['linux-db01']!.id], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-dr' }, schedule: { cron: null },
      rpoMinutes: 60, keepPoints: 2, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
    },
  });
  assert.equal(repl.status, 201, JSON.stringify(repl.body));
  const replRun = await svc.call<JobRun>('POST', `/api/jobs/${repl.body.id}/run`, { token });
  assert.equal(replRun.status, 202, JSON.stringify(replRun.body));
  runs.replication = await svc.waitRun(token, replRun.body.id);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await svc?.stop(); });

async function germanPage(): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 }, locale: 'de-DE' });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${svc.service.url}/ui/#/dashboard?locale=de-DE`);
  await page.locator('#sp-user').fill(svc.lab.username);
  await page.locator('#sp-pass').fill(svc.lab.password);
  await page.locator('.login button[type=submit]').click();
  await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'), undefined, { timeout: 15_000 });
  assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.lang), 'de-DE');
  return { page, errors };
}

/** The English phrases on the screen (its whole rendered text), after saving a screenshot of it. */
async function englishOn(page: Page, screen: string): Promise<string[]> {
  await page.screenshot({ path: `${SHOTS}i18n-de-${screen}.png`, fullPage: true });
  const text: string = await page.evaluate(() => (globalThis as any).document.body.innerText);
  return PATTERNS.filter(({ re }) => re.test(text)).map(({ p }) => `${screen}: "${p}"`);
}

/** Every date and time on the screen in the one German format ("02.12.2026, 15:04"), never an ISO timestamp. */
async function datesOn(page: Page, screen: string): Promise<string[]> {
  const text: string = await page.evaluate(() => (globalThis as any).document.body.innerText);
  const bad = [...text.matchAll(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[^\s]*|\b\d{1,2}\/\d{1,2}\/\d{2,4}\b|\b\d{2}\.\d{2}\.\d{2}\b(?!\d)/g)].map((m) => `${screen}: ${m[0]}`);
  return bad;
}

test('de-DE: no English phrase of the UI or the service on the main screens, with real data', async () => {
  assert.ok(PHRASES.length > 300, `${PHRASES.length} phrases`);
  assert.ok(PHRASES.includes('removing snapshot') && PHRASES.includes('Check the datastore: is it accessible, is there free space, is the file locked by another host or backup tool'), 'service texts are among the phrases');
  const { page, errors } = await germanPage();
  const found: string[] = [];
  const dates: string[] = [];
  const visit = async (screen: string, hash: string, ready: () => Promise<unknown>) => {
    await page.goto(`${svc.service.url}/ui/#${hash}`);
    await ready();
    found.push(...await englishOn(page, screen));
    dates.push(...await datesOn(page, screen));
  };
  try {
    await visit('dashboard', '/dashboard', () => page.locator('[data-counter="failed"]').waitFor());
    // A finished backup, one with a warning and the failed one, each opened with its per-VM details shown.
    for (const name of ['good', 'single', 'failed'] as const) {
      await visit(`runs-${name}`, `/runs?run=${runs[name]!.id}`, async () => {
        const row = page.locator(`clr-dg-row[data-run="${runs[name]!.id}"]`);
        await row.locator('sp-run-vm-table button.sp-expand').first().click();
        await row.locator('tr.sp-detail').waitFor();
      });
    }
    await visit('runs-retention', `/runs?run=${runs.retention!.id}`, () => page.locator(`clr-dg-row[data-run="${runs.retention!.id}"] clr-dg-row-detail`).waitFor());
    await visit('runs-list', '/runs', () => page.locator(`clr-dg-row[data-run="${runs.failed!.id}"]`).waitFor());
    await visit('vm-backup-tab', `/vm/monitor?vm=${vms['win-app01']!.id}`, () => page.locator('clr-dg-footer', { hasText: /^\s*\d+ Wiederherstellungspunkte?\s*$/ }).waitFor());
    await visit('job-list', '/jobs', () => page.locator('clr-dg-row', { hasText: 'Nacht' }).first().waitFor());
    await visit('repository', '/repository', async () => {
      // The page shows the outcome of maintenance started from it.
      await page.locator('[data-test="gc-now"]').click();
      await page.locator('[data-test="task-gc"] [data-test="task-message"]').waitFor({ timeout: 60_000 });
    });
    await visit('dr-view', '/replication', () => page.getByText('linux-db01-dr').first().waitFor());
    await visit('vm-list', '/vms', () => page.locator('clr-dg-footer').waitFor());
    // The restore wizard's result of a restore vCenter refuses: the failure, where it stopped and what to do.
    await page.goto(`${svc.service.url}/ui/#/actions/restore?vm=${vms['win-app01']!.id}`);
    await page.locator('input[name=sp-rp]').first().waitFor();
    await page.getByRole('button', { name: de['common.next']!, exact: true }).click();
    await page.locator('#new-name').fill('win-app01-wieder');
    await page.locator('#sp-name-check', { hasText: de['restore.name.available']! }).waitFor();
    await page.getByRole('button', { name: de['common.next']!, exact: true }).click();
    await svc.lab.control.injectFault({ method: 'CreateVM_Task', fault: 'InsufficientResourcesFault', count: 1 });
    await page.getByRole('button', { name: de['restore.start']!, exact: true }).click();
    await page.locator('p[role=status]', { hasText: de['restore.done.failed']! }).waitFor({ timeout: 120_000 });
    const expand = page.locator('sp-run-vm-table button.sp-expand').first();
    if (await expand.count()) await expand.click();
    found.push(...await englishOn(page, 'restore-result'));
    dates.push(...await datesOn(page, 'restore-result'));
    const result = await page.evaluate(() => (globalThis as any).document.body.innerText as string);
    assert.match(result, /Die Wiederherstellung von .* ist beim Schritt „VM wird erstellt“ fehlgeschlagen/, 'the failure is said in German, with its phase');
  } finally {
    await page.context().close();
  }
  assert.deepEqual(found, [], `English on German screens:\n${found.join('\n')}`);
  assert.deepEqual(dates, [], 'dates in another format');
  assert.deepEqual(errors, []);
});

test('de-DE: counts use plural forms, the service\'s own texts are German', async () => {
  const { page } = await germanPage();
  try {
    await page.goto(`${svc.service.url}/ui/#/runs?run=${runs.failed!.id}`);
    const row = page.locator(`clr-dg-row[data-run="${runs.failed!.id}"]`);
    await row.locator('sp-run-vm-table button.sp-expand').first().click();
    const text = await row.innerText();
    assert.ok(text.includes(de['svc.remedy.fileFault']!), `the remedy in German: ${text}`);
    assert.ok(text.includes(de['svc.phase.failed']!), 'the phase in German');
    await page.goto(`${svc.service.url}/ui/#/runs?run=${runs.retention!.id}`);
    const retention = page.locator(`clr-dg-row[data-run="${runs.retention!.id}"] clr-dg-row-detail`);
    await retention.waitFor();
    assert.match(await retention.innerText(), /Die Aufbewahrung des Jobs „Nacht“ hat (1 Wiederherstellungspunkt entfernt|alle Wiederherstellungspunkte behalten)/);
    await page.goto(`${svc.service.url}/ui/#/vm/monitor?vm=${vms['web-off01']!.id}`);
    await page.locator('clr-dg-footer', { hasText: /^\s*1 Wiederherstellungspunkt\s*$/ }).waitFor();
    await page.goto(`${svc.service.url}/ui/#/vms`);
    await page.locator('clr-dg-footer', { hasText: /^\s*\d+ virtuelle Maschinen?\s*$/ }).waitFor();
    assert.doesNotMatch(await page.evaluate(() => (globalThis as any).document.body.innerText as string), /\((s|e|n|en)\)/);
  } finally {
    await page.context().close();
  }
});

