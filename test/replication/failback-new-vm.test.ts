// Failback to a new VM at production (the original gone, or the admin's choice), through the API with a
// replication job: a name in use is refused before anything starts; the new VM gets the replica's
// current disk (a full copy), its NIC on the mapped production network, and becomes the job's source
// (the replica is re-pointed to it); undo deletes it and points everything back; after a commit the
// job's next run replicates the new VM into the same replica.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import type { ApiError, JobRun, ReplicaState, ReplicationJob, ReplicationJobInput } from '../../backend/api/contract.ts';
import type { MoRef, VSphere } from '../../backend/vsphere/index.ts';
import { readNics } from '../../backend/replication/failover/vm-ops.ts';
import { diskShaViaHelper, helperAttached, pairAndStartTransporter, serviceCli, shaOfFile, type TransporterProc } from './transport-lab.ts';

const MiB = 1024 * 1024;
const VM = 'win-app01';
const REPLICA = `${VM}-replica`;
const NEW = 'win-app01-back';
const appAware = { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } as const;

let lab: Lab;
let t: TestService;
let vs: VSphere;
let token: string;
let source: MoRef;
let replicaId: string;
let job: ReplicationJob;
let transporter: TransporterProc;

const toNew = { name: NEW, host: 'esx-prod-02.lab.local', datastore: 'prod-ds2', networkMap: [{ source: 'DR-App', target: 'Prod-App' }] };
const replicaOf = async (vmId: string) => (await t.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
const jobVmIds = async () => (await t.call<ReplicationJob>('GET', `/api/replication-jobs/${job.id}`, { token })).body.vmIds;

async function run(path: string, body?: unknown): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', path, { token, ...(body ? { body } : {}) });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return t.waitRun(token, r.body.id, 240_000);
}

async function failoverAndWrite(): Promise<void> {
  if ((await vs.vms.get(source)).powerState !== 'poweredOff') await vs.vms.powerOff(source);
  const f = await run(`/api/replicas/${replicaId}/failover`, {});
  assert.ok(f.status === 'success' || f.status === 'warning', JSON.stringify(f));
  await lab.control.writeDisk(REPLICA, 0, 5 * MiB + 100, randomBytes(300 * 1024));
  await lab.control.writeDisk(REPLICA, 0, 40 * MiB, randomBytes(MiB));
}

before(async () => {
  lab = await startLab({ replication: true, diskMiB: 64 });
  vs = await connectToLab(lab);
  t = await startTestService({ lab, register: false });
  token = await t.login();
  source = { type: 'VirtualMachine', value: (await lab.control.vms())[VM]!.moref };
  const input: ReplicationJobInput = {
    name: 'DR app', vmIds: [source.value], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-replica', networkMap: [{ source: 'Prod-App', target: 'DR-App' }] },
    schedule: { cron: null }, rpoMinutes: 60, keepPoints: 3, appAware: { ...appAware }, enabled: true,
  };
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: input });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  job = made.body;
  const seed = await run(`/api/replication-jobs/${job.id}/run`);
  assert.equal(seed.status, 'success', JSON.stringify(seed));
  replicaId = (await replicaOf(source.value)).replicaVmId;
});
after(async () => {
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  await vs?.close();
  await t?.stop();
  await lab?.stop();
});

test('failback to a new VM: without a transporter at the DR site it says what to do; a name in use is refused first; the new VM has the replica\'s disk and is the job\'s source; undo deletes it and points back', async () => {
  await failoverAndWrite();
  const none = await run(`/api/replicas/${replicaId}/failback`, { toNew });
  assert.equal(none.status, 'failed', JSON.stringify(none));
  assert.match(none.vms[0]!.message ?? '', /No transporter at the DR site can read the replica's disks.*Run `stillpoint transporter run`/);
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOn', 'the replica still runs');
  // The replica's disks are snapshot chains: they are read through the transporter at the DR site.
  transporter = await pairAndStartTransporter(t);

  const taken = await t.call<ApiError>('POST', `/api/replicas/${replicaId}/failback`, { token, body: { toNew: { ...toNew, name: 'linux-db01' } } });
  assert.equal(taken.status, 409, JSON.stringify(taken.body));
  assert.match(taken.body.message, /A VM named 'linux-db01' exists already: choose another name/);
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOn', 'refused before anything started');

  const r = await run(`/api/replicas/${replicaId}/failback`, { toNew });
  assert.ok(r.status === 'success' || r.status === 'warning', JSON.stringify(r));
  assert.match(r.vms[0]!.message ?? '', new RegExp(`Failed back to the new VM ${NEW}: the replica's disks copied whole .*replication job 'DR app' now replicates ${NEW}; the new VM runs: commit or undo`));
  const made = (await lab.control.vms())[NEW];
  assert.ok(made, 'the new VM exists');
  assert.equal(r.vms[0]!.bytesRead, made.disks[0]!.capacityBytes, 'a full copy: no base to diff against');
  assert.deepEqual(await helperAttached(lab), [], 'the replica\'s disks are detached from the DR helper');
  assert.equal(shaOfFile(made.disks[0]!.flatPath, made.disks[0]!.capacityBytes), await diskShaViaHelper(vs, lab, REPLICA), 'the new VM\'s disk = the replica\'s');
  const vm = { type: 'VirtualMachine', value: made.moref };
  assert.equal((await vs.vms.get(vm)).powerState, 'poweredOn');
  assert.deepEqual((await readNics(vs, vm)).map((n) => n.backing?.deviceName), ['Prod-App'], 'its NIC on the mapped production network');
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOff');
  assert.deepEqual(await jobVmIds(), [made.moref], 'the job replicates the new VM');
  assert.equal((await replicaOf(made.moref)).replicaVmId, replicaId, 'the replica is the new VM\'s');

  const u = await run(`/api/replicas/${replicaId}/failback`, { action: 'undo' });
  assert.equal(u.status, 'success', JSON.stringify(u));
  assert.equal((await lab.control.vms())[NEW], undefined, 'the new VM is deleted');
  assert.deepEqual(await vs.inventory.findVmsByName(NEW), []);
  assert.deepEqual(await jobVmIds(), [source.value], 'the job replicates the original VM again');
  const back = await replicaOf(source.value);
  assert.equal(back.replicaVmId, replicaId);
  assert.equal(back.state, 'failedOver', 'the replica runs again');
  assert.equal((await vs.vms.get({ type: 'VirtualMachine', value: replicaId })).powerState, 'poweredOn');
});

test('stillpoint failback --to-new, then --commit: the replica is ready again and the job\'s next run replicates the new VM into it', async () => {
  const usage = await serviceCli(t, ['failback', REPLICA, '--to-new', NEW, '--host', toNew.host]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--to-new needs --host and --datastore/);
  const r = await serviceCli(t, ['failback', REPLICA, '--to-new', NEW, '--host', toNew.host, '--datastore', toNew.datastore, '--network', 'DR-App=Prod-App']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`${REPLICA}: (success|warning): Failed back to the new VM ${NEW}`));
  const made = (await lab.control.vms())[NEW]!;
  const c = await serviceCli(t, ['failback', REPLICA, '--commit']);
  assert.equal(c.code, 0, c.stderr + c.stdout);
  assert.match(c.stdout, /success: Failback committed/);
  const s = await replicaOf(made.moref);
  assert.equal(s.state, 'ready');
  assert.equal(s.replicaVmId, replicaId);

  await lab.control.writeDisk(NEW, 0, 7 * MiB, randomBytes(64 * 1024));
  const next = await run(`/api/replication-jobs/${job.id}/run`);
  assert.ok(next.status === 'success' || next.status === 'warning', JSON.stringify(next));
  assert.equal(next.vms[0]!.vmId, made.moref);
  assert.match(next.vms[0]!.message ?? '', new RegExp(`Updated replica ${REPLICA}`));
  const d = (await lab.control.vms())[NEW]!.disks[0]!;
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), shaOfFile(d.flatPath, d.capacityBytes), 'the replica = the new VM after the run');
});
