// CLI start-up benchmark: `stillpoint repo ls` on a small repository (target: ≤ 0.2 s per command,
// process start to exit) beside `restic snapshots` on a restic repository of the same content.
// Usage: node bench/cli/run.ts [--points 5] [--runs 15] [--size-mib 8]
//
// Both repositories hold the same --points versions of one small disk image (a few MiB changed per
// version). Each command runs --runs times, alternating the tools, as a user types it (the
// `stillpoint` launcher as a program, so the machine's shell starts it; restic with its password in
// RESTIC_PASSWORD); the first run of each is a warm-up (compile cache, page cache) and not counted.
// Prints min/median/max wall and CPU time of each (and of Node starting alone), and whether stillpoint
// meets the target.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TARGET_S = 0.2;
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a whole number above 0`);
  return v;
};
const points = arg('points', 5);
const runs = arg('runs', 15);
const sizeMib = arg('size-mib', 8);

const root = join(import.meta.dirname, '..', '..');
const launcher = join(root, 'bin', 'stillpoint.mjs');
const dir = mkdtempSync(join(tmpdir(), 'stillpoint-bench-cli-'));
const image = join(dir, 'disk.img');
const ours = join(dir, 'stillpoint-repo');
const restic = join(dir, 'restic-repo');
const resticEnv = { ...process.env, RESTIC_PASSWORD: 'bench-cli', RESTIC_CACHE_DIR: join(dir, 'restic-cache') };

function writeVersion(v: number): void {
  const fd = openSync(image, v === 0 ? 'w' : 'r+');
  try {
    const mib = 1024 * 1024;
    if (v === 0) for (let i = 0; i < sizeMib; i++) writeSync(fd, randomBytes(mib), 0, mib, i * mib);
    else writeSync(fd, randomBytes(mib), 0, mib, (v % sizeMib) * mib);
  } finally {
    closeSync(fd);
  }
}

// GNU time gives each command's CPU time (user + system): what the wall time would be on an idle
// machine, give or take disk waits. The wall time includes GNU time's own start (~1 ms).
const cpuFile = join(dir, 'cpu');
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', cpuFile, '-f', '%U %S', cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [user, sys] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
  return { wall, cpu: user! + sys! };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};

try {
  process.stderr.write(`Building ${points} versions of a ${sizeMib} MiB image in both repositories…\n`);
  execFileSync(launcher, ['repo', 'init', ours], { stdio: 'ignore' });
  execFileSync('restic', ['init', '-r', restic, '-q'], { env: resticEnv, stdio: 'ignore' });
  for (let v = 0; v < points; v++) {
    writeVersion(v);
    execFileSync(launcher, ['repo', 'backup', ours, image, '--name', 'disk'], { stdio: 'ignore' });
    execFileSync('restic', ['-r', restic, 'backup', '-q', '--force', image], { env: resticEnv, stdio: 'ignore' });
  }
  const ourTimes: { wall: number; cpu: number }[] = [];
  const resticTimes: { wall: number; cpu: number }[] = [];
  const nodeTimes: { wall: number; cpu: number }[] = [];
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  for (let i = 0; i <= runs; i++) {
    const a = measure(launcher, ['repo', 'ls', ours], process.env);
    const b = measure('restic', ['-r', restic, 'snapshots', '--no-lock'], resticEnv);
    const c = measure(node, ['-e', '0'], process.env);
    if (i > 0) { ourTimes.push(a); resticTimes.push(b); nodeTimes.push(c); }
  }
  const f = (n: number) => n.toFixed(3).padStart(7);
  const line = (name: string, xs: { wall: number; cpu: number }[]) => {
    const w = stats(xs.map((x) => x.wall)), c = stats(xs.map((x) => x.cpu));
    return `${name.padEnd(30)} ${f(w.min)} ${f(w.median)} ${f(w.max)}   ${f(c.min)} ${f(c.median)} ${f(c.max)}`;
  };
  const ourWall = stats(ourTimes.map((x) => x.wall)).median;
  const ourCpu = stats(ourTimes.map((x) => x.cpu)).median;
  const os = await import('node:os');
  process.stdout.write(`\nList the restore points of a small repository (${points} points of a ${sizeMib} MiB image), ${runs} runs, seconds:\n` +
    `${''.padEnd(30)} ${'wall time'.padStart(23)}   ${'CPU time (user+sys)'.padStart(23)}\n` +
    `${'command'.padEnd(30)} ${'min'.padStart(7)} ${'median'.padStart(7)} ${'max'.padStart(7)}   ${'min'.padStart(7)} ${'median'.padStart(7)} ${'max'.padStart(7)}\n` +
    `${line('stillpoint repo ls', ourTimes)}\n${line('restic snapshots --no-lock', resticTimes)}\n${line('node -e 0 (Node 24 start alone)', nodeTimes)}\n` +
    `\nTarget: stillpoint repo ls ≤ ${TARGET_S} s: ${ourWall <= TARGET_S ? 'met' : 'NOT met'} (median wall ${ourWall.toFixed(3)} s, CPU ${ourCpu.toFixed(3)} s; ` +
    `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores).\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
