// Direct replication of a running VM to the DR site with the full-upload transport, against the lab:
// the replica is made at DR (powered off, marked, NIC on the mapped network), every run adds a
// recovery point whose disk equals the source at that run, retention removes the oldest, and a DR
// upload failure leaves no source snapshot and the replica at its last good point.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { replicateVm, type ReplicateResult } from '../../backend/replication/replicate-vm.ts';
import { findReplica, REPLICA_OF_FIELD, parseSync, REPLICA_SYNC_FIELD } from '../../backend/replication/marks.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { datastoreFileExists } from '../../backend/restore/datastore-files.ts';
import type { LabDisk } from '../lab/lab.ts';
import { DEFAULT_SETTINGS, sha256File, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

const MiB = 1024 * 1024;
const VM = 'linux-db01';
const REPLICA = `${VM}-replica`;
const target = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', networkMap: [{ source: 'VM Network', target: 'VM Network' }] };

let env: BackupEnv;
let vmId: string;
let uuid: string;
/** Source disk hash at each run, by the run's recovery point name + id. */
const atRun: { pointId: string; sha: string }[] = [];

before(async () => {
  env = await startBackupEnv({ diskMiB: 64 });
  vmId = await env.vmId(VM);
  await env.vs.vms.reconfigure({ type: 'VirtualMachine', value: vmId }, {
    deviceChange: [
      { operation: 'add', device: { _type: 'VirtualVmxnet3', key: -1, addressType: 'generated', backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network' }, connectable: { startConnected: true, allowGuestControl: true, connected: true } } },
    ],
  });
  uuid = (await env.vs.vms.get(vmId)).instanceUuid!;
});
after(async () => { await env?.close(); });

const sourceSha = async () => sha256File((await env.lab.control.vms())[VM]!.disks[0]!.flatPath);

/** The replica's disk as its current chain shows it: the top file that holds data (a whole-disk upload, or the base). */
async function replicaSha(): Promise<string> {
  const disk: LabDisk = (await env.lab.control.vms())[REPLICA]!.disks[0]!;
  const blocks = Math.ceil(disk.capacityBytes / (64 * 1024));
  const holder = disk.chain.find((f) => !f.delta || (f.blocks ?? 0) > 0)!;
  assert.ok(!holder.delta || holder.blocks === blocks, `a delta of the replica holds ${holder.blocks} of ${blocks} blocks: a partial write`);
  const h = createHash('sha256');
  for await (const c of createReadStream(holder.dataPath)) h.update(c as Buffer);
  return h.digest('hex');
}

async function sourceSnapshots(): Promise<string[]> {
  return (await env.vs.snapshots.list({ type: 'VirtualMachine', value: vmId })).map((s) => s.name);
}

async function run(keep?: number): Promise<ReplicateResult> {
  const before = await sourceSha();
  const r = await replicateVm(env, { vmId, target: { ...target, ...(keep ? { keep } : {}) }, settings: DEFAULT_SETTINGS, runId: `t-${atRun.length}` });
  atRun.push({ pointId: r.point.id, sha: before });
  return r;
}

test('the first run creates the replica at DR: powered off, marked, NIC on the mapped network, disk equal to the source', async () => {
  const r = await run();
  assert.equal(r.created, true);
  assert.equal(r.replicaName, REPLICA);
  const ref = { type: 'VirtualMachine', value: r.replicaId };
  const info = await env.vs.vms.get(ref);
  assert.equal(info.powerState, 'poweredOff');
  const hosts = await env.vs.inventory.hosts();
  assert.equal(hosts.find((h) => h.ref.value === info.host?.value)?.name, 'esx-dr-01.lab.local');
  assert.match(info.vmPathName ?? '', /^\[dr-ds1\] linux-db01-replica\//);
  const values = await env.vs.customFields.values(ref);
  assert.equal(values[REPLICA_OF_FIELD], uuid);
  assert.equal(parseSync(values[REPLICA_SYNC_FIELD])?.state, 'ready');
  const { 'config.annotation': note, 'config.hardware.device': devices } = await env.vs.pc.retrieveOne<{ 'config.annotation'?: string; 'config.hardware.device'?: { _type?: string; backing?: { deviceName?: string }; connectable?: { startConnected?: boolean } }[] }>(ref, ['config.annotation', 'config.hardware.device']);
  assert.match(note ?? '', /Stillpoint replica of VM 'linux-db01'/);
  const nics = (devices ?? []).filter((d) => d._type === 'VirtualVmxnet3');
  assert.equal(nics.length, 1);
  assert.equal(nics[0]!.backing?.deviceName, 'VM Network');
  assert.equal(nics[0]!.connectable?.startConnected, true, 'a mapped NIC is connected at power-on');
  assert.equal(await replicaSha(), atRun[0]!.sha, 'replica disk = source disk at the snapshot');
  assert.equal(r.disks[0]!.sha256, atRun[0]!.sha, 'what was uploaded is the source at the snapshot');
  const points = await listPoints(env.vs, ref);
  assert.equal(points.length, 1);
  assert.match(points[0]!.name, /^stillpoint \d{4}-\d\d-\d\d \d\d:\d\d (application|filesystem|crash)-consistent$/);
  assert.deepEqual(await sourceSnapshots(), [], 'the source snapshot is removed');
  assert.equal((await findReplica(env.vs, uuid))?.ref.value, r.replicaId, 'the replica is found again from vCenter');
});

test('a second run after guest writes adds a recovery point; reverting to each point gives the source at that run', async () => {
  await env.lab.control.writeDisk(VM, 0, 0, randomBytes(MiB));
  await env.lab.control.writeDisk(VM, 0, 20 * MiB + 4097, randomBytes(300 * 1024));
  const r = await run();
  assert.equal(r.created, false);
  assert.notEqual(atRun[1]!.sha, atRun[0]!.sha);
  const ref = { type: 'VirtualMachine', value: r.replicaId };
  const points = await listPoints(env.vs, ref);
  assert.deepEqual(points.map((p) => p.id), atRun.map((a) => a.pointId));
  for (const p of points) {
    await env.vs.snapshots.revert(p.ref, { suppressPowerOn: true });
    assert.equal(await replicaSha(), atRun.find((a) => a.pointId === p.id)!.sha, `replica at '${p.name}' (${p.id}) = source at that run`);
  }
});

test('keep=2: a third run removes the oldest recovery point, consolidation checked', async () => {
  await env.lab.control.writeDisk(VM, 0, 5 * MiB, randomBytes(64 * 1024));
  const r = await run(2);
  assert.equal(r.removedPoints.length, 1);
  const ref = { type: 'VirtualMachine', value: r.replicaId };
  const points = await listPoints(env.vs, ref);
  assert.deepEqual(points.map((p) => p.id), atRun.slice(1).map((a) => a.pointId));
  assert.equal((await env.vs.vms.get(ref)).consolidationNeeded, false);
  for (const p of points) {
    await env.vs.snapshots.revert(p.ref, { suppressPowerOn: true });
    assert.equal(await replicaSha(), atRun.find((a) => a.pointId === p.id)!.sha, `replica at '${p.name}' = source at that run`);
  }
});

test('a DR upload cut mid-disk: no source snapshot left, the replica stays at its last point (state error), the next run repairs it', async () => {
  await env.lab.control.writeDisk(VM, 0, 30 * MiB, randomBytes(MiB));
  await env.lab.control.injectFault({ method: 'DatastorePut', fault: 'WriteFault', path: 'linux-db01-replica/', afterBytes: 10 * MiB });
  const last = atRun.at(-1)!;
  await assert.rejects(replicateVm(env, { vmId, target: { ...target, keep: 2 }, settings: DEFAULT_SETTINGS }));
  await env.lab.control.clearFaults();
  assert.deepEqual(await sourceSnapshots(), [], 'the source snapshot is removed after the failure');
  const found = (await findReplica(env.vs, uuid))!;
  assert.equal(found.sync?.state, 'error');
  const points = await listPoints(env.vs, found.ref);
  assert.equal(points.at(-1)!.id, last.pointId, 'no recovery point for the failed run');
  assert.equal(await replicaSha(), last.sha, 'the replica is at its last good point');
  const r = await run(2);
  assert.equal(await replicaSha(), atRun.at(-1)!.sha, 'the next run brings the replica to the source');
  assert.equal(r.replicaId, found.ref.value);
  assert.equal(parseSync((await env.vs.customFields.values(found.ref))[REPLICA_SYNC_FIELD])?.state, 'ready');
});

test('a first run that fails at DR removes the half-made replica and the source snapshot; an unmapped NIC is left disconnected', async () => {
  const win = await env.vmId('win-app01');
  await env.vs.vms.reconfigure({ type: 'VirtualMachine', value: win }, {
    deviceChange: [{ operation: 'add', device: { _type: 'VirtualE1000e', key: -1, addressType: 'generated', backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network' }, connectable: { startConnected: true, allowGuestControl: true, connected: true } } }],
  });
  const winUuid = (await env.vs.vms.get(win)).instanceUuid!;
  await env.lab.control.injectFault({ method: 'DatastorePut', fault: 'WriteFault', path: 'win-app01-replica/', afterBytes: 2 * MiB });
  await assert.rejects(replicateVm(env, { vmId: win, target, settings: DEFAULT_SETTINGS }));
  await env.lab.control.clearFaults();
  assert.equal(await findReplica(env.vs, winUuid), undefined);
  assert.deepEqual(await env.vs.inventory.findVmsByName('win-app01-replica'), []);
  assert.equal(await datastoreFileExists(env.vs, '[dr-ds1] win-app01-replica/'), false, 'the replica folder is removed');
  assert.deepEqual((await env.vs.snapshots.list({ type: 'VirtualMachine', value: win })).map((s) => s.name), []);
  const r = await replicateVm(env, { vmId: win, target: { host: target.host, datastore: target.datastore }, settings: DEFAULT_SETTINGS });
  assert.equal(r.created, true, 'the next run creates the replica afresh');
  assert.ok(r.warnings.some((w) => /Not in the network mapping, left disconnected/.test(w)), JSON.stringify(r.warnings));
  const { 'config.hardware.device': devices } = await env.vs.pc.retrieveOne<{ 'config.hardware.device'?: { _type?: string; connectable?: { startConnected?: boolean } }[] }>({ type: 'VirtualMachine', value: r.replicaId }, ['config.hardware.device']);
  const nics = (devices ?? []).filter((d) => d._type === 'VirtualE1000e');
  assert.equal(nics.length, 1);
  assert.equal(nics[0]!.connectable?.startConnected, false, 'an unmapped NIC is not connected at power-on');
  assert.equal(r.consistency, 'application');
  assert.match(r.point.name, /application-consistent$/);
});
