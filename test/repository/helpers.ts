// Helpers for the repository tests: disk images made by real tools, temp folders, hashing, CLI runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, readFileSync, mkdirSync, cpSync, statSync, readdirSync, lstatSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'backend', 'cli', 'main.ts');
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'sp-repo-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
}

/** A source tree of real files (copied from /usr/share/doc and /usr/bin, within a size budget) plus one random file. */
export function sourceTree(dir: string, opts: { docBytes?: number; binBytes?: number; randomBytes?: number } = {}): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'doc'), { recursive: true });
  mkdirSync(join(src, 'bin'));
  const copyWithin = (from: string, to: string, budget: number): void => {
    let left = budget;
    const walk = (d: string, rel: string): void => {
      let names: string[];
      try { names = readdirSync(d).sort(); } catch { return; }
      for (const n of names) {
        if (left <= 0) return;
        const p = join(d, n);
        const st = lstatSync(p);
        if (st.isDirectory()) { mkdirSync(join(to, rel, n), { recursive: true }); walk(p, join(rel, n)); }
        else if (st.isFile() && st.size <= left) { cpSync(p, join(to, rel, n)); left -= st.size; }
      }
    };
    walk(from, '');
  };
  copyWithin('/usr/share/doc', join(src, 'doc'), opts.docBytes ?? 4 * 1024 * 1024);
  copyWithin('/usr/bin', join(src, 'bin'), opts.binBytes ?? 6 * 1024 * 1024);
  const fd = openSync(join(src, 'random.bin'), 'w');
  writeSync(fd, randomBytes(opts.randomBytes ?? 2 * 1024 * 1024));
  closeSync(fd);
  return src;
}

export function ext4Image(path: string, sizeMiB: number, src: string): string {
  run('truncate', ['-s', `${sizeMiB}M`, path]);
  run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, path]);
  return path;
}

export function ntfsImage(dir: string, path: string, sizeMiB: number, src: string): string {
  run('truncate', ['-s', `${sizeMiB}M`, path]);
  run('mkntfs', ['-F', '-Q', '-q', path]);
  const wim = join(dir, 'src.wim');
  run('wimcapture', [src, wim, '--compress=none']);
  run('wimapply', [wim, path]);
  rmSync(wim);
  return path;
}

export function fatImage(path: string, sizeMiB: number, src: string, parts = ['doc', 'bin', 'random.bin']): string {
  run('mkfs.fat', ['-C', path, String(sizeMiB * 1024)]);
  run('mcopy', ['-s', '-i', path, ...parts.map((p) => join(src, p)), '::/']);
  return path;
}

/** A GPT disk: partition 1 holds a FAT file system, partition 2 random data, the rest stays sparse. */
export function gptImage(dir: string, path: string, sizeMiB: number, src: string): string {
  run('truncate', ['-s', `${sizeMiB}M`, path]);
  run('sgdisk', ['-n', '1:2048:+8M', '-t', '1:ef00', '-n', '2:0:+4M', path]);
  const fat = fatImage(join(dir, 'part1.img'), 8, src, ['doc']);
  run('dd', [`if=${fat}`, `of=${path}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  rmSync(fat);
  const fd = openSync(path, 'r+');
  writeSync(fd, randomBytes(4 << 20), 0, 4 << 20, (9 << 20) + 0);
  closeSync(fd);
  return path;
}

/** Zeros with islands of random data (sparse file). */
export function sparseRandomImage(path: string, sizeMiB: number, islands: [offset: number, length: number][]): string {
  run('truncate', ['-s', `${sizeMiB}M`, path]);
  const fd = openSync(path, 'r+');
  for (const [o, l] of islands) writeSync(fd, randomBytes(l), 0, l, o);
  closeSync(fd);
  return path;
}

/** Every pack file of a repository folder, sorted. */
export function packFiles(repoDir: string): string[] {
  const out: string[] = [];
  for (const sub of readdirSync(join(repoDir, 'packs'))) for (const f of readdirSync(join(repoDir, 'packs', sub))) out.push(join(repoDir, 'packs', sub, f));
  return out.sort();
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Overwrites `fraction` of the image in 64 KiB..1 MiB extents with random data; returns bytes changed. */
export function mutate(path: string, fraction: number, seed = 1): number {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  let changed = 0;
  let x = seed;
  const rnd = () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648; };
  while (changed < size * fraction) {
    const len = Math.floor(Math.min((1 + Math.floor(rnd() * 16)) * 65536, size * fraction - changed + 65536));
    const at = Math.floor(rnd() * ((size - len) / 4096)) * 4096;
    writeSync(fd, randomBytes(len), 0, len, at);
    changed += len;
  }
  closeSync(fd);
  return changed;
}

export interface CliResult { code: number; stdout: string; stderr: string }

export function cli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, 'repo', ...args], { env: { ...process.env, STILLPOINT_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [CLI, 'repo', ...args], { env: { ...process.env, STILLPOINT_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
