// A replication job's resource pool at the DR site: the replica is created in the chosen pool (read back
// from the lab vCenter); a pool of another cluster than the DR host's is refused when the job is saved,
// and — when the pool moved to another cluster after the job was saved — by "Run now" before any snapshot
// is taken of the source, and by a scheduled run (failed, saying why); the user's own
// Resource.AssignVMToPool on the chosen pool is checked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, JobRun, ReplicationJob, ReplicationJobInput } from '../../backend/api/contract.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { findReplicas } from '../../backend/replication/marks.ts';
import type { MoRef, VSphere } from '../../backend/vsphere/index.ts';
import { Soap, first, ref } from '../lab-tests/soap.ts';
import { until } from '../helpers/wait.ts';

let t: TestService;
let token: string;
let vs: VSphere;
let soap: Soap;
before(async () => { t = await startTestService(); token = await t.login(); vs = await connectToLab(t.lab); soap = new Soap(t.lab); await soap.login(); });
after(async () => { await vs?.close(); await t?.stop(); });

const appAware = { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } as const;
const input = (vmId: string, pool: string, over: Partial<ReplicationJobInput> = {}): ReplicationJobInput => ({
  name: `to pool ${pool}`, vmIds: [vmId], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', pool, suffix: '-pool' },
  schedule: { cron: null }, rpoMinutes: 60, keepPoints: 2, appAware: { ...appAware }, enabled: true, ...over,
});

const allocation = '<reservation>0</reservation><expandableReservation>true</expandableReservation><limit>-1</limit><shares><shares>4000</shares><level>normal</level></shares>';
/** A child pool of a cluster's root pool, made the vSphere way (CreateResourcePool, raw SOAP: the service never makes pools). */
async function createPool(cluster: string, name: string): Promise<MoRef> {
  const clusters = await vs.pc.retrieveAllOfType<{ name?: string; resourcePool?: MoRef }>('ClusterComputeResource', ['name', 'resourcePool']);
  const root = clusters.find((c) => c.props.name === cluster)!.props.resourcePool!;
  const xml = await soap.ok('CreateResourcePool', `${ref('_this', root)}<name>${name}</name><spec><cpuAllocation>${allocation}</cpuAllocation><memoryAllocation>${allocation}</memoryAllocation></spec>`);
  return { type: 'ResourcePool', value: first(xml, 'returnval')! };
}

test('the replica is created in the job\'s resource pool of the DR cluster', async () => {
  const pool = await createPool('DR', 'Replicas');
  const src = (await t.lab.control.vms())['web-off01']!;
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: input(src.moref, 'Replicas') });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.target.pool, 'Replicas', 'the job keeps its pool');
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await t.waitRun(token, r.body.id, 120_000);
  assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
  const replica = (await findReplicas(vs)).find((x) => x.name === 'web-off01-pool');
  assert.ok(replica, 'the replica exists');
  const { resourcePool } = await vs.pc.retrieveOne<{ resourcePool?: MoRef }>(replica.ref, ['resourcePool']);
  assert.equal(resourcePool?.value, pool.value, 'the replica is in the chosen pool');
  const { vm } = await vs.pc.retrieveOne<{ vm?: MoRef[] }>(pool, ['vm']);
  assert.ok(vm?.some((v) => v.value === replica.ref.value), 'the pool lists the replica');
});

test('a resource pool of another cluster is refused when the job is saved and by a run before any snapshot', async () => {
  const prodOnly = await createPool('Production', 'Prod-Only');
  // The lab refuses such a placement as vCenter does (CreateVM_Task: InvalidArgument "host").
  const folder = first(await soap.ok('RetrieveProperties', `${ref('_this', { type: 'PropertyCollector', value: 'propertyCollector' })}<specSet><propSet><type>Datacenter</type><pathSet>vmFolder</pathSet></propSet><objectSet><obj type="Datacenter">${(await vs.inventory.datacenters())[0]!.ref.value}</obj></objectSet></specSet>`), 'val');
  const drHost = (await vs.inventory.hosts()).find((h) => h.name === 'esx-dr-01.lab.local')!.ref;
  const direct = await soap.call('CreateVM_Task', `${ref('_this', { type: 'Folder', value: folder! })}<config><name>pool-mismatch</name><guestId>otherGuest</guestId><files><vmPathName>[dr-ds1]</vmPathName></files><numCPUs>1</numCPUs><memoryMB>64</memoryMB></config>${ref('pool', prodOnly)}${ref('host', drHost)}`);
  assert.equal(direct.fault, 'InvalidArgument', direct.body.slice(0, 400));
  const drRoot = (await vs.pc.retrieveAllOfType<{ name?: string; resourcePool?: MoRef }>('ClusterComputeResource', ['name', 'resourcePool'])).find((c) => c.props.name === 'DR')!.props.resourcePool!;
  const same = await soap.task('CreateVM_Task', `${ref('_this', { type: 'Folder', value: folder! })}<config><name>pool-match</name><guestId>otherGuest</guestId><files><vmPathName>[dr-ds1]</vmPathName></files><numCPUs>1</numCPUs><memoryMB>64</memoryMB></config>${ref('pool', drRoot)}${ref('host', drHost)}`);
  assert.equal(same.state, 'success', `the DR cluster's own pool is accepted: ${same.fault}`);
  await vs.vms.destroy({ type: 'VirtualMachine', value: same.result! });
  const src = (await t.lab.control.vms())['linux-db01']!;
  const bad = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(src.moref, 'Prod-Only') });
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  assert.match(bad.body.message, /Resource pool 'Prod-Only' belongs to 'Production', not to 'DR' of DR host 'esx-dr-01\.lab\.local': choose one of .*'Replicas'.*, or a DR host of 'Production'/);
  const unknown = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(src.moref, 'No-Such-Pool') });
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.match(unknown.body.message, /No-Such-Pool[\s\S]*resource pools of 'DR'/);

  // The pool the job names is moved to another cluster after the job was saved (deleted, one of that name made elsewhere).
  const moving = await createPool('DR', 'Moving');
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: input(src.moref, 'Moving', { name: 'moving pool' }) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await vs.waitForTask({ type: 'Task', value: first(await soap.ok('Destroy_Task', ref('_this', moving)), 'returnval')! });
  await createPool('Production', 'Moving');
  const r = await t.call<JobRun & ApiError>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
  assert.equal(r.status, 400, 'run now checks the target in the user\'s session first');
  assert.match(r.body.message, /Resource pool 'Moving' belongs to 'Production'/);
  assert.deepEqual(await vs.snapshots.list({ type: 'VirtualMachine', value: src.moref }).then((l) => l.map((s) => s.name)), [], 'no snapshot was taken');
  assert.equal((await findReplicas(vs)).some((x) => x.name === 'linux-db01-pool'), false, 'no replica was made');
});

test('the user\'s own right to assign VMs to the chosen pool is checked (Resource.AssignVMToPool), naming the pool', async () => {
  const op = await t.login('restricted');
  await createPool('Production', 'Prod-Open');
  const locked = await createPool('Production', 'Prod-Locked');
  // The operator holds the pool consumer role on cluster Production (propagating); on Prod-Locked it gets ReadOnly instead.
  const AM = { type: 'AuthorizationManager', value: 'AuthorizationManager' };
  await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', locked)}<permission>${ref('entity', locked)}<principal>VSPHERE.LOCAL\\operator</principal><group>false</group><roleId>-2</roleId><propagate>false</propagate></permission>`);
  const src = (await t.lab.control.vms())['linux-db01']!;
  const onProd = (pool: string) => input(src.moref, pool, { name: `operator to ${pool}`, target: { host: 'esx-prod-01.lab.local', datastore: 'prod-ds1', pool, suffix: '-op' } });
  const refused = await t.call<ApiError>('POST', '/api/replication-jobs', { token: op, body: onProd('Prod-Locked') });
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(refused.body.message, new RegExp(`Resource\\.AssignVMToPool on resource pool 'Prod-Locked' \\(${locked.value}\\)`));
  assert.doesNotMatch(refused.body.message, /AllocateSpace|Inventory\.Create/, 'only the pool is missing');
  const allowed = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token: op, body: onProd('Prod-Open') });
  assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
  assert.equal(allowed.body.target.pool, 'Prod-Open');
});

test('a scheduled run whose pool moved to another cluster fails before any snapshot, saying so; the job can still be deleted', async () => {
  const pool = await createPool('DR', 'Sched');
  const src = (await t.lab.control.vms())['app-notools01']!;
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: input(src.moref, 'Sched', { name: 'scheduled pool', schedule: { cron: '*/2 * * * * *' }, target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', pool: 'Sched', suffix: '-sched' } }) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const lastRun = async () => (await t.call<ReplicationJob>('GET', `/api/replication-jobs/${made.body.id}`, { token })).body.lastRun;
  const ok = await until('a scheduled run to succeed', async () => { const r = await lastRun(); return r && r.status !== 'running' && r.status !== 'queued' ? r : undefined; }, { timeoutMs: 120_000, everyMs: 300 });
  assert.ok(ok.status === 'success' || ok.status === 'warning', JSON.stringify(ok));
  const points = async () => (await findReplicas(vs)).find((x) => x.name === 'app-notools01-sched')!;
  assert.ok(await points(), 'the scheduled run made the replica');

  await vs.waitForTask({ type: 'Task', value: first(await soap.ok('Destroy_Task', ref('_this', pool)), 'returnval')! });
  await createPool('Production', 'Sched');
  const failed = await until('a scheduled run to fail on the moved pool', async () => {
    const r = await lastRun();
    return r && r.id !== ok.id && r.status === 'failed' ? r : undefined;
  }, { timeoutMs: 120_000, everyMs: 300 });
  const run = await t.waitRun(token, failed.id, 10_000);
  assert.match(run.vms[0]!.message ?? '', /Resource pool 'Sched' belongs to 'Production', not to 'DR' of DR host 'esx-dr-01\.lab\.local'/);
  assert.deepEqual(await vs.snapshots.list({ type: 'VirtualMachine', value: src.moref }).then((l) => l.map((x) => x.name)), [], 'no snapshot left on the source');

  // Back to the root pool is a placement change of a job with a replica (409); deleting the job still works.
  const fix = await t.call<ApiError>('PUT', `/api/replication-jobs/${made.body.id}`, { token, body: input(src.moref, '', { name: 'scheduled pool', schedule: { cron: null }, target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-sched' } }) });
  assert.equal(fix.status, 409, JSON.stringify(fix.body));
  assert.match(fix.body.message, /its pool cannot change/);
  assert.equal((await t.call('DELETE', `/api/replication-jobs/${made.body.id}`, { token })).status, 204, 'a job whose pool is gone can be deleted');
});
