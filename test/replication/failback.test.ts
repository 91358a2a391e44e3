// Failback against the lab through the service: after a failover, the changes made on the running replica
// go back to the original VM, and only those (counted: CBT since the failover), read through the
// transporter at the DR site (the replica's disks hot-added to its helper VM and detached after); the
// original VM keeps its own bytes elsewhere. Commit makes the replica a ready replica again; undo puts the
// original VM back. A DR transporter killed while it holds the replica's disk leaves nothing attached and
// nothing changed; without one failback is refused before anything changes. A VM with a
// snapshot made outside Stillpoint is not replicated from its delta (a datastore read cannot show it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JobRun } from '../../backend/api/contract.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { replicaOf } from '../../backend/replication/replica-state.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { until } from '../helpers/wait.ts';
import { folderFiles, sha256, startFailoverLab, type FailbackSite, type FailoverLab } from './failover-lab.ts';
import { HELPER, helperAttached, watchCalls } from './transport-lab.ts';

const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const networkMap = [{ source: 'Prod-App', target: 'DR-App' }];

let env: FailoverLab;
let site: FailbackSite;
let replica: MoRef;
let source: MoRef;
let uuid: string;

async function run(body: unknown, op = 'failback'): Promise<JobRun> {
  const r = await site.t.call<JobRun>('POST', `/api/replicas/${replica.value}/${op}`, { token: site.token, body });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return site.t.waitRun(site.token, r.body.id, 240_000);
}

async function failover(): Promise<void> {
  await env.vs.vms.powerOff(source);
  const r = await run({ networkMap }, 'failover');
  assert.ok(r.status === 'success' || r.status === 'warning', JSON.stringify(r));
}

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
  site = await env.failbackSite();
  await failover();
});
after(async () => { await env?.close(); });

const writes = [
  { at: 2 * MiB, data: randomBytes(2 * BLOCK) }, // blocks 32, 33
  { at: 9 * MiB + 4097, data: randomBytes(100 * 1024) }, // inside blocks 144, 145
];
const changedBlocks = 4;

test('the DR transporter killed while it has the replica\'s disk: failback fails saying so, nothing stays attached, nothing changed; without one failback is refused before anything starts', async () => {
  for (const w of writes) await env.lab.control.writeDisk(REPLICA, 0, w.at, w.data);
  const files = folderFiles(await env.vm(VM));
  const unchanged = async () => {
    assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOn', 'the replica runs');
    assert.deepEqual((await env.vs.snapshots.list(replica)).map((x) => x.name).filter((n) => n.startsWith('stillpoint failback')), [], 'no snapshot of the replica\'s state left');
    assert.equal((await env.vs.vms.get(source)).powerState, 'poweredOff');
    assert.deepEqual(await env.vs.snapshots.list(source), [], 'no undo snapshot left');
    assert.deepEqual(folderFiles(await env.vm(VM)), files, 'the original VM\'s files as they were');
    assert.equal((await replicaOf(env.vs, uuid))?.state, 'failedOver');
  };

  // The undo snapshot is held while the replica's disk is attached to the DR helper: the transporter dies then.
  for (const method of ['CreateSnapshot_Task', 'CreateSnapshotEx_Task']) await env.lab.control.injectFault({ method, fault: '', vm: VM, delayMs: 2000, count: 1 });
  const started = await site.t.call<JobRun>('POST', `/api/replicas/${replica.value}/failback`, { token: site.token, body: {} });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  await until('the replica\'s disk attached to the DR helper (the undo snapshot under way)', async () =>
    /^taking the undo snapshot/.test((await site.t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token: site.token })).body.vms[0]?.phase ?? '') && (await helperAttached(env.lab)).length > 0);
  await site.transporter.kill9();
  const failed = await site.t.waitRun(site.token, started.body.id, 240_000);
  await env.lab.control.clearFaults();
  assert.equal(failed.status, 'failed', JSON.stringify(failed));
  assert.match(failed.vms[0]!.message ?? '', /Transporter 'dr-transporter01' .*unreachable or went away.*Nothing changed: 'win-app01' is as before the failback \(off\), 'win-app01-replica' runs again.*Transporter 'dr-transporter01' did not detach the replica's disks; Stillpoint detached them through vCenter/);
  assert.deepEqual(await helperAttached(env.lab), [], 'nothing stays attached to the DR helper');
  await unchanged();

  // No transporter at the DR site now: refused before the replica is shut down.
  const refused = await run({});
  assert.equal(refused.status, 'failed', JSON.stringify(refused));
  assert.match(refused.vms[0]!.message ?? '', /No transporter at the DR site can read the replica's disks \(Transporter 'dr-transporter01' .*unreachable or went away.*\): failback reads them through one .*Run `stillpoint transporter run` on a helper VM whose host mounts the replica's datastore/);
  await unchanged();
  await site.restart();
});

test('failback sends back only what changed on the replica (written before the failed attempts), read through the DR transporter; the original VM keeps its own bytes elsewhere', async () => {
  const own = randomBytes(BLOCK);
  await env.lab.control.writeDisk(VM, 0, 20 * MiB, own); // the original VM's own change, not on the replica
  const expected = Buffer.from(readFileSync((await env.vm(VM)).disks[0]!.flatPath));
  for (const w of writes) w.data.copy(expected, w.at);
  const reconfigs = await watchCalls(env.lab, { method: 'ReconfigVM_Task', vm: HELPER });
  const rawReads = await watchCalls(env.lab, { method: 'DatastoreGet', path: `${REPLICA}/` });

  const r = await run({ transport: 'full-upload' });
  assert.equal(r.status, 'success', JSON.stringify(r));
  const m = /^Failed back to win-app01: 256 KiB changed on the replica sent back with 64(\.0)? MiB sent to production \(full upload of the whole disks; the replica read through transporter 'dr-transporter01', ([\d.]+) KiB received\); the original VM runs/.exec(r.vms[0]!.message ?? '');
  assert.ok(m, r.vms[0]!.message);
  const received = Number(m[2]) * 1024;
  assert.ok(received >= changedBlocks * BLOCK && received < 1.05 * changedBlocks * BLOCK, `${received} B received from the DR transporter for ${changedBlocks * BLOCK} B changed: only the changed areas are read`);
  assert.equal(r.vms[0]!.bytesRead, (await env.vm(VM)).disks[0]!.capacityBytes, 'the full-upload transport writes the whole disk at production');
  assert.equal(await reconfigs(), 2, 'the replica\'s disk was hot-added to the DR helper and detached');
  assert.equal(await rawReads(), 0, 'no datastore read of the replica\'s files');
  await env.lab.control.clearFaults();
  assert.deepEqual(await helperAttached(env.lab), [], 'nothing stays attached to the DR helper');
  const now = await sourceDisk();
  assert.equal(sha256(now), sha256(expected), 'the original VM = its own disk with the replica\'s changes');
  assert.ok(now.subarray(20 * MiB, 20 * MiB + BLOCK).equals(own), 'its own change stayed');
  assert.equal((await env.vs.vms.get(source)).powerState, 'poweredOn', 'switched back');
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOff');
  assert.ok((await replicaOf(env.vs, uuid))?.failover?.failback, 'waiting for commit or undo');

  assert.equal((await run({ action: 'commit' })).status, 'success');
  assert.deepEqual(await env.vs.snapshots.list(source), [], 'the undo snapshot is gone');
  assert.equal(sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath)), sha256(expected), 'committed into the original disk');
  const s = await replicaOf(env.vs, uuid);
  assert.equal(s?.state, 'ready');
  assert.equal((await env.vs.vms.get(replica)).currentSnapshot?.value, (await listPoints(env.vs, replica)).at(-1)!.id, 'a replica at its latest point again');
});

test('undo failback: the original VM is off and as before, the replica runs again', async () => {
  await failover();
  await env.lab.control.writeDisk(REPLICA, 0, 4 * MiB, randomBytes(BLOCK));
  const before = sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath));
  const r = await run({});
  assert.equal(r.status, 'success', JSON.stringify(r));
  assert.match(r.vms[0]!.message ?? '', /^Failed back to win-app01: 64(\.0)? KiB changed on the replica .*the replica read through transporter 'dr-transporter01'/);
  assert.equal((await run({ action: 'undo' })).status, 'success');
  assert.equal((await env.vs.vms.get(source)).powerState, 'poweredOff');
  assert.deepEqual(await env.vs.snapshots.list(source), []);
  assert.equal(sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath)), before);
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOn');
  const s = await replicaOf(env.vs, uuid);
  assert.equal(s?.state, 'failedOver');
  assert.equal(s?.failover?.failback, undefined);
});

test('a VM with a snapshot made outside Stillpoint is not replicated from its snapshot delta: refused saying to delete or consolidate it, no Stillpoint snapshot left', async () => {
  const db = { type: 'VirtualMachine', value: await env.vmId('linux-db01') };
  const user = await env.vs.snapshots.create(db, { name: 'before-upgrade', memory: false, quiesce: false });
  try {
    await assert.rejects(env.replicate('linux-db01', [{ source: 'VM Network', target: 'DR-Network' }]),
      /linux-db01-000001\.vmdk, a sparse file \(createType "vmfsSparse"\): a snapshot delta, which a datastore read cannot show as the disk\. The VM has snapshots made outside Stillpoint .*delete or consolidate them in the vSphere Client/);
    assert.deepEqual((await env.vs.snapshots.list(db)).map((s) => s.name), ['before-upgrade'], 'only the user\'s snapshot');
  } finally {
    await env.vs.snapshots.remove(user.node.ref);
  }
});
