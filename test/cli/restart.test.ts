// The service restarts under a running `stillpoint backup`: the CLI must not hang or die with an
// unsettled await, but reconnect and report what became of the run (or say how to check it later),
// and the next command must log in again by itself with the session the old service forgot.
// The service runs as its own process (`npm start`'s backend/main.ts) on a fixed port and data
// folder, so that it can be stopped, killed and started again where the CLI looks for it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import { until, within } from '../helpers/wait.ts';

let lab: Lab;
let dataDir: string;
let port: number;
let svc: ChildProcess | undefined;

before(async () => {
  lab = await startLab();
  dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-cli-restart-'));
  port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
});
after(async () => {
  if (svc) await stopService('SIGTERM');
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the service on the test's port and data folder; resolves once it listens. */
async function startService(): Promise<void> {
  const proc = spawn(process.execPath, ['backend/main.ts'], {
    env: {
      ...process.env, STILLPOINT_DATA_DIR: dataDir, STILLPOINT_PORT: String(port), STILLPOINT_VCENTER_URL: lab.sdkUrl,
      STILLPOINT_VCENTER_USER: lab.username, STILLPOINT_VCENTER_PASSWORD: lab.password, STILLPOINT_VCENTER_THUMBPRINT: lab.thumbprint,
      STILLPOINT_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/running at https:/.test(out)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`service exited with ${code}: ${out}`)));
  });
  svc = proc;
}

/** SIGTERM: the service stops as `npm start` does on Ctrl-C; SIGKILL: it crashes. */
async function stopService(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const proc = svc!;
  svc = undefined;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await within(`the service to exit on ${signal}`, new Promise<void>((resolve) => { proc.once('exit', () => resolve()); proc.kill(signal); }), 60_000);
}

interface Cli { stdout(): string; stderr(): string; exited: Promise<{ code: number | null; stdout: string; stderr: string }> }

function cli(args: string[], env: Record<string, string> = {}): Cli {
  const proc = spawn(process.execPath, ['bin/stillpoint.mjs', ...args], {
    env: {
      ...process.env, STILLPOINT_URL: `https://127.0.0.1:${port}`, STILLPOINT_DATA_DIR: dataDir,
      STILLPOINT_USER: lab.username, STILLPOINT_PASSWORD: lab.password, ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

const run = async (args: string[], env: Record<string, string> = {}) => within(`stillpoint ${args.join(' ')}`, cli(args, env).exited, 120_000);

/**
 * Starts `stillpoint backup <vm>` with the VM's disk reads held in the lab, and resolves once the
 * CLI has shown the backup reading (the read reached the lab and is held there), with its run id.
 */
async function backupHeldWhileReading(vm: string, delayMs: number, env: Record<string, string> = {}): Promise<{ c: Cli; runId: string }> {
  await lab.control.clearFaults();
  await lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: `${vm}-flat.vmdk`, delayMs, count: -1 });
  const c = cli(['backup', vm], env);
  const describe = () => `stdout: ${c.stdout()}\nstderr: ${c.stderr()}`;
  await until(`the CLI to show ${vm} being read`, () => new RegExp(`^${vm}: reading`, 'm').test(c.stderr()), { timeoutMs: 60_000, describe });
  await until(`the read of ${vm}'s disk to be held in the lab`, async () => (await lab.control.faults()).some((f) => f.hits > 0), { timeoutMs: 30_000, describe });
  const runId = /Following run (\S+) /.exec(c.stderr())?.[1];
  assert.ok(runId, describe());
  return { c, runId };
}

test('the service stops and starts again under `stillpoint backup`: the CLI ends with the outcome, the next command logs in again by itself', async () => {
  await startService();
  // A stopping service waits for the disk read under way (held 8 s here), cancels the run and stops.
  const { c, runId } = await backupHeldWhileReading('linux-db01', 8_000);
  const tokenFile = join(dataDir, 'cli-session.json');
  const storedBeforeRestart = readFileSync(tokenFile);

  const t0 = Date.now();
  await stopService('SIGTERM');
  await startService();
  const r = await within('the CLI to end after the restart', c.exited, 30_000);
  await lab.control.clearFaults();
  assert.ok(Date.now() - t0 < 30_000);
  assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  // The stopping service cancels the run and says so, or (when that did not reach the CLI) the
  // restarted one has marked it interrupted.
  assert.match(r.stdout, /^linux-db01: (cancelled, .*: Cancelled: the service is stopping|failed, .*: Interrupted: the Stillpoint service stopped during this backup)/m, r.stderr);
  assert.doesNotMatch(r.stderr, /unsettled top-level await/);

  // A command with the session stored before the restart: without credentials it says what to run…
  writeFileSync(tokenFile, storedBeforeRestart);
  const refused = await run(['vms'], { STILLPOINT_USER: '', STILLPOINT_PASSWORD: '' });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /no longer accepts the saved session \(it restarted, or the session expired\): run `stillpoint login --user <vCenter user>` again, or set STILLPOINT_USER and STILLPOINT_PASSWORD/);
  // …with them it logs in again by itself, and keeps the new session.
  writeFileSync(tokenFile, storedBeforeRestart);
  const vms = await run(['vms']);
  assert.equal(vms.code, 0, vms.stderr);
  assert.match(vms.stdout, /linux-db01/);
  assert.notDeepEqual(readFileSync(tokenFile), storedBeforeRestart);
  const again = await run(['runs', 'show', runId], { STILLPOINT_USER: '', STILLPOINT_PASSWORD: '' });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`^Run ${runId} \\(backup\\): (cancelled|failed)`, 'm'));
});

test('the service is killed under `stillpoint backup`: the CLI reconnects and reports the run interrupted, or names the run when the service stays away', async () => {
  svc ?? await startService();
  // Killed and started again: the CLI follows the run on the new service (logging in again).
  const first = await backupHeldWhileReading('win-app01', 120_000);
  const t0 = Date.now();
  await stopService('SIGKILL');
  await startService();
  const r = await within('the CLI to end after the crash and restart', first.c.exited, 30_000);
  await lab.control.clearFaults();
  assert.ok(Date.now() - t0 < 30_000);
  assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`Lost the Stillpoint service while following run ${first.runId} .*; reconnecting for up to 30 s`));
  assert.match(r.stderr, new RegExp(`Reconnected to the Stillpoint service; run ${first.runId} is failed\\.`));
  assert.match(r.stdout, /^win-app01: failed, .*: Interrupted: the Stillpoint service stopped during this backup\./m, r.stderr);
  assert.doesNotMatch(r.stderr, /unsettled top-level await/);

  // Killed and not back in time (3 s here): the CLI gives up, naming the run and how to check it.
  const second = await backupHeldWhileReading('web-off01', 120_000, { STILLPOINT_RECONNECT_SECONDS: '3' });
  await stopService('SIGKILL');
  const gone = await within('the CLI to give up', second.c.exited, 30_000);
  assert.equal(gone.code, 1, `stdout: ${gone.stdout}\nstderr: ${gone.stderr}`);
  assert.match(gone.stderr, new RegExp(`stillpoint backup: The Stillpoint service at https://127\\.0\\.0\\.1:${port} did not come back within 3 s \\(.*\\)\\. ` +
    `Run ${second.runId} may still be going, or is marked failed when the service starts again: check it later with \`stillpoint runs show ${second.runId}\`\\.`));
  assert.doesNotMatch(gone.stderr, /unsettled top-level await/);
  await startService();
  await lab.control.clearFaults();
  const shown = await run(['runs', 'show', second.runId]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /web-off01: failed, .*: Interrupted: the Stillpoint service stopped during this backup\./);
});
