// `stillpoint files … --repo DIR` against a repository built here from the lab's disk images
// (GPT: NTFS + ext4; MBR: FAT32 + ext4): find prints one JSON object per file, get writes the bytes
// sleuthkit's icat reads from the source image; a folder comes out as a zip.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Repository } from '../../backend/repository/repository.ts';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageManifest } from '../lab/lab.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
let images: string;
const points: Record<string, string> = {};

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, STILLPOINT_LOG_LEVEL: 'warn' } },
      (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stillpoint-files-cli-'));
  const build = spawnSync('bash', [join(root, 'test/lab/images/build.sh'), '64'], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  images = build.stdout.trim().split('\n').pop()!;
  // The repository as `stillpoint repo backup` makes it (in-process: no CLI start-ups to wait for).
  const repo = await Repository.init(join(dir, 'repo'), {});
  try {
    for (const vm of ['win-app01', 'linux-db01']) {
      const img = join(images, `${vm}.img`);
      const w = await repo.beginRestorePoint({ vm: { id: vm, name: vm }, consistency: 'crash' });
      const d = await w.addDisk({ key: '0', label: img, capacity: statSync(img).size, file: img });
      await d.writeFile(img);
      points[vm] = (await w.commit()).id;
    }
  } finally { await repo.close(); }
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const icat = (vm: string, startSector: number, path: string) => {
  const img = join(images, `${vm}.img`);
  const inode = execFileSync('ifind', ['-o', String(startSector), '-n', path, img], { encoding: 'utf8' }).trim();
  return execFileSync('icat', ['-o', String(startSector), img, inode], { maxBuffer: 64 << 20 });
};
const manifest = (vm: string) => imageManifest(images, vm);

test('files find --repo --json: one JSON object per file with disk, volume, path, type, size, mtime', async () => {
  const r = await cli('files', 'find', '--repo', join(dir, 'repo'), points['linux-db01']!, '*', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { disk: number; volume: string; path: string; type: string; size: number; mtime: string | null });
  const files = rows.filter((x) => x.type === 'file' && x.path !== 'lost+found');
  const want = manifest('linux-db01').partitions.flatMap((p) => p.files.map((f) => `0-p${p.index}/${f.path.slice(1)}:${f.size}`)).sort();
  assert.deepEqual(files.map((x) => `${x.volume}/${x.path}:${x.size}`).sort(), want);
  assert.ok(rows.every((x) => x.disk === 0 && typeof x.mtime === 'string'), 'disk and mtime on every line');
  assert.ok(rows.some((x) => x.type === 'dir' && x.path === 'etc/app'));
  const deep = await cli('files', 'find', '--repo', join(dir, 'repo'), points['win-app01']!, 'users/**/*.TXT', '--json');
  assert.deepEqual(deep.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { path: string }).path).sort(), ['Users/Public/Documents/Quarterly Report.txt', 'Users/Public/Documents/readme.txt']);
});

test('files get --repo writes the bytes icat reads from the source image; by label or id; a folder as a zip', async () => {
  const win = manifest('win-app01');
  const out = join(dir, 'big.bin');
  const r = await cli('files', 'get', '--repo', join(dir, 'repo'), points['win-app01']!, 'System/Data/big.bin', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(out).equals(icat('win-app01', win.partitions[0]!.startSector, '/Data/big.bin')));
  const out2 = join(dir, 'blob.bin');
  assert.equal((await cli('files', 'get', '--repo', join(dir, 'repo'), points['win-app01']!, '0-p2:srv\\data\\blob.bin', '-o', out2)).code, 0);
  assert.ok(readFileSync(out2).equals(icat('win-app01', win.partitions[1]!.startSector, '/srv/data/blob.bin')));
  const fat = await cli('files', 'get', '--repo', join(dir, 'repo'), points['linux-db01']!, 'BOOT/readme.txt', '-o', '-');
  assert.equal(fat.stdout, 'linux-db01 boot partition\n', 'FAT name matched without case');
  const zip = join(dir, 'notes.zip');
  assert.equal((await cli('files', 'get', '--repo', join(dir, 'repo'), points['linux-db01']!, 'root/home/alice', '-o', zip)).code, 0);
  assert.equal(execFileSync('unzip', ['-p', zip, 'alice/notes/todo.txt'], { encoding: 'utf8' }), '- back up the database\n- test the restore\n');
});

test('files: --help for each command, clear errors for a wrong volume, path or point', async () => {
  const help = await cli('files', '--help');
  assert.equal(help.code, 0);
  for (const c of ['ls POINT', 'find POINT', 'get POINT PATH -o FILE', '--repo DIR', '<volume>/<path']) assert.ok(help.stdout.includes(c), c);
  const getHelp = await cli('files', 'get', '--help');
  assert.equal(getHelp.code, 0);
  assert.match(getHelp.stdout, /PATH is <volume>\/<path on the volume>/);
  const vol = await cli('files', 'get', '--repo', join(dir, 'repo'), points['win-app01']!, 'D/x', '-o', join(dir, 'x'));
  assert.equal(vol.code, 1);
  assert.match(vol.stderr, /no volume 'D'; the volumes of .* are: 0-p1 \(System\), 0-p2 \(data\)/);
  const missing = await cli('files', 'get', '--repo', join(dir, 'repo'), points['win-app01']!, 'System/nope.txt', '-o', join(dir, 'x'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope/);
  const ls = await cli('files', 'ls', '--repo', join(dir, 'repo'), points['win-app01']!);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /0-p1\s.*ntfs\s+System/);
  const noPoint = await cli('files', 'ls', '--repo', join(dir, 'repo'), 'rp-20000101T000000Z-000000');
  assert.equal(noPoint.code, 1);
  assert.match(noPoint.stderr, /rp-20000101T000000Z-000000/);
});
