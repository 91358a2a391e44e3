// Browser acceptance test of replication inside the dev host (plugin mode), against the real service and the
// lab vCenter: right-click › Replicate… → the replication job wizard (DR host and datastore, network mapping,
// schedule and RPO, points, application-aware) → Create job → Run now (live progress) → "Open the DR view" →
// the replica listed with its state, last sync, RPO compliance and points → Test failover: the confirmation
// says what it does to the replica and to the source; when the service offers the failover routes it is
// confirmed and the replica's recovery points are checked untouched → clean up (job deleted). The VM's
// Monitor › Backup tab then shows the Replica part (state, RPO, points), in German and the dark theme with
// no English left in it.
// Screenshots go to test-results/ (git-ignored).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { CHROMIUM, darkTheme, frameOf, newPage, openDevHost, unnamedControls } from '../helpers/devhost-page.ts';
import type { JobRun, ReplicaState, ReplicationJob, VmSummary } from '../../backend/api/contract.ts';
import { until } from '../helpers/wait.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const de = JSON.parse(readFileSync(`${root}ui/src/app/i18n/de-DE.json`, 'utf8')) as Record<string, string>;
const manifest = JSON.parse(readFileSync(`${root}manifest/plugin.json`, 'utf8')) as { definitions: { i18n: { definitions: Record<string, Record<string, string>> } } };
const label = (key: string, locale: 'en-US' | 'de-DE') => manifest.definitions.i18n.definitions[key]![locale]!;
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
type Replica = Extract<ReplicaState, { replicaVmId: string }>;

let svc: TestService;
let browser: Browser;
let token: string;
let vm: VmSummary;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  svc = await startTestService({ config: { devHost: true }, register: false });
  token = await svc.login();
  vm = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'linux-db01')!;
  assert.ok(vm, 'the lab has linux-db01');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await svc?.stop();
});

async function rightClickAction(page: Page, vmName: string, actionLabel: string): Promise<Frame> {
  await page.getByRole('treeitem', { name: vmName, exact: true }).click({ button: 'right' });
  await page.getByRole('menu').getByRole('menuitem', { name: actionLabel }).click();
  await page.locator('#modal').waitFor();
  return frameOf(page, '#modal-frame');
}

async function failoverRoutesOffered(): Promise<boolean> {
  const doc = (await svc.call<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json')).body;
  return Object.keys(doc.paths ?? {}).some((p) => /\/replicas\/\{id\}\/failover$/.test(p));
}

test('dev host: right-click › Replicate… creates a job, runs it, the DR view shows the replica with its RPO, Test failover, clean up', async () => {
  const { ctx, page, errors } = await newPage(browser);
  const problems: string[] = [];
  try {
    await openDevHost(svc, page);
    const frame = await rightClickAction(page, vm.name, label('action.replicate.label', 'en-US'));
    await frame.waitForFunction(() => (globalThis as any).document.body?.getAttribute('cds-theme') === 'light');
    const w = page.frameLocator('#modal-frame');

    // The wizard: target, network mapping, schedule and RPO, points, source and application-aware.
    await w.locator('#rp-host option', { hasText: 'esx-dr-01.lab.local' }).waitFor({ state: 'attached' });
    assert.match(await w.locator('body').innerText(), new RegExp(fill(en['repl.wizard.intro']!, { vms: 'linux-db01' }).slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await w.locator('#rp-name').fill('DR linux-db01 (browser)');
    await w.locator('#rp-host').selectOption({ label: 'esx-dr-01.lab.local' });
    await w.locator('#rp-datastore').selectOption('dr-ds1');
    await w.locator('#rp-suffix').fill('-drui');
    await w.locator('#rp-add-net').click();
    await w.locator('#rp-net-dst-0').fill('VM Network');
    await w.locator('#rp-rpo').fill('30');
    await w.locator('#rp-points').fill('3');
    assert.equal(await w.locator('#rp-source-snapshot').isChecked(), true, 'a snapshot of the running VM is the default source');
    assert.equal(await w.locator('#rp-quiesce').isChecked(), true, 'quiesced as a backup is');
    for (const p of await unnamedControls(frame)) problems.push(`wizard: unnamed ${p}`);
    await page.screenshot({ path: `${SHOTS}replication-wizard.png` });
    await w.locator('#rp-create').click();
    await w.locator('[role=status]', { hasText: fill(en['repl.wizard.created']!, { name: 'DR linux-db01 (browser)' }) }).waitFor();
    const job = (await svc.call<ReplicationJob[]>('GET', '/api/replication-jobs', { token })).body.find((j) => j.name === 'DR linux-db01 (browser)');
    assert.ok(job, 'the job exists');
    assert.deepEqual([job.target.host, job.target.datastore, job.target.suffix, job.rpoMinutes, job.keepPoints, job.source, job.appAware.quiesce],
      ['esx-dr-01.lab.local', 'dr-ds1', '-drui', 30, 3, 'snapshot', true]);
    assert.deepEqual(job.target.networkMap, [{ source: 'VM Network', target: 'VM Network' }]);

    // Run now: live progress, then the outcome.
    await w.locator('#rp-run').click();
    await w.locator('#rp-run-status').waitFor({ timeout: 90_000 });
    assert.equal(await w.locator('#rp-run-status').innerText(), en['repl.wizard.runDone.success']);
    await page.screenshot({ path: `${SHOTS}replication-run.png` });

    // The DR view: the replica with its RPO.
    await w.locator('#rp-dr').click();
    await page.locator('#modal').waitFor({ state: 'hidden' });
    const global = await frameOf(page, 'iframe.view-frame');
    const g = page.frameLocator('iframe.view-frame');
    const row = g.locator('tr.sp-dr-replica[data-replica="linux-db01-drui"]');
    await row.waitFor({ timeout: 30_000 });
    const text = await row.innerText();
    assert.match(text, /linux-db01-drui/);
    assert.match(text, new RegExp(en['replica.state.ready']!));
    assert.match(text, /RPO met \(0(\.\d+)?×\)/);
    assert.match(text, /\b1\b/, 'one recovery point');
    assert.match(await g.locator('#dr-jobs').innerText(), /DR linux-db01 \(browser\)[\s\S]*30 min/);
    for (const p of await unnamedControls(global)) problems.push(`DR view: unnamed ${p}`);
    await page.screenshot({ path: `${SHOTS}replication-dr-view.png` });

    // Test failover: the confirmation says what happens to the replica and to the source.
    await row.locator('button[data-action=test]').click();
    const confirm = g.locator('#dr-confirm');
    await confirm.waitFor();
    const said = await confirm.innerText();
    assert.ok(said.includes(en['repl.confirm.test.replica']!), said);
    assert.ok(said.includes(en['repl.confirm.test.source']!), said);
    assert.ok(said.includes(fill(en['repl.confirm.source']!, { name: 'linux-db01' })), said);
    await page.screenshot({ path: `${SHOTS}replication-test-confirm.png` });
    const before = (await svc.call<Replica>('GET', `/api/vms/${vm.id}/replica`, { token })).body;
    if (await failoverRoutesOffered()) {
      await g.locator('#dr-confirm-go').click();
      await g.locator('[role=status]', { hasText: fill(en['repl.dr.started']!, { action: en['repl.action.test']!, name: 'linux-db01-drui' }) }).waitFor({ timeout: 60_000 });
      const testRun = await until('the test failover run to end', async () => {
        const runs = (await svc.call<JobRun[]>('GET', '/api/runs?limit=20', { token })).body;
        return runs.find((r) => r.kind === 'failover-test' && r.endedAt);
      }, { timeoutMs: 180_000, everyMs: 500 });
      assert.ok(testRun.status === 'success' || testRun.status === 'warning', JSON.stringify(testRun));
      const after = await until('the replica ready again after the test failover', async () => {
        const r = (await svc.call<Replica>('GET', `/api/vms/${vm.id}/replica`, { token })).body;
        return r.state === 'ready' ? r : undefined;
      }, { timeoutMs: 120_000, everyMs: 500 });
      assert.deepEqual(after.points?.map((p) => p.id), before.points?.map((p) => p.id), 'a test failover leaves the replica\'s points as they were');
    } else {
      // The failover routes are not in this build: the dialog is cancelled and nothing changed.
      await g.getByRole('button', { name: en['common.cancel']!, exact: true }).click();
      await confirm.waitFor({ state: 'hidden' });
    }

    // Clean up: delete the job from the DR view; the replica stays.
    await g.locator('#dr-jobs tr', { hasText: 'DR linux-db01 (browser)' }).getByRole('button', { name: en['common.delete']!, exact: true }).click();
    await g.locator('.modal-body', { hasText: fill(en['repl.dr.deleteJob']!, { name: 'DR linux-db01 (browser)' }) }).waitFor();
    await g.locator('.modal-footer .btn-danger').last().click();
    await g.locator('#dr-jobs', { hasText: en['repl.dr.noJobs']! }).waitFor();
    assert.equal((await svc.call<ReplicationJob[]>('GET', '/api/replication-jobs', { token })).body.length, 0);
    assert.equal(errors.length, 0, errors.join('\n'));
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('dev host (de-DE, dark): the VM\'s Monitor › Backup shows the Replica part (state, last sync, RPO, points) with no English', async () => {
  // A job again, so the replica has an RPO (the first test deleted its job).
  const made = await svc.call<ReplicationJob>('POST', '/api/replication-jobs', {
    token, body: {
      name: 'DR tab', vmIds: [vm.id], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-drui' }, schedule: { cron: null },
      rpoMinutes: 45, keepPoints: 3, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
    },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const { ctx, page, errors } = await newPage(browser, { locale: 'de-DE', dark: true });
  try {
    await openDevHost(svc, page, { vm: vm.id, tab: 'monitor', locale: 'de-DE' });
    const tab = await frameOf(page, 'iframe.view-frame');
    await darkTheme(page, tab);
    await tab.waitForFunction(() => (globalThis as any).document.body?.getAttribute('cds-theme') === 'dark' && (globalThis as any).document.documentElement.lang === 'de-DE');
    const t = page.frameLocator('iframe.view-frame');
    await t.locator('#replica-rpo .label').waitFor({ timeout: 30_000 });
    const rpo = await t.locator('#replica-rpo').innerText();
    assert.match(rpo, /RPO eingehalten \(0(\.\d+)?×\)/);
    assert.match(rpo, /DR tab/);
    assert.equal(await t.locator('#replica-points tbody tr').count(), 1);
    const body = (await t.locator('body').textContent()) ?? '';
    assert.ok(body.includes(de['replica.state.ready']!) || body.includes(de['replica.state']!), body.slice(0, 400));
    const english: string[] = [];
    for (const [k, text] of Object.entries(en)) {
      if (!/^(repl\.monitor|repl\.rpo)\./.test(k) || de[k] === text) continue;
      for (const part of text.split(/\{\w+\}/).map((p) => p.trim()).filter((p) => p.length >= 4)) if (!de[k]!.includes(part) && body.includes(part)) english.push(`${k}: ${part}`);
    }
    assert.deepEqual(english, []);
    await page.screenshot({ path: `${SHOTS}replication-monitor-de-dark.png` });
    assert.equal(errors.length, 0, errors.join('\n'));
  } finally {
    await ctx.close();
    await svc.call('DELETE', `/api/replication-jobs/${made.body.id}`, { token });
  }
});
