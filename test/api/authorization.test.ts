// Authorization (README "Authorization"): guest credentials have an owner and a scope, and every
// action is checked against the privileges of the user's own vCenter session before work starts.
// The lab's restricted user (operator@vsphere.local) has privileges per entity
// (test/lab/vcsim/authorization.go): backup and guest operations on win-app01, backup without guest
// execution on linux-db01, Datastore.AllocateSpace on prod-ds1 only, Resource.AssignVMToPool on the
// Production cluster only, VirtualMachine.Inventory.Create on the VM folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import { until } from '../helpers/wait.ts';
import { Soap, ref } from '../lab-tests/soap.ts';
import type { ApiError, Job, JobInput, JobRun } from '../../backend/api/contract.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobStore } from '../../backend/jobs/store.ts';
import { SecretBox } from '../../backend/common/secrets.ts';

type Credential = { id: string; name: string; username: string; owner: string; scope: 'private' | 'shared' };

let t: TestService;
let admin: string;
let op: string;
let opPlugin: string;
let ids: Record<string, string>;
let guest: { username: string; password: string };

before(async () => {
  t = await startTestService();
  admin = await t.login();
  op = await t.login('restricted');
  opPlugin = await t.lab.control.uiSessionToken(t.lab.restrictedUsername, t.lab.restrictedPassword);
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
  guest = { username: t.lab.guestUsername, password: t.lab.guestPassword };
});
after(async () => { await t?.stop(); });

const job = (over: Partial<JobInput> = {}): JobInput => ({
  name: 'authz', vmIds: [ids['win-app01']!], schedule: { cron: null }, retention: {},
  appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true, ...over,
});
const script = { content: 'id; cat /etc/shadow', timeoutSec: 10 };

async function addCredential(token: string, name: string, scope?: 'private' | 'shared'): Promise<Credential> {
  const r = await t.call<Credential>('POST', '/api/credentials', { token, body: { name, ...guest, ...(scope ? { scope } : {}) } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}
const names = async (token: string) => (await t.call<Credential[]>('GET', '/api/credentials', { token })).body.map((c) => c.name).sort();
const message = (r: { body: unknown }) => (r.body as ApiError).message;

describe('guest credentials have an owner and a scope', () => {
  let adminPrivate: Credential;
  let adminShared: Credential;
  let opPrivate: Credential;
  before(async () => {
    adminPrivate = await addCredential(admin, 'admin-root');
    adminShared = await addCredential(admin, 'team-guest', 'shared');
    opPrivate = await addCredential(op, 'op-own');
  });

  test('each user lists its own and the shared ones, with owner and scope', async () => {
    assert.deepEqual(await names(op), ['op-own', 'team-guest']);
    assert.deepEqual(await names(admin), ['admin-root', 'team-guest']);
    assert.equal(adminPrivate.scope, 'private');
    assert.match(adminPrivate.owner, /^administrator/i);
    assert.equal(adminShared.scope, 'shared');
    assert.match(opPrivate.owner, /^operator/i);
  });

  test('another user\'s private credential cannot be used in a job: answered like one that does not exist', async () => {
    const stolen = await t.call('POST', '/api/jobs', { token: op, body: job({ name: 'steal', appAware: { ...job().appAware, preFreeze: script, guestCredentialId: adminPrivate.id } }) });
    const unknown = await t.call('POST', '/api/jobs', { token: op, body: job({ name: 'steal', appAware: { ...job().appAware, preFreeze: script, guestCredentialId: '00000000-0000-4000-8000-000000000000' } }) });
    assert.equal(stolen.status, 400, JSON.stringify(stolen.body));
    assert.equal(message(stolen).replace(adminPrivate.id, 'X'), message(unknown).replace('00000000-0000-4000-8000-000000000000', 'X'));
    assert.ok(!(await t.call<Job[]>('GET', '/api/jobs', { token: admin })).body.some((j) => j.name === 'steal'), 'no job was created');
  });

  test('running someone else\'s job that uses their private credential is refused, and no guest script runs', async () => {
    const created = await t.call<Job>('POST', '/api/jobs', { token: admin, body: job({ name: 'admin-scripted', appAware: { ...job().appAware, preFreeze: { content: 'sync', timeoutSec: 10 }, guestCredentialId: adminPrivate.id } }) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await t.lab.control.resetGuest();
    const run = await t.call('POST', `/api/jobs/${created.body.id}/run`, { token: op });
    assert.equal(run.status, 403, JSON.stringify(run.body));
    assert.match(message(run), /private to another user/);
    assert.deepEqual(await t.lab.control.guestCalls(), [], 'nothing ran in the guest');
    assert.equal((await t.call('DELETE', `/api/jobs/${created.body.id}`, { token: admin })).status, 204);
  });

  test('deleting: another user\'s private credential does not exist, a shared one needs its owner or Global.Settings', async () => {
    const hidden = await t.call('DELETE', `/api/credentials/${adminPrivate.id}`, { token: op });
    assert.equal(hidden.status, 404, JSON.stringify(hidden.body));
    const shared = await t.call('DELETE', `/api/credentials/${adminShared.id}`, { token: op });
    assert.equal(shared.status, 403, JSON.stringify(shared.body));
    assert.match(message(shared), /Global\.Settings/);
    assert.deepEqual(await names(admin), ['admin-root', 'team-guest'], 'both are still there');
    // The administrator holds Global.Settings in vCenter: it may delete the operator's credential.
    const doomed = await addCredential(op, 'op-doomed');
    assert.equal((await t.call('DELETE', `/api/credentials/${doomed.id}`, { token: admin })).status, 204);
    assert.deepEqual(await names(op), ['op-own', 'team-guest']);
  });

  test('a credential in use names only the jobs the user can see', async () => {
    const opShared = await addCredential(op, 'op-shared', 'shared');
    const secret = await t.call<Job>('POST', '/api/jobs', { token: admin, body: job({ name: 'secret-web-job', vmIds: [ids['web-off01']!], appAware: { ...job().appAware, guestCredentialId: opShared.id } }) });
    assert.equal(secret.status, 201, JSON.stringify(secret.body));
    const r = await t.call('DELETE', `/api/credentials/${opShared.id}`, { token: op });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.doesNotMatch(message(r), /secret-web-job/);
    assert.match(message(r), /1 job you cannot see/);
    assert.match(message((await t.call('DELETE', `/api/credentials/${opShared.id}`, { token: admin }))), /'secret-web-job'/, 'the administrator sees the name');
    assert.equal((await t.call('DELETE', `/api/jobs/${secret.body.id}`, { token: admin })).status, 204);
  });

  test('guest scripts need VirtualMachine.GuestOperations.Execute on every VM of the job', async () => {
    for (const cred of [opPrivate, adminShared]) {
      const appAware = { ...job().appAware, preFreeze: { content: 'sync', timeoutSec: 10 }, guestCredentialId: cred.id };
      const refused = await t.call('POST', '/api/jobs', { token: op, body: job({ name: `db-${cred.name}`, vmIds: [ids['linux-db01']!], appAware }) });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(message(refused), /VirtualMachine\.GuestOperations\.Execute.*linux-db01/);
      const both = await t.call('POST', '/api/jobs', { token: op, body: job({ name: `both-${cred.name}`, vmIds: [ids['win-app01']!, ids['linux-db01']!], appAware }) });
      assert.equal(both.status, 403, JSON.stringify(both.body));
      assert.doesNotMatch(message(both), /win-app01/, 'win-app01 has the privilege');
    }
    // Where vCenter grants it, the user's own credential works: the script runs in the guest.
    const appAware = { ...job().appAware, preFreeze: { content: 'sync', timeoutSec: 10 }, guestCredentialId: opPrivate.id };
    const ok = await t.call<Job>('POST', '/api/jobs', { token: op, body: job({ name: 'app-scripted', appAware }) });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    await t.lab.control.resetGuest();
    const started = await t.call<JobRun>('POST', `/api/jobs/${ok.body.id}/run`, { token: op });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const run = await t.waitRun(op, started.body.id);
    assert.equal(run.status, 'success', JSON.stringify(run));
    const calls = await t.lab.control.guestCalls();
    assert.ok(calls.some((c) => JSON.stringify(c).includes('win-app01')), JSON.stringify(calls));
    // A job that gains linux-db01 needs the privilege there too.
    const add = await t.call('POST', `/api/jobs/${ok.body.id}/vms`, { token: op, body: { vmIds: [ids['linux-db01']!] } });
    assert.equal(add.status, 403, JSON.stringify(add.body));
  });
});

test('a retention run of a job the user cannot see is not listed, and its name does not show', async () => {
  const secret = await t.call<Job>('POST', '/api/jobs', { token: admin, body: job({ name: 'hidden-retention-job', vmIds: [ids['web-off01']!], retention: { keepLast: 3 } }) });
  assert.equal(secret.status, 201, JSON.stringify(secret.body));
  const started = await t.call<JobRun>('POST', `/api/jobs/${secret.body.id}/run`, { token: admin });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await t.waitRun(admin, started.body.id);
  const retention = await until('the job\'s retention run', async () =>
    (await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.find((r) => r.kind === 'retention' && r.forJob?.id === secret.body.id));
  const mine = await t.call<JobRun[]>('GET', '/api/runs', { token: op });
  assert.equal(mine.status, 200);
  assert.doesNotMatch(JSON.stringify(mine.body), /hidden-retention-job/);
  const one = await t.call('GET', `/api/runs/${retention.id}`, { token: op });
  assert.equal(one.status, 404, JSON.stringify(one.body));
  assert.doesNotMatch(JSON.stringify(one.body), /hidden-retention-job/);
});

describe('restores need the user\'s own privileges on the target', () => {
  let rpId: string;
  let soap: Soap;
  before(async () => {
    const r = await t.call<JobRun>('POST', '/api/backups', { token: op, body: { vmIds: [ids['linux-db01']!] } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const run = await t.waitRun(op, r.body.id);
    assert.equal(run.status, 'success', JSON.stringify(run));
    rpId = run.vms[0]!.restorePointId!;
    soap = new Soap(t.lab);
    await soap.login();
  });

  const restore = (who: { token?: string; headers?: Record<string, string> }, name: string, host: string, datastore: string) =>
    t.call<JobRun>('POST', `/api/restore-points/${rpId}/restore`, { ...who, body: { target: { kind: 'new', name, host, datastore, powerOn: true } } });

  test('onto a DR host and datastore: refused naming each missing privilege, nothing is created (both sessions)', async () => {
    const runsBefore = (await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length;
    for (const who of [{ token: op }, { headers: { 'vmware-api-session-id': opPlugin } }]) {
      const r = await restore(who, 'db-on-dr', 'esx-dr-01.lab.local', 'dr-ds1');
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(message(r), /Datastore\.AllocateSpace on datastore 'dr-ds1'/);
      assert.match(message(r), /Resource\.AssignVMToPool on the resource pool of host 'esx-dr-01\.lab\.local'/);
      assert.doesNotMatch(message(r), /Inventory\.Create/, 'the folder is allowed');
    }
    const other = await restore({ token: op }, 'db-on-ds2', 'esx-prod-01.lab.local', 'prod-ds2');
    assert.equal(other.status, 403, JSON.stringify(other.body));
    assert.match(message(other), /Datastore\.AllocateSpace on datastore 'prod-ds2'/);
    assert.doesNotMatch(message(other), /AssignVMToPool/, 'the Production pool is allowed');
    assert.equal((await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length, runsBefore, 'no run was started');
    const vms = await t.lab.control.vms();
    assert.ok(!vms['db-on-dr'] && !vms['db-on-ds2'], 'no VM was created');
  });

  test('into a folder where the role lacks VirtualMachine.Inventory.Create: refused; with it, the restore runs', async () => {
    const folder = { type: 'Folder', value: (await soap.property({ type: 'Datacenter', value: (await soap.list('Datacenter', 'name')).keys().next().value! }, 'vmFolder')).trim() };
    const AM = { type: 'AuthorizationManager', value: 'AuthorizationManager' };
    const saved = /<returnval>([\s\S]*?)<\/returnval>/.exec(await soap.ok('RetrieveEntityPermissions', `${ref('_this', AM)}${ref('entity', folder)}<inherited>false</inherited>`))![1]!;
    await soap.ok('RemoveEntityPermission', `${ref('_this', AM)}${ref('entity', folder)}<user>VSPHERE.LOCAL\\operator</user><isGroup>false</isGroup>`);
    try {
      const r = await restore({ token: op }, 'db-no-folder', 'esx-prod-01.lab.local', 'prod-ds1');
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(message(r), /VirtualMachine\.Inventory\.Create.* on folder 'vm'/);
      assert.doesNotMatch(message(r), /AllocateSpace|AssignVMToPool/);
    } finally {
      await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', folder)}<permission>${saved}</permission>`);
    }
    const ok = await restore({ token: op }, 'db-restored', 'esx-prod-01.lab.local', 'prod-ds1');
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const run = await t.waitRun(op, ok.body.id, 120_000);
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.ok((await t.lab.control.vms())['db-restored'], 'the VM was restored');
  });

  test('onto a network where the role lacks Network.Assign: refused naming the network, nothing is created', async () => {
    const network = { type: 'Network', value: [...(await soap.list('Network', 'name'))].find(([, name]) => name === 'VM Network')![0] };
    const AM = { type: 'AuthorizationManager', value: 'AuthorizationManager' };
    const saved = /<returnval>([\s\S]*?)<\/returnval>/.exec(await soap.ok('RetrieveEntityPermissions', `${ref('_this', AM)}${ref('entity', network)}<inherited>false</inherited>`))![1]!;
    await soap.ok('RemoveEntityPermission', `${ref('_this', AM)}${ref('entity', network)}<user>VSPHERE.LOCAL\\operator</user><isGroup>false</isGroup>`);
    // A restore point of the VM with a NIC on that network.
    const vm = { type: 'VirtualMachine', value: ids['linux-db01']! };
    const nic = '<deviceChange><operation>add</operation><device xsi:type="VirtualVmxnet3"><key>-1</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName></backing><addressType>generated</addressType></device></deviceChange>';
    assert.equal((await soap.task('ReconfigVM_Task', `${ref('_this', vm)}<spec>${nic}</spec>`)).state, 'success');
    const b = await t.call<JobRun>('POST', '/api/backups', { token: op, body: { vmIds: [ids['linux-db01']!] } });
    const withNic = (await t.waitRun(op, b.body.id)).vms[0]!.restorePointId!;
    const restoreWithNic = (name: string) => t.call<JobRun>('POST', `/api/restore-points/${withNic}/restore`, { token: op, body: { target: { kind: 'new', name, host: 'esx-prod-01.lab.local', datastore: 'prod-ds1', powerOn: false } } });
    try {
      const r = await restoreWithNic('db-no-network');
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(message(r), new RegExp(`Network\\.Assign on network 'VM Network' \\(${network.value}\\)`));
      assert.doesNotMatch(message(r), /AllocateSpace|AssignVMToPool|Inventory\.Create/);
    } finally {
      await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', network)}<permission>${saved}</permission>`);
    }
    assert.ok(!(await t.lab.control.vms())['db-no-network'], 'no VM was created');
    const ok = await restoreWithNic('db-with-network');
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal((await t.waitRun(op, ok.body.id, 120_000)).status, 'success');
  });
});

test('credentials stored before they had owners become private credentials of the service account', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-creds-'));
  try {
    const box = SecretBox.forDataDir(dir);
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify([{ id: '11111111-1111-4111-8111-111111111111', name: 'old', username: 'root', passwordSealed: box.seal('pw') }]));
    const store = new JobStore(dir, box, { serviceAccount: 'svc-stillpoint@vsphere.local' });
    assert.deepEqual(store.credentials(), [{ id: '11111111-1111-4111-8111-111111111111', name: 'old', username: 'root', owner: 'svc-stillpoint@vsphere.local', scope: 'private' }]);
    assert.equal(store.credentialSecret('11111111-1111-4111-8111-111111111111').password, 'pw');
    const onDisk = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as { owner?: string; scope?: string }[];
    assert.deepEqual([onDisk[0]!.owner, onDisk[0]!.scope], ['svc-stillpoint@vsphere.local', 'private'], 'the migration is written back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
