// Replication jobs through the API against the lab vCenter: a job (VM, DR host/datastore, network
// mapping, RPO, points to keep, application-aware settings) created, run by hand and by its schedule,
// its retention keeping the newest points; then RPO health: recovery points injected with old times
// (the replica's snapshots, as a stalled replication would leave them) turn the replica's RPO to
// warning and error, each raised as a vCenter event on the replica and the source VM; the next run
// brings it back (an "RPO met" event).
import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, JobRun, ReplicaState, ReplicationJob, ReplicationJobInput } from '../../backend/api/contract.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';
import { EVENT_TYPES } from '../../backend/model/vcenter-tasks.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { recordPermanentFailover } from '../../backend/replication/replica-state.ts';

let t: TestService;
let token: string;
let vs: VSphere;
before(async () => { t = await startTestService(); token = await t.login(); vs = await connectToLab(t.lab); });
after(async () => { await vs?.close(); await t?.stop(); });

type Replica = Extract<ReplicaState, { replicaVmId: string }>;
const appAware = { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } as const;

function input(vmId: string, over: Partial<ReplicationJobInput> = {}): ReplicationJobInput {
  return {
    name: 'DR db', vmIds: [vmId], target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-dr', networkMap: [{ source: 'VM Network', target: 'VM Network' }] },
    schedule: { cron: null }, rpoMinutes: 60, keepPoints: 2, appAware: { ...appAware }, enabled: true, ...over,
  };
}

async function replicaOf(vmId: string): Promise<Replica> {
  const r = await t.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.notEqual(r.body.state, 'none');
  return r.body as Replica;
}

async function runJob(id: string): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${id}/run`, { token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'replication');
  const done = await t.waitRun(token, r.body.id, 90_000);
  assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
  return done;
}

let job: ReplicationJob;
let src: { moref: string; capacity: number };

test('a replication job is created with its target, RPO and points; bad input is refused with what to do', async () => {
  const vm = (await t.lab.control.vms())['linux-db01']!;
  src = { moref: vm.moref, capacity: vm.disks[0]!.capacityBytes };
  const bad = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(vm.moref, { keepPoints: 29 }) });
  assert.equal(bad.status, 400);
  const cron = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(vm.moref, { schedule: { cron: 'every hour' } }) });
  assert.equal(cron.status, 400);
  assert.match(cron.body.message, /schedule\.cron: 'every hour' is not a cron expression/);
  const net = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(vm.moref, { target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', networkMap: [{ source: 'VM Network', target: 'DR-Nowhere' }] } }) });
  assert.equal(net.status, 400);
  assert.match(net.body.message, /DR-Nowhere.*does not exist on DR host/);
  const site = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(vm.moref, { target: { site: 'mars', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1' } }) });
  assert.equal(site.status, 400);
  assert.match(site.body.message, /'mars' is not a configured site/);
  const restricted = await t.login('restricted');
  const denied = await t.call<ApiError>('POST', '/api/replication-jobs', { token: restricted, body: input(vm.moref) });
  assert.ok(denied.status === 403 || denied.status === 404, JSON.stringify(denied.body));

  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: input(vm.moref) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  job = made.body;
  assert.equal(job.source, 'snapshot');
  assert.equal(job.rpoMinutes, 60);
  assert.deepEqual(job.target.networkMap, [{ source: 'VM Network', target: 'VM Network' }]);
  const listed = (await t.call<ReplicationJob[]>('GET', '/api/replication-jobs', { token })).body;
  assert.deepEqual(listed.map((j) => j.id), [job.id]);
  const dup = await t.call<ApiError>('POST', '/api/replication-jobs', { token, body: input(vm.moref) });
  assert.equal(dup.status, 409);
  // The backup job route does not turn it into a backup job.
  const asBackup = await t.call<ApiError>('PUT', `/api/jobs/${job.id}`, { token, body: { name: 'DR db', vmIds: [vm.moref], schedule: { cron: null }, retention: {}, appAware: { ...appAware }, concurrency: 1, enabled: true } });
  assert.equal(asBackup.status, 400);
  assert.match(asBackup.body.message, /is a replication job: change it with PUT \/api\/replication-jobs\//);
});

test('running the job creates the replica, later runs add points and retention keeps the newest two', async () => {
  const first = await runJob(job.id);
  assert.equal(first.jobId, job.id);
  assert.match(first.vms[0]!.message ?? '', /Created replica linux-db01-dr/);
  assert.equal(first.vms[0]!.bytesRead, src.capacity);
  await runJob(job.id);
  const third = await runJob(job.id);
  assert.match(third.vms[0]!.message ?? '', /Removed 1 old recovery point/);
  const rep = await replicaOf(src.moref);
  assert.equal(rep.replicaName, 'linux-db01-dr');
  assert.equal(rep.recoveryPoints, 2);
  assert.equal(rep.state, 'ready');
  assert.equal(rep.rpo?.jobId, job.id);
  assert.equal(rep.rpo?.level, 'ok');
  assert.ok(rep.rpo!.ageMinutes! < 60, JSON.stringify(rep.rpo));
  const again = (await t.call<ReplicationJob>('GET', `/api/replication-jobs/${job.id}`, { token })).body;
  assert.equal(again.lastRun?.id, third.id);
});

test('the schedule runs the job by itself (every 2 seconds here), and stops when the job is disabled', async () => {
  const put = await t.call<ReplicationJob>('PUT', `/api/replication-jobs/${job.id}`, { token, body: input(src.moref, { schedule: { cron: '*/2 * * * * *' } }) });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.ok(put.body.nextRun, 'the scheduler set the next run');
  const run = await until('a scheduled run of the job', async () => {
    const runs = (await t.call<JobRun[]>('GET', '/api/runs?limit=20', { token })).body;
    return runs.find((r) => r.jobId === job.id && r.initiatedBy === 'Stillpoint scheduler');
  }, { timeoutMs: 60_000, everyMs: 250 });
  const off = await t.call<ReplicationJob>('PUT', `/api/replication-jobs/${job.id}`, { token, body: input(src.moref, { schedule: { cron: null } }) });
  assert.equal(off.status, 200);
  assert.equal(off.body.nextRun, undefined);
  const done = await t.waitRun(token, run.id, 90_000);
  assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
});

/** A recovery point as a stalled replication leaves it: the newest point's data taken `minutes` ago. */
async function injectPoint(replicaId: string, minutes: number): Promise<void> {
  const takenAt = new Date(Date.now() - minutes * 60_000);
  await vs.snapshots.create({ type: 'VirtualMachine', value: replicaId }, {
    name: `stillpoint ${takenAt.toISOString().slice(0, 16).replace('T', ' ')} crash-consistent`,
    description: JSON.stringify({ source: 'linux-db01', consistency: 'crash', takenAt: takenAt.toISOString() }), memory: false, quiesce: false,
  });
}

async function eventsOn(moref: string): Promise<{ type?: string; text: string }[]> {
  const ev = await vs.events.query({ type: 'VirtualMachine', value: moref }, { maxCount: 200 });
  return ev.map((e) => ({ type: e.eventTypeId as string | undefined, text: e.fullFormattedMessage ?? e.message ?? '' }));
}

test('RPO: a newest point 90 min old is a warning, 150 min an error, each a vCenter event on replica and source; a run meets it again', async () => {
  const rep = await replicaOf(src.moref);
  const replicaId = rep.replicaVmId;
  await injectPoint(replicaId, 90);
  const warn = await replicaOf(src.moref);
  assert.equal(warn.rpo?.level, 'warning', JSON.stringify(warn.rpo));
  assert.ok(warn.rpo!.ratio! > 1.45 && warn.rpo!.ratio! < 1.6, JSON.stringify(warn.rpo));
  const hasEvent = async (moref: string, re: RegExp) => (await eventsOn(moref)).some((e) => re.test(e.text));
  assert.ok(await hasEvent(src.moref, /^Stillpoint RPO warning: replica 'linux-db01-dr' of VM 'linux-db01': its newest recovery point is 90 min old, 1\.5\d?× the RPO of 60 min/),
    JSON.stringify(await eventsOn(src.moref)));
  assert.ok(await hasEvent(replicaId, /^Stillpoint RPO warning: replica 'linux-db01-dr'/));
  const warnings = (await eventsOn(src.moref)).filter((e) => /RPO warning/.test(e.text)).length;
  await replicaOf(src.moref);
  assert.equal((await eventsOn(src.moref)).filter((e) => /RPO warning/.test(e.text)).length, warnings, 'an unchanged level raises no second event');

  await injectPoint(replicaId, 150);
  const list = (await t.call<ReplicaState[]>('GET', '/api/replicas', { token })).body;
  const mine = list.find((r) => r.vmId === src.moref) as Replica;
  assert.equal(mine.rpo?.level, 'error', JSON.stringify(mine.rpo));
  const err = (await eventsOn(src.moref)).find((e) => /^Stillpoint RPO error: replica 'linux-db01-dr'/.test(e.text));
  assert.ok(err, JSON.stringify(await eventsOn(src.moref)));
  assert.ok(!err.type || err.type === EVENT_TYPES.replicaRpoExceeded, `event type ${err.type}`);

  // The job runs; its health check after the run raises "met again".
  await runJob(job.id);
  await until('the RPO met event', () => hasEvent(src.moref, /^Stillpoint: RPO met again for replica 'linux-db01-dr'/), { timeoutMs: 30_000, everyMs: 200 });
  const ok = await replicaOf(src.moref);
  assert.equal(ok.rpo?.level, 'ok');
  assert.equal(ok.recoveryPoints, 2, 'retention removed the injected points');
});

test('deleting the job keeps the replica', async () => {
  const del = await t.call('DELETE', `/api/replication-jobs/${job.id}`, { token });
  assert.equal(del.status, 204);
  assert.equal((await t.call('GET', `/api/replication-jobs/${job.id}`, { token })).status, 404);
  const rep = await replicaOf(src.moref);
  assert.equal(rep.state, 'ready');
  assert.equal(rep.rpo, undefined, 'no job, no RPO');
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('stillpoint replicate --job saves a replication job and runs it; stillpoint replicas shows its RPO compliance', async () => {
  const r = await cli(['replicate', 'win-app01', '--host', 'esx-dr-01.lab.local', '--datastore', 'dr-ds1', '--job', 'cli job', '--rpo', '30', '--keep', '2', '--schedule', '0 3 * * *']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^Saved replication job 'cli job' \([0-9a-f-]{36}\), next run \d{4}-\d\d-\d\d 03:00:00\.$/m);
  assert.match(r.stdout, /^win-app01: success, (application|filesystem|crash)-consistent, sent .*Created replica win-app01-replica/m);
  const jobs = (await t.call<ReplicationJob[]>('GET', '/api/replication-jobs', { token })).body;
  const saved = jobs.find((j) => j.name === 'cli job');
  assert.deepEqual([saved?.rpoMinutes, saved?.keepPoints, saved?.schedule.cron, saved?.source], [30, 2, '0 3 * * *', 'snapshot']);
  const list = await cli(['replicas']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^REPLICA\s+SOURCE\s+STATE\s+HOST\s+LAST SYNC\s+RPO\s+POINTS$/m);
  assert.match(list.stdout, /^win-app01-replica\s+win-app01\s+ready\s+esx-dr-01\.lab\.local\s+\S+ \S+\s+ok 0(\.\d+)?× of 30 min\s+1$/m);
  const json = JSON.parse((await cli(['replicas', '--json'])).stdout) as Replica[];
  assert.equal(json.find((x) => x.replicaName === 'win-app01-replica')?.rpo?.level, 'ok');
  const bad = await cli(['replicate', 'win-app01', '--host', 'esx-dr-01.lab.local', '--datastore', 'dr-ds1', '--rpo', '5']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /belong to a job: add --job NAME/);
});

test('a VM permanently failed over is left out of its replication job, saying which VM is production now', async () => {
  const job = (await t.call<ReplicationJob[]>('GET', '/api/replication-jobs', { token })).body.find((j) => j.name === 'cli job')!;
  const vm = (await t.lab.control.vms())['win-app01']!;
  const rep = await replicaOf(vm.moref);
  // What the permanent failover records (backend/replication/failover/permanent.ts).
  recordPermanentFailover(t.dataDir, { sourceVmId: vm.moref, sourceUuid: 'x', sourceName: 'win-app01', vmId: rep.replicaVmId, vmName: 'win-app01-replica', at: '2026-12-02T10:00:00.000Z', by: 'test' });
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${job.id}/run`, { token });
  const done = await t.waitRun(token, r.body.id, 60_000);
  assert.equal(done.status, 'warning', JSON.stringify(done));
  assert.match(done.vms[0]!.message ?? '', /^Left out: win-app01 was permanently failed over to win-app01-replica on 2026-12-02T10:00:00\.000Z/);
  assert.equal(done.vms[0]!.bytesRead, 0);
  assert.equal((await replicaOf(vm.moref)).recoveryPoints, rep.recoveryPoints, 'nothing written');
});
