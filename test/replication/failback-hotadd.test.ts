// Failback through a transporter at the production site, with the transporter as a real child process
// paired to a helper VM on a production host, and a second one at the DR site reading the replica (its
// disks hot-added to the DR helper): after a failover, the changes made on the running replica go back
// into the original VM's disks (hot-added to the production helper, detached after), and only those: the
// bytes sent are counted and the transporter says what it wrote. Fault: the production transporter killed
// in the middle of the write → the failback fails saying so, nothing stays attached to either helper, the
// original VM is as it was, the replica runs again; the next failback (a new transporter) succeeds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';
import type { JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { MoRef, VSphere } from '../../backend/vsphere/index.ts';
import { resolvePlacement } from '../../backend/restore/placement.ts';
import { helperAttached, pieceCover, shaOfFile, startDrTransporter, startTransporter, type TransporterProc } from './transport-lab.ts';
import { sha256 } from './failover-lab.ts';

const MiB = 1024 * 1024;
const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
const PROD_HELPER = 'prod-transporter01';
const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', keep: 3, networkMap: [{ source: 'Prod-App', target: 'DR-App' }] };

let lab: Lab;
let t: TestService;
let vs: VSphere;
let token: string;
let pairing: string;
let transporter: TransporterProc;
/** The DR site's transporter: reads the replica's disks. */
let drTransporter: TransporterProc;
/** The production transporter's data folder, kept across its restarts as on a real helper VM. */
const dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-prod-transporter-'));
let source: MoRef;
let replicaId: string;

const sourceDisk = async () => (await lab.control.vms())[VM]!.disks[0]!;
const prodAttached = async () => ((await lab.control.vms())[PROD_HELPER]?.disks ?? []).filter((d) => d.attachedFrom);
const replicaState = async () => (await t.call<ReplicaState>('GET', `/api/vms/${source.value}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;

async function run(path: string, body: unknown): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', path, { token, body });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return t.waitRun(token, r.body.id, 240_000);
}

async function failover(): Promise<void> {
  if ((await vs.vms.get(source)).powerState !== 'poweredOff') await vs.vms.powerOff(source);
  const r = await run(`/api/replicas/${replicaId}/failover`, {});
  assert.ok(r.status === 'success' || r.status === 'warning', JSON.stringify(r));
}

/** The original VM's disk with these writes laid over it (what failback must give it). */
async function expectedWith(writes: { at: number; data: Buffer }[]): Promise<Buffer> {
  const b = Buffer.from(readFileSync((await sourceDisk()).flatPath));
  for (const w of writes) w.data.copy(b, w.at);
  return b;
}

/**
 * Starts a hot-add failback of `writes` made on the replica and returns once the original VM's disk is attached to
 * the production helper and the changes are being sent, with the original disk's hash before and the bytes it must
 * end with. The write stays open: the DR transporter is paused (SIGSTOP) once it has the replica's disk attached,
 * before the first read (the undo snapshot is held meanwhile); `resumeDr` lets it go on.
 */
async function hotAddFailbackUnderWay(writes: { at: number; data: Buffer }[]) {
  const d = await sourceDisk();
  const before = shaOfFile(d.flatPath, d.capacityBytes);
  const expected = await expectedWith(writes);
  for (const method of ['CreateSnapshot_Task', 'CreateSnapshotEx_Task']) await lab.control.injectFault({ method, fault: '', vm: VM, delayMs: 3000, count: 1 });
  const started = await t.call<JobRun>('POST', `/api/replicas/${replicaId}/failback`, { token, body: { transport: 'hot-add' } });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const phase = async () => (await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token })).body.vms[0]?.phase ?? '';
  await until('the replica\'s disk attached to the DR helper (the undo snapshot under way)', async () => /^taking the undo snapshot/.test(await phase()) && (await helperAttached(lab)).length > 0, { timeoutMs: 120_000 });
  drTransporter.proc.kill('SIGSTOP');
  await until('the original VM\'s disk attached to the production helper and the changes being sent', async () => /^sending the changes .*hot-add/.test(await phase()) && (await prodAttached()).length > 0, { timeoutMs: 120_000 });
  return { d, before, expected, started, resumeDr: () => { drTransporter.proc.kill('SIGCONT'); } };
}

/** A VM on a production host with a SCSI controller: where the production transporter runs. */
async function makeProductionHelper(): Promise<void> {
  const p = await resolvePlacement(vs, 'esx-prod-01.lab.local', 'prod-ds1');
  const helper = await vs.vms.create({
    folder: p.folder, pool: p.pool, host: p.host.ref, config: {
      name: PROD_HELPER, guestId: 'debian10_64Guest', numCPUs: 1, memoryMB: 512, files: { vmPathName: `[prod-ds1] ${PROD_HELPER}/${PROD_HELPER}.vmx` },
      deviceChange: [{ operation: 'add', device: { _type: 'ParaVirtualSCSIController', key: -100, busNumber: 0, sharedBus: 'noSharing' } }],
    } as never,
  });
  await vs.vms.powerOn(helper);
}

before(async () => {
  lab = await startLab({ replication: true, diskMiB: 64 });
  vs = await connectToLab(lab);
  await makeProductionHelper(); // before the service starts: its inventory knows the helper VM then
  t = await startTestService({ lab, register: false });
  token = await t.login();
  source = { type: 'VirtualMachine', value: (await lab.control.vms())[VM]!.moref };
  const seed = await run(`/api/vms/${source.value}/replicate`, dr);
  assert.equal(seed.status, 'success', JSON.stringify(seed));
  replicaId = (await replicaState()).replicaVmId;
  const paired = await t.call<{ token: string }>('POST', '/api/transporters/pair', { token, body: { vm: (await lab.control.vms())[PROD_HELPER]!.moref } });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  pairing = paired.body.token;
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing, dataDir });
  drTransporter = (await startDrTransporter(t, token)).transporter;
});
after(async () => {
  await lab?.control.clearFaults().catch(() => undefined);
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  if (drTransporter && drTransporter.proc.exitCode === null) { drTransporter.proc.kill('SIGCONT'); await drTransporter.kill9(); }
  await vs?.close();
  await t?.stop();
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('failback through the transporter at production sends only what changed on the replica; the original VM keeps its own bytes; commit', async () => {
  await failover();
  const writes = [
    { at: 2 * MiB, data: randomBytes(128 * 1024) },
    { at: 9 * MiB + 4097, data: randomBytes(100 * 1024) },
    { at: 33 * MiB + 512, data: randomBytes(8 * 1024) },
  ];
  for (const w of writes) await lab.control.writeDisk(REPLICA, 0, w.at, w.data);
  const own = randomBytes(64 * 1024);
  await lab.control.writeDisk(VM, 0, 20 * MiB, own); // the original VM's own bytes, not on the replica
  const expected = await expectedWith(writes);
  const changed = writes.reduce((n, w) => n + w.data.length, 0);

  const r = await run(`/api/replicas/${replicaId}/failback`, { transport: 'hot-add' });
  assert.equal(r.status, 'success', JSON.stringify(r));
  const v = r.vms[0]!;
  assert.match(v.message ?? '', /sent to production \(hot-add through transporter 'prod-transporter01'; the replica read through transporter 'dr-transporter01', [\d.]+ KiB received\).*commit or undo/);
  const sent = v.bytesRead;
  assert.ok(sent >= changed, `sent ${sent} B, fewer than the ${changed} B changed`);
  assert.ok(sent <= 1.1 * changed, `hot-add failback sent ${sent} B for ${changed} B changed on the replica (${(sent / changed).toFixed(3)}×)`);
  console.log(`failback by hot-add: ${changed} B changed on the replica, ${sent} B sent (${(sent / changed).toFixed(3)}×), disk ${(await sourceDisk()).capacityBytes} B`);
  assert.deepEqual(await prodAttached(), [], 'nothing stays attached to the production helper');
  assert.deepEqual(await helperAttached(lab), [], 'nor to the DR helper');
  assert.equal((await vs.vms.get(source)).powerState, 'poweredOn', 'switched back: the original VM runs');
  const s = await replicaState();
  assert.equal(s.state, 'failedOver', 'waiting for commit or undo');

  const c = await run(`/api/replicas/${replicaId}/failback`, { action: 'commit' });
  assert.equal(c.status, 'success', JSON.stringify(c));
  assert.deepEqual(await vs.snapshots.list(source), [], 'the undo snapshot is gone');
  const now = readFileSync((await sourceDisk()).flatPath);
  assert.equal(sha256(now), sha256(expected), 'the original VM = its own disk with the replica\'s changes');
  assert.ok(now.subarray(20 * MiB, 20 * MiB + own.length).equals(own), 'its own change stayed');
  assert.equal((await replicaState()).state, 'ready');
  assert.equal(await transporter.stop(), pieceCover(writes.map((w) => ({ start: w.at, length: w.data.length }))), 'the transporter wrote exactly the 4 KiB pieces that changed');
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing, dataDir });
});

test('the transporter is killed mid-write: failback fails saying so, nothing attached, the original VM as before, the replica runs; the next failback succeeds', async () => {
  await failover();
  const writes = Array.from({ length: 6 }, (_, i) => ({ at: (12 + 4 * i) * MiB, data: randomBytes(MiB) }));
  for (const w of writes) await lab.control.writeDisk(REPLICA, 0, w.at, w.data);
  const { d, before, expected, started, resumeDr } = await hotAddFailbackUnderWay(writes);
  await transporter.kill9();
  resumeDr();
  const failed = await t.waitRun(token, started.body.id, 240_000);
  await lab.control.clearFaults();
  assert.equal(failed.status, 'failed', JSON.stringify(failed));
  assert.match(failed.vms[0]!.message ?? '', /through transporter 'prod-transporter01' failed: Transporter 'prod-transporter01'.*(went away|unreachable).*Nothing changed: 'win-app01' is as before the failback/);
  assert.deepEqual(await prodAttached(), [], 'the service detached the original VM\'s disk through vCenter');
  assert.deepEqual(await helperAttached(lab), [], 'the DR transporter detached the replica\'s disk');
  assert.equal((await vs.vms.get(source)).powerState, 'poweredOff');
  assert.deepEqual(await vs.snapshots.list(source), [], 'no undo snapshot left');
  assert.equal(shaOfFile((await sourceDisk()).flatPath, d.capacityBytes), before, 'the original VM\'s disk is unchanged');
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOn', 'the replica runs again');
  const s = await replicaState();
  assert.equal(s.state, 'failedOver');

  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing, dataDir });
  assert.deepEqual(transporter.ready.cleaned, [], 'the service had detached the disk already');
  const again = await run(`/api/replicas/${replicaId}/failback`, { transport: 'hot-add', commit: true });
  assert.equal(again.status, 'success', JSON.stringify(again));
  const changed = writes.reduce((n, w) => n + w.data.length, 0);
  assert.ok(again.vms[0]!.bytesRead <= 1.1 * changed, `sent ${again.vms[0]!.bytesRead} B for ${changed} B changed`);
  assert.equal(shaOfFile((await sourceDisk()).flatPath, d.capacityBytes), sha256(expected), 'the next failback brought the changes back');
  assert.deepEqual(await prodAttached(), []);
  assert.equal((await replicaState()).state, 'ready');
  assert.equal(await transporter.stop(), pieceCover(writes.map((w) => ({ start: w.at, length: w.data.length }))), 'the new transporter wrote exactly the changed pieces');
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing, dataDir });
});

test('killed mid-write while vCenter refuses the service\'s detach: the error says what to revert, the transporter\'s next start detaches the original VM\'s disk (its journal), the admin\'s revert repairs, the next failback succeeds', async () => {
  await failover();
  const writes = Array.from({ length: 4 }, (_, i) => ({ at: (8 + 5 * i) * MiB, data: randomBytes(MiB) }));
  for (const w of writes) await lab.control.writeDisk(REPLICA, 0, w.at, w.data);
  const { d, before, expected, started, resumeDr } = await hotAddFailbackUnderWay(writes);
  await lab.control.injectFault({ method: 'ReconfigVM_Task', fault: 'InaccessibleDatastore', vm: PROD_HELPER, message: 'The datastore prod-ds1 is not accessible.' });
  await transporter.kill9();
  resumeDr();
  const failed = await t.waitRun(token, started.body.id, 240_000);
  await lab.control.clearFaults();
  assert.equal(failed.status, 'failed', JSON.stringify(failed));
  const msg = failed.vms[0]!.message ?? '';
  assert.match(msg, /through transporter 'prod-transporter01' failed/);
  assert.equal((await prodAttached()).length, 1, 'still attached: vCenter refused the detach');
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOn', 'the replica runs again');

  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing, dataDir });
  assert.equal(transporter.ready.cleaned.length, 1, `the new transporter detached what the killed one left: ${JSON.stringify(transporter.ready.cleaned)}`);
  assert.match(transporter.ready.cleaned[0]!, /^\[prod-ds1\] win-app01\//);
  assert.deepEqual(await prodAttached(), []);
  // Repairable: whatever the failed failback could not undo, the undo snapshot named in its message takes back.
  const undo = (await vs.snapshots.list(source)).find((s) => s.name === 'stillpoint failback (undo point)');
  if (undo) {
    assert.match(msg, /revert it to 'stillpoint failback \(undo point\)'/);
    await vs.snapshots.revert(undo.ref, { suppressPowerOn: true });
    await vs.snapshots.remove(undo.ref, { removeChildren: false, consolidate: true });
  } else {
    assert.match(msg, /Nothing changed/);
  }
  assert.equal(shaOfFile((await sourceDisk()).flatPath, d.capacityBytes), before, 'the original VM\'s disk as before');

  const again = await run(`/api/replicas/${replicaId}/failback`, { transport: 'hot-add', commit: true });
  assert.equal(again.status, 'success', JSON.stringify(again));
  assert.equal(shaOfFile((await sourceDisk()).flatPath, d.capacityBytes), sha256(expected), 'the next failback brought the changes back');
  assert.deepEqual(await prodAttached(), []);
});
