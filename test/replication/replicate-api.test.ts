// Replication through the API, as the UI and the CLI drive it: an on-demand run, the replica's real
// state, the list of replicas, input errors and the DR target's privileges in the user's own session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, JobRun, ReplicaState } from '../../backend/api/contract.ts';
import { TASK_TYPES } from '../../plugin/extension.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { REPLICA_SYNC_FIELD } from '../../backend/replication/marks.ts';
import { until } from '../helpers/wait.ts';

let t: TestService;
let token: string;
before(async () => { t = await startTestService(); token = await t.login(); });
after(async () => { await t?.stop(); });

const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1' };

test('POST /vms/:id/replicate runs a replicate run; GET /vms/:id/replica and /replicas then show the ready replica with its point', async () => {
  const src = (await t.lab.control.vms())['linux-db01']!;
  const none = await t.call<ReplicaState>('GET', `/api/vms/${src.moref}/replica`, { token });
  assert.equal(none.status, 200);
  assert.equal(none.body.state, 'none');

  const r = await t.call<JobRun>('POST', `/api/vms/${src.moref}/replicate`, { token, body: { ...dr, keep: 3 } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'replicate');
  const done = await t.waitRun(token, r.body.id);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.match(done.vms[0]!.message ?? '', /Created replica linux-db01-replica/);
  assert.equal(done.vms[0]!.bytesRead, src.disks[0]!.capacityBytes, 'the full-upload transport sends the whole disk');

  const state = await t.call<ReplicaState>('GET', `/api/vms/${src.moref}/replica`, { token });
  assert.equal(state.status, 200);
  const s = state.body as Extract<ReplicaState, { replicaVmId: string }>;
  assert.equal(s.state, 'ready');
  assert.equal(s.replicaName, 'linux-db01-replica');
  assert.equal(s.targetHost, 'esx-dr-01.lab.local');
  assert.equal(s.recoveryPoints, 1);
  assert.match(s.points![0]!.name, /^stillpoint .* (application|filesystem|crash)-consistent$/);
  assert.ok(s.lastSync && s.lastSyncBytes === src.disks[0]!.capacityBytes && s.consistency);

  // A vCenter task on the source VM, as for a backup.
  const vs = await connectToLab(t.lab);
  try {
    const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: { value: string; type: string }[] }>(vs.client.serviceContent.taskManager!, ['recentTask']);
    const infos = await Promise.all((recentTask ?? []).map((x) => vs.pc.retrieveOne<{ info: { descriptionId: string; state: string; entity?: { value: string } } }>(x, ['info'])));
    assert.ok(infos.some((i) => i.info.descriptionId === TASK_TYPES.replicate && i.info.state === 'success' && i.info.entity?.value === src.moref),
      `no successful ${TASK_TYPES.replicate} task: ${JSON.stringify(infos.map((i) => i.info.descriptionId))}`);
    // What a service that stopped mid-run leaves on the replica: 'syncing' with no run going. Shown as an error, then put back.
    const replica = { type: 'VirtualMachine', value: s.replicaVmId };
    const saved = (await vs.customFields.values(replica))[REPLICA_SYNC_FIELD]!;
    await vs.customFields.setByName(replica, REPLICA_SYNC_FIELD, JSON.stringify({ ...JSON.parse(saved), state: 'syncing' }));
    const stale = (await t.call<ReplicaState>('GET', `/api/vms/${src.moref}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
    assert.equal(stale.state, 'error');
    assert.match(stale.error ?? '', /interrupted/);
    await vs.customFields.setByName(replica, REPLICA_SYNC_FIELD, saved);
  } finally {
    await vs.close();
  }

  const list = await t.call<ReplicaState[]>('GET', '/api/replicas', { token });
  assert.equal(list.status, 200);
  assert.ok(list.body.some((x) => x.vmId === src.moref && x.state === 'ready'));
});

test('replicate input errors answer 400 with what to do; unknown VM 404', async () => {
  const src = (await t.lab.control.vms())['win-app01']!;
  const keep = await t.call<ApiError>('POST', `/api/vms/${src.moref}/replicate`, { token, body: { ...dr, keep: 0 } });
  assert.equal(keep.status, 400);
  const net = await t.call<ApiError>('POST', `/api/vms/${src.moref}/replicate`, { token, body: { ...dr, networkMap: [{ source: 'VM Network', target: 'DR-Nowhere' }] } });
  assert.equal(net.status, 400);
  assert.match(net.body.message, /DR-Nowhere.*does not exist on DR host 'esx-dr-01\.lab\.local'/);
  const host = await t.call<ApiError>('POST', `/api/vms/${src.moref}/replicate`, { token, body: { host: 'nope.lab.local', datastore: 'dr-ds1' } });
  assert.equal(host.status, 404);
  const vm = await t.call<ApiError>('POST', '/api/vms/vm-99999/replicate', { token, body: dr });
  assert.equal(vm.status, 404);
});

test('a user without privileges on the DR datastore is refused before any run starts', async () => {
  const op = await t.login('restricted');
  const src = (await t.lab.control.vms())['win-app01']!;
  const before = (await t.call<JobRun[]>('GET', '/api/runs?limit=100', { token })).body.length;
  const r = await t.call<ApiError>('POST', `/api/vms/${src.moref}/replicate`, { token: op, body: dr });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.match(r.body.message, /Datastore\.AllocateSpace on datastore 'dr-ds1'/);
  assert.equal((await t.call<JobRun[]>('GET', '/api/runs?limit=100', { token })).body.length, before, 'no run was started');
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('stillpoint replicate (second run: a second recovery point) and stillpoint replicas', async () => {
  const r = await cli(['replicate', 'linux-db01', '--host', 'esx-dr-01.lab.local', '--datastore', 'dr-ds1', '--network', 'VM Network=VM Network', '--keep', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^linux-db01: success, (application|filesystem|crash)-consistent, sent .*Updated replica linux-db01-replica/m);
  const text = await cli(['replicas']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^REPLICA\s+SOURCE\s+STATE\s+HOST\s+LAST SYNC\s+RPO\s+POINTS$/m);
  assert.match(text.stdout, /^linux-db01-replica\s+linux-db01\s+ready\s+esx-dr-01\.lab\.local\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+-\s+2$/m);
  const json = JSON.parse((await cli(['replicas', '--json'])).stdout) as ReplicaState[];
  const mine = json.find((x) => x.state !== 'none' && x.replicaName === 'linux-db01-replica') as Extract<ReplicaState, { replicaVmId: string }>;
  assert.equal(mine.points?.length, 2);
  const bad = await cli(['replicate', 'linux-db01', '--host', 'esx-dr-01.lab.local']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^stillpoint replicate: give the DR --host and --datastore/);
});

test('cancelling a replicate run mid-upload: run cancelled, no source snapshot, the replica ready at its last point', async () => {
  const src = (await t.lab.control.vms())['linux-db01']!;
  const before = (await t.call<ReplicaState>('GET', `/api/vms/${src.moref}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
  await t.lab.control.injectFault({ method: 'DatastorePut', fault: '', path: 'linux-db01-replica/', delayMs: 4000 });
  try {
    const r = await t.call<JobRun>('POST', `/api/vms/${src.moref}/replicate`, { token, body: dr });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await until('the run writing the replica', async () => {
      const run = (await t.call<JobRun>('GET', `/api/runs/${r.body.id}`, { token })).body;
      return /^writing /.test(run.vms[0]?.phase ?? '') ? run : undefined;
    });
    assert.equal((await t.call<JobRun>('POST', `/api/runs/${r.body.id}/cancel`, { token })).status, 200);
    const done = await t.waitRun(token, r.body.id);
    assert.equal(done.status, 'cancelled', JSON.stringify(done));
  } finally {
    await t.lab.control.clearFaults();
  }
  const vs = await connectToLab(t.lab);
  try {
    assert.deepEqual((await vs.snapshots.list({ type: 'VirtualMachine', value: src.moref })).map((x) => x.name), [], 'no source snapshot left');
  } finally {
    await vs.close();
  }
  const after = (await t.call<ReplicaState>('GET', `/api/vms/${src.moref}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
  assert.equal(after.state, 'ready');
  assert.deepEqual(after.points?.map((p) => p.id), before.points?.map((p) => p.id), 'no new recovery point');
});
