// The `stillpoint` command against a running service and the lab vCenter, as an admin uses it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { Job, JobRun, RestorePoint, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
before(async () => { t = await startTestService(); });
after(async () => { await t?.stop(); });

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: {
        ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir,
        STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password, ...env,
      },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('vms lists the inventory, as a table and as JSON', async () => {
  const table = await cli(['vms']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+NAME\s+POWER/m);
  assert.match(table.stdout, /win-app01/);
  const json = await cli(['vms', '--json']);
  const vms = JSON.parse(json.stdout) as VmSummary[];
  assert.ok(vms.some((v) => v.name === 'linux-db01' && v.guestFamily === 'linux'));
});

test('backup by name, then points shows the restore point with its consistency', async () => {
  const b = await cli(['backup', 'linux-db01', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const run = JSON.parse(b.stdout) as JobRun;
  assert.equal(run.status, 'success');
  const p = await cli(['points', 'linux-db01', '--json']);
  const points = JSON.parse(p.stdout) as RestorePoint[];
  assert.equal(points[0]!.id, run.vms[0]!.restorePointId);
  assert.equal(points[0]!.consistency, 'filesystem');
  const text = await cli(['points', 'linux-db01']);
  // Times in local time, one format: the restore point's creation as the reader's clock shows it.
  const created = new Date(points[0]!.createdAt);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const local = `${created.getFullYear()}-${p2(created.getMonth() + 1)}-${p2(created.getDate())} ${p2(created.getHours())}:${p2(created.getMinutes())}:${p2(created.getSeconds())}`;
  assert.match(text.stdout, new RegExp(`${points[0]!.id}\\s+${local}\\s+filesystem`));
  const vms = await cli(['vms'], { TZ: 'America/New_York' });
  assert.doesNotMatch(vms.stdout, /\d{4}-\d\d-\d\dT\d\d:/, 'no raw ISO times');
  assert.match(vms.stdout, /linux-db01 .* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d success \(filesystem\)/);
});

test('restore a restore point to a new VM from the command line', async () => {
  const p = await cli(['points', 'linux-db01', '--json']);
  const [rp] = JSON.parse(p.stdout) as RestorePoint[];
  assert.ok(rp, p.stderr);
  const r = await cli(['restore', rp.id, '--as', 'cli-restored', '--host', 'esx-dr-01.lab.local', '--datastore', 'dr-ds1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as JobRun).status, 'success');
  const vms = JSON.parse((await cli(['vms', '--json'])).stdout) as VmSummary[];
  assert.ok(vms.some((v) => v.name === 'cli-restored'));
  const refused = await cli(['restore', rp.id, '--original']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /add --yes to confirm/);
});

test('jobs create, list and run', async () => {
  const c = await cli(['jobs', 'create', 'cli-nightly', '--vm', 'win-app01', '--cron', '30 1 * * *', '--keep-last', '3', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const job = JSON.parse(c.stdout) as Job;
  assert.equal(job.retention.keepLast, 3);
  const l = await cli(['jobs', 'list']);
  assert.match(l.stdout, /cli-nightly\s+1\s+30 1 \* \* \*/);
  const shown = await cli(['jobs', 'show', 'cli-nightly']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^Schedule: +cron "30 1 \* \* \*"$/m, 'jobs show is text without --json');
  assert.match(shown.stdout, /^VMs: +win-app01 \(vm-\d+\)$/m);
  assert.match(shown.stdout, /^Keep: +last 3$/m);
  const r = await cli(['jobs', 'run', 'cli-nightly', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as JobRun).status, 'success');
});

test('clear errors: unknown VM, unknown command, service down, wrong password', async () => {
  const a = await cli(['backup', 'no-such-vm']);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /no VM named 'no-such-vm'/);
  const b = await cli(['frobnicate']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /unknown command 'frobnicate'/);
  const c = await cli(['vms'], { STILLPOINT_URL: 'https://127.0.0.1:1' });
  assert.equal(c.code, 1);
  assert.match(c.stderr, /not running/);
  const fresh = { STILLPOINT_DATA_DIR: t.dataDir + '/fresh', STILLPOINT_CA: t.dataDir + '/tls/server.crt' };
  const d = await cli(['vms'], { ...fresh, STILLPOINT_PASSWORD: 'wrong' });
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /user name or password/);
  const e = await cli(['vms'], { STILLPOINT_DATA_DIR: t.dataDir + '/other' });
  assert.equal(e.code, 1);
  assert.match(e.stderr, /certificate.*STILLPOINT_CA/);
});

test('plugin status, register refused twice, update bumps the version', async () => {
  const env = { STILLPOINT_VCENTER_PASSWORD: t.lab.password };
  const base = ['--vcenter', t.lab.sdkUrl, '--user', t.lab.username, '--thumbprint', t.lab.thumbprint];
  const s = await cli(['plugin', 'status', ...base, '--json'], env);
  assert.equal(s.code, 0, s.stderr);
  const st = JSON.parse(s.stdout);
  assert.equal(st.registered, true);
  const again = await cli(['plugin', 'register', ...base, '--manifest-url', `${t.service.url}/plugin.json`, '--server-thumbprint', t.service.thumbprint], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /registered in this vCenter already/);
  const u = await cli(['plugin', 'update', ...base, '--manifest-url', `${t.service.url}/plugin.json`, '--server-thumbprint', t.service.thumbprint, '--json'], env);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(JSON.parse(u.stdout).version, '1.0.0.1');
});
