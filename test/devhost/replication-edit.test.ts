// Browser test: editing a replication job inside the dev host (plugin mode), against the real service and
// the lab vCenter. A job (linux-db01 → esx-dr-01, "VM Network" → DR-Network, RPO 60) has made its replica;
// in the DR view, Edit opens the replication wizard filled with the job's settings; the RPO and the
// network mapping are changed and saved → the job reads back changed through the API, and its next run
// uses them: the replica's network adapter is moved to the new DR network (read from the lab vCenter) and
// its RPO compliance is measured against the new RPO. Moving a job that has replicas (another suffix) is
// refused with a message that says what can change instead.
// Screenshots go to test-results/ (git-ignored).
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { startLab, type Lab } from '../lab/lab.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { CHROMIUM, frameOf, newPage, unnamedControls } from '../helpers/devhost-page.ts';
import type { ApiError, JobRun, ReplicaState, ReplicationJob, ReplicationJobInput, VmSummary } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { findReplicas } from '../../backend/replication/marks.ts';
import { readNics } from '../../backend/replication/failover/vm-ops.ts';

const root = new URL('../../', import.meta.url).pathname;
const SHOTS = `${root}test-results/`;
const en = JSON.parse(readFileSync(`${root}ui/src/app/i18n/en-US.json`, 'utf8')) as Record<string, string>;
const fill = (text: string, params: Record<string, string | number>) => text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? ''));
type Replica = Extract<ReplicaState, { replicaVmId: string }>;

let lab: Lab;
let svc: TestService;
let vs: VSphere;
let browser: Browser;
let token: string;
let vm: VmSummary;

before(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  lab = await startLab({ replication: true });
  svc = await startTestService({ lab, config: { devHost: true }, register: false });
  token = await svc.login();
  vs = await connectToLab(lab);
  vm = (await svc.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.name === 'linux-db01')!;
  assert.ok(vm, 'the lab has linux-db01');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await vs?.close();
  await svc?.stop();
  await lab?.stop();
});

async function replicaNetworks(name: string): Promise<string[]> {
  const replica = (await findReplicas(vs)).find((r) => r.name === name);
  assert.ok(replica, `replica ${name} exists`);
  return (await readNics(vs, replica.ref)).map((n) => `${n.backing?.deviceName}${n.connectable?.startConnected ? '' : ' (not connected)'}`);
}

test('dev host: Edit in the DR view opens the wizard filled with the job; the changed RPO and network mapping are saved and used by the next run', async () => {
  const body: ReplicationJobInput = {
    name: 'DR db (edit)', vmIds: [vm.id], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-edit', networkMap: [{ source: 'VM Network', target: 'DR-Network' }] },
    schedule: { cron: '0 3 * * *' }, rpoMinutes: 60, keepPoints: 4, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
  };
  const made = await svc.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const first = await svc.call<JobRun>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
  assert.equal((await svc.waitRun(token, first.body.id, 120_000)).status, 'success');
  assert.deepEqual(await replicaNetworks('linux-db01-edit'), ['DR-Network']);

  const { ctx, page, errors } = await newPage(browser);
  const problems: string[] = [];
  try {
    const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password });
    await page.goto(`${svc.service.url}/devhost/?${q}`);
    await page.locator('#tree li[data-id]').first().waitFor();
    await page.getByRole('treeitem', { name: 'Stillpoint Backup' }).click();
    const global = await frameOf(page, 'iframe.view-frame');
    await global.getByRole('tab', { name: en['nav.replication']! }).click();
    const g = page.frameLocator('iframe.view-frame');
    const row = g.locator('#dr-jobs tr', { hasText: 'DR db (edit)' });
    await row.waitFor({ timeout: 30_000 });
    await row.locator(`button[data-edit-job="${made.body.id}"]`).click();

    // The wizard, filled with the job's settings.
    await page.locator('#modal').waitFor();
    assert.equal(await page.locator('#modal-title').innerText(), en['replication.edit.title']);
    const frame = await frameOf(page, '#modal-frame');
    const w = page.frameLocator('#modal-frame');
    await w.locator('#rp-save').waitFor();
    assert.equal(await w.locator('#rp-name').inputValue(), 'DR db (edit)');
    assert.equal(await w.locator('#rp-host option:checked').innerText(), 'esx-dr-01.lab.local');
    assert.equal(await w.locator('#rp-datastore').inputValue(), 'dr-ds1');
    assert.equal(await w.locator('#rp-suffix').inputValue(), '-edit');
    assert.equal(await w.locator('#rp-net-src-0').inputValue(), 'VM Network');
    assert.equal(await w.locator('#rp-net-dst-0').inputValue(), 'DR-Network');
    assert.equal(await w.locator('#rp-cron').inputValue(), '0 3 * * *');
    assert.equal(await w.locator('#rp-rpo').inputValue(), '60');
    assert.equal(await w.locator('#rp-points').inputValue(), '4');
    assert.equal(await w.locator('#rp-source-snapshot').isChecked(), true);
    assert.equal(await w.locator('#rp-quiesce').isChecked(), true);
    await w.locator('#rp-placement-fixed', { hasText: en['replication.edit.placementFixed']! }).waitFor();
    for (const p of await unnamedControls(frame)) problems.push(`edit wizard: unnamed ${p}`);

    await w.locator('#rp-rpo').fill('15');
    await w.locator('#rp-net-dst-0').fill('DR-App');
    await page.screenshot({ path: `${SHOTS}replication-edit.png` });
    await w.locator('#rp-save').click();
    await w.locator('[role=status]', { hasText: fill(en['replication.edit.saved']!, { name: 'DR db (edit)' }) }).waitFor();

    const saved = (await svc.call<ReplicationJob>('GET', `/api/replication-jobs/${made.body.id}`, { token })).body;
    assert.equal(saved.rpoMinutes, 15);
    assert.deepEqual(saved.target.networkMap, [{ source: 'VM Network', target: 'DR-App' }]);
    assert.deepEqual([saved.target.host, saved.target.datastore, saved.target.suffix, saved.schedule.cron, saved.keepPoints, saved.appAware.quiesce],
      ['esx-dr-01.lab.local', 'dr-ds1', '-edit', '0 3 * * *', 4, true], 'what was not edited stays');

    // The next run (Run now in the same dialog) uses the new mapping and RPO.
    await w.locator('#rp-run').click();
    await w.locator('#rp-run-status').waitFor({ timeout: 120_000 });
    assert.equal(await w.locator('#rp-run-status').innerText(), en['repl.wizard.runDone.success']);
    assert.deepEqual(await replicaNetworks('linux-db01-edit'), ['DR-App'], 'the replica\'s adapter is on the newly mapped network');
    const rep = (await svc.call<Replica>('GET', `/api/vms/${vm.id}/replica`, { token })).body;
    assert.equal(rep.recoveryPoints, 2);
    assert.equal(rep.rpo?.rpoMinutes, 15, 'RPO compliance is measured against the edited RPO');
    assert.equal(rep.rpo?.jobId, made.body.id);
    assert.equal(errors.length, 0, errors.join('\n'));
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }

  // Moving the replicas of a job that has them is refused, saying what can change instead.
  const moved = await svc.call<ApiError>('PUT', `/api/replication-jobs/${made.body.id}`, { token, body: { ...body, target: { ...body.target, suffix: '-moved' } } });
  assert.equal(moved.status, 409, JSON.stringify(moved.body));
  assert.match(moved.body.message, /already has replicas \(linux-db01-edit\): its suffix cannot change.*change the network mapping, schedule, RPO/);
  assert.equal((await svc.call<ReplicationJob>('GET', `/api/replication-jobs/${made.body.id}`, { token })).body.target.suffix, '-edit');
});
