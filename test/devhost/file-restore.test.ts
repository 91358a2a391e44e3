// Browser acceptance test of the "Recover files…" wizard inside the dev host (plugin mode), against the real
// service and the lab vCenter: a backup of linux-db01 (MBR: FAT32 "BOOT" + ext4 "root", built by
// test/lab/images/build.sh, whose manifest lists every file's sha256), then right-click › Recover files… →
// restore point → volume → folders → search → download (bytes checked against the image manifest) →
// restore into the guest (the lab's guest file system shows the file with the right bytes). A second pass in
// German and the dark theme opens the wizard from a restore point's row in Monitor › Backup, downloads a
// folder as a zip and checks that the wizard shows no English.
// Screenshots go to test-results/ (git-ignored).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Frame, type FrameLocator, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { CHROMIUM, darkTheme, frameOf, newPage, openDevHost, unnamedControls } from '../helpers/devhost-page.ts';
import type { CatalogStatus, JobRun, RestorePoint, VmSummary } from '../../backend/api/contract.ts';
import { imageManifest, type LabImageManifest } from '../lab/lab.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
const manifest = JSON.parse(readFileSync(`${root}manifest/plugin.json`, 'utf8')) as { definitions: { i18n: { definitions: Record<string, Record<string, string>> } } };
const label = (key: string, locale: 'en-US' | 'de-DE') => manifest.definitions.i18n.definitions[key]![locale]!;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));


let svc: TestService;
let browser: Browser;
let token: string;
let vm: VmSummary;
let image: LabImageManifest;
let work: string;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'sp-file-restore-ui-'));
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vm = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'linux-db01')!;
  assert.ok(vm, 'the lab has linux-db01');
  assert.ok(svc.lab.imagesDir, 'the lab runs on the built disk images');
  image = imageManifest(svc.lab.imagesDir, 'linux-db01');
  // Two restore points: the file versions view shows a file in both.
  for (let i = 0; i < 2; i++) {
    const started = await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.id] } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const run = await svc.waitRun(token, started.body.id, 60_000);
    assert.equal(run.status, 'success', JSON.stringify(run.vms.map((v) => v.message)));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function imageFile(fs: string, path: string): { size: number; sha256: string } {
  const f = image.partitions.find((p) => p.fs === fs)?.files.find((x) => x.path === path);
  assert.ok(f, `${path} on the ${fs} partition of the image manifest`);
  return f;
}

/** Waits until the file catalogs of the VM's restore points are built (the service builds one after each backup). */
async function catalogsReady(vmId: string): Promise<string[]> {
  const points = (await svc.call<RestorePoint[]>('GET', `/api/vms/${vmId}/restore-points`, { token })).body;
  for (const p of points) {
    const s = (await svc.call<CatalogStatus>('GET', `/api/restore-points/${p.id}/catalog`, { token })).body;
    if (s.state !== 'ready' && s.runId) assert.equal((await svc.waitRun(token, s.runId, 60_000)).status, 'success', `catalog of ${p.id}`);
    assert.equal((await svc.call<CatalogStatus>('GET', `/api/restore-points/${p.id}/catalog`, { token })).body.state, 'ready', `catalog of ${p.id}`);
  }
  return points.map((p) => p.id);
}

/** Presses Tab until the focused element (`TAG #id text`) matches. */
async function tabTo(page: Page, pred: (desc: string) => boolean, max = 60): Promise<string> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const d = await page.evaluate(() => {
      const a = (globalThis as any).document.activeElement;
      return a ? `${a.tagName}${a.id ? ' #' + a.id : ''} ${String(a.textContent ?? '').trim().slice(0, 40)}`.trim() : '';
    });
    if (pred(d)) return d;
  }
  throw new Error('focus never reached the target');
}

/** Right-click the VM in the dev host's tree and choose the action (label from the manifest). */
async function rightClickAction(page: Page, vmName: string, actionLabel: string): Promise<Frame> {
  await page.getByRole('treeitem', { name: vmName, exact: true }).click({ button: 'right' });
  await page.getByRole('menu').getByRole('menuitem', { name: actionLabel }).click();
  await page.locator('#modal').waitFor();
  return frameOf(page, '#modal-frame');
}

/** Restore point → the ext4 "root" volume → the browser at the volume's root. */
async function toRootFolder(w: FrameLocator, t: Record<string, string>): Promise<void> {
  await w.locator('input[name=sp-rp]').first().waitFor();
  assert.equal(await w.locator('input[name=sp-rp]:checked').count(), 1, 'a restore point is preselected');
  await w.getByRole('button', { name: t['common.next']!, exact: true }).click();
  // Volumes: both partitions with their filesystem, label and consistency.
  const rows = w.locator('tbody tr:has(input[name=sp-vol])');
  await rows.nth(1).waitFor({ timeout: 30_000 });
  const text = (await rows.allInnerTexts()).join('\n');
  assert.equal(await rows.locator('.label').count(), 2, 'each volume shows what its filesystem says about its consistency');
  assert.match(text, new RegExp(t['fileRestore.fs.fat']!.replace(/[/]/g, '\\/')));
  assert.match(text, /BOOT/);
  assert.match(text, /root/);
  const ext = rows.filter({ hasText: 'root' });
  await ext.locator('input[name=sp-vol]').check();
  await w.getByRole('button', { name: t['common.next']!, exact: true }).click();
  await w.getByRole('button', { name: 'etc', exact: true }).waitFor({ timeout: 30_000 });
}

/** Clicks a folder name and waits for one of its entries. */
async function openFolder(w: FrameLocator, name: string, expect: string): Promise<void> {
  await w.getByRole('button', { name, exact: true }).click();
  await w.locator('.sp-fr-name', { hasText: expect }).first().waitFor();
}

test('dev host: right-click › Recover files… browses a restore point, searches, downloads a file and puts it back into the guest', async () => {
  const { ctx, page, errors } = await newPage(browser);
  const problems: string[] = [];
  try {
    await openDevHost(svc, page);
    const frame = await rightClickAction(page, vm.name, label('action.recoverFiles.label', 'en-US'));
    await frame.waitForFunction(() => (globalThis as any).document.body?.getAttribute('cds-theme') === 'light');
    const w = page.frameLocator('#modal-frame');
    await toRootFolder(w, en);
    await page.screenshot({ path: `${SHOTS}file-restore-root.png` });
    const unnamed = async (where: string) => { for (const p of await unnamedControls(frame)) problems.push(`${where}: unnamed ${p}`); };
    await unnamed('folder');

    // Folders and breadcrumbs.
    await openFolder(w, 'etc', 'hostname');
    await openFolder(w, 'app', 'app.conf');
    const crumbs = (await w.locator('nav .sp-crumbs li').allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(crumbs.slice(1), ['etc', 'app']);
    const conf = imageFile('ext4', '/etc/app/app.conf');
    const row = w.locator('tbody tr', { hasText: 'app.conf' });
    assert.match(await row.innerText(), new RegExp(`${conf.size}\\s*B`));
    await w.locator('nav .sp-crumbs li').nth(1).getByRole('button').click();
    await w.locator('.sp-fr-name', { hasText: 'hostname' }).waitFor();

    // Search (glob over every volume of the restore point).
    await w.locator('#fr-search').fill('*.conf');
    await w.getByRole('button', { name: en['fileRestore.searchButton']!, exact: true }).click();
    await w.locator('[role=status]', { hasText: fill(en['fileRestore.searchCount']!, { n: 1, pattern: '*.conf' }) }).waitFor();
    const match = w.locator('tbody tr', { hasText: 'app.conf' });
    assert.match(await match.innerText(), /\/etc\/app/);
    await unnamed('search');

    // File versions from the match: the file in both restore points, one version; any of them downloads.
    assert.equal((await catalogsReady(vm.id)).length, 2);
    await match.getByRole('button', { name: fill(en['fileRestore.versionsOfName']!, { name: 'app.conf' }) }).click();
    await w.locator('#fr-versions-title', { hasText: fill(en['fileRestore.versionsOf']!, { path: '/etc/app/app.conf' }) }).waitFor();
    const versions = w.locator('tr.sp-fr-version');
    await versions.nth(1).waitFor();
    assert.equal(await versions.count(), 2);
    assert.match(await versions.nth(0).innerText(), new RegExp(`${conf.size}\\s*B[\\s\\S]*${en['fileRestore.unchanged']}`));
    assert.match(await versions.nth(1).innerText(), new RegExp(`${conf.size}\\s*B[\\s\\S]*${fill(en['fileRestore.versionN']!, { n: 1 })}`));
    await unnamed('versions');
    await page.screenshot({ path: `${SHOTS}file-restore-versions.png` });
    const [older] = await Promise.all([page.waitForEvent('download'), versions.nth(1).getByRole('button').click()]);
    assert.equal(older.suggestedFilename(), 'app.conf');
    assert.equal(sha256(readFileSync(await older.path())), conf.sha256);
    await w.locator('#fr-versions-back').click();
    await match.waitFor();

    // Download the one file: its bytes are the file's.
    await match.locator('input[type=checkbox]').check();
    await w.locator('.sp-fr-selected', { hasText: fill(en['fileRestore.selected']!, { n: 1 }) }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), w.locator('#fr-download').click()]);
    assert.equal(download.suggestedFilename(), 'app.conf');
    const saved = join(work, 'app.conf');
    await download.saveAs(saved);
    assert.equal(sha256(readFileSync(saved)), conf.sha256);
    await page.screenshot({ path: `${SHOTS}file-restore-search.png` });

    // Restore it into the guest, over a copy that changed since the backup; a guest credential is saved on the way.
    const guestPath = '/etc/app/app.conf';
    await svc.lab.control.request('POST', `/lab/guest/files?vm=${vm.name}&path=${encodeURIComponent(guestPath)}`, 'port=1\n');
    await svc.lab.control.resetGuest();
    await w.locator('#fr-put-back').click();
    await w.locator('#fr-target-original').waitFor();
    await w.locator('label[for=fr-existing-overwrite]').click();
    await w.locator('#fr-cred-name').fill('lab guest');
    await w.locator('#fr-cred-user').fill(svc.lab.guestUsername);
    await w.locator('#fr-cred-pass').fill(svc.lab.guestPassword);
    await w.locator('#fr-cred-save').click();
    await w.locator('#fr-credential option', { hasText: svc.lab.guestUsername }).waitFor({ state: 'attached' });
    await page.screenshot({ path: `${SHOTS}file-restore-put-back.png` });
    await unnamed('restore to the VM');
    const [started] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/files/restore') && r.request().method() === 'POST'),
      w.locator('#fr-start').click(),
    ]);
    assert.equal(started.status(), 202, await started.text());
    await frame.waitForFunction(() => (globalThis as any).document.activeElement?.id === 'fr-progress');
    await w.locator('clr-progress-bar').waitFor();
    const done = w.locator('p.sp-fr-done[role=status]');
    await done.waitFor({ timeout: 60_000 });
    assert.equal((await done.textContent())?.trim(), en['fileRestore.done.success']);
    await page.screenshot({ path: `${SHOTS}file-restore-progress.png` });

    // In the guest: the file with the restore point's bytes, written by the guest account.
    const files = await svc.lab.control.request('GET', `/lab/guest/files?vm=${vm.name}`) as { path: string; type: string; size: number; sha256?: string }[];
    const put = files.find((f) => f.path === guestPath);
    assert.ok(put, `${guestPath} in the guest: ${files.map((f) => f.path).join(', ')}`);
    assert.equal(put.sha256, conf.sha256);
    assert.equal(put.size, conf.size);
    const uploads = (await svc.lab.control.guestCalls()).filter((c) => c.kind === 'upload');
    assert.deepEqual(uploads.map((c) => [c.guestFilePath, c.user, c.sha256]), [[guestPath, svc.lab.guestUsername, conf.sha256]]);

    // The dev host's modal closes; the run is in the VM's history.
    await w.getByRole('button', { name: en['common.close']!, exact: true }).click();
    await page.locator('#modal').waitFor({ state: 'hidden' });
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

/**
 * English text in the wizard: every UI string of the catalog whose German differs, looked for in the frame's
 * text (placeholders split the string into parts; parts of 4+ characters count). Names from the guest
 * (files, labels) and the restore point are not UI strings and are never in the catalog.
 */
async function englishIn(frame: Frame): Promise<string[]> {
  const body = (await frame.locator('body').textContent()) ?? ''; // not innerText: Clarity upper-cases buttons with CSS
  const found = new Set<string>();
  for (const [k, text] of Object.entries(en)) {
    if (de[k] === text || !/^(fileRestore|common|col|recover|monitor|run|status|consistency|credentials|form|backup)\./.test(k)) continue;
    for (const part of text.split(/\{\w+\}/).map((p) => p.trim()).filter((p) => p.length >= 4)) {
      if (de[k]!.includes(part)) continue;
      if (new RegExp(`(^|[^\\p{L}])${part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}])`, 'u').test(body)) found.add(`${k}: "${part}"`);
    }
  }
  return [...found];
}

test('dev host (de-DE, dark): Recover files… from a restore point\'s row in Monitor › Backup, a folder and a file as one zip and into another guest folder, no English in the wizard', async () => {
  const { ctx, page, errors } = await newPage(browser, { locale: 'de-DE', dark: true });
  try {
    await openDevHost(svc, page, { vm: vm.id, tab: 'monitor', locale: 'de-DE' });
    const tab = await frameOf(page, 'iframe.view-frame');
    await darkTheme(page, tab);
    // The older of the two points (second row, newest first): the wizard opens on that one.
    const points = (await svc.call<RestorePoint[]>('GET', `/api/vms/${vm.id}/restore-points`, { token })).body.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    const olderRow = tab.locator('clr-datagrid').first().locator('clr-dg-row').nth(1);
    await olderRow.getByRole('button', { name: de['common.actions']! }).click();
    await tab.getByRole('menuitem', { name: de['action.recoverFiles']! }).or(tab.locator('.action-item', { hasText: de['action.recoverFiles']! })).first().click();
    await page.locator('#modal').waitFor();
    const frame = await frameOf(page, '#modal-frame');
    await frame.waitForFunction(() => (globalThis as any).document.body?.getAttribute('cds-theme') === 'dark' && (globalThis as any).document.documentElement.lang === 'de-DE');
    const w = page.frameLocator('#modal-frame');
    const problems: string[] = [];
    const check = async (where: string) => { for (const p of await englishIn(frame)) problems.push(`${where}: ${p}`); };

    await w.locator('input[name=sp-rp]').first().waitFor();
    await check('restore point');
    const volumesOf = page.waitForRequest((r) => /\/api\/restore-points\/[^/]+\/volumes$/.test(r.url()));
    await toRootFolder(w, de);
    assert.equal(decodeURIComponent(new URL((await volumesOf).url()).pathname.split('/')[3]!), points[1]!.id, 'the wizard browses the row\'s restore point');
    await check('volume root');
    await page.screenshot({ path: `${SHOTS}file-restore-de-dark.png` });
    await openFolder(w, 'etc', 'hostname');
    await check('folder');

    // A folder and a file in one zip, with the folder's content inside.
    await w.locator('tbody tr', { hasText: 'app' }).filter({ hasNot: w.locator('text=app.conf') }).locator('input[type=checkbox]').first().check();
    await w.locator('tbody tr', { hasText: 'hostname' }).locator('input[type=checkbox]').check();
    await w.locator('.sp-fr-selected', { hasText: fill(de['fileRestore.selected']!, { n: 2 }) }).waitFor();
    await w.locator('#fr-download', { hasText: de['fileRestore.downloadZip']! }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), w.locator('#fr-download').click()]);
    assert.match(download.suggestedFilename(), /^linux-db01-.*\.zip$/);
    const zip = join(work, 'files.zip');
    await download.saveAs(zip);
    const out = join(work, 'unzipped');
    execFileSync('unzip', ['-q', '-o', zip, '-d', out]);
    const listed = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(listed, ['app/', 'app/app.conf', 'hostname']);
    assert.equal(sha256(readFileSync(join(out, 'hostname'))), imageFile('ext4', '/etc/hostname').sha256);
    assert.equal(sha256(readFileSync(join(out, 'app', 'app.conf'))), imageFile('ext4', '/etc/app/app.conf').sha256);

    // Search in German; the selection stays.
    await w.locator('#fr-search').fill('*.txt');
    await w.getByRole('button', { name: de['fileRestore.searchButton']!, exact: true }).click();
    const todo = w.locator('tbody tr', { hasText: 'todo.txt' });
    await todo.waitFor();
    await check('search');
    await page.screenshot({ path: `${SHOTS}file-restore-search-de-dark.png` });
    await catalogsReady(vm.id);
    await todo.getByRole('button', { name: fill(de['fileRestore.versionsOfName']!, { name: 'todo.txt' }) }).click();
    await w.locator('tr.sp-fr-version').nth(1).waitFor();
    await check('versions');
    await w.locator('#fr-versions-back').click();
    await todo.waitFor();
    // The same two (still selected) into another guest folder, made there, with a stored credential.
    const cred = await svc.call<{ id: string }>('POST', '/api/credentials', { token, body: { name: 'Gast', username: svc.lab.guestUsername, password: svc.lab.guestPassword } });
    assert.equal(cred.status, 201, JSON.stringify(cred.body));
    await w.locator('#fr-put-back').click();
    await w.locator('label[for=fr-target-folder]').click();
    await w.locator('#fr-folder').fill('/srv/restored');
    await w.locator('label[for=fr-existing-keep-both]').click();
    await w.locator('#fr-credential').selectOption(cred.body.id);
    await check('restore to the VM');
    await page.screenshot({ path: `${SHOTS}file-restore-put-back-de-dark.png` });
    await w.locator('#fr-start').click();
    const done = w.locator('p.sp-fr-done[role=status]');
    await done.waitFor({ timeout: 60_000 });
    assert.equal((await done.textContent())?.trim(), de['fileRestore.done.success']);
    await check('progress');
    const inGuest = new Map(((await svc.lab.control.request('GET', `/lab/guest/files?vm=${vm.name}`)) as { path: string; sha256?: string }[]).map((f) => [f.path, f.sha256]));
    assert.equal(inGuest.get('/srv/restored/hostname'), imageFile('ext4', '/etc/hostname').sha256);
    assert.equal(inGuest.get('/srv/restored/app/app.conf'), imageFile('ext4', '/etc/app/app.conf').sha256);
    await w.getByRole('button', { name: de['common.close']!, exact: true }).click();
    await page.locator('#modal').waitFor({ state: 'hidden' });

    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

test('standalone: a disk without a filesystem the service can read shows why and cannot be opened; the wizard works with the keyboard only', async () => {
  const blank = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'web-off01')!;
  const started = await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [blank.id] } });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  // Powered off and without Tools: crash-consistent, a warning says so.
  const run = await svc.waitRun(token, started.body.id, 60_000);
  assert.ok(['success', 'warning'].includes(run.status), JSON.stringify(run.vms.map((v) => v.message)));
  const { ctx, page, errors } = await newPage(browser);
  try {
    await page.goto(`${svc.service.url}/ui/#/login`);
    await page.locator('#sp-user').fill(svc.lab.username);
    await page.locator('#sp-pass').fill(svc.lab.password);
    await page.locator('.login button[type=submit]').click();
    await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'));
    await page.goto(`${svc.service.url}/ui/#/actions/recover-files?vm=${blank.id}`);
    await page.locator('input[name=sp-rp]:checked').waitFor();
    await page.getByRole('button', { name: en['common.next']!, exact: true }).click();
    const row = page.locator('tbody tr:has(input[name=sp-vol])').first();
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.locator('input[name=sp-vol]').isDisabled(), true);
    const why = (await row.locator('.sp-fr-problem').textContent())?.trim() ?? '';
    assert.ok(why.length > 10, `the volume says why it cannot be opened: "${why}"`);
    assert.equal(await page.getByRole('button', { name: en['common.next']!, exact: true }).isDisabled(), true);
    await page.screenshot({ path: `${SHOTS}file-restore-unreadable.png` });

    // Keyboard only, on linux-db01: restore point → volume → a folder → a file → download.
    // Only the query changes: the router would keep the open wizard, so load the page afresh.
    await page.goto(`${svc.service.url}/ui/#/actions/recover-files?vm=${vm.id}`);
    await page.reload();
    await page.locator('input[name=sp-rp]:checked').waitFor();
    await tabTo(page, (d) => d.startsWith('INPUT #rp-'));
    await tabTo(page, (d) => d.startsWith('BUTTON') && d.includes(en['common.next']!));
    await page.keyboard.press('Enter');
    await page.locator('input[name=sp-vol]:checked').waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'fr-step-current', 'focus moves to the new step');
    await tabTo(page, (d) => d.startsWith('INPUT #vol-'));
    await page.keyboard.press('ArrowDown'); // the other volume of the radio group: ext4 "root"
    await page.locator('tr.sp-selected', { hasText: 'root' }).waitFor();
    await tabTo(page, (d) => d.startsWith('BUTTON') && d.includes(en['common.next']!));
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'home', exact: true }).waitFor({ timeout: 30_000 });
    await tabTo(page, (d) => d === 'BUTTON home');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'alice', exact: true }).waitFor();
    await tabTo(page, (d) => d === 'BUTTON alice');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'notes', exact: true }).waitFor();
    await tabTo(page, (d) => d === 'BUTTON notes');
    await page.keyboard.press('Enter');
    await page.locator('.sp-fr-name', { hasText: 'todo.txt' }).waitFor();
    await tabTo(page, (d) => d.startsWith('INPUT #fr-row-'));
    await page.keyboard.press('Space');
    await page.locator('.sp-fr-selected', { hasText: fill(en['fileRestore.selected']!, { n: 1 }) }).waitFor();
    await tabTo(page, (d) => d.startsWith('BUTTON #fr-download'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.equal(download.suggestedFilename(), 'todo.txt');
    assert.equal(sha256(readFileSync(await download.path())), imageFile('ext4', '/home/alice/notes/todo.txt').sha256);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});
