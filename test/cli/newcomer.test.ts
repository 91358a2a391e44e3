// A newcomer's first minutes, as the README tells them: a fresh clone, `npm install && npm run demo`,
// then the command line as the demo's banner says, with no variables of their own. The clone reuses
// this checkout's build outputs so the test stays fast: node_modules as hard links (npm install
// still runs and must be quiet), the built UI and the lab vCenter binary (copies, newer than their
// sources, as a finished build leaves them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUiBuilt } from '../helpers/ui-build.ts';
import { until } from '../helpers/wait.ts';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let clone: string;
let demo: ChildProcess | undefined;
let out = '';
let err = '';
let exited: number | null | undefined;

/** The newcomer's own environment: none of Stillpoint's variables, their own config folder. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(dir, 'config') };
  for (const k of Object.keys(env)) if (k.startsWith('STILLPOINT_') || k === 'NODE_TEST_CONTEXT' || k.startsWith('npm_')) delete env[k];
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}

before(async () => {
  ensureUiBuilt();
  execFileSync('bash', [join(root, 'test', 'lab', 'setup.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  dir = mkdtempSync(join(tmpdir(), 'stillpoint-newcomer-'));
  clone = join(dir, 'stillpoint');
  execFileSync('git', ['clone', '-q', root, clone]);
  execFileSync('cp', ['-al', join(root, 'node_modules'), join(clone, 'node_modules')]);
  // npm rewrites its hidden lockfile in place: the clone gets its own copy, not a link.
  const hidden = join(clone, 'node_modules', '.package-lock.json');
  rmSync(hidden, { force: true });
  copyFileSync(join(root, 'node_modules', '.package-lock.json'), hidden);
  cpSync(join(root, 'ui', 'dist'), join(clone, 'ui', 'dist'), { recursive: true });
  mkdirSync(join(clone, 'test', 'lab', 'bin'), { recursive: true });
  copyFileSync(join(root, 'test', 'lab', 'bin', 'vcsim-lab'), join(clone, 'test', 'lab', 'bin', 'vcsim-lab'));
});

after(async () => {
  if (demo?.pid && exited === undefined) {
    process.kill(-demo.pid, 'SIGTERM');
    await until('the demo to stop', () => exited !== undefined, { timeoutMs: 30_000 }).catch(() => process.kill(-demo!.pid!, 'SIGKILL'));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('fresh clone → npm install && npm run demo → the banner\'s CLI hint → stillpoint vms, backup, files get', async () => {
  // The README's first command; only the port is the test's own (the user's demo may hold 8443).
  const port = await freePort();
  demo = spawn('bash', ['-c', 'npm install && npm run demo'], { cwd: clone, env: { ...userEnv(), STILLPOINT_PORT: String(port) }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stdout!.on('data', (c: Buffer) => { out += c; });
  demo.stderr!.on('data', (c: Buffer) => { err += c; });
  demo.on('exit', (code) => { exited = code; });
  await until('the demo\'s banner', () => {
    if (exited !== undefined) throw new Error(`the demo ended (${exited}):\n${out}\n${err}`);
    return /Ctrl-C stops everything/.test(out);
  }, { timeoutMs: 75_000, describe: () => `${out}\n${err.slice(-2000)}` });
  assert.doesNotMatch(out + err, /EBADENGINE/, 'npm install is quiet about engines');

  const hint = /^ {2}alias stillpoint='([^']+)'/m.exec(out);
  assert.ok(hint, `the banner says how to run the CLI:\n${out}`);
  assert.match(out, /^ {2}stillpoint vms$/m);
  assert.equal(hint[1], join(clone, 'bin', 'stillpoint.mjs'));

  const stillpoint = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(hint[1]!, args, { cwd: dir, env: userEnv(), timeout: 60_000 },
      (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
  });
  const vms = await stillpoint('vms');
  assert.equal(vms.code, 0, vms.stderr);
  assert.match(vms.stdout, /^ID\s+NAME\s+POWER\s+GUEST\s+HOST\s+PROTECTED\s+LAST BACKUP$/m);
  assert.match(vms.stdout, /\bwin-app01\b.*\bpoweredOn\b/);
  // The banner's next line, then one file back out of that backup: every request (downloads too) trusts the demo's certificate.
  const backup = await stillpoint('backup', 'linux-db01');
  assert.equal(backup.code, 0, backup.stderr);
  const point = /restore point (rp-[0-9A-Za-z-]+)/.exec(backup.stdout + backup.stderr)?.[1];
  assert.ok(point, backup.stdout + backup.stderr);
  const file = await stillpoint('files', 'get', point, '2000-p2/etc/hostname', '-o', '-');
  assert.equal(file.code, 0, file.stderr);
  assert.equal(file.stdout, 'linux-db01\n');

  // Ctrl-C: the demo stops and takes its CLI settings with it.
  const config = join(dir, 'config', 'stillpoint', 'cli.json');
  assert.ok(existsSync(config));
  process.kill(-demo.pid!, 'SIGINT');
  await until('the demo to stop', () => exited !== undefined, { timeoutMs: 30_000 });
  assert.ok(!existsSync(config), 'the demo removes the CLI settings it wrote');
});
