// Failover through the service, as the UI and the CLI drive it: a test failover run with its vCenter
// task, a failover plan (CRUD, then one run failing two replicas over in order, the second group after
// its delay with its script in the guest, a result per VM), the user's own visibility, and the CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import type { ApiError, JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { FailoverPlan, FailoverPlanInput } from '../../backend/api/contracts/failover.ts';
import { TASK_TYPES } from '../../backend/model/vcenter-tasks.ts';
import type { GuestLogEntry } from './failover-lab.ts';
import { startDrTransporter, type TransporterProc } from './transport-lab.ts';

type Replica = Extract<ReplicaState, { replicaVmId: string }>;
let lab: Lab;
let t: TestService;
let token: string;
const replicas: Record<string, Replica> = {};
/** The DR site's transporter: failback reads the replica through it. */
let drTransporter: TransporterProc;
const networkMap = [{ source: 'Prod-App', target: 'DR-App' }, { source: 'VM Network', target: 'DR-Network' }];

before(async () => {
  lab = await startLab({ replication: true, diskMiB: 64 });
  t = await startTestService({ lab });
  token = await t.login();
  const vms = await t.lab.control.vms();
  for (const [name, map] of [['win-app01', networkMap[0]!], ['linux-db01', networkMap[1]!]] as const) {
    const r = await t.call<JobRun>('POST', `/api/vms/${vms[name]!.moref}/replicate`, { token, body: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', networkMap: [map] } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal((await t.waitRun(token, r.body.id, 300_000)).status, 'success');
    replicas[name] = (await t.call<Replica>('GET', `/api/vms/${vms[name]!.moref}/replica`, { token })).body;
  }
  drTransporter = (await startDrTransporter(t, token)).transporter;
});
after(async () => {
  if (drTransporter && drTransporter.proc.exitCode === null) await drTransporter.kill9();
  await t?.stop();
  await lab?.stop();
});

const replicaState = async (name: string) => ((await t.call<Replica>('GET', `/api/vms/${replicas[name]!.vmId}/replica`, { token })).body);

test('POST /replicas/:id/failover mode test: a failover-test run with a vCenter task on the replica; the replica stays ready', async () => {
  const r = await t.call<JobRun>('POST', `/api/replicas/${replicas['win-app01']!.replicaVmId}/failover`, { token, body: { mode: 'test' } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'failover-test');
  const done = await t.waitRun(token, r.body.id, 300_000);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.match(done.vms[0]!.message ?? '', /heartbeat after .* cleaned up/);
  assert.equal((await replicaState('win-app01')).state, 'ready');
  const vs = await connectToLab(t.lab);
  try {
    const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: { value: string; type: string }[] }>(vs.client.serviceContent.taskManager!, ['recentTask']);
    const infos = await Promise.all((recentTask ?? []).map((x) => vs.pc.retrieveOne<{ info: { descriptionId: string; state: string; entity?: { value: string } } }>(x, ['info'])));
    assert.ok(infos.some((i) => i.info.descriptionId === TASK_TYPES.failover && i.info.state === 'success' && i.info.entity?.value === replicas['win-app01']!.replicaVmId));
  } finally {
    await vs.close();
  }
  // Input mistakes and the user's own view.
  const bad = await t.call<ApiError>('POST', `/api/replicas/${replicas['win-app01']!.replicaVmId}/failover`, { token, body: { reIp: [{ sourceSubnet: '10.0.0.0/8', targetSubnet: '192.168.0.0/16' }] } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /guest credential/);
  const notReplica = await t.call<ApiError>('POST', `/api/replicas/${(await t.lab.control.vms())['web-off01']!.moref}/failover`, { token, body: {} });
  assert.equal(notReplica.status, 404);
  const op = await t.login('restricted');
  const hidden = await t.call<ApiError>('POST', `/api/replicas/${replicas['win-app01']!.replicaVmId}/failover`, { token: op, body: {} });
  assert.equal(hidden.status, 404, 'the operator cannot see the replica VM');
  const undo = await t.call<ApiError>('POST', `/api/replicas/${replicas['win-app01']!.replicaVmId}/undo`, { token });
  assert.equal(undo.status, 409, 'nothing to undo');
});

test('failover plan: CRUD, a test run (drill), then one run fails both replicas over in order, group 2 after its delay and with its script', async () => {
  const cred = await t.call<{ id: string }>('POST', '/api/credentials', { token, body: { name: 'lab guest', username: t.lab.guestUsername, password: t.lab.guestPassword } });
  assert.equal(cred.status, 201);
  const a = replicas['win-app01']!.replicaVmId;
  const b = replicas['linux-db01']!.replicaVmId;
  const input: FailoverPlanInput = {
    name: 'DR drill', guestCredentialId: cred.body.id, networkMap,
    groups: [{ replicaIds: [a] }, { replicaIds: [b], delaySeconds: 1, script: { programPath: '/usr/local/bin/app-check', arguments: '--ready' } }],
  };
  const created = await t.call<FailoverPlan>('POST', '/api/failover-plans', { token, body: input });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const twice = await t.call<ApiError>('POST', '/api/failover-plans', { token, body: { ...input, groups: [{ replicaIds: [a] }, { replicaIds: [a] }] } });
  assert.equal(twice.status, 400);
  const renamed = await t.call<FailoverPlan>('PUT', `/api/failover-plans/${created.body.id}`, { token, body: { ...input, name: 'DR drill 2' } });
  assert.equal(renamed.status, 200);
  assert.deepEqual((await t.call<FailoverPlan[]>('GET', '/api/failover-plans', { token })).body.map((p) => p.name), ['DR drill 2']);

  // A drill first: the same plan as test failovers, the replicas ready afterwards and no script run.
  const drill = await t.call<JobRun>('POST', `/api/failover-plans/${created.body.id}/run`, { token, body: { mode: 'test' } });
  assert.equal(drill.status, 202, JSON.stringify(drill.body));
  const drilled = await t.waitRun(token, drill.body.id, 300_000);
  assert.equal(drilled.status, 'success', JSON.stringify(drilled));
  assert.deepEqual(drilled.vms.map((v) => v.message?.match(/^Group \d: Test failover/)?.[0]), ['Group 1: Test failover', 'Group 2: Test failover']);
  assert.equal((await replicaState('linux-db01')).state, 'ready');

  await t.lab.control.resetGuest();
  const run = await t.call<JobRun>('POST', `/api/failover-plans/${created.body.id}/run`, { token, body: {} });
  assert.equal(run.status, 202, JSON.stringify(run.body));
  assert.equal(run.body.kind, 'failover-plan');
  const done = await t.waitRun(token, run.body.id, 300_000);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.deepEqual(done.vms.map((v) => [v.vmId, v.status]), [[a, 'success'], [b, 'success']]);
  assert.match(done.vms[0]!.message ?? '', /^Group 1: Failed over to recovery point/);
  assert.match(done.vms[1]!.message ?? '', /^Group 2: .*Script: exit code 0/);
  assert.equal((await replicaState('win-app01')).state, 'failedOver');
  assert.equal((await replicaState('linux-db01')).state, 'failedOver');
  const log = (await t.lab.control.guestCalls()) as unknown as GuestLogEntry[];
  const lastOfA = log.map((c) => c.vm).lastIndexOf('win-app01-replica');
  const firstOfB = log.findIndex((c) => c.vm === 'linux-db01-replica');
  assert.ok(lastOfA >= 0 && firstOfB > lastOfA, 'group 2 started after group 1 was done');
  const script = log.filter((c) => c.kind === 'program' && c.vm === 'linux-db01-replica');
  assert.deepEqual(script.map((c) => `${c.programPath} ${c.arguments}`), ['/usr/local/bin/app-check --ready']);
  const connected = log.findIndex((c) => c.kind === 'nic' && c.vm === 'linux-db01-replica' && c.connected);
  assert.ok(connected >= 0 && connected < log.indexOf(script[0]!), 'the script ran once the VM was on its DR network');

  assert.equal((await t.call('DELETE', `/api/failover-plans/${created.body.id}`, { token })).status, 204);
  assert.equal((await t.call('GET', `/api/failover-plans/${created.body.id}`, { token })).status, 404);
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('stillpoint failover --undo and stillpoint failback --commit-now by the source\'s name; usage mistakes exit 2', async () => {
  const r = await cli(['failover', 'win-app01', '--undo']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^win-app01-replica: success: Failover undone: win-app01-replica is back at recovery point/m);
  assert.equal((await replicaState('win-app01')).state, 'ready');
  const both = await cli(['failover', 'win-app01', '--test', '--planned']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^stillpoint failover: choose one of --test, --planned, --undo, --permanent/);
  const perm = await cli(['failover', 'linux-db01', '--permanent']);
  assert.equal(perm.code, 2);
  assert.match(perm.stderr, /add --yes/);
  // linux-db01's replica runs since the plan: fail it back (its source shut down first) and commit in one run.
  const vs = await connectToLab(t.lab);
  try { await vs.vms.powerOff({ type: 'VirtualMachine', value: replicas['linux-db01']!.vmId }); } finally { await vs.close(); }
  await t.lab.control.writeDisk('linux-db01-replica', 0, 6 * 1024 * 1024, Buffer.alloc(64 * 1024, 7));
  const back = await cli(['failback', 'linux-db01', '--commit-now', '--timeout', '60']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /^linux-db01-replica: success: Failed back to linux-db01: 64(\.0)? KiB changed on the replica sent back .*the replica read through transporter 'dr-transporter01'.*committed\.$/m);
  assert.equal((await replicaState('linux-db01')).state, 'ready');
  const none = await cli(['failback', 'no-such-vm']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no replica of or named 'no-such-vm'/);
});
