// The service is killed (SIGKILL) in the middle of backups. At the next start it must thaw what it
// froze, remove the snapshots it left, tell the truth in the job history, and the repository must
// open (taking over the dead process's lock) and verify clean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { Repository } from '../../backend/repository/repository.ts';
import type { GuestCredential, Job, JobRun } from '../../backend/api/contract.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';

let lab: Lab;
let vs: VSphere;
let dataDir: string;
before(async () => {
  lab = await startLab();
  vs = await connectToLab(lab);
  dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-crash-'));
});
// A failed assertion leaves its service running: it is killed here, or its pipes would keep this file from ending.
const running = new Set<ChildProcess>();
after(async () => {
  await Promise.all([...running].map((p) => new Promise((resolve) => { p.once('exit', resolve); p.kill('SIGKILL'); })));
  await vs?.close(); await lab?.stop(); rmSync(dataDir, { recursive: true, force: true });
});

interface Svc { proc: ChildProcess; url: string; call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>; token?: string }

async function startSvc(): Promise<Svc> {
  const proc = spawn(process.execPath, ['backend/main.ts'], {
    env: {
      ...process.env, STILLPOINT_DATA_DIR: dataDir, STILLPOINT_PORT: '0', STILLPOINT_VCENTER_URL: lab.sdkUrl,
      STILLPOINT_VCENTER_USER: lab.username, STILLPOINT_VCENTER_PASSWORD: lab.password, STILLPOINT_VCENTER_THUMBPRINT: lab.thumbprint,
      STILLPOINT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /running at (https:\/\/\S+?)\//.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`service exited with ${code}: ${out}`)));
  });
  const ca = readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8');
  const svc: Svc = {
    proc, url,
    call: (method, path, body) => new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (svc.token) headers.authorization = `Bearer ${svc.token}`;
      const req = request(url + path, { method, headers, ca }, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: s ? JSON.parse(s) : undefined }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    }),
  };
  svc.token = (await svc.call<{ token: string }>('POST', '/api/session/login', { username: lab.username, password: lab.password })).body.token;
  return svc;
}

function kill9(s: Svc): Promise<void> {
  return new Promise((resolve) => { s.proc.once('exit', () => resolve()); s.proc.kill('SIGKILL'); });
}
async function stop(s: Svc): Promise<void> {
  await new Promise<void>((resolve) => { s.proc.once('exit', () => resolve()); s.proc.kill('SIGTERM'); });
}
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const snapshotsOf = async (vmId: string) => vs.snapshots.list({ type: 'VirtualMachine', value: vmId });
const thaws = async () => (await lab.control.guestCalls()).filter((c) => c.kind === 'program' && /post-thaw/.test(c.arguments ?? ''));

test('killed while the guest is frozen, while the snapshot exists, and while reading: everything is undone at restart', async () => {
  const vms = await lab.control.vms();
  const linux = vms['linux-db01']!.moref;
  const win = vms['win-app01']!.moref;
  let svc = await startSvc();
  const cred = await svc.call<GuestCredential>('POST', '/api/credentials', { name: 'lab', username: lab.guestUsername, password: lab.guestPassword });
  assert.equal(cred.status, 201);
  const mkJob = async (name: string, vmIds: string[], scripts: boolean) => (await svc.call<Job>('POST', '/api/jobs', {
    name, vmIds, schedule: { cron: null }, retention: {}, concurrency: 1, enabled: true,
    appAware: {
      quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy',
      ...(scripts ? { guestCredentialId: cred.body.id, preFreeze: { content: 'freeze', timeoutSec: 60 }, postThaw: { content: 'thaw', timeoutSec: 60 } } : {}),
    },
  })).body;
  const frozenJob = await mkJob('frozen', [linux], true);
  const readJob = await mkJob('reading', [win], false);

  // 1) Killed during pre-freeze: the guest is (being) frozen, no snapshot yet.
  await lab.control.setGuestExitCode({ match: 'pre-freeze', exitCode: 0, delayMs: 30_000 });
  const run1 = (await svc.call<JobRun>('POST', `/api/jobs/${frozenJob.id}/run`)).body;
  await until('pre-freeze to start', async () => (await lab.control.guestCalls()).some((c) => /pre-freeze/.test(c.arguments ?? '')));
  await kill9(svc);
  assert.equal((await thaws()).length, 0);

  // 2) Killed while reading win-app01 (reads slowed down by the lab), snapshot in place.
  svc = await startSvc();
  await until('the first recovery', async () => (await thaws()).length === 1);
  await lab.control.resetGuest();
  await lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'win-app01-flat.vmdk', delayMs: 20_000, count: -1 });
  const run2 = (await svc.call<JobRun>('POST', `/api/jobs/${readJob.id}/run`)).body;
  await until('the backup snapshot', async () => (await snapshotsOf(win)).length === 1);
  // A read of the disk has reached the lab (where it is held 20 s): the service is killed while reading.
  await until('the backup to read win-app01\'s disk', async () => (await lab.control.faults()).some((f) => f.path === 'win-app01-flat.vmdk' && f.hits > 0));
  await kill9(svc);
  await lab.control.clearFaults();
  assert.equal((await snapshotsOf(win)).length, 1, 'the killed backup left its snapshot');

  // 3) Killed during post-thaw: pre-freeze done, snapshot exists, thaw not recorded as done.
  svc = await startSvc();
  await until('the snapshot left by the read kill to be removed', async () => (await snapshotsOf(win)).length === 0);
  await lab.control.setGuestExitCode({ match: 'post-thaw', exitCode: 0, delayMs: 30_000 });
  const run3 = (await svc.call<JobRun>('POST', `/api/jobs/${frozenJob.id}/run`)).body;
  await until('post-thaw to start', async () => (await thaws()).length === 1);
  assert.equal((await snapshotsOf(linux)).length, 1);
  await kill9(svc);
  await lab.control.resetGuest();

  svc = await startSvc();
  await until('post-thaw rerun and snapshot removal', async () => (await thaws()).length === 1 && (await snapshotsOf(linux)).length === 0);
  for (const id of [run1.id, run2.id, run3.id]) {
    const r = (await svc.call<JobRun>('GET', `/api/runs/${id}`)).body;
    assert.equal(r.status, 'failed', JSON.stringify(r));
    assert.match(r.vms[0]!.message ?? '', /Interrupted: the Stillpoint service stopped during this backup/);
  }
  // What recovery did is in the history too.
  const msg = async (id: string) => (await svc.call<JobRun>('GET', `/api/runs/${id}`)).body.vms[0]!.message ?? '';
  assert.match(await msg(run1.id), /At restart Stillpoint removed 0 leftover snapshots, ran the post-thaw script/);
  assert.match(await msg(run2.id), /At restart Stillpoint removed 1 leftover snapshot(?!s)/);
  assert.match(await msg(run3.id), /removed 1 leftover snapshot, ran the post-thaw script/);
  // The service still works after all this.
  const ok = (await svc.call<JobRun>('POST', '/api/backups', { vmIds: [win] })).body;
  const done = await until('a new backup', async () => { const r = (await svc.call<JobRun>('GET', `/api/runs/${ok.id}`)).body; return r.status !== 'running' && r; });
  assert.equal(done.status, 'success', JSON.stringify(done));
  await stop(svc);

  const repo = await Repository.open(join(dataDir, 'repository'));
  try {
    const report = await repo.verify();
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal((await repo.listRestorePoints()).length, 1);
  } finally {
    await repo.close();
  }
});
