// Faults during hot-add replication runs, with the transporter as a real child process: the source
// snapshot fails, the DR datastore is unreachable when the transporter attaches the replica's disk,
// the transporter is killed in the middle of a write. Each time: the run fails saying why, no source
// snapshot is left, no disk stays attached to the helper VM, the replica is still at its last good
// recovery point, and the next run repairs it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';
import type { JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { diskShaViaHelper, helperAttached, HELPER, shaOfFile, startTransporter, type TransporterProc } from './transport-lab.ts';

const MiB = 1024 * 1024;
const VM = 'linux-db01';
const REPLICA = `${VM}-replica`;
const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', keep: 5, networkMap: [{ source: 'VM Network', target: 'DR-Network' }] };

let lab: Lab;
let t: TestService;
let vs: VSphere;
let token: string;
let pairing: string;
let transporter: TransporterProc;
let vmId: string;
/** The source disk at the replica's latest good point, and that point. */
let good: { sha: string; pointId: string };

const sourceSha = async () => { const d = (await lab.control.vms())[VM]!.disks[0]!; return shaOfFile(d.flatPath, d.capacityBytes); };
const replicaState = async () => (await t.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;

async function start(): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', `/api/vms/${vmId}/replicate`, { token, body: dr });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body;
}

/** A run that must succeed by hot-add; the replica then equals the source. */
async function repairRun(): Promise<void> {
  await lab.control.writeDisk(VM, 0, 3 * MiB, randomBytes(256 * 1024));
  const sha = await sourceSha();
  const run = await t.waitRun(token, (await start()).id, 240_000);
  assert.ok(run.status === 'success' || run.status === 'warning', JSON.stringify(run));
  assert.match(run.vms[0]!.message ?? '', /by hot-add/);
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), sha, 'the next run repaired the replica');
  good = { sha, pointId: (await replicaState()).points!.at(-1)!.id };
}

/** After a failed run: no source snapshot, nothing attached to the helper, the replica at its last good point. */
async function assertIntact(): Promise<void> {
  assert.deepEqual((await vs.snapshots.list({ type: 'VirtualMachine', value: vmId })).map((s) => s.name), [], 'no source snapshot left');
  assert.deepEqual(await helperAttached(lab), [], `nothing attached to ${HELPER}`);
  const s = await replicaState();
  assert.equal(s.points!.at(-1)!.id, good.pointId, 'no recovery point for the failed run');
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), good.sha, 'the replica is at its last good point');
}

before(async () => {
  lab = await startLab({ replication: true });
  t = await startTestService({ lab, register: false });
  token = await t.login();
  vs = await connectToLab(lab);
  vmId = (await lab.control.vms())[VM]!.moref;
  const paired = await t.call<{ token: string }>('POST', '/api/transporters/pair', { token, body: { vm: (await lab.control.vms())[HELPER]!.moref } });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  pairing = paired.body.token;
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing });
  const seed = await t.waitRun(token, (await start()).id, 240_000);
  assert.equal(seed.status, 'success', JSON.stringify(seed));
  await repairRun();
});
after(async () => {
  await lab?.control.clearFaults().catch(() => undefined);
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  await vs?.close();
  await t?.stop();
  await lab?.stop();
});

test('the source snapshot fails: the run fails saying so; nothing left behind; the next run repairs', async () => {
  await lab.control.writeDisk(VM, 0, 5 * MiB, randomBytes(64 * 1024));
  for (const method of ['CreateSnapshot_Task', 'CreateSnapshotEx_Task']) await lab.control.injectFault({ method, fault: 'SnapshotFault', vm: VM, message: 'An error occurred while taking a snapshot: disk full.' });
  const run = await t.waitRun(token, (await start()).id, 240_000);
  await lab.control.clearFaults();
  assert.equal(run.status, 'failed', JSON.stringify(run));
  assert.match(run.vms[0]!.message ?? '', /snapshot/i);
  await assertIntact();
  await repairRun();
});

test('the DR datastore is unreachable when the transporter attaches the replica\'s disk: run failed, replica untouched, next run repairs', async () => {
  await lab.control.writeDisk(VM, 0, 7 * MiB, randomBytes(64 * 1024));
  await lab.control.injectFault({ method: 'ReconfigVM_Task', fault: 'InaccessibleDatastore', vm: HELPER, message: 'The datastore dr-ds1 is not accessible.' });
  const run = await t.waitRun(token, (await start()).id, 240_000);
  await lab.control.clearFaults();
  assert.equal(run.status, 'failed', JSON.stringify(run));
  assert.match(run.vms[0]!.message ?? '', /dr-ds1 is not accessible/);
  const s = await replicaState();
  assert.equal(s.state, 'error');
  await assertIntact();
  await repairRun();
});

test('the transporter is killed mid-write: run failed, the service detaches the disk through vCenter, next run repairs with a new transporter', async () => {
  for (let i = 0; i < 6; i++) await lab.control.writeDisk(VM, 0, (12 + 4 * i) * MiB, randomBytes(MiB));
  // Slow source reads keep the write open while the transporter dies.
  await lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'linux-db01/', delayMs: 1500, count: -1 });
  const started = await start();
  await until('the replica disk attached to the helper and the run writing', async () => {
    const run = (await t.call<JobRun>('GET', `/api/runs/${started.id}`, { token })).body;
    return /^writing .*hot-add/.test(run.vms[0]?.phase ?? '') && (await helperAttached(lab)).length > 0;
  }, { timeoutMs: 120_000 });
  await transporter.kill9();
  const run = await t.waitRun(token, started.id, 240_000);
  await lab.control.clearFaults();
  assert.equal(run.status, 'failed', JSON.stringify(run));
  assert.match(run.vms[0]!.message ?? '', /Transporter 'dr-transporter01'.*(went away|unreachable)/);
  await assertIntact();
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing });
  assert.deepEqual(transporter.ready.cleaned, [], 'the service had detached the disk already');
  await repairRun();
});
