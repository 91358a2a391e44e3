// Browser test of the DR view's Failback against the real service and the lab: the confirmation asks where to
// fail back (the original VM and how the changes travel, or a new VM with its name, host and datastore) and
// says what each choice does to the replica and to the source; a new VM's name in use is refused with the
// service's message; a failback by full upload runs, the replica's row then says the failback waits and
// offers Commit failback / Undo failback, whose confirmation says what it does; undo puts the replica back
// to running. Screenshots go to test-results/ (git-ignored).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { CHROMIUM, newPage, unnamedControls } from '../helpers/devhost-page.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';
import type { JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { startDrTransporter, type TransporterProc } from './transport-lab.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
type Replica = Extract<ReplicaState, { replicaVmId: string }>;

let lab: Lab;
let vs: VSphere;
let t: TestService;
let token: string;
let browser: Browser;
let vmId: string;
/** The DR site's transporter: failback reads the replica through it. */
let drTransporter: TransporterProc;

async function run(path: string, body: unknown): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', path, { token, body });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return t.waitRun(token, r.body.id, 240_000);
}
const replica = async () => (await t.call<Replica>('GET', `/api/vms/${vmId}/replica`, { token })).body;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  lab = await startLab({ replication: true, diskMiB: 64 });
  vs = await connectToLab(lab);
  t = await startTestService({ lab, register: false });
  token = await t.login();
  vmId = (await lab.control.vms())[VM]!.moref;
  const seed = await run(`/api/vms/${vmId}/replicate`, { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', networkMap: [{ source: 'Prod-App', target: 'DR-App' }] });
  assert.equal(seed.status, 'success', JSON.stringify(seed));
  await vs.vms.powerOff({ type: 'VirtualMachine', value: vmId });
  const f = await run(`/api/replicas/${(await replica()).replicaVmId}/failover`, {});
  assert.ok(f.status === 'success' || f.status === 'warning', JSON.stringify(f));
  drTransporter = (await startDrTransporter(t, token)).transporter;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  if (drTransporter && drTransporter.proc.exitCode === null) await drTransporter.kill9();
  await vs?.close();
  await t?.stop();
  await lab?.stop();
});

test('DR view › Failback: original VM or new VM, each said; a name in use refused; failback by full upload, then Undo failback', async () => {
  const { ctx, page, errors } = await newPage(browser);
  try {
    await page.goto(`${t.service.url}/ui/#/login`);
    await page.locator('#sp-user').fill(t.lab.username);
    await page.locator('#sp-pass').fill(t.lab.password);
    await page.locator('.login button[type=submit]').click();
    await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'));
    await page.goto(`${t.service.url}/ui/#/replication`);
    const row = page.locator(`tr.sp-dr-replica[data-replica="${REPLICA}"]`);
    await row.waitFor({ timeout: 60_000 });
    await row.locator('button[data-action=failback]').click();
    const confirm = page.locator('#dr-confirm');
    await confirm.waitFor();
    const said = async () => confirm.innerText();
    // Each choice's texts appear once Angular has rendered it: waited for, not read at once.
    const says = async (text: string) => {
      const shown = await page.waitForFunction((t) => ((globalThis as any).document.querySelector('#dr-confirm')?.innerText ?? '').includes(t), text, { timeout: 10_000 }).then(() => true, () => false);
      assert.ok(shown, `the dialog does not say "${text}": ${await said()}`);
    };
    // The original VM by default, automatic transport: what happens to each.
    await says(fill(en['dr.failback.toOriginal']!, { name: VM }));
    await says(en['dr.failback.original.auto.replica']!);
    await says(en['dr.failback.original.auto.source']!);
    await page.locator('#dr-fb-transport').selectOption('hot-add');
    await says(en['dr.failback.original.hot-add.replica']!);
    for (const p of await unnamedControls(page)) assert.fail(`failback dialog: unnamed ${p}`);
    // A new VM: the button waits for name, host and datastore; the texts say what a new VM means.
    await confirm.getByLabel(en['dr.failback.toNew']!).check();
    await says(en['dr.failback.new.replica']!);
    assert.ok(await page.locator('#dr-confirm-go').isDisabled(), 'not before name, host and datastore');
    await page.locator('#dr-fb-name').fill('linux-db01');
    await page.locator('#dr-fb-host').fill('esx-prod-02.lab.local');
    await page.locator('#dr-fb-datastore').fill('prod-ds2');
    await says(fill(en['dr.failback.new.source']!, { name: 'linux-db01' }));
    await page.screenshot({ path: `${SHOTS}failback-confirm-new.png` });
    await page.locator('#dr-confirm-go').click();
    await page.locator('.alert-danger, [role=alert]', { hasText: /A VM named 'linux-db01' exists already: choose another name/ }).first().waitFor({ timeout: 30_000 });
    assert.equal((await replica()).state, 'failedOver', 'nothing started');

    // Back to the original VM by full upload.
    await row.locator('button[data-action=failback]').click();
    await confirm.waitFor();
    await page.locator('#dr-fb-transport').selectOption('full-upload');
    await says(en['dr.failback.original.full-upload.source']!);
    await page.locator('#dr-confirm-go').click();
    await page.locator('[role=status]', { hasText: fill(en['repl.dr.started']!, { action: en['repl.action.failback']!, name: REPLICA }) }).waitFor({ timeout: 60_000 });
    const fb = await until('the failback run to end', async () => (await t.call<JobRun[]>('GET', '/api/runs?limit=20', { token })).body.find((r) => r.kind === 'failback' && r.endedAt), { timeoutMs: 180_000, everyMs: 500 });
    assert.equal(fb.status, 'success', JSON.stringify(fb));
    assert.match(fb.vms[0]!.message ?? '', /sent to production \(full upload of the whole disks; the replica read through transporter 'dr-transporter01', [\d.]+ (B|KiB) received\)/);
    await row.locator('[data-failback-waits]', { hasText: fill(en['dr.failback.waits']!, { name: VM }) }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await row.locator('button[data-action]').evaluateAll((bs) => bs.map((b: any) => b.getAttribute('data-action'))), ['failbackCommit', 'failbackUndo']);

    // Undo failback: said, done, the replica runs again.
    await row.locator('button[data-action=failbackUndo]').click();
    await confirm.waitFor();
    await says(en['dr.failback.undo.replica']!);
    await says(en['dr.failback.undo.source']!);
    await page.screenshot({ path: `${SHOTS}failback-confirm-undo.png` });
    await page.locator('#dr-confirm-go').click();
    const undone = await until('the undo run to end', async () => (await t.call<JobRun[]>('GET', '/api/runs?limit=20', { token })).body.find((r) => r.kind === 'failback' && r.endedAt && r.id !== fb.id), { timeoutMs: 180_000, everyMs: 500 });
    assert.equal(undone.status, 'success', JSON.stringify(undone));
    await row.locator('button[data-action=failback]').waitFor({ timeout: 30_000 });
    const r = await replica();
    assert.equal(r.state, 'failedOver');
    assert.equal(r.failback, undefined);
    assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: vmId })).powerState, 'poweredOff', 'the original VM is off and as before');
    assert.equal(errors.length, 0, errors.join('\n'));
  } finally {
    await ctx.close();
  }
});
