// Planned failover against the lab: sync, shut the source down through VMware Tools, sync again, fail
// over. A write made on the source just before its shutdown is on the replica the failover started,
// and the Linux guest is re-IP'd (ip addr/route, resolv.conf) while its NIC is disconnected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { plannedFailover } from '../../backend/replication/failover/planned.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { replicaOf } from '../../backend/replication/replica-state.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { until } from '../helpers/wait.ts';
import { readThroughChain, startFailoverLab, type FailoverLab, type GuestLogEntry } from './failover-lab.ts';
import { translate } from '../../backend/replication/failover/reip.ts';

const VM = 'linux-db01';
const REPLICA = `${VM}-replica`;
const MiB = 1024 * 1024;
const networkMap = [{ source: 'VM Network', target: 'DR-Network' }];
const reIp = [{ sourceSubnet: '10.20.0.0/16', targetSubnet: '172.30.0.0/16', gateway: '172.30.0.1', dns: ['172.30.0.53'] }];

let env: FailoverLab;
let replica: MoRef;

before(async () => {
  env = await startFailoverLab();
  replica = { type: 'VirtualMachine', value: (await env.replicate(VM, networkMap)).replicaId };
});
after(async () => { await env?.close(); });

test('planned failover: a write made just before the shutdown is on the replica; the source is off, the replica runs on DR-Network', async () => {
  const phases: string[] = [];
  const pointsBefore = (await listPoints(env.vs, replica)).length;
  // The guest takes a moment to shut down: the write lands while ShutdownGuest is under way.
  await env.lab.control.injectFault({ method: 'ShutdownGuest', fault: '', delayMs: 2500 });
  const lastWrite = randomBytes(192 * 1024);
  const going = plannedFailover({
    vs: env.vs, locks: env.locks, dataDir: env.dataDir,
    replicateDeps: async () => ({ vs: env.vs, journal: env.journal, locks: env.locks }),
  }, { replicaMoref: replica.value, networkMap, reIp, guest: { username: env.lab.guestUsername, password: env.lab.guestPassword }, shutdownTimeoutMs: 60_000, onProgress: (phase) => { if (phases.at(-1) !== phase) phases.push(phase); } });
  going.catch(() => undefined);
  await until('the source being shut down', () => phases.some((p) => /shutting the source down/.test(p)), { timeoutMs: 120_000 });
  await env.lab.control.writeDisk(VM, 0, 7 * MiB, lastWrite);
  const r = await going;
  await env.lab.control.clearFaults();

  assert.equal(r.syncs.length, 2);
  assert.equal(r.shutdown, 'shut down', 'through Tools, not a power-off');
  assert.equal((await env.vs.vms.get(await env.vmId(VM))).powerState, 'poweredOff');
  const points = await listPoints(env.vs, replica);
  assert.equal(points.length, pointsBefore + 2);
  assert.equal(r.point.id, points.at(-1)!.id, 'failed over to the point of the second sync');
  assert.ok(readThroughChain(await env.vm(REPLICA), 0, 7 * MiB, lastWrite.length).equals(lastWrite), 'the last write reached the replica');
  const info = await env.vs.vms.get(replica);
  assert.equal(info.powerState, 'poweredOn');
  assert.deepEqual(r.networks.map((n) => [n.network, n.connected]), [['DR-Network', true]]);
  // A Linux guest's re-IP: ip addr/route for the adapter with the NIC's MAC, then resolv.conf, while disconnected.
  const calls = ((await env.lab.control.guestCalls()) as unknown as GuestLogEntry[]).filter((c) => c.vm === REPLICA && (c.kind === 'nic' || c.kind === 'program'));
  assert.deepEqual(calls.map((c) => (c.kind === 'nic' ? `nic ${c.network} ${c.connected ? 'on' : 'off'}` : c.programPath)), ['nic DR-Network off', '/bin/sh', '/bin/sh', 'nic DR-Network on']);
  const { 'guest.ipAddress': old } = await env.vs.pc.retrieveOne<{ 'guest.ipAddress'?: string }>(replica, ['guest.ipAddress']);
  const to = translate(old!, reIp)!;
  assert.ok(calls[1]!.arguments!.includes(`ip addr add ${to.ip}/16 dev`) && calls[1]!.arguments!.includes('ip route replace default via 172.30.0.1'), calls[1]!.arguments);
  assert.ok(calls[2]!.arguments!.includes('nameserver 172.30.0.53') && calls[2]!.arguments!.includes('/etc/resolv.conf'), calls[2]!.arguments);
  const s = await replicaOf(env.vs, info.instanceUuid ? (await env.vs.vms.get(await env.vmId(VM))).instanceUuid! : '');
  assert.equal(s?.state, 'failedOver');
  assert.equal(s?.failover?.mode, 'planned');
});
