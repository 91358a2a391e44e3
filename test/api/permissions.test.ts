// The user's vCenter permissions decide what the user may see and do through Stillpoint. The service
// runs with the administrator's service account; the lab's restricted user (operator@vsphere.local,
// a role on win-app01 and linux-db01 only, see test/lab/vcsim/permissions.go) logs in standalone and
// through the plugin path. VMs its vCenter account cannot see are answered like VMs that do not exist.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import { within } from '../helpers/wait.ts';
import type { ApiError, Dashboard, Job, JobRun, RestorePoint, ServerEvent, SessionInfo, VmDetail, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
let admin: string;        // bearer token of the administrator
let op: string;           // bearer token of the restricted user (standalone login)
let opPlugin: string;     // the restricted user's vSphere Client token (plugin path)
let ids: Record<string, string>;
let allowed: string[];
let hidden: string[];

/** The restricted user's two ways in: a bearer token, or the vSphere Client's session token. */
const asOp = (mode: 'standalone' | 'plugin') => (mode === 'standalone' ? { token: op } : { headers: { 'vmware-api-session-id': opPlugin } });
const MODES = ['standalone', 'plugin'] as const;

before(async () => {
  t = await startTestService();
  admin = await t.login();
  op = await t.login('restricted');
  opPlugin = await t.lab.control.uiSessionToken(t.lab.restrictedUsername, t.lab.restrictedPassword);
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
  allowed = ['linux-db01', 'win-app01'].map((n) => ids[n]!).sort();
  hidden = ['app-notools01', 'web-off01'].map((n) => ids[n]!).sort();
  assert.deepEqual([...t.lab.restrictedVms].sort(), ['linux-db01', 'win-app01']);
});
after(async () => { await t?.stop(); });

/** A backup of one VM by the administrator, waited for; returns the run. */
async function adminBackup(vmId: string): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [vmId] } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const run = await t.waitRun(admin, r.body.id);
  // web-off01 and app-notools01 have no running Tools: crash-consistent, a warning.
  assert.ok(run.status === 'success' || run.status === 'warning', JSON.stringify(run));
  assert.ok(run.vms[0]!.restorePointId, JSON.stringify(run));
  return run;
}

const notVisible = (r: { status: number; body: unknown }, what: string) => {
  assert.equal(r.status, 404, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.match((r.body as ApiError).message, /your vCenter account cannot see it/, what);
};

describe('standalone and plugin sessions of the restricted user', () => {
  test('both are answered as that user', async () => {
    for (const mode of MODES) {
      const who = await t.call<SessionInfo>('GET', '/api/session', asOp(mode));
      assert.equal(who.status, 200, JSON.stringify(who.body));
      assert.equal(who.body.mode, mode);
      assert.match(who.body.username, /^operator/i);
    }
  });

  test('GET /api/vms lists only the VMs the user\'s vCenter account can see', async () => {
    const all = await t.call<VmSummary[]>('GET', '/api/vms', { token: admin });
    assert.deepEqual(all.body.map((v) => v.id).sort(), [...allowed, ...hidden].sort(), 'the administrator sees every VM');
    for (const mode of MODES) {
      const vms = await t.call<VmSummary[]>('GET', '/api/vms', asOp(mode));
      assert.equal(vms.status, 200, JSON.stringify(vms.body));
      assert.deepEqual(vms.body.map((v) => v.id).sort(), allowed, mode);
    }
  });

  test('a hidden VM is answered like one that does not exist', async () => {
    for (const mode of MODES) {
      for (const id of hidden) {
        notVisible(await t.call('GET', `/api/vms/${id}`, asOp(mode)), `${mode} GET /api/vms/${id}`);
        notVisible(await t.call('GET', `/api/vms/${id}/restore-points`, asOp(mode)), `${mode} restore points of ${id}`);
        notVisible(await t.call('GET', `/api/vms/${id}/runs`, asOp(mode)), `${mode} runs of ${id}`);
        notVisible(await t.call('GET', `/api/vms/${id}/jobs`, asOp(mode)), `${mode} jobs of ${id}`);
      }
      const ok = await t.call<VmDetail>('GET', `/api/vms/${ids['win-app01']}`, asOp(mode));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.name, 'win-app01');
    }
    assert.equal((await t.call('GET', `/api/vms/${ids['web-off01']}`, { token: admin })).status, 200);
  });
});

test('backing up a hidden VM is refused (404) before anything happens: no run, no snapshot', async () => {
  const runsBefore = (await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length;
  const labBefore = await t.lab.control.vms();
  for (const mode of MODES) {
    for (const vmIds of [[ids['web-off01']!], [ids['linux-db01']!, ids['app-notools01']!]]) {
      const r = await t.call('POST', '/api/backups', { ...asOp(mode), body: { vmIds } });
      notVisible(r, `${mode} back up ${vmIds.join(',')}`);
      assert.match((r.body as ApiError).message, new RegExp(vmIds.at(-1)!));
    }
  }
  // A backup's run is recorded before POST /api/backups answers, so once every refusal has been answered
  // there is nothing left to wait for: a run started by any of them would be listed now.
  assert.equal((await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length, runsBefore, 'no run was started');
  const labAfter = await t.lab.control.vms();
  for (const name of ['web-off01', 'app-notools01', 'linux-db01']) {
    assert.equal(labAfter[name]!.disks[0]!.chain.length, 1, `${name} has no snapshot`);
    assert.equal(labAfter[name]!.disks[0]!.currentFileName, labBefore[name]!.disks[0]!.currentFileName);
  }
});

test('restore points and runs of a hidden VM (an administrator\'s backup) stay hidden and cannot be restored', async () => {
  const web = ids['web-off01']!;
  const run = await adminBackup(web);
  const rpId = run.vms[0]!.restorePointId!;
  assert.ok(rpId);
  assert.equal((await t.call<RestorePoint>('GET', `/api/restore-points/${rpId}`, { token: admin })).status, 200);
  for (const mode of MODES) {
    notVisible(await t.call('GET', `/api/vms/${web}/restore-points`, asOp(mode)), `${mode} list`);
    notVisible(await t.call('GET', `/api/restore-points/${rpId}`, asOp(mode)), `${mode} get`);
    for (const target of [
      { kind: 'original', confirm: true, powerOn: false },
      { kind: 'new', name: 'web-off01-stolen', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false },
    ]) {
      notVisible(await t.call('POST', `/api/restore-points/${rpId}/restore`, { ...asOp(mode), body: { target } }), `${mode} restore ${target.kind}`);
    }
    // The run is not listed and cannot be read or cancelled.
    const runs = await t.call<JobRun[]>('GET', '/api/runs', asOp(mode));
    assert.equal(runs.status, 200);
    assert.ok(!runs.body.some((r) => r.id === run.id), `${mode}: the hidden VM's run is listed`);
    assert.ok(!runs.body.some((r) => r.vms.some((v) => hidden.includes(v.vmId))), `${mode}: a run of a hidden VM is listed`);
    notVisible(await t.call('GET', `/api/runs/${run.id}`, asOp(mode)), `${mode} GET run`);
    notVisible(await t.call('POST', `/api/runs/${run.id}/cancel`, asOp(mode)), `${mode} cancel run`);
  }
  assert.ok((await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.some((r) => r.id === run.id), 'the administrator sees the run');
  assert.ok(!(await t.lab.control.vms())['web-off01-stolen'], 'no VM was restored');
});

test('the restricted user backs up a VM it can see, and sees its run and restore point (both sessions)', async () => {
  for (const [mode, name] of [['plugin', 'linux-db01'], ['standalone', 'win-app01']] as const) {
    const vmId = ids[name]!;
    const r = await t.call<JobRun>('POST', '/api/backups', { ...asOp(mode), body: { vmIds: [vmId] } });
    assert.equal(r.status, 202, `${mode}: ${JSON.stringify(r.body)}`);
    const run = await t.waitRun(op, r.body.id);
    assert.equal(run.status, 'success', JSON.stringify(run));
    const points = await t.call<RestorePoint[]>('GET', `/api/vms/${vmId}/restore-points`, asOp(mode));
    assert.equal(points.status, 200);
    assert.ok(points.body.some((p) => p.id === run.vms[0]!.restorePointId), `${mode}: the new restore point is listed`);
    assert.ok((await t.call<JobRun[]>('GET', '/api/runs', asOp(mode))).body.some((x) => x.id === run.id), `${mode}: the run is listed`);
  }
  // The backup itself ran with the service account; the snapshot is gone again.
  const lab = await t.lab.control.vms();
  assert.equal(lab['linux-db01']!.disks[0]!.chain.length, 1);
});

test('jobs show only visible VMs, and a job with a hidden VM cannot be run by the restricted user', async () => {
  const created = await t.call<Job>('POST', '/api/jobs', {
    token: admin,
    body: {
      name: 'mixed', vmIds: [ids['win-app01']!, ids['web-off01']!], schedule: { cron: null }, retention: { keepLast: 3 },
      appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true,
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (const mode of MODES) {
    const list = await t.call<Job[]>('GET', '/api/jobs', asOp(mode));
    assert.deepEqual(list.body.find((j) => j.id === created.body.id)?.vmIds, [ids['win-app01']!], mode);
    const one = await t.call<Job>('GET', `/api/jobs/${created.body.id}`, asOp(mode));
    assert.deepEqual(one.body.vmIds, [ids['win-app01']!], mode);
    const run = await t.call<ApiError>('POST', `/api/jobs/${created.body.id}/run`, asOp(mode));
    assert.equal(run.status, 403, `${mode} run job: ${JSON.stringify(run.body)}`);
    assert.match(run.body.message, /includes VMs your vCenter account cannot see/);
    notVisible(await t.call('POST', `/api/jobs/${created.body.id}/vms`, { ...asOp(mode), body: { vmIds: [ids['app-notools01']!] } }), `${mode} add hidden VM`);
    // Changing or deleting the job would touch the hidden VM: refused, and the job keeps it.
    const put = await t.call('PUT', `/api/jobs/${created.body.id}`, { ...asOp(mode), body: { ...created.body, id: undefined, createdAt: undefined, nextRun: undefined, lastRun: undefined, vmIds: [ids['win-app01']!] } });
    assert.equal(put.status, 403, `${mode} PUT: ${JSON.stringify(put.body)}`);
    assert.equal((await t.call('DELETE', `/api/jobs/${created.body.id}`, asOp(mode))).status, 403);
    assert.deepEqual((await t.call<Job>('GET', `/api/jobs/${created.body.id}`, { token: admin })).body.vmIds, [ids['win-app01']!, ids['web-off01']!]);
  }
  const jobs = await t.call<Job[]>('GET', `/api/vms/${ids['win-app01']}/jobs`, { token: op });
  assert.ok(jobs.body.some((j) => j.id === created.body.id));
  await t.call('DELETE', `/api/jobs/${created.body.id}`, { token: admin });
});

test('a job of hidden VMs only does not exist for the restricted user; folder jobs need every folder VM visible', async () => {
  const hiddenJob = await t.call<Job>('POST', '/api/jobs', {
    token: admin,
    body: {
      name: 'hidden-only', vmIds: [ids['web-off01']!], schedule: { cron: null }, retention: { keepLast: 3 },
      appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true,
    },
  });
  assert.equal(hiddenJob.status, 201);
  for (const mode of MODES) {
    assert.ok(!(await t.call<Job[]>('GET', '/api/jobs', asOp(mode))).body.some((j) => j.id === hiddenJob.body.id), `${mode} lists it`);
    assert.equal((await t.call('GET', `/api/jobs/${hiddenJob.body.id}`, asOp(mode))).status, 404);
    assert.equal((await t.call('DELETE', `/api/jobs/${hiddenJob.body.id}`, asOp(mode))).status, 404);
  }
  await t.call('DELETE', `/api/jobs/${hiddenJob.body.id}`, { token: admin });

  const folders = await t.call<{ id: string; name: string }[]>('GET', '/api/inventory/folders', { token: op });
  const vmFolder = folders.body.find((f) => f.name === 'vm')!;
  const folderJob = await t.call<ApiError>('POST', '/api/jobs', {
    token: op,
    body: {
      name: 'by-folder', vmIds: [], folderIds: [vmFolder.id], schedule: { cron: null }, retention: { keepLast: 3 },
      appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true,
    },
  });
  assert.equal(folderJob.status, 403, JSON.stringify(folderJob.body));
  assert.ok(!(await t.call<Job[]>('GET', '/api/jobs', { token: admin })).body.some((j) => j.name === 'by-folder'));
});

test('the dashboard counts only visible VMs and their runs', async () => {
  const mine = await t.call<Dashboard>('GET', '/api/dashboard', { token: op });
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  assert.equal(mine.body.vms.total, 2);
  const all = await t.call<Dashboard>('GET', '/api/dashboard', { token: admin });
  assert.equal(all.body.vms.total, 4);
  // The administrator's backup of web-off01 counts for the administrator only.
  const ok = (d: Dashboard) => d.last24h.success + d.last24h.warning;
  assert.ok(ok(all.body) > ok(mine.body), `${JSON.stringify(all.body.last24h)} vs ${JSON.stringify(mine.body.last24h)}`);
  assert.equal(mine.body.last24h.warning, 0, 'the hidden VMs\' crash-consistent backups are not counted');
  assert.ok(!mine.body.durations.some((d) => d.vmName === 'web-off01' || d.vmName === 'app-notools01'), JSON.stringify(mine.body.durations));
  assert.ok(all.body.repository.restorePoints > mine.body.repository.restorePoints, 'restore points of hidden VMs are not counted');
});

test('the event stream of the restricted user carries no run or restore point of a hidden VM', async () => {
  const seen: ServerEvent[] = [];
  let opRunId = '';
  const stream = t.events(op, (e) => {
    seen.push(e);
    return e.type === 'run' && e.run.id === opRunId && e.run.status !== 'running' && e.run.status !== 'queued';
  });
  assert.equal(await stream.opened, 200);
  const hiddenRun = await adminBackup(ids['app-notools01']!);
  const r = await t.call<JobRun>('POST', '/api/backups', { token: op, body: { vmIds: [ids['linux-db01']!] } });
  assert.equal(r.status, 202);
  opRunId = r.body.id;
  await within('the final event of the restricted user\'s run', stream.done, 60_000);
  assert.ok(seen.some((e) => e.type === 'run' && e.run.id === opRunId), 'the user\'s own run is streamed');
  const leaks = seen.filter((e) =>
    (e.type === 'run' && (e.run.id === hiddenRun.id || e.run.vms.some((v) => hidden.includes(v.vmId)))) ||
    (e.type === 'restorePoint' && hidden.includes(e.restorePoint.vmId)) ||
    (e.type === 'job' && e.job.vmIds.some((id) => hidden.includes(id))));
  assert.deepEqual(leaks, []);
});
