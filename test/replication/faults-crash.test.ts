// The service (a child process) is killed in the middle of a hot-add replication run. With the
// transporter alive, the broken write makes the transporter detach the replica's disk by itself; with
// the transporter killed too, its next start detaches what it left. Either way the restarted service
// removes the source snapshot, shows the replica's interrupted run as an error, the replica keeps its
// last good recovery point, and the next run repairs it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until } from '../helpers/wait.ts';
import type { JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { diskShaViaHelper, helperAttached, HELPER, shaOfFile, startTransporter, type TransporterProc } from './transport-lab.ts';

const MiB = 1024 * 1024;
const VM = 'linux-db01';
const REPLICA = `${VM}-replica`;
const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', keep: 5, networkMap: [{ source: 'VM Network', target: 'DR-Network' }] };

interface Svc { proc: ChildProcess; url: string; cert: string; token: string; call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> }

let lab: Lab;
let vs: VSphere;
let dataDir: string;
let port: number;
let svc: Svc;
let pairing: string;
let transporter: TransporterProc;
let vmId: string;
let good: { sha: string; pointId: string };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function startSvc(): Promise<Svc> {
  const proc = spawn(process.execPath, ['backend/main.ts'], {
    env: {
      ...process.env, STILLPOINT_DATA_DIR: dataDir, STILLPOINT_PORT: String(port), STILLPOINT_VCENTER_URL: lab.sdkUrl,
      STILLPOINT_VCENTER_USER: lab.username, STILLPOINT_VCENTER_PASSWORD: lab.password, STILLPOINT_VCENTER_THUMBPRINT: lab.thumbprint,
      STILLPOINT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /running at (https:\/\/\S+?)\//.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`service exited with ${code}: ${out}`)));
  });
  const cert = readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8');
  const s: Svc = {
    proc, url, cert, token: '',
    call: (method, path, body) => new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (s.token) headers.authorization = `Bearer ${s.token}`;
      const req = request(url + path, { method, headers, ca: cert }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    }),
  };
  s.token = (await s.call<{ token: string }>('POST', '/api/session/login', { username: lab.username, password: lab.password })).body.token;
  return s;
}

const kill9 = (p: ChildProcess) => new Promise<void>((resolve) => {
  if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
  p.once('exit', () => resolve());
  p.kill('SIGKILL');
});
const sourceSha = async () => { const d = (await lab.control.vms())[VM]!.disks[0]!; return shaOfFile(d.flatPath, d.capacityBytes); };
const replicaState = async () => (await svc.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`)).body as Extract<ReplicaState, { replicaVmId: string }>;
const sourceSnapshots = async () => (await vs.snapshots.list({ type: 'VirtualMachine', value: vmId })).map((s) => s.name);

async function waitRun(id: string): Promise<JobRun> {
  return until(`run ${id} to end`, async () => {
    const r = (await svc.call<JobRun>('GET', `/api/runs/${id}`)).body;
    return r.status !== 'running' && r.status !== 'queued' ? r : undefined;
  }, { timeoutMs: 240_000, everyMs: 200 });
}

async function start(): Promise<string> {
  const r = await svc.call<JobRun>('POST', `/api/vms/${vmId}/replicate`, dr);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id;
}

async function repairRun(): Promise<void> {
  await lab.control.writeDisk(VM, 0, 3 * MiB, randomBytes(256 * 1024));
  const sha = await sourceSha();
  const run = await waitRun(await start());
  assert.ok(run.status === 'success' || run.status === 'warning', JSON.stringify(run));
  assert.match(run.vms[0]!.message ?? '', /by hot-add/);
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), sha, 'the run left the replica equal to the source');
  good = { sha, pointId: (await replicaState()).points!.at(-1)!.id };
}

/** Starts a run and waits until the transporter has the replica's disk attached and the service is writing. */
async function runUntilWriting(): Promise<void> {
  for (let i = 0; i < 6; i++) await lab.control.writeDisk(VM, 0, (12 + 4 * i) * MiB, randomBytes(MiB));
  await lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'linux-db01/', delayMs: 1500, count: -1 });
  const id = await start();
  await until('the replica disk attached to the helper and the run writing', async () => {
    const run = (await svc.call<JobRun>('GET', `/api/runs/${id}`)).body;
    return /^writing .*hot-add/.test(run.vms[0]?.phase ?? '') && (await helperAttached(lab)).length > 0;
  }, { timeoutMs: 120_000 });
}

/** After the restart: the source snapshot removed, the interrupted run shown, the last good point kept. */
async function assertRecovered(): Promise<void> {
  await lab.control.clearFaults();
  await until('the restarted service to remove the source snapshot', async () => (await sourceSnapshots()).length === 0, { timeoutMs: 60_000 });
  const s = await replicaState();
  assert.equal(s.state, 'error');
  assert.match(s.error ?? '', /interrupted/);
  const replica = { type: 'VirtualMachine', value: (await lab.control.vms())[REPLICA]!.moref };
  const points = await listPoints(vs, replica);
  assert.equal(points.at(-1)!.id, good.pointId, 'the last good recovery point is there, no new one');
  await vs.snapshots.revert(points.at(-1)!.ref, { suppressPowerOn: true });
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), good.sha, 'reverting to it gives the last good state');
}

async function transporterOnline(): Promise<void> {
  await until('the transporter registered with the restarted service', async () => {
    const l = (await svc.call<{ online: boolean }[]>('GET', '/api/transporters')).body;
    return l.length === 1 && l[0]!.online;
  }, { timeoutMs: 30_000 });
}

before(async () => {
  lab = await startLab({ replication: true });
  vs = await connectToLab(lab);
  dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-repl-crash-'));
  port = await freePort();
  svc = await startSvc();
  vmId = (await lab.control.vms())[VM]!.moref;
  const paired = await svc.call<{ token: string }>('POST', '/api/transporters/pair', { vm: (await lab.control.vms())[HELPER]!.moref });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  pairing = paired.body.token;
  transporter = await startTransporter({ lab, serviceUrl: svc.url, serviceCert: svc.cert, token: pairing, renewSeconds: 1, leaseSeconds: 10 });
  const seed = await waitRun(await start());
  assert.ok(seed.status === 'success', JSON.stringify(seed));
  await repairRun();
});
after(async () => {
  await lab?.control.clearFaults().catch(() => undefined);
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  if (svc) await kill9(svc.proc);
  await vs?.close();
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('service killed mid-write: the transporter detaches by itself (broken write or lease); after the restart the next run repairs the replica', async () => {
  await runUntilWriting();
  await kill9(svc.proc);
  // The broken request, or the session's 10 s lease when the service died between two requests.
  await until('the transporter to detach the replica disk', async () => (await helperAttached(lab)).length === 0, { timeoutMs: 60_000 });
  svc = await startSvc();
  await assertRecovered();
  await transporterOnline();
  await repairRun();
});

test('service and transporter killed mid-write: the transporter\'s next start detaches the leftover; the next run repairs the replica', async () => {
  await runUntilWriting();
  await Promise.all([kill9(svc.proc), transporter.kill9()]);
  assert.equal((await helperAttached(lab)).length, 1, 'the replica disk is still attached to the helper');
  svc = await startSvc();
  transporter = await startTransporter({ lab, serviceUrl: svc.url, serviceCert: svc.cert, token: pairing, renewSeconds: 1, leaseSeconds: 10 });
  assert.equal(transporter.ready.cleaned.length, 1, JSON.stringify(transporter.ready));
  assert.match(transporter.ready.cleaned[0]!, /^\[dr-ds1\] linux-db01-replica\//);
  assert.deepEqual(await helperAttached(lab), []);
  await assertRecovered();
  await transporterOnline();
  await repairRun();
});
