// Item-restore benchmark: browsing, downloading and searching files of a backed-up NTFS disk through the
// service's own paths (file-restore sessions with their isolated worker, the catalog), side by side
// with sleuthkit reading the raw image in the same run, same machine.
// Usage: node bench/items/run.ts [--images DIR] [--keep] [--repeat 5] [--downloads 3] [--points 30] [--built 2 | --build-all]
//        --images DIR   use DIR/disk.img (built there by dataset.sh when missing) instead of the cache
//        --keep         keep the work folder (repository, catalogs) and print its path
//        --repo DIR     use the repository DIR (a kept work folder's repo/, backed up from the same disk) instead
//                       of backing the disk up again (a minute): for repeated runs of one part, e.g.
//                       --only download --repo /tmp/sp-items-run-…/repo; the backup row then says "reused"
//        --only LIST    run only these parts (comma-separated: browse, deep, download, catalog); the backup always
//                       runs (unless --repo)
//        --built N      of the --points - 1 extra points, the first N get their catalog built (timed); the
//                       others get a copy of the previous catalog's entries (their disks differ only in a
//                       file's content, so a build would find the same entries): a build takes minutes
//                       on a busy 2-core machine. --build-all builds every one.
//
// The disk (dataset.sh: 20 GiB sparse GPT, one NTFS partition with 100,000 small files in 1,000 folders,
// a 1 GiB random file and a 40-level path) takes minutes to build, so it is cached in
// ${BENCH_DIR:-tmpdir}/sp-bench-items/<hash of dataset.sh>/disk.img and reused while the script is unchanged.
// Measured: the full backup (CLI, GNU time); listing the NTFS root in a new session each time (a new
// session of a running service: the browse worker it had started and loaded, empty caches: what the
// first click in the UI costs) vs `fls`; a 40-level path, also in a new session of the running service,
// vs `ifind -n` (and once more in a new FileRestore, whose browse worker starts cold: what a service just
// started pays), and a folder-by-folder walk vs `fls` per level; the 1 GiB file downloaded over HTTP
// (each time in a new session of a running service) through the API's own sendFile (api/routes/files.ts: Range support, first block, the session's
// fileStream piped to the socket) by `curl`, vs `icat`; both sides' bytes go through a pipe to
// `cksum` (CRC-32 and length, compared): SHA-256 in the bench's own thread capped both sides at the
// speed of one core hashing, which measured the hash, not the download. The catalog build (the repository's decode threads
// running, as in the service after a backup) vs the backup time and vs `fls -r`;
// a name search across the VM's restore points through CatalogService.versions (what the API calls).
// The machine may be shared: ours and sleuthkit's runs alternate, every timed step starts after a
// `sync`, and timings are reported as min/median/max. Both sides read the image or the repository
// through the page cache (warm after the first run): "cold" means a new process or session, not a
// dropped page cache.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { FileRestore, type PointSession } from '../../backend/file-restore/sessions.ts';
import type { VolumeInfo } from '../../backend/file-restore/types.ts';
import { CatalogStore } from '../../backend/file-restore/catalog/store.ts';
import { buildCatalog } from '../../backend/file-restore/catalog/build.ts';
import { CatalogService } from '../../backend/file-restore/catalog/service.ts';
import { writeCatalog } from '../../backend/file-restore/catalog/format.ts';
import { sendFile } from '../../backend/api/routes/files.ts';
import express from 'express';
import type { AddressInfo } from 'node:net';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || dflt : dflt);
const keep = args.includes('--keep');
const only = args.includes('--only') ? new Set((args[args.indexOf('--only') + 1] ?? '').split(',')) : undefined;
const want = (part: 'browse' | 'deep' | 'download' | 'catalog') => !only || only.has(part);
const repeat = Math.max(3, opt('--repeat', 5));
const downloads = Math.max(1, opt('--downloads', 3));
const pointCount = Math.max(2, opt('--points', 30));
const built = args.includes('--build-all') ? pointCount - 1 : Math.min(pointCount - 1, Math.max(1, opt('--built', 2)));
const root = join(import.meta.dirname, '..', '..');
const benchDir = process.env.BENCH_DIR ?? tmpdir();
const log = (s: string) => process.stderr.write(s + '\n');
const DATASET = join(import.meta.dirname, 'dataset.sh');
const PART_SECTOR = 2048;
const DEEP = ['deep', ...Array.from({ length: 40 }, (_, i) => `level${String(i).padStart(2, '0')}`), 'bottom.txt'].join('/');
const BIG = 'big/one-gib.bin';
const REPORT = 'dept00/project00000/report.xlsx';
const VM = { id: 'vm-items-bench', name: 'items-bench' };
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

function sh(cmd: string, argv: string[]): string {
  return execFileSync(cmd, argv, { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).toString();
}
const now = () => performance.now();
const secs = (t0: number) => (now() - t0) / 1000;
const ms = (t0: number) => now() - t0;

/** The cached disk image, built by dataset.sh when missing (written under a temporary name, then renamed). */
function image(): string {
  const hash = createHash('sha256').update(readFileSync(DATASET)).digest('hex').slice(0, 16);
  const dir = args.includes('--images') ? args[args.indexOf('--images') + 1] : join(benchDir, 'sp-bench-items', hash);
  const img = join(dir, 'disk.img');
  if (existsSync(img)) return img;
  mkdirSync(dir, { recursive: true });
  log(`bench: building the disk with ${DATASET} into ${img} (several minutes; cached for the next runs)…`);
  const t0 = now();
  execFileSync('bash', [DATASET, `${img}.part`], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PATH } });
  renameSync(`${img}.part`, img);
  log(`bench: disk built in ${secs(t0).toFixed(0)} s`);
  return img;
}

/** CPU ms (user + sys) GNU time wrote with -f '%U %S'. */
const cpuOf = (file: string) => readFileSync(file, 'utf8').trim().split(/\s+/).slice(-2).reduce((a, x) => a + Number(x) * 1000, 0);

/** Wall time of a command (after a sync), its CPU time (GNU time), its stdout. */
function timedCmd(cmd: string, argv: string[]): { ms: number; cpuMs: number; out: string } {
  const tf = join(work, 'cpu.txt');
  sh('sync', []);
  const t0 = now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', tf, cmd, ...argv], { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms: t, cpuMs: cpuOf(tf), out: r.stdout.toString() };
}

/** Runs a command under GNU time (after a sync): wall seconds, peak RSS (KiB), stdout. */
function gnuTimed(cmd: string, argv: string[], env: Record<string, string> = {}): { secs: number; cpuSecs: number; rssKiB: number; out: string } {
  const tf = join(work, 'time.txt');
  sh('sync', []);
  const t0 = now();
  const r = spawnSync('/usr/bin/time', ['-v', '-o', tf, cmd, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const s = secs(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  const t = readFileSync(tf, 'utf8');
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(t)?.[1] ?? 0);
  const cpuSecs = Number(/User time \(seconds\): ([\d.]+)/.exec(t)?.[1] ?? 0) + Number(/System time \(seconds\): ([\d.]+)/.exec(t)?.[1] ?? 0);
  return { secs: s, cpuSecs, rssKiB: rss, out: r.stdout.toString() };
}

const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const three = (xs: number[], d = 0) => `${Math.min(...xs).toFixed(d)}/${median(xs).toFixed(d)}/${Math.max(...xs).toFixed(d)}`;
const rssMiB = () => process.resourceUsage().maxRSS / 1024;
/** CPU seconds of this process (every thread, so the workers too) since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => { const u = process.cpuUsage(from); return (u.user + u.system) / 1e6; };

const work = mkdtempSync(join(benchDir, 'sp-items-run-'));
const reuse = args.includes('--repo') ? args[args.indexOf('--repo') + 1] : undefined;
const repoDir = reuse ?? join(work, 'repo');
const dataDir = join(work, 'data');
let repo: Repository | undefined;

/** A session opened on `rpId` (by a new FileRestore unless given), its NTFS volume found. */
async function newSession(rpId: string, files = new FileRestore(async () => repo!)): Promise<{ files: FileRestore; s: PointSession; vol: VolumeInfo }> {
  const s = await files.open(rpId);
  const vol = (await s.volumes()).find((v) => v.filesystem === 'ntfs' && v.browsable);
  if (!vol) throw new Error(`no browsable NTFS volume on ${rpId}`);
  return { files, s, vol };
}

/** The inode sleuthkit gives a path (`ifind -n`). */
function ifind(img: string, path: string): string {
  return sh('ifind', ['-o', String(PART_SECTOR), '-n', path, img]).trim();
}

/** Names of an `fls` listing (one level), without NTFS metadata files. */
function flsNames(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const x = /^\S+ \*?\s*([0-9]+)(?:-[0-9]+-[0-9]+)?:\t(.*)$/.exec(line);
    if (x && !x[2]!.startsWith('$') && x[2] !== '.') m.set(x[2]!, x[1]!);
  }
  return m;
}

try {
  const img = image();
  const size = statSync(img).size;
  const tsk = sh('fls', ['-V']).trim();
  log(`bench: ${img} (${(size / 2 ** 30).toFixed(0)} GiB, ${(Number(sh('du', ['-sB1', img]).split('\t')[0]) / 1e9).toFixed(2)} GB allocated); ${tsk}; work in ${work}`);

  // 1. The full backup, as `stillpoint repo backup` does it (its own process, GNU time for its RSS).
  const node = process.execPath;
  const cli = join(root, 'backend', 'cli', 'main.ts');
  const cliEnv = { STILLPOINT_LOG_LEVEL: 'warn' };
  let backup = { secs: NaN, cpuSecs: NaN, rssKiB: 0, out: '' };
  let rp1: string;
  if (reuse) {
    if (want('catalog')) throw new Error('--repo is for --only browse,deep,download: the catalog part adds points to the repository and is judged against the backup\'s time');
    repo = await Repository.open(repoDir, { command: 'bench items' });
    const first = (await repo.listRestorePoints({ vmId: VM.id })).sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
    if (!first) throw new Error(`${repoDir} holds no restore point of ${VM.id}: give a repo/ this bench kept (--keep)`);
    rp1 = first.id;
    log(`bench: reusing ${repoDir} (${rp1}), no backup`);
  } else {
    sh(node, [cli, 'repo', 'init', repoDir]);
    log('bench: full backup…');
    backup = gnuTimed(node, [cli, 'repo', 'backup', repoDir, img, '--name', VM.name, '--vm-id', VM.id], cliEnv);
    rp1 = backup.out.trim();
    log(`bench: full backup ${backup.secs.toFixed(1)} s, ${backup.cpuSecs.toFixed(1)} CPU s (${(size / backup.secs / 1e6).toFixed(0)} MB/s of disk), ${rp1}`);
    repo = await Repository.open(repoDir, { command: 'bench items' });
  }

  // 2. The NTFS root, cold: a new session (new worker, nothing parsed yet) each time, against fls.
  const listCold: number[] = [], listOpen: number[] = [], listWarm: number[] = [], fls: number[] = [], listCpu: number[] = [], flsCpu: number[] = [];
  let rootOk = true;
  let rootNames = 0;
  // As in the service: one FileRestore, running for a while (its spare browse worker loaded, not timed);
  // each run opens the point in a new session (the spare worker adopted, empty caches) and closes it.
  const browseFiles = new FileRestore(async () => repo!);
  for (let r = 0; want('browse') && r < repeat; r++) {
    await browseFiles.ready();
    sh('sync', []);
    const t0 = now();
    const c0 = process.cpuUsage();
    const { s, vol } = await newSession(rp1, browseFiles);
    const opened = ms(t0);
    const page = await s.list(vol.id, undefined, 0, 1000);
    listCold.push(ms(t0));
    listCpu.push(cpuSince(c0) * 1000);
    listOpen.push(opened);
    const t1 = now();
    await s.list(vol.id, undefined, 0, 1000);
    listWarm.push(ms(t1));
    if (!(await browseFiles.closeSession(rp1))) throw new Error('the browse session did not close');
    const f = timedCmd('fls', ['-o', String(PART_SECTOR), img]);
    fls.push(f.ms);
    flsCpu.push(f.cpuMs);
    const theirs = flsNames(f.out);
    const ours = new Set(page.entries.map((e) => e.name).filter((n) => !n.startsWith('$')));
    rootNames = ours.size;
    rootOk &&= [...theirs.keys()].every((n) => ours.has(n)) && ['dept00', 'big', 'deep'].every((n) => ours.has(n));
    log(`bench: root list cold ${listCold.at(-1)!.toFixed(0)} ms (session and volumes ${opened.toFixed(0)} ms), warm ${listWarm.at(-1)!.toFixed(1)} ms; fls ${f.ms.toFixed(0)} ms (${ours.size} vs ${theirs.size} names)`);
  }

  await browseFiles.close();

  // 3. The 40-level path: one lookup in a new session vs `ifind -n`; folder by folder (as the UI
  //    clicks: 41 listings, the session already open) vs `fls` on each folder's inode.
  const deepCold: number[] = [], deepIfind: number[] = [], walkOurs: number[] = [], walkFls: number[] = [], deepCpu: number[] = [], ifindCpu: number[] = [];
  const deepNewFiles: number[] = [], deepNewFilesCpu: number[] = [];
  // As the root list: one FileRestore running (its spare browse worker loaded, not timed), each lookup
  // in a new session of it (the spare adopted, nothing parsed or cached).
  const deepFiles = new FileRestore(async () => repo!);
  const deepInode = want('deep') ? ifind(img, DEEP) : '';
  let deepOk = true;
  const levels = DEEP.split('/');
  const levelInodes = want('deep') ? levels.slice(0, -1).map((_, i) => ifind(img, levels.slice(0, i + 1).join('/'))) : [];
  for (let r = 0; want('deep') && r < repeat; r++) {
    await deepFiles.ready();
    sh('sync', []);
    const t0 = now();
    const c0 = process.cpuUsage();
    const { s, vol } = await newSession(rp1, deepFiles);
    const e = await s.lookup(vol.id, DEEP);
    deepCold.push(ms(t0));
    deepCpu.push(cpuSince(c0) * 1000);
    deepOk &&= e.name === 'bottom.txt' && String(e.inode) === deepInode;
    if (!(await deepFiles.closeSession(rp1))) throw new Error('the deep lookup session did not close');
    // The same in a new FileRestore: its browse worker starts (modules loaded) inside the timed span.
    sh('sync', []);
    const t3 = now();
    const c3 = process.cpuUsage();
    const fresh = await newSession(rp1);
    const e2 = await fresh.s.lookup(fresh.vol.id, DEEP);
    deepNewFiles.push(ms(t3));
    deepNewFilesCpu.push(cpuSince(c3) * 1000);
    deepOk &&= String(e2.inode) === deepInode;
    await fresh.files.close();
    const f = timedCmd('ifind', ['-o', String(PART_SECTOR), '-n', DEEP, img]);
    deepIfind.push(f.ms);
    ifindCpu.push(f.cpuMs);
    deepOk &&= f.out.trim() === deepInode;

    const w = await newSession(rp1);
    sh('sync', []);
    const t1 = now();
    let dir = await w.s.list(w.vol.id, undefined, 0, 1000);
    for (const name of levels) {
      const next = dir.entries.find((x) => x.name === name);
      if (!next) throw new Error(`'${name}' missing from a listing on the deep path`);
      if (next.type !== 'dir') { deepOk &&= name === 'bottom.txt'; break; }
      dir = await w.s.list(w.vol.id, next.ref, 0, 1000);
    }
    walkOurs.push(ms(t1));
    await w.files.close();
    if (r === 0) {
      // 42 fls processes take tens of seconds on a busy machine: once is enough to compare.
      sh('sync', []);
      const t2 = now();
      for (const inode of ['', ...levelInodes]) {
        const x = spawnSync('fls', ['-o', String(PART_SECTOR), img, ...(inode ? [inode] : [])], { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
        if (x.status !== 0) throw new Error(`fls ${inode} failed: ${x.stderr}`);
      }
      walkFls.push(ms(t2));
    }
    log(`bench: deep lookup cold ${deepCold.at(-1)!.toFixed(0)} ms (new FileRestore ${deepNewFiles.at(-1)!.toFixed(0)} ms) vs ifind ${f.ms.toFixed(0)} ms; walk ${walkOurs.at(-1)!.toFixed(0)} ms vs fls ×${levelInodes.length + 1} ${walkFls.at(-1)!.toFixed(0)} ms (once)`);
  }

  await deepFiles.close();

  // 4. The 1 GiB file downloaded over HTTP through the API's sendFile (a new session each time, the
  //    lookup untimed) by curl, vs icat; both piped into cksum, whose CRC and length are compared.
  const bigInode = ifind(img, BIG);
  const dlOurs: number[] = [], dlIcat: number[] = [], dlCpu: number[] = [], icatCpu: number[] = [], clientCpu: number[] = [];
  let bigSize = 0;
  let dlOk = true;
  const served = new Map<string, { s: PointSession; vol: string; ref: string }>();
  const app = express();
  app.get('/download/:id', (req, res) => {
    const d = served.get(String(req.params.id));
    if (!d) { res.status(404).end(); return; }
    sendFile(req, res, d.s, d.vol, d.ref).catch((e) => { log(`bench: download failed: ${(e as Error).message}`); if (!res.headersSent) res.status(500).end(); else res.destroy(); });
  });
  // The same size from memory (one 8 MiB block written again and again): what curl | cksum and the
  // socket allow on this machine at that moment, whatever the server does. The download cannot be faster.
  const memBlock = Buffer.alloc(8 << 20, 0x5a);
  app.get('/memory/:size', async (req, res) => {
    const size = Number(req.params.size);
    res.status(200).set('Content-Length', String(size));
    for (let at = 0; at < size && !res.destroyed; at += memBlock.length) {
      if (!res.write(memBlock.subarray(0, Math.min(memBlock.length, size - at)))) {
        await new Promise<void>((r) => { const done = () => { res.off('drain', done); res.off('close', done); r(); }; res.on('drain', done); res.on('close', done); });
      }
    }
    res.end();
  });
  const server = await new Promise<import('node:http').Server>((resolve) => { const x = app.listen(0, '127.0.0.1', () => resolve(x)); });
  const port = (server.address() as AddressInfo).port;
  const dlMem: number[] = [];
  /** A shell pipeline into cksum under GNU time (run asynchronously: the server is in this process): wall ms, CPU ms of the pipeline, cksum's "crc length". */
  const piped = (producer: string): Promise<{ ms: number; cpuMs: number; sum: string }> => {
    const tf = join(work, 'cpu.txt');
    sh('sync', []);
    return new Promise((resolve, reject) => {
      const t0 = now();
      const p = spawn('/usr/bin/time', ['-f', '%U %S', '-o', tf, 'bash', '-o', 'pipefail', '-c', `${producer} | cksum`], { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      p.stdout.on('data', (d: Buffer) => { out += d; });
      p.stderr.on('data', (d: Buffer) => { err += d; });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve({ ms: ms(t0), cpuMs: cpuOf(tf), sum: out.trim() }) : reject(new Error(`${producer} | cksum failed (${code}): ${err}`))));
    });
  };
  // As the root list: one FileRestore running, a new session of it each time (the file looked up first,
  // as a user finds it before the download); the spare browse worker the session's start replaced is
  // loaded before the timed span (its start cost the download a core for a while).
  const dlFiles = new FileRestore(async () => repo!);
  try {
    for (let r = 0; want('download') && r < downloads; r++) {
      await dlFiles.ready();
      const { s, vol } = await newSession(rp1, dlFiles);
      const e = await s.lookup(vol.id, BIG);
      await dlFiles.ready();
      bigSize = e.size;
      served.set(String(r), { s, vol: vol.id, ref: e.ref });
      const c0 = process.cpuUsage();
      const ours = await piped(`curl -sS --fail -o - http://127.0.0.1:${port}/download/${r}`);
      dlOurs.push(ours.ms);
      // This process serves (main thread, browse worker, its decode threads); curl and cksum are the client.
      dlCpu.push(cpuSince(c0) * 1000 + ours.cpuMs);
      clientCpu.push(ours.cpuMs);
      served.delete(String(r));
      if (!(await dlFiles.closeSession(rp1))) throw new Error('the download session did not close');
      const theirs = await piped(`icat -o ${PART_SECTOR} ${img} ${bigInode}`);
      dlIcat.push(theirs.ms);
      const mem = await piped(`curl -sS --fail -o - http://127.0.0.1:${port}/memory/${e.size}`);
      dlMem.push(mem.ms);
      icatCpu.push(theirs.cpuMs);
      const [crc, len] = ours.sum.split(/\s+/);
      dlOk &&= ours.sum === theirs.sum && Number(len) === e.size;
      log(`bench: 1 GiB download over HTTP ${(e.size / dlOurs.at(-1)! / 1e3).toFixed(0)} MB/s vs icat ${(e.size / theirs.ms / 1e3).toFixed(0)} MB/s (from memory ${(e.size / mem.ms / 1e3).toFixed(0)} MB/s); cksum ${ours.sum === theirs.sum ? `equal (${crc} ${len})` : `DIFFERS (${ours.sum} vs ${theirs.sum})`}`);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await dlFiles.close();
  }
  const rssBrowse = rssMiB();
  const mbs = (bytes: number, t: number[]) => three(t.map((x) => bytes / x / 1e3).sort((a, b) => b - a));
  const mark = (ok: boolean) => (ok ? 'MET' : 'MISSED');
  const printTable = (rows: string[][], files: number | string) => {
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((l) => l[i]!.length)));
    console.log(`\nitems bench: ${(size / 2 ** 30).toFixed(0)} GiB GPT disk, NTFS, ${files} files; ${tsk}; timings min/median/max of ${repeat} runs (download: ${downloads}), ours and sleuthkit's alternating; targets judged on medians (search: on the worst); wall clock`);
    for (const l of rows) console.log(l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
    console.log('worker threads share the process: its peak RSS includes the browse and catalog workers.');
  };
  if (!want('catalog')) {
    // Only some parts: their rows (the same as in the full table below).
    const rows: string[][] = [['metric', 'Stillpoint', 'sleuthkit', 'target', 'met?']];
    rows.push(['full backup of the disk, s', reuse ? 'reused' : backup.secs.toFixed(1), '—', '(reference)', '']);
    if (want('browse')) {
      rows.push(['NTFS root list, cold ms min/med/max', three(listCold), three(fls), '≤ 2× fls and < 300', mark(median(listCold) <= 2 * median(fls) && median(listCold) < 300)]);
      rows.push(['  of which session + volumes() ms', three(listOpen), '', '', '']);
      rows.push(['  CPU ms (all threads; fls: user+sys)', three(listCpu), three(flsCpu), '', '']);
      rows.push(['NTFS root list, warm ms', three(listWarm, 1), '—', '', '']);
      rows.push(['root listing has fls names', rootOk ? `yes (${rootNames})` : 'NO', '', '', mark(rootOk)]);
    }
    if (want('deep')) {
      rows.push([`40-level path lookup, new session ms (ifind -n)`, three(deepCold), three(deepIfind), '≤ 2× ifind', mark(median(deepCold) <= 2 * median(deepIfind))]);
      rows.push(['  CPU ms', three(deepCpu), three(ifindCpu), '', '']);
      rows.push(['  in a new FileRestore (worker start), ms (CPU)', `${three(deepNewFiles)} (${three(deepNewFilesCpu)})`, '', '', '']);
      rows.push([`40-level path, ${levelInodes.length + 1} folder lists ms (fls each, 1 run)`, three(walkOurs), three(walkFls), '', median(walkOurs) <= median(walkFls) ? 'faster' : 'slower']);
      rows.push(['deep path = ifind inode', deepOk ? 'yes' : 'NO', '', '', mark(deepOk)]);
    }
    if (want('download')) {
      rows.push(['1 GiB HTTP download MB/s best/med/worst (icat)', mbs(bigSize, dlOurs), mbs(bigSize, dlIcat), '≥ 500', mark(bigSize / median(dlOurs) / 1e3 >= 500)]);
      rows.push(['  MB per CPU-second (client curl|cksum incl.)', mbs(bigSize, dlCpu), mbs(bigSize, icatCpu), '', '']);
      rows.push(['  ceiling: the same HTTP + curl|cksum from memory, MB/s', mbs(bigSize, dlMem), '', '', '']);
      rows.push(['  CPU s: server / curl|cksum (icat|cksum)', `${three(dlCpu.map((x, i) => (x - clientCpu[i]!) / 1000), 2)} / ${three(clientCpu.map((x) => x / 1000), 2)}`, three(icatCpu.map((x) => x / 1000), 2), '', '']);
      rows.push(['download bytes = icat (cksum)', dlOk ? 'yes' : 'NO', '', 'equal', mark(dlOk)]);
      rows.push(['peak RSS MiB: browse+download (incl. workers)', rssBrowse.toFixed(0), '', '', '']);
    }
    printTable(rows, "~100,000");
  } else {

  // 5. The catalog of the point (buildCatalog: the worker walking the volume, the name dictionary,
  //    the file written), vs the backup time and vs `fls -r` (sleuthkit's whole-volume listing).
  const store = new CatalogStore(dataDir);
  let points: RestorePoint[] = [await repo.getRestorePoint(rp1)];
  // As in the service, where the catalog is built right after the backup in the same process: the
  // repository's decode threads are running (started here by one untimed read, not by the build).
  const warm = await repo.openDiskImage(rp1, points[0]!.disks[0]!.key);
  await warm.readAt(0, 1 << 20);
  await warm.close();
  sh('sync', []);
  let t0 = now();
  let c0 = process.cpuUsage();
  const first = await buildCatalog(repo, store, points[0]!);
  const catalogSecs = secs(t0);
  const catalogCpu = cpuSince(c0);
  const catalogFiles = first.header.volumes.reduce((n, v) => n + v.files, 0);
  const flsR = timedCmd('fls', ['-r', '-p', '-o', String(PART_SECTOR), img]);
  const flsRFiles = flsR.out.split('\n').filter((l) => /^r\/r /.test(l) && !/:\t\$/.test(l) && !l.includes(':$')).length;
  log(`bench: catalog ${catalogSecs.toFixed(1)} s, ${catalogCpu.toFixed(1)} CPU s (${catalogFiles} files) vs fls -r ${(flsR.ms / 1000).toFixed(1)} s (${flsRFiles} files)`);
  const rssCatalog = rssMiB();

  // 6. More points of the disk, each a small change on its parent (the report's first bytes patched in
  //    one chunk, the rest inherited), each catalogued against its previous point as the service does.
  const reportInode = ifind(img, REPORT);
  const cluster = Number(/Cluster Size: (\d+)/.exec(sh('fsstat', ['-o', String(PART_SECTOR), img]))?.[1]);
  const istat = sh('istat', ['-o', String(PART_SECTOR), img, reportInode]);
  const run = /Type: \$DATA \(128-\d+\)[^\n]*\n\s*(\d+)/.exec(istat);
  if (!run || !cluster) throw new Error(`could not find the clusters of ${REPORT} (inode ${reportInode}):\n${istat}`);
  const reportAt = PART_SECTOR * 512 + Number(run[1]) * cluster;
  const cs = repo.chunkSize;
  const pointSecs: number[] = [], incCatalogSecs: number[] = [], incCatalogCpu: number[] = [];
  for (let k = 1; k < pointCount; k++) {
    t0 = now();
    const w = await repo.beginRestorePoint({ vm: VM, consistency: 'crash', parent: points.at(-1)!.id, notes: `bench point ${k + 1}` });
    const d = await w.addDisk({ key: '0', label: img, capacity: size, file: img });
    const chunkAt = Math.floor(reportAt / cs) * cs;
    await d.patch(chunkAt, [{ at: reportAt - chunkAt, data: Buffer.from(`quarterly v${String(k).padStart(6, '0')}`) }]);
    const rp = await w.commit();
    pointSecs.push(secs(t0));
    const prev = store.open(VM.id, points.at(-1)!.id)!;
    if (k <= built) {
      t0 = now();
      c0 = process.cpuUsage();
      await buildCatalog(repo, store, rp, { previous: { rp: points.at(-1)!, catalog: prev } });
      incCatalogSecs.push(secs(t0));
      incCatalogCpu.push(cpuSince(c0));
      log(`bench: point ${k + 1} in ${pointSecs.at(-1)!.toFixed(2)} s, its catalog built in ${incCatalogSecs.at(-1)!.toFixed(1)} s, ${incCatalogCpu.at(-1)!.toFixed(1)} CPU s`);
    } else {
      // Same entries as the previous point's (only a file's bytes changed): written, not rebuilt.
      const names = store.names(VM.id);
      writeCatalog(store.pathForWrite(VM.id, rp.id), {
        rpId: rp.id, vmId: VM.id, vmName: VM.name, createdAt: rp.createdAt, builtAt: new Date().toISOString(), buildMs: 0, volumes: prev.header.volumes, names: names.size,
      }, [...prev.all()], (n) => names.intern(n));
      names.flush();
    }
    points.push(rp);
    if (k > built && (k % 10 === 0 || k === pointCount - 1)) log(`bench: ${k + 1}/${pointCount} points (last in ${pointSecs.at(-1)!.toFixed(2)} s, catalog copied)`);
  }
  points = await repo.listRestorePoints({ vmId: VM.id });

  // The search the API runs (GET …/files/versions): a new CatalogService each time (cold: catalog
  // headers, postings and the name dictionary read from disk), then the same one again (warm).
  const svc = () => new CatalogService({ dataDir, repo: async () => repo!, startRun: async () => { throw new Error('every catalog is built before searching'); } });
  const searches: Record<string, { cold: number[]; warm: number[]; matches: number; points: number; versions: number }> = {};
  for (const pattern of ['report.xlsx', 'invoice-0999*']) {
    const x = { cold: [] as number[], warm: [] as number[], matches: 0, points: 0, versions: 0 };
    for (let r = 0; r < repeat; r++) {
      const c = svc();
      sh('sync', []);
      t0 = now();
      const v = await c.versions(VM.id, pattern, 'bench');
      x.cold.push(ms(t0));
      t0 = now();
      await c.versions(VM.id, pattern, 'bench');
      x.warm.push(ms(t0));
      x.matches = v.matches.length;
      x.points = new Set(v.matches.map((m) => m.restorePointId)).size;
      x.versions = v.versions.length;
      if (v.restorePoints.some((p) => p.catalog !== 'ready')) throw new Error(`a catalog is not ready: ${JSON.stringify(v.restorePoints.filter((p) => p.catalog !== 'ready'))}`);
    }
    searches[pattern] = x;
    log(`bench: search ${pattern}: cold ${three(x.cold)} ms, warm ${three(x.warm, 1)} ms, ${x.matches} matches in ${x.points} points, ${x.versions} versions`);
  }
  const rssEnd = rssMiB();
  const reportSearch = searches['report.xlsx']!;
  const searchOk = reportSearch.matches === points.length && reportSearch.points === points.length && searches['invoice-0999*']!.matches > 0;

  // The table.
  const rows: string[][] = [['metric', 'Stillpoint', 'sleuthkit', 'target', 'met?']];
  rows.push(['full backup of the disk, s', backup.secs.toFixed(1), '—', '(reference)', '']);
  rows.push(['NTFS root list, cold ms min/med/max', three(listCold), three(fls), '≤ 2× fls and < 300', mark(median(listCold) <= 2 * median(fls) && median(listCold) < 300)]);
  rows.push(['  of which session + volumes() ms', three(listOpen), '', '', '']);
  rows.push(['  CPU ms (all threads; fls: user+sys)', three(listCpu), three(flsCpu), '', '']);
  rows.push(['NTFS root list, warm ms', three(listWarm, 1), '—', '', '']);
  rows.push([`40-level path lookup, new session ms (ifind -n)`, three(deepCold), three(deepIfind), '≤ 2× ifind', mark(median(deepCold) <= 2 * median(deepIfind))]);
  rows.push(['  CPU ms', three(deepCpu), three(ifindCpu), '', '']);
  rows.push(['  in a new FileRestore (worker start), ms (CPU)', `${three(deepNewFiles)} (${three(deepNewFilesCpu)})`, '', '', '']);
  rows.push([`40-level path, ${levelInodes.length + 1} folder lists ms (fls each, 1 run)`, three(walkOurs), three(walkFls), '', median(walkOurs) <= median(walkFls) ? 'faster' : 'slower']);
  rows.push(['1 GiB HTTP download MB/s best/med/worst (icat)', mbs(bigSize, dlOurs), mbs(bigSize, dlIcat), '≥ 500', mark(bigSize / median(dlOurs) / 1e3 >= 500)]);
  rows.push(['  MB per CPU-second (client curl|cksum incl.)', mbs(bigSize, dlCpu), mbs(bigSize, icatCpu), '', '']);
  rows.push(['download bytes = icat (cksum)', dlOk ? 'yes' : 'NO', '', 'equal', mark(dlOk)]);
  rows.push(['full backup, CPU s (user+sys)', backup.cpuSecs.toFixed(1), '', '', '']);
  rows.push([`catalog build, s (fls -r -p)`, catalogSecs.toFixed(1), (flsR.ms / 1000).toFixed(1), `≤ 10% of backup (${(backup.secs * 0.1).toFixed(1)})`, mark(catalogSecs <= 0.1 * backup.secs)]);
  rows.push(['catalog build, % of full backup (wall)', `${((100 * catalogSecs) / backup.secs).toFixed(1)}%`, '', '≤ 10%', '']);
  rows.push(['catalog build, CPU s (% of backup CPU)', `${catalogCpu.toFixed(1)} (${((100 * catalogCpu) / backup.cpuSecs).toFixed(0)}%)`, '', '', '']);
  rows.push(['files catalogued (fls -r regular files)', String(catalogFiles), String(flsRFiles), '', '']);
  rows.push([`${pointCount - 1} incremental points, s each min/med/max`, three(pointSecs, 2), '—', '', '']);
  rows.push([`${built} catalog(s) built vs previous, s (CPU s)`, `${three(incCatalogSecs, 1)} (${three(incCatalogCpu, 1)})`, '—', '', '']);
  if (built < pointCount - 1) rows.push([`${pointCount - 1 - built} other catalogs`, 'copied', '', '--build-all', '']);
  for (const [p, x] of Object.entries(searches)) {
    rows.push([`search '${p}' in ${points.length} points, cold ms`, three(x.cold), '—', '< 200', mark(Math.max(...x.cold) < 200)]);
    rows.push([`search '${p}', warm ms`, three(x.warm, 1), '', '', '']);
    rows.push([`  matches / points / versions`, `${x.matches} / ${x.points} / ${x.versions}`, '', '', '']);
  }
  rows.push([`  same without a catalog: fls -r × ${points.length}, s`, '', `≈ ${((flsR.ms * points.length) / 1000).toFixed(0)} (1 run × ${points.length})`, '', '']);
  rows.push(['peak RSS MiB: backup (CLI process)', (backup.rssKiB / 1024).toFixed(0), '', '', '']);
  rows.push(['peak RSS MiB: browse+download (incl. workers)', rssBrowse.toFixed(0), '', '', '']);
  rows.push(['peak RSS MiB: + catalog build', rssCatalog.toFixed(0), '', '', '']);
  rows.push(['peak RSS MiB: whole bench process', rssEnd.toFixed(0), '', '', '']);
  rows.push(['root listing has fls names', rootOk ? `yes (${rootNames})` : 'NO', '', '', mark(rootOk)]);
  rows.push(['deep path = ifind inode', deepOk ? 'yes' : 'NO', '', '', mark(deepOk)]);
  rows.push(['report.xlsx found in every point', searchOk ? 'yes' : 'NO', '', '', mark(searchOk)]);
  printTable(rows, catalogFiles);
  }
} finally {
  await repo?.close().catch(() => {});
  if (!keep) rmSync(work, { recursive: true, force: true });
  else log(`bench: kept ${work}`);
}
