// Failover, test failover, undo and permanent failover of a replica at the lab's DR site: the replica
// starts from exactly the chosen point's disk, on the mapped DR network, re-IP'd through guest
// operations while its NIC is disconnected (the lab logs NIC edits and programs in order); undo returns
// it to that point; a test failover leaves its snapshot chain and files as they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { failover } from '../../backend/replication/failover/failover.ts';
import { undoFailover } from '../../backend/replication/failover/undo.ts';
import { testFailover } from '../../backend/replication/failover/test-failover.ts';
import { permanentFailover } from '../../backend/replication/failover/permanent.ts';
import { translate } from '../../backend/replication/failover/reip.ts';
import { findReplica } from '../../backend/replication/marks.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { isPermanentlyFailedOver, replicaOf } from '../../backend/replication/replica-state.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { folderFiles, sha256, startFailoverLab, type FailoverLab, type GuestLogEntry } from './failover-lab.ts';

const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
const MiB = 1024 * 1024;
const networkMap = [{ source: 'Prod-App', target: 'DR-App' }];
const reIp = [{ sourceSubnet: '10.20.0.0/16', targetSubnet: '192.168.120.0/24', gateway: '192.168.120.1', dns: ['192.168.120.53', '192.168.120.54'] }];

let env: FailoverLab;
let replica: MoRef;
let uuid: string;
const runs: { pointId: string; sha: string }[] = [];

const sourceSha = async () => sha256(readFileSync((await env.vm(VM)).disks[0]!.flatPath));
const deps = () => ({ vs: env.vs, locks: env.locks, dataDir: env.dataDir });
const guest = () => ({ username: env.lab.guestUsername, password: env.lab.guestPassword });

async function replicaNic(): Promise<{ key: number; network?: string; connected?: boolean; startConnected?: boolean }> {
  const { 'config.hardware.device': devices } = await env.vs.pc.retrieveOne<{ 'config.hardware.device'?: { key: number; macAddress?: string; backing?: { deviceName?: string }; connectable?: { connected?: boolean; startConnected?: boolean } }[] }>(replica, ['config.hardware.device']);
  const n = (devices ?? []).find((d) => d.macAddress !== undefined)!;
  return { key: n.key, network: n.backing?.deviceName, connected: n.connectable?.connected, startConnected: n.connectable?.startConnected };
}

async function tree(): Promise<unknown> {
  const t = await env.vs.snapshots.tree(replica);
  const strip = (n: { ref: MoRef; name: string; children: unknown[] }): unknown => ({ id: n.ref.value, name: n.name, children: (n.children as typeof n[]).map(strip) });
  return { roots: t.roots.map((r) => strip(r as never)), current: t.current?.value };
}

before(async () => {
  env = await startFailoverLab();
  uuid = (await env.vs.vms.get(await env.vmId(VM))).instanceUuid!;
  for (let i = 0; i < 2; i++) {
    if (i) await env.lab.control.writeDisk(VM, 0, 3 * MiB, randomBytes(MiB));
    const sha = await sourceSha();
    const r = await env.replicate(VM, networkMap);
    runs.push({ pointId: r.point.id, sha });
    replica = { type: 'VirtualMachine', value: r.replicaId };
  }
  assert.notEqual(runs[0]!.sha, runs[1]!.sha);
});
after(async () => { await env?.close(); });

test('test failover: heartbeat in the isolated network, then the replica\'s snapshot tree and files are exactly as before', async () => {
  const treeBefore = await tree();
  const filesBefore = folderFiles(await env.vm(REPLICA));
  const nicBefore = await replicaNic();
  await env.lab.control.resetGuest();
  const r = await testFailover(deps(), { replicaMoref: replica.value });
  assert.equal(r.network, 'Stillpoint-Test-Isolated');
  assert.ok(Date.parse(r.heartbeatAt) > 0);
  assert.equal(r.point.id, runs[1]!.pointId, 'the latest point by default');
  const nicEdits = ((await env.lab.control.guestCalls()) as unknown as GuestLogEntry[]).filter((c) => c.kind === 'nic' && c.vm === REPLICA);
  assert.equal(nicEdits[0]?.network, 'Stillpoint-Test-Isolated', 'the copy ran on the isolated network');
  assert.equal(nicEdits.at(-1)?.network, 'DR-App', 'and its NIC went back');
  assert.deepEqual(await tree(), treeBefore, 'snapshot tree untouched');
  assert.deepEqual(folderFiles(await env.vm(REPLICA)), filesBefore, 'datastore files untouched');
  assert.deepEqual(await replicaNic(), nicBefore);
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOff');
  assert.equal((await replicaOf(env.vs, uuid))?.state, 'ready');
});

test('failover to the older point: that point\'s disk, the mapped DR network, re-IP with the NIC disconnected, then connected', async () => {
  await env.lab.control.resetGuest();
  const r = await failover(deps(), { replicaMoref: replica.value, point: runs[0]!.pointId, networkMap, reIp, guest: guest() });
  assert.equal(r.point.id, runs[0]!.pointId);
  const info = await env.vs.vms.get(replica);
  assert.equal(info.powerState, 'poweredOn');
  assert.equal(info.cbtEnabled, true, 'CBT on for failback');
  const lab = await env.vm(REPLICA);
  const disk = lab.disks[0]!;
  assert.equal(disk.chain[0]!.blocks ?? 0, 0, 'nothing written on top of the point yet');
  const holder = disk.chain.find((f) => !f.delta || (f.blocks ?? 0) > 0)!;
  assert.equal(sha256(readFileSync(holder.dataPath)), runs[0]!.sha, 'the disk is exactly the older point\'s');
  const nic = await replicaNic();
  assert.deepEqual({ network: nic.network, connected: nic.connected }, { network: 'DR-App', connected: true });

  // The guest's old address as Tools reported it, and what the rule makes of it.
  const { 'guest.ipAddress': old } = await env.vs.pc.retrieveOne<{ 'guest.ipAddress'?: string }>(replica, ['guest.ipAddress']);
  const to = translate(old!, reIp)!;
  assert.match(to.ip, /^192\.168\.120\.\d+$/);
  assert.deepEqual(r.reIp.map((x) => [x.from, x.to]), [[old, `${to.ip}/24`]]);
  const calls = ((await env.lab.control.guestCalls()) as unknown as GuestLogEntry[]).filter((c) => c.vm === REPLICA && (c.kind === 'nic' || c.kind === 'program'));
  const steps = calls.map((c) => (c.kind === 'nic' ? `nic ${c.network} ${c.connected ? 'connected' : 'disconnected'}` : /New-NetIPAddress/.test(c.arguments ?? '') ? 'address' : /Set-DnsClientServerAddress/.test(c.arguments ?? '') ? 'dns' : `other: ${c.arguments}`));
  assert.deepEqual(steps, ['nic DR-App disconnected', 'address', 'dns', 'nic DR-App connected']);
  const [addr, dns] = calls.filter((c) => c.kind === 'program');
  const mac = (await env.vs.pc.retrieveOne<{ 'config.hardware.device'?: { macAddress?: string }[] }>(replica, ['config.hardware.device']))['config.hardware.device']!.find((d) => d.macAddress)!.macAddress!;
  assert.match(addr!.programPath!, /powershell\.exe$/);
  assert.ok(addr!.arguments!.includes(`MacAddress -eq '${mac.toUpperCase().replace(/:/g, '-')}'`), addr!.arguments);
  assert.ok(addr!.arguments!.includes(`-IPAddress ${to.ip} -PrefixLength 24 -DefaultGateway 192.168.120.1`), addr!.arguments);
  assert.ok(dns!.arguments!.includes('-ServerAddresses 192.168.120.53,192.168.120.54'), dns!.arguments);

  const s = await replicaOf(env.vs, uuid);
  assert.equal(s?.state, 'failedOver');
  assert.equal(s?.failover?.pointId, runs[0]!.pointId);
  await assert.rejects(failover(deps(), { replicaMoref: replica.value }), /failed over already/);
  await assert.rejects(env.replicate(VM, networkMap), /in use by failover to its replica 'win-app01-replica'/, 'replication must not overwrite the running replica');
});

test('undo failover: powered off, back at the point (what it wrote is gone), NIC as before, ready', async () => {
  await env.lab.control.writeDisk(REPLICA, 0, 5 * MiB, randomBytes(256 * 1024));
  assert.ok(((await env.vm(REPLICA)).disks[0]!.chain[0]!.blocks ?? 0) > 0, 'the running replica wrote');
  const r = await undoFailover(deps(), { replicaMoref: replica.value });
  assert.equal(r.point.id, runs[0]!.pointId);
  const info = await env.vs.vms.get(replica);
  assert.equal(info.powerState, 'poweredOff');
  assert.equal(info.currentSnapshot?.value, runs[0]!.pointId);
  const disk = (await env.vm(REPLICA)).disks[0]!;
  assert.equal(disk.chain[0]!.blocks ?? 0, 0, 'the failover\'s writes are discarded');
  const nic = await replicaNic();
  assert.deepEqual({ network: nic.network, startConnected: nic.startConnected }, { network: 'DR-App', startConnected: true });
  assert.equal((await replicaOf(env.vs, uuid))?.state, 'ready');
  assert.deepEqual((await listPoints(env.vs, replica)).map((p) => p.id), runs.map((x) => x.pointId), 'every point kept');
  await assert.rejects(undoFailover(deps(), { replicaMoref: replica.value }), /not failed over/);
  const again = await env.replicate(VM, networkMap);
  assert.equal(again.replicaId, replica.value, 'replication resumes into the same replica');
  runs.push({ pointId: again.point.id, sha: '' });
});

test('permanent failover: the points are removed, the replica is the VM, its source is out of replication', async () => {
  await failover(deps(), { replicaMoref: replica.value, networkMap });
  const r = await permanentFailover(deps(), { replicaMoref: replica.value, sourceVmId: await env.vmId(VM) });
  assert.equal(r.removedPoints.length, 3);
  assert.deepEqual(await env.vs.snapshots.list(replica), []);
  assert.equal((await env.vs.vms.get(replica)).powerState, 'poweredOn');
  assert.equal(await findReplica(env.vs, uuid), undefined, 'no longer marked as a replica');
  assert.equal(isPermanentlyFailedOver(env.dataDir, await env.vmId(VM)), true);
  assert.equal(isPermanentlyFailedOver(env.dataDir, uuid), true);
  const { 'config.annotation': note } = await env.vs.pc.retrieveOne<{ 'config.annotation'?: string }>(replica, ['config.annotation']);
  assert.match(note ?? '', /Permanently failed over from VM 'win-app01'/);
});
