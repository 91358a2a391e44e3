// Every command and subcommand of `stillpoint` answers --help with its usage and examples (exit 0),
// found the way a user finds them: the top-level help lists the commands, each family's help lists
// its subcommands. Also: usage mistakes, a piped password and a stopped demo say what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const launcher = join(import.meta.dirname, '..', '..', 'bin', 'stillpoint.mjs');

interface Result { code: number; stdout: string; stderr: string }
function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(launcher, args, { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin?.end();
  });
}

/** The names listed under "commands:" (lines indented by exactly two spaces, up to a blank line). */
function commandsOf(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('commands:');
  if (start < 0) return [];
  const names: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.trim()) break;
    const m = /^ {2}(\S+)/.exec(l);
    if (m) names.push(m[1]!);
  }
  return names;
}

function assertComplete(r: Result, words: string[]): void {
  const what = `stillpoint ${words.join(' ')} --help`;
  assert.equal(r.code, 0, `${what} exits 0: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`^usage: stillpoint ${words[0]}\\b`, 'm'), `${what} starts with its usage`);
  if (words[1]) assert.ok(r.stdout.includes(words[1]), `${what} names ${words[1]}`);
  assert.doesNotMatch(r.stdout.split('\n').find((l) => l.startsWith('usage:'))!, /…$/, `${what}: usage is not cut off`);
  const examples = r.stdout.split('\n\nexamples:\n')[1];
  assert.ok(examples, `${what} has examples`);
  assert.match(examples, new RegExp(`^ {2}(\\S+=\\S+ )?stillpoint ${words[0]}\\b`, 'm'), `${what}: examples run stillpoint ${words[0]}`);
}

/**
 * `stillpoint <args>` inside this process, through main.ts's own dispatch (a fresh instance of
 * main.ts per call; the family modules load once) with stdout and stderr captured: dozens of help
 * texts cost one Node start this way.
 */
let calls = 0;
async function inProcess(args: string[]): Promise<Result> {
  let stdout = '', stderr = '';
  const out = process.stdout.write, err = process.stderr.write, argv = process.argv;
  process.stdout.write = ((c: string | Uint8Array) => { stdout += String(c); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { stderr += String(c); return true; }) as typeof process.stderr.write;
  process.argv = [argv[0]!, 'stillpoint', ...args];
  process.exitCode = undefined;
  try {
    await import(`../../backend/cli/main.ts?call=${++calls}`);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.argv = argv;
    process.exitCode = undefined;
  }
}

test('every command and subcommand has --help with usage and examples', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^examples:$/m);
  const families = commandsOf(top.stdout);
  for (const f of ['login', 'vms', 'backup', 'points', 'restore', 'jobs', 'runs', 'plugin', 'repo', 'files', 'ese']) {
    assert.ok(families.includes(f), `the top-level help lists ${f}`);
  }
  // Through the launcher, as a user types them.
  assertComplete(await cli(['jobs', 'create', '--help']), ['jobs', 'create']);
  assertComplete(await cli(['login', '--help']), ['login']);
  const subcommands: string[][] = [];
  for (const f of families) {
    const r = await inProcess([f, '--help']);
    assertComplete(r, [f]);
    for (const s of commandsOf(r.stdout)) subcommands.push([f, s]);
  }
  for (const [f, s] of [['jobs', 'create'], ['runs', 'follow'], ['plugin', 'register'], ['repo', 'ls'], ['files', 'get'], ['ese', 'dump']]) {
    assert.ok(subcommands.some(([a, b]) => a === f && b === s), `${f} --help lists ${s}`);
  }
  const gaps: string[] = [];
  for (const [f, s] of subcommands) {
    try { assertComplete(await inProcess([f!, s!, '--help']), [f!, s!]); } catch (e) { gaps.push((e as Error).message); }
  }
  assert.deepEqual(gaps, [], 'every subcommand\'s --help is complete');
});

test('usage mistakes say what is wrong and show the usage; a piped password names STILLPOINT_PASSWORD', async () => {
  const noVm = await cli(['backup']);
  assert.equal(noVm.code, 2);
  assert.match(noVm.stderr, /^stillpoint backup: name at least one VM\n\nusage: stillpoint backup/);
  const create = await cli(['jobs', 'create', 'nightly']);
  assert.equal(create.code, 2);
  assert.match(create.stderr, /give at least one --vm/);
  assert.match(create.stderr, /--concurrency N\] \[--disabled\] \[--json\]/);
  // The password piped in, no STILLPOINT_PASSWORD: no terminal to prompt on.
  const login = await new Promise<Result>((resolve) => {
    const e: NodeJS.ProcessEnv = { ...process.env, STILLPOINT_URL: 'https://127.0.0.1:1' };
    delete e.STILLPOINT_PASSWORD;
    execFile(launcher, ['login', '--user', 'administrator@vsphere.local'], { env: e, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })).stdin?.end('secret\n');
  });
  assert.equal(login.code, 1);
  assert.match(login.stderr, /no terminal to ask on .*set STILLPOINT_PASSWORD instead/);
  // A demo that was killed leaves its CLI settings behind: the CLI says so instead of "not logged in".
  const config = mkdtempSync(join(tmpdir(), 'stillpoint-cli-config-'));
  try {
    mkdirSync(join(config, 'stillpoint'));
    writeFileSync(join(config, 'stillpoint', 'cli.json'), JSON.stringify({ url: 'https://127.0.0.1:1', dataDir: join(config, 'gone'), writtenBy: 'npm run demo' }));
    const e: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: config };
    for (const k of Object.keys(e)) if (k.startsWith('STILLPOINT_')) delete e[k];
    const stale = await new Promise<Result>((resolve) => {
      execFile(launcher, ['vms'], { env: e, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /The demo that wrote .*cli\.json has stopped .*start `npm run demo` again/);
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
});
