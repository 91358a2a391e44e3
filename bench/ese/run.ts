// ESE benchmark: application databases read by our TypeScript ESE reader, side by side with Debian's
// esedbexport (libesedb) on the SAME file, same machine, same run. One function per database kind
// (BENCHES below): `ntds` is an ntds.dit-shaped database with ≥ 100,000 objects; other kinds (EDB)
// add a function of the same shape and an entry in BENCHES.
//
// Usage: node bench/ese/run.ts [--only ntds,edb] [--objects 100000] [--messages 50000] [--searches 25] [--repeat 3] [--peer-repeat 1] [--keep]
//
// The ntds.dit is SYNTHETIC: the test-only ESE writer (test/ese-writer/) fills it from a real Samba AD
// DC's directory (provisioned offline into a temp dir: schema, configuration, built-in objects) plus
// generated users (copies of a real user with their own DN, sAMAccountName, objectGUID and objectSid)
// in 100 OUs. It is cached in ${BENCH_DIR:-tmpdir}/sp-bench-ese/ntds-<objects>.dit.
// Measured, each as min/median/max over --repeat runs (new process state each time for ours: a new open):
//   first listing   ours: open the file + AD layer (schema, DNs, links) + the naming contexts and their
//                   children; esedbinfo: open + list the tables (it cannot list objects without an export)
//   full scan       every row of datatable decoded: ours (db.rows) vs `esedbexport -T datatable`: rows/s, MiB/s
//   search          ours: name/sAMAccountName search on the opened directory, --searches random names;
//                   esedbexport: has no search: an export of datatable + a scan of its text for the name
// Nothing here asserts: the figures are printed for the reader (docs and the acceptance).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openEseDatabase } from '../../backend/ese/database.ts';
import { openFileReader } from '../../backend/ese/file-reader.ts';
import { openActiveDirectory } from '../../backend/active-directory/directory.ts';
import { openIsolatedActiveDirectory } from '../../backend/active-directory/isolated.ts';
import { dumpSamba, provisionSamba, writeNtdsFromLdif } from '../../test/ese-writer/ntds-from-samba.ts';
import { first, type LdifRecord } from '../../test/ese-writer/ldif.ts';
import { benchEdb } from './edb.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || dflt : dflt);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]!.split(',') : undefined;
const REPEAT = opt('--repeat', 3);
/** esedbexport runs (an export of a large table takes minutes: default 1). */
const PEER = args.includes('--peer-repeat') ? Number(args[args.indexOf('--peer-repeat') + 1]) : 1;
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
const cacheDir = join(process.env.BENCH_DIR ?? tmpdir(), 'sp-bench-ese');
mkdirSync(cacheDir, { recursive: true });

/** min / median / max of a list of numbers. */
export function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}
const ms = (x: { min: number; median: number; max: number }) => `${x.min.toFixed(0)} / ${x.median.toFixed(0)} / ${x.max.toFixed(0)} ms`;
const rate = (n: number, t: number) => (n / (t / 1000));

/** Runs a command, returns its wall time in ms (and throws with its stderr when it fails). */
function timed(cmd: string, argv: string[], opts: { cwd?: string } = {}): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
}

/** A table printed row by row as figures come in (a long run shows what it has): ours beside the peer's. */
function table(title: string): (what: string, ours: string, peer: string) => void {
  process.stdout.write(`\n${title}\n${'figure'.padEnd(34)}  ${'Stillpoint (TypeScript ESE reader)'.padEnd(44)}  esedbexport / esedbinfo (libesedb 20181229)\n`);
  return (what, ours, peer) => process.stdout.write(`${what.padEnd(34)}  ${ours.padEnd(44)}  ${peer}\n`);
}

// ---- ntds.dit ------------------------------------------------------------------------------------

const guid = () => { const b = randomBytes(16); b[6] = (b[6]! & 0x0f) | 0x40; b[8] = (b[8]! & 0x3f) | 0x80; const h = b.toString('hex'); return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`; };

/** A synthetic ntds.dit with at least `objects` objects (cached). */
function ntdsFile(objects: number): { file: string; names: string[] } {
  const file = join(cacheDir, `ntds-${objects}.dit`);
  const namesFile = `${file}.names.json`;
  if (existsSync(file) && existsSync(namesFile)) return { file, names: JSON.parse(readFileSync(namesFile, 'utf8')) as string[] };
  const work = mkdtempSync(join(cacheDir, 'build-'));
  try {
    process.stderr.write(`bench/ese: building a synthetic ntds.dit with ${objects} objects (Samba provision + test writer; cached in ${cacheDir})…\n`);
    provisionSamba(join(work, 'dc'));
    const records = dumpSamba(join(work, 'dc')).records;
    const base = records.find((r) => r.attrs.has('objectClass') && first(r, 'objectClass') === 'top' && /^DC=/i.test(r.dn) && r.dn.split(',').every((p) => /^DC=/i.test(p)))!.dn;
    const template = records.find((r) => first(r, 'sAMAccountName') === 'Administrator')!;
    const domainSid = first(template, 'objectSid')!.replace(/-\d+$/, '');
    const extra: LdifRecord[] = [];
    const ous = 100;
    for (let i = 0; i < ous; i++) {
      const ou = new Map<string, Buffer[]>([['objectClass', [Buffer.from('top'), Buffer.from('organizationalUnit')]], ['name', [Buffer.from(`Dept${i}`)]], ['ou', [Buffer.from(`Dept${i}`)]], ['objectGUID', [Buffer.from(guid())]]]);
      extra.push({ dn: `OU=Dept${i},${base}`, attrs: ou });
    }
    const names: string[] = [];
    const keep = new Set(['objectClass', 'objectCategory', 'userAccountControl', 'accountExpires', 'codePage', 'countryCode', 'primaryGroupID', 'instanceType', 'whenCreated', 'whenChanged', 'uSNCreated', 'uSNChanged', 'pwdLastSet', 'sAMAccountType']);
    for (let i = 0; extra.length + records.length < objects; i++) {
      const name = `User ${String(i).padStart(6, '0')}`;
      const sam = `user${i}`;
      const attrs = new Map<string, Buffer[]>();
      for (const [k, v] of template.attrs) if (keep.has(k)) attrs.set(k, v);
      attrs.set('name', [Buffer.from(name)]); attrs.set('cn', [Buffer.from(name)]);
      attrs.set('sAMAccountName', [Buffer.from(sam)]); attrs.set('displayName', [Buffer.from(name)]);
      attrs.set('userPrincipalName', [Buffer.from(`${sam}@bench.test`)]); attrs.set('givenName', [Buffer.from('User')]); attrs.set('sn', [Buffer.from(String(i))]);
      attrs.set('objectGUID', [Buffer.from(guid())]); attrs.set('objectSid', [Buffer.from(`${domainSid}-${10_000 + i}`)]);
      extra.push({ dn: `CN=${name},OU=Dept${i % ous},${base}`, attrs });
      if (i % 997 === 0) names.push(sam);
    }
    const tmp = join(work, 'ntds.dit');
    const built = writeNtdsFromLdif([...records, ...extra], tmp);
    renameSync(tmp, file);
    writeFileSync(namesFile, JSON.stringify(names));
    process.stderr.write(`bench/ese: ${built.objects} objects, ${built.links} links, ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB\n`);
    return { file, names };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function benchNtds(): Promise<void> {
  const objects = opt('--objects', 100_000);
  const searches = opt('--searches', 25);
  const { file, names } = ntdsFile(objects);
  const size = statSync(file).size;
  const out = mkdtempSync(join(cacheDir, 'export-'));
  try {
    const row = table(`ntds.dit-shaped database (SYNTHETIC, test writer), ${(size / 2 ** 20).toFixed(1)} MiB, ${REPEAT} runs each: min / median / max`)
    // First listing.
    const oursFirst: number[] = [], oursFirstCpu: number[] = [], peerFirst: number[] = [];
    let objectCount = 0;
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      const reader = openFileReader(file);
      const ad = await openActiveDirectory(await openEseDatabase(reader));
      const roots = (await ad.roots()).result;
      await ad.children(roots[0]!.dn);
      oursFirst.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      oursFirstCpu.push((c.user + c.system) / 1000);
      objectCount = ad.objectCount;
      reader.close();
      peerFirst.push(timed('esedbinfo', [file]));
    }
    row(`time to first listing (${objectCount} objects)`, ms(stats(oursFirst)), `${ms(stats(peerFirst))} (esedbinfo: the tables only)`);
    // CPU time of this process: on a shared machine the wall time above includes waiting for a core.
    row('first listing, CPU time (ours)', ms(stats(oursFirstCpu)), '');
    // The same through the isolated worker the service uses (bytes read over a MessagePort, heap and time bounds).
    const oursIsolated: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      const reader = openFileReader(file);
      const ad = await openIsolatedActiveDirectory(reader);
      await ad.children((await ad.roots()).result[0]!.dn);
      oursIsolated.push(performance.now() - t0);
      await ad.close();
      reader.close();
    }
    row('first listing, isolated worker', ms(stats(oursIsolated)), `${ms(stats(peerFirst))} (esedbinfo: the tables only)`);
    // Full scan of datatable.
    const oursScan: number[] = [], peerScan: number[] = [];
    let rows = 0;
    for (let i = 0; i < REPEAT; i++) {
      const reader = openFileReader(file);
      const db = await openEseDatabase(reader);
      const t0 = performance.now();
      rows = 0;
      for await (const _ of db.rows('datatable')) rows++;
      oursScan.push(performance.now() - t0);
      reader.close();
      if (i >= PEER) continue;
      rmSync(join(out, 'x.export'), { recursive: true, force: true });
      peerScan.push(timed('esedbexport', ['-T', 'datatable', '-t', join(out, 'x'), file]));
    }
    const scanO = stats(oursScan), scanP = stats(peerScan);
    row(`full scan of datatable (${rows} rows)`, ms(scanO), `${ms(scanP)} (export to text, ${PEER} run${PEER === 1 ? '' : 's'})`);
    row('scan throughput (median)', `${rate(rows, scanO.median).toFixed(0)} rows/s, ${rate(size / 2 ** 20, scanO.median).toFixed(1)} MiB/s`,
      `${rate(rows, scanP.median).toFixed(0)} rows/s, ${rate(size / 2 ** 20, scanP.median).toFixed(1)} MiB/s`);
    // Search: ours on the opened directory; the peer has no search: export + a scan of the text.
    const reader = openFileReader(file);
    const ad = await openActiveDirectory(await openEseDatabase(reader));
    const picks = Array.from({ length: searches }, (_, i) => names[(i * 7919) % names.length]!);
    const oursSearch: number[] = [];
    let found = 0;
    for (const sam of picks) {
      const t0 = performance.now();
      found += (await ad.search({ text: sam, limit: 10 })).result.length;
      oursSearch.push(performance.now() - t0);
    }
    reader.close();
    // The peer's search: its export of datatable (timed above as its full scan) + a scan of the text for the name.
    const peerSearch: number[] = [];
    const exported = join(out, 'x.export');
    for (const sam of picks.slice(0, Math.max(PEER, 3))) {
      const t0 = performance.now();
      const text = readFileSync(join(exported, readdirSync(exported).find((f) => f.startsWith('datatable'))!), 'utf8');
      if (!text.includes(`\t${sam}\t`)) throw new Error(`esedbexport's export has no ${sam}`);
      peerSearch.push(scanP.median + performance.now() - t0);
    }
    row(`search (${picks.length} names, ${found} found)`, ms(stats(oursSearch)), `${ms(stats(peerSearch))} (export + text scan, ${Math.min(Math.max(PEER, 3), picks.length)} names)`);
    // Other searches: exact sAMAccountName and class (in memory since opening), any attribute (a scan
    // of datatable reading that one column), and showing one object with all its attributes.
    const reader2 = openFileReader(file);
    const ad2 = await openActiveDirectory(await openEseDatabase(reader2));
    const kinds: [string, (i: number) => Promise<number>][] = [
      ['search sAMAccountName =', async (i) => (await ad2.search({ sAMAccountName: picks[i % picks.length]! })).result.length],
      ['search objectClass = group', async () => (await ad2.search({ objectClass: 'group', limit: 100_000 })).result.length],
      ['search any attribute (sn =)', async (i) => (await ad2.search({ attribute: { name: 'sn', value: picks[i % picks.length]!.slice(4) } })).result.length],
      ['show one object (all attributes)', async (i) => Object.keys((await ad2.get(`CN=User ${picks[i % picks.length]!.slice(4).padStart(6, '0')},OU=Dept${Number(picks[i % picks.length]!.slice(4)) % 100},${(await ad2.roots()).result[0]!.dn}`)).result.attributes).length],
    ];
    for (const [what, run] of kinds) {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < Math.max(REPEAT, 5); i++) { const t0 = performance.now(); hits = await run(i); times.push(performance.now() - t0); }
      row(`${what} (${hits})`, ms(stats(times)), `${ms(stats(peerSearch))} (export + text scan)`);
    }
    reader2.close();
  } finally {
    if (!args.includes('--keep')) rmSync(out, { recursive: true, force: true });
  }
}

/** Database kinds: add one function per kind (EDB next) with its own synthetic file and figures. */
const BENCHES: Record<string, () => Promise<void>> = {
  ntds: benchNtds,
  edb: () => benchEdb({ messages: opt('--messages', 50_000), repeat: REPEAT, peerRepeat: PEER, keep: args.includes('--keep') }),
};

for (const [name, run] of Object.entries(BENCHES)) {
  if (only && !only.includes(name)) continue;
  await run();
}
