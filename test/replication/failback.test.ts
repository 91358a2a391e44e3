// Failback against the lab: after a failover, the changes made on the running replica go back to the
// original VM, and only those (counted: CBT since the failover); the original VM keeps its own bytes
// elsewhere. Commit makes the replica a ready replica again; undo puts the original VM back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { failover } from '../../backend/replication/failover/failover.ts';
import { commitFailback, failback, undoFailback } from '../../backend/replication/failover/failback.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { replicaOf } from '../../backend/replication/replica-state.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { sha256, startFailoverLab, type FailoverLab } from './failover-lab.ts';

const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const networkMap = [{ source: 'Prod-App', target: 'DR-App' }];

let env: FailoverLab;
let replica: MoRef;
let source: MoRef;
let uuid: string;
const deps = () => ({ vs: env.vs, locks: env.locks, dataDir: env.dataDir });

/** The source disk as it runs now: its top file holds every block after a failback's upload, else the flat file. */
async function sourceDisk(): Promise<Buffer> {
  const d = (await env.vm(VM)).disks[0]!;
  return readFileSync(d.chain[0]!.delta ? d.chain[0]!.dataPath : d.flatPath);
}

before(async () => {
  env = await startFailoverLab();
  source = { type: 'VirtualMachine', value: await env.vmId(VM) };
  uuid = (await env.vs.vms.get(source)).instanceUuid!;
  replica = { type: 'VirtualMachine', value: (await env.replicate(VM, networkMap)).replicaId };
  await env.vs.vms.powerOff(source);
  await failover(deps(), { replicaMoref: replica.value, networkMap });
});
after(async () => { await env?.close(); });

const writes = [
  { at: 2 * MiB, data: randomBytes(2 * BLOCK) }, // blocks 32, 33
  { at: 9 * MiB + 4097, data: randomBytes(100 * 1024) }, // inside blocks 144, 145
];
const changedBlocks = 4;

test('failback sends back only what changed on the replica, and the original VM keeps its own bytes elsewhere', async () => {
  for (const w of writes) await env.lab.control.writeDisk(REPLICA, 0, w.at, w.data);
  const own = randomBytes(BLOCK);
  await env.lab.control.writeDisk(VM, 0, 20 * MiB, own); // the original VM's own change, not on the replica
  const expected = Buffer.from(readFileSync((await env.vm(VM)).disks[0]!.flatPath));
  for (const w of writes) w.data.copy(expected, w.at);

  const r = await failback(deps(), { replicaMoref: replica.value, shutdownTimeoutMs: 60_000 });
  assert.equal(r.changedBytes, changedBlocks * BLOCK, 'only the changed blocks were taken from the replica');
  assert.equal(r.disks[0]!.changedBytes, changedBlocks * BLOCK);
  assert.equal(r.sentBytes, (await env.vm(VM)).disks[0]!.capacityBytes, 'the full-upload transport writes the whole disk at production');
  assert.equal(r.committed, false);
  const now = await sourceDisk();
  assert.equal(sha256(now), sha256(expected), 'the original VM = its own disk with the replica\'s changes');
  assert.ok(now.subarray(20 * MiB, 20 * MiB + BLOCK).equals(own), 'its own change stayed');
  assert.equal((await env.vs.vms.get(source)).powerState, 'poweredOn', 'switched back');
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOff');
  assert.ok((await replicaOf(env.vs, uuid))?.failover?.failback, 'waiting for commit or undo');

  await commitFailback(deps(), { replicaMoref: replica.value });
  assert.deepEqual(await env.vs.snapshots.list(source), [], 'the undo snapshot is gone');
  assert.equal(sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath)), sha256(expected), 'committed into the original disk');
  const s = await replicaOf(env.vs, uuid);
  assert.equal(s?.state, 'ready');
  assert.equal((await env.vs.vms.get(replica)).currentSnapshot?.value, (await listPoints(env.vs, replica)).at(-1)!.id, 'a replica at its latest point again');
});

test('undo failback: the original VM is off and as before, the replica runs again', async () => {
  await env.vs.vms.powerOff(source);
  await failover(deps(), { replicaMoref: replica.value, networkMap });
  await env.lab.control.writeDisk(REPLICA, 0, 4 * MiB, randomBytes(BLOCK));
  const before = sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath));
  const r = await failback(deps(), { replicaMoref: replica.value, shutdownTimeoutMs: 60_000 });
  assert.equal(r.changedBytes, BLOCK);
  await undoFailback(deps(), { replicaMoref: replica.value });
  assert.equal((await env.vs.vms.get(source)).powerState, 'poweredOff');
  assert.deepEqual(await env.vs.snapshots.list(source), []);
  assert.equal(sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath)), before);
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOn');
  const s = await replicaOf(env.vs, uuid);
  assert.equal(s?.state, 'failedOver');
  assert.equal(s?.failover?.failback, undefined);
});
