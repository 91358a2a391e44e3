// Sites: the service configured with two lab vCenters (same inventory names, same morefs) lists
// both inventories with site-qualified ids, backs up a VM from each and restores each to its own site.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../backend/config.ts';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { DatastoreInfo, FolderInfo, Health, HostInfo, Job, JobInput, JobRun, RestorePoint, SessionInfo, VmSummary } from '../../backend/api/contract.ts';

let prod: Lab;
let dr: Lab;
let t: TestService;
let token: string;
before(async () => {
  [prod, dr] = await Promise.all([startLab(), startLab()]);
  t = await startTestService({ lab: prod, extraSites: [{ id: 'dr', lab: dr }] });
  token = await t.login();
});
after(async () => {
  await t?.stop();
  await Promise.all([prod?.stop(), dr?.stop()]);
});

test('health reports both sites connected; the primary stays in vcenter', async () => {
  const h = await t.call<Health>('GET', '/api/health');
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok', JSON.stringify(h.body));
  assert.equal(h.body.vcenter.connected, true);
  assert.deepEqual(h.body.sites?.map((s) => [s.id, s.primary, s.connected]), [['primary', true, true], ['dr', false, true]]);
});

test('GET /api/vms lists both inventories with distinct ids and their site', async () => {
  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  assert.equal(vms.length, 8, JSON.stringify(vms.map((v) => v.id)));
  assert.equal(new Set(vms.map((v) => v.id)).size, 8);
  const [labProd, labDr] = await Promise.all([prod.control.vms(), dr.control.vms()]);
  const db = labProd['linux-db01']!.moref;
  assert.equal(labDr['linux-db01']!.moref, db, 'the two labs use the same morefs');
  assert.deepEqual(vms.filter((v) => v.name === 'linux-db01').map((v) => [v.id, v.site]).sort(), [[`dr:${db}`, 'dr'], [db, 'primary']]);
  for (const v of vms) assert.ok(v.site === 'primary' ? !v.id.includes(':') : v.id.startsWith('dr:'), v.id);
  const one = await t.call<VmSummary>('GET', `/api/vms/dr:${db}`, { token });
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.equal(one.body.site, 'dr');
  const hosts = (await t.call<HostInfo[]>('GET', '/api/inventory/hosts', { token })).body;
  assert.ok(hosts.some((h) => h.site === 'dr' && h.id.startsWith('dr:') && h.name === 'esx-dr-01.lab.local'));
  assert.ok(hosts.some((h) => h.site === 'primary' && !h.id.includes(':') && h.name === 'esx-dr-01.lab.local'));
  const dss = (await t.call<DatastoreInfo[]>('GET', '/api/inventory/datastores', { token })).body;
  assert.equal(dss.filter((d) => d.name === 'dr-ds1').length, 2);
});

test('a VM of each site is backed up, and each is restored to a new VM at its own site', async () => {
  const db = (await prod.control.vms())['linux-db01']!.moref;
  const ids = [db, `dr:${db}`];
  const b = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: ids } });
  assert.equal(b.status, 202, JSON.stringify(b.body));
  const run = await t.waitRun(token, b.body.id);
  assert.equal(run.status, 'success', JSON.stringify(run));
  const rpIds = ids.map((id) => run.vms.find((v) => v.vmId === id)!.restorePointId!);
  assert.equal(new Set(rpIds).size, 2);

  for (const [i, id] of ids.entries()) {
    const points = (await t.call<RestorePoint[]>('GET', `/api/vms/${id}/restore-points`, { token })).body;
    assert.deepEqual(points.map((p) => p.id), [rpIds[i]], `restore points of ${id}`);
    assert.equal(points[0]!.vmId, id);
    assert.equal(points[0]!.site, i === 0 ? 'primary' : 'dr');
  }

  const names = ['db01-back-at-prod', 'db01-back-at-dr'];
  for (const [i, rpId] of rpIds.entries()) {
    const r = await t.call<JobRun>('POST', `/api/restore-points/${rpId}/restore`, {
      token, body: { target: { kind: 'new', name: names[i], host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false } },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await t.waitRun(token, r.body.id);
    assert.equal(done.status, 'success', JSON.stringify(done));
  }
  const [labProd, labDr] = await Promise.all([prod.control.vms(), dr.control.vms()]);
  assert.ok(labProd[names[0]!], 'restored at the primary site');
  assert.equal(labProd[names[1]!], undefined, 'the dr restore point did not restore at the primary');
  assert.ok(labDr[names[1]!], 'restored at the dr site');
  assert.equal(labDr[names[0]!], undefined, 'the primary restore point did not restore at dr');

  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  assert.equal(vms.find((v) => v.name === names[0])?.site, 'primary');
  assert.equal(vms.find((v) => v.name === names[1])?.site, 'dr');
  assert.match(vms.find((v) => v.name === names[1])!.id, /^dr:vm-/);
});

test('a host of the other site is refused for a restore', async () => {
  const db = (await prod.control.vms())['linux-db01']!.moref;
  const points = (await t.call<RestorePoint[]>('GET', `/api/vms/${db}/restore-points`, { token })).body;
  const host = (await t.call<HostInfo[]>('GET', '/api/inventory/hosts', { token })).body.find((h) => h.site === 'dr' && h.name === 'esx-dr-01.lab.local')!;
  const r = await t.call<JobRun>('POST', `/api/restore-points/${points[0]!.id}/restore`, {
    token, body: { target: { kind: 'new', name: 'cross-site', host: host.id, datastore: 'dr-ds1', powerOn: false } },
  });
  assert.equal(r.status, 202);
  const done = await t.waitRun(token, r.body.id);
  assert.equal(done.status, 'failed');
  assert.match(done.vms[0]!.message ?? '', /site 'dr'.*site 'primary'/);
  assert.equal((await dr.control.vms())['cross-site'], undefined);
  assert.equal((await prod.control.vms())['cross-site'], undefined);
});

test('a login refused by one site sees only the other site; refused by all is 401', async () => {
  await dr.control.injectFault({ method: 'Login', fault: 'InvalidLogin', count: 1, as: 'soap' });
  const only = await t.login();
  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token: only })).body;
  assert.ok(vms.length >= 4);
  assert.ok(vms.every((v) => v.site === 'primary'), JSON.stringify(vms.map((v) => v.id)));
  assert.deepEqual((await t.call<SessionInfo>('GET', '/api/session', { token: only })).body.sites, ['primary']);
  assert.deepEqual((await t.call<SessionInfo>('GET', '/api/session', { token })).body.sites, ['primary', 'dr']);
  const drId = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body.find((v) => v.site === 'dr')!.id;
  assert.equal((await t.call('GET', `/api/vms/${drId}`, { token: only })).status, 404);
  assert.equal((await t.call('POST', '/api/backups', { token: only, body: { vmIds: [drId] } })).status, 404);
  const bad = await t.call('POST', '/api/session/login', { body: { username: prod.username, password: 'wrong' } });
  assert.equal(bad.status, 401);
});

test('the restricted user sees its VMs at both sites, with that site\'s rights', async () => {
  const r = await t.call<{ token: string }>('POST', '/api/session/login', { body: { username: prod.restrictedUsername, password: prod.restrictedPassword } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token: r.body.token })).body;
  assert.deepEqual(vms.map((v) => `${v.site}/${v.name}`).sort(), [...prod.restrictedVms.map((n) => `dr/${n}`), ...prod.restrictedVms.map((n) => `primary/${n}`)].sort());
});

test('a restore over the original VM goes to the VM at the restore point\'s site', async () => {
  const db = (await prod.control.vms())['linux-db01']!.moref;
  const points = (await t.call<RestorePoint[]>('GET', `/api/vms/dr:${db}/restore-points`, { token })).body;
  await dr.control.writeDisk('linux-db01', 0, 0, Buffer.alloc(65536, 0xab));
  const r = await t.call<JobRun>('POST', `/api/restore-points/${points[0]!.id}/restore`, { token, body: { target: { kind: 'original', confirm: true, powerOn: false } } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await t.waitRun(token, r.body.id);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.equal(done.vms[0]!.vmId, `dr:${db}`);
  assert.match(done.vms[0]!.message ?? '', new RegExp(`dr:${db}`));
  assert.equal((await prod.control.vms())['linux-db01']!.powerState, 'poweredOn', 'the primary site\'s linux-db01 was not touched');
  assert.equal((await dr.control.vms())['linux-db01']!.powerState, 'poweredOff');
});

test('configuration: vcenters list, the vcenter block as primary, sealed passwords, clear errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-sites-'));
  try {
    const file = join(dir, 'config.json');
    const load = (fc: unknown, env: NodeJS.ProcessEnv = {}) => { writeFileSync(file, JSON.stringify(fc)); return loadConfig({ STILLPOINT_CONFIG: file, ...env }, { dataDir: dir }); };
    const c = load({ vcenters: [{ id: 'prod', url: 'https://vc1.example.test', username: 'u', password: 'p1' }, { id: 'dr', name: 'DR', url: 'https://vc2.example.test/sdk', username: 'u', password: 'p2' }] });
    assert.deepEqual(c.vcenters.map((v) => [v.id, v.url, v.password]), [['prod', 'https://vc1.example.test/sdk', 'p1'], ['dr', 'https://vc2.example.test/sdk', 'p2']]);
    assert.equal(c.vcenter, c.vcenters[0]);
    const onDisk = readFileSync(file, 'utf8');
    assert.doesNotMatch(onDisk, /"password"/, 'passwords are sealed at rest');
    assert.equal(loadConfig({ STILLPOINT_CONFIG: file }, { dataDir: dir }).vcenters[1]!.password, 'p2');
    // The single block (and the variables) stay the primary, id "primary" unless given.
    const single = load({ vcenter: { url: 'https://vc0.example.test' }, vcenters: [{ id: 'dr', url: 'https://vc2.example.test' }] }, { STILLPOINT_VCENTER_USER: 'admin' });
    assert.deepEqual(single.vcenters.map((v) => [v.id, v.username]), [['primary', 'admin'], ['dr', undefined]]);
    assert.equal(load({}).vcenter.id, 'primary');
    assert.throws(() => load({ vcenters: [{ id: 'dr', url: 'https://a' }, { id: 'dr', url: 'https://b' }] }), /Site id 'dr' is used by two vCenters/);
    assert.throws(() => load({ vcenters: [{ id: 'DR!', url: 'https://a' }] }), /Site id 'DR!' .* not usable/);
    assert.throws(() => load({ vcenter: { url: 'https://a' }, vcenters: [{ url: 'https://b' }] }), /has no "id"/);
    assert.throws(() => load({ vcenters: [{ id: 'a', url: 'https://a' }, { id: 'b' }] }), /Site 'b' has no "url"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job with a folder of the dr site and a primary VM backs up each at its own site', async () => {
  const folders = (await t.call<FolderInfo[]>('GET', '/api/inventory/folders', { token })).body;
  const drFolder = folders.find((f) => f.site === 'dr' && f.name === 'vm');
  assert.ok(drFolder && drFolder.id.startsWith('dr:'), JSON.stringify(folders));
  const web = (await prod.control.vms())['web-off01']!.moref;
  const body: JobInput = {
    name: 'two-sites', vmIds: [web], folderIds: [drFolder.id], schedule: { cron: null }, retention: {},
    appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 2, enabled: true,
  };
  const created = await t.call<Job>('POST', '/api/jobs', { token, body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const run = await t.waitRun(token, (await t.call<JobRun>('POST', `/api/jobs/${created.body.id}/run`, { token })).body.id);
  assert.notEqual(run.status, 'failed', JSON.stringify(run));
  assert.ok(run.vms.some((v) => v.vmId === web));
  assert.ok(run.vms.filter((v) => v.vmId !== web).length >= 1 && run.vms.filter((v) => v.vmId !== web).every((v) => v.vmId.startsWith('dr:')), JSON.stringify(run.vms.map((v) => v.vmId)));
  // Each VM the run backed up, at either site, now has a recent good restore point: protected.
  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  for (const v of run.vms) assert.equal(vms.find((x) => x.id === v.vmId)?.protected, true, `${v.vmId} is protected after its backup`);
});
