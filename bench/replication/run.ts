// bench/replication: a lab VM with a 4 GiB disk filled with realistic data, replicated through the
// real service API to the DR site: the seed run, then runs after 2% of the disk changed, by hot-add
// (a paired transporter as a child process on the lab's DR helper VM) and by full upload (the same
// replica, with the transporter stopped); then failover to the latest recovery point (H4's failover
// run: revert, network mapping, power on; undone after each measurement), side by side with what an
// admin without a replica does instead: a full restore of the same VM from a backup.
// Prints min / median / max over --runs runs (default 3).
// Usage: node bench/replication/run.ts [--disk-gib 4] [--runs 3]
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { startTestService } from '../../test/helpers/service.ts';
import { startLab } from '../../test/lab/lab.ts';
import { HELPER, startTransporter } from '../../test/replication/transport-lab.ts';
import type { JobRun, ReplicaState, RestorePoint } from '../../backend/api/contract.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); const v = i > 0 ? Number(process.argv[i + 1]) : def; if (!Number.isInteger(v) || v < 1) throw new Error(`${name} takes a whole number ≥ 1`); return v; };
const gib = arg('--disk-gib', 4);
const runs = arg('--runs', 3);
const size = gib * 1024 ** 3;
const MiB = 1024 ** 2;
const VM = 'linux-db01';
const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', keep: 28, networkMap: [{ source: 'VM Network', target: 'DR-Network' }] };
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Sample { ms: number; bytes: number }
const stats = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return { min: s[0]!, median: s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2, max: s[s.length - 1]! }; };
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (b: number) => `${(b / MiB).toFixed(b < 10 * MiB ? 2 : 0)} MiB`;
const triple = (xs: number[], f: (n: number) => string) => { const s = stats(xs); return `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`; };

log(`Starting a lab with a ${gib} GiB disk…`);
const lab = await startLab({ diskMiB: gib * 1024, replication: true });
const t = await startTestService({ lab, register: false });
let transporter: Awaited<ReturnType<typeof startTransporter>> | undefined;
try {
  const token = await t.login();
  const vm = (await lab.control.vms())[VM]!;

  // The guest's data, as bench/backup fills it: 3/4 in use — random, text-like and duplicate thirds.
  log('Filling the disk like a guest would…');
  const fh = await open(vm.disks[0]!.flatPath, 'r+');
  const used = Math.floor((size * 0.75) / (4 * MiB)) * 4 * MiB;
  const words = Buffer.from('backup replication vsphere snapshot quiesce consistent restore point chunk index ');
  const text = Buffer.alloc(4 * MiB);
  for (let i = 0; i < text.length; i++) text[i] = words[(i * 7 + (i >> 12)) % words.length]!;
  for (let off = 0; off < used; off += 4 * MiB) {
    const kind = Math.floor(off / (4 * MiB)) % 3;
    const block = kind === 0 ? randomBytes(4 * MiB) : kind === 1 ? Buffer.from(text.map((c, i) => (i % 4096 === 0 ? (off >> 22) & 0xff : c))) : text;
    await fh.write(block, 0, block.length, off);
  }
  await fh.close();

  // 2% of the disk per run, as files rewritten (runs of 256 KiB … 4 MiB) through the lab's guest-write path (CBT sees it).
  let round = 0;
  const change = async (): Promise<number> => {
    const target = Math.round(size * 0.02);
    let done = 0;
    for (let i = 0; done < target; i++) {
      const len = Math.min((256 * 1024) << (i % 5), target - done);
      const off = (Math.floor(((i + 7919 * round) * 2654435761) % (used / (4 * MiB)))) * 4 * MiB;
      await lab.control.writeDisk(VM, 0, off, randomBytes(len));
      done += len;
    }
    round++;
    return done;
  };

  const replicate = async (): Promise<Sample & { run: JobRun; phases: string }> => {
    const t0 = performance.now();
    const r = await t.call<JobRun>('POST', `/api/vms/${vm.moref}/replicate`, { token, body: dr });
    if (r.status !== 202) throw new Error(`replicate: ${r.status} ${JSON.stringify(r.body)}`);
    // Phase timeline from the run's progress (polled every 100 ms).
    const seen: { phase: string; at: number }[] = [];
    let run: JobRun;
    for (;;) {
      run = (await t.call<JobRun>('GET', `/api/runs/${r.body.id}`, { token })).body;
      const phase = (run.vms[0]?.phase ?? '').replace(/ \(.*\)$/, '');
      if (seen[seen.length - 1]?.phase !== phase) seen.push({ phase, at: performance.now() - t0 });
      if (run.status !== 'running' && run.status !== 'queued') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    if (run.status !== 'success' && run.status !== 'warning') throw new Error(`replicate ${run.status}: ${JSON.stringify(run.vms[0])}`);
    const phases = seen.filter((p) => p.phase).map((p, i, a) => `${p.phase} ${(((a[i + 1]?.at ?? performance.now() - t0) - p.at) / 1000).toFixed(1)}s`).join(', ');
    return { ms: run.vms[0]!.durationMs, bytes: run.vms[0]!.bytesRead, run, phases };
  };

  log('Seed run (full upload)…');
  const seed = await replicate();

  const paired = await t.call<{ token: string }>('POST', '/api/transporters/pair', { token, body: { vm: (await lab.control.vms())[HELPER]!.moref } });
  if (paired.status !== 200) throw new Error(`pair: ${JSON.stringify(paired.body)}`);
  transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: paired.body.token });

  const hotAdd: (Sample & { changed: number; phases: string })[] = [];
  for (let i = 0; i < runs; i++) {
    const changed = await change();
    log(`Hot-add run ${i + 1}/${runs} after ${mib(changed)} changed…`);
    const s = await replicate();
    if (!/by hot-add/.test(s.run.vms[0]!.message ?? '')) throw new Error(`not hot-add: ${s.run.vms[0]!.message}`);
    hotAdd.push({ ...s, changed });
  }
  const written = await transporter.stop();
  transporter = undefined;

  const full: (Sample & { changed: number; phases: string })[] = [];
  for (let i = 0; i < runs; i++) {
    const changed = await change();
    log(`Full-upload run ${i + 1}/${runs} after ${mib(changed)} changed…`);
    const s = await replicate();
    if (!/by full upload/.test(s.run.vms[0]!.message ?? '')) throw new Error(`not full upload: ${s.run.vms[0]!.message}`);
    full.push({ ...s, changed });
  }

  // Failover to the latest point through H4's failover run (revert, network mapping, power on), undone after each.
  const state = (await t.call<ReplicaState>('GET', `/api/vms/${vm.moref}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
  const failover: number[] = [];
  let failoverNote = '';
  for (let i = 0; i < runs; i++) {
    log(`Failover ${i + 1}/${runs}…`);
    const t0 = performance.now();
    const r = await t.call<JobRun>('POST', `/api/replicas/${state.replicaVmId}/failover`, { token, body: { networkMap: [{ source: 'DR-Network', target: 'DR-Network' }] } });
    if (r.status !== 202) { failoverNote = `failover not available: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`; break; }
    const done = await t.waitRun(token, r.body.id, 600_000);
    if (done.status !== 'success' && done.status !== 'warning') { failoverNote = `failover ${done.status}: ${done.vms[0]?.message}`; break; }
    failover.push(performance.now() - t0);
    const u = await t.call<JobRun>('POST', `/api/replicas/${state.replicaVmId}/undo`, { token });
    if (u.status !== 202) throw new Error(`undo: ${JSON.stringify(u.body)}`);
    const undone = await t.waitRun(token, u.body.id, 600_000);
    if (undone.status !== 'success' && undone.status !== 'warning') throw new Error(`undo ${undone.status}: ${undone.vms[0]?.message}`);
  }

  // What an admin without a replica does: back the VM up, restore it whole to the DR host.
  log('Backup for the restore comparison…');
  const b = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.moref] } });
  const backedUp = await t.waitRun(token, b.body.id, 3_600_000);
  if (backedUp.status !== 'success' && backedUp.status !== 'warning') throw new Error(`backup ${backedUp.status}: ${backedUp.vms[0]?.message}`);
  const points = (await t.call<RestorePoint[]>('GET', `/api/vms/${vm.moref}/restore-points`, { token })).body;
  const restore: number[] = [];
  for (let i = 0; i < runs; i++) {
    log(`Full VM restore ${i + 1}/${runs}…`);
    const t0 = performance.now();
    const r = await t.call<JobRun>('POST', `/api/restore-points/${points[0]!.id}/restore`, {
      token, body: { target: { kind: 'new', name: `bench-restored-${i}`, host: dr.host, datastore: dr.datastore, powerOn: true } },
    });
    if (r.status !== 202) throw new Error(`restore: ${r.status} ${JSON.stringify(r.body)}`);
    const done = await t.waitRun(token, r.body.id, 3_600_000);
    if (done.status !== 'success' && done.status !== 'warning') throw new Error(`restore ${done.status}: ${done.vms[0]?.message}`);
    restore.push(performance.now() - t0);
  }

  const rows: string[][] = [
    ['', 'time (min / median / max)', 'sent to DR (min / median / max)', 'changed per run'],
    ['seed run, full upload (n=1)', sec(seed.ms), mib(seed.bytes), '-'],
    [`hot-add run, 2% changed (n=${runs})`, triple(hotAdd.map((s) => s.ms), sec), triple(hotAdd.map((s) => s.bytes), mib), triple(hotAdd.map((s) => s.changed), mib)],
    [`full-upload run, 2% changed (n=${runs})`, triple(full.map((s) => s.ms), sec), triple(full.map((s) => s.bytes), mib), triple(full.map((s) => s.changed), mib)],
    ...(failover.length ? [[`failover to the latest point (n=${failover.length})`, triple(failover, sec), '-', '-']] : []),
    [`full VM restore from a backup, powered on (n=${runs})`, triple(restore, sec), `${mib(size)} written at DR`, '-'],
  ];
  const w = rows[0]!.map((_c, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`\nStillpoint replication bench: lab VM ${VM}, ${gib} GiB disk, ${mib(used)} in use, 2% changed before each run\n\n`);
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(w[i]!)).join('   ') + '\n');
  const ratio = hotAdd.map((s) => s.bytes / s.changed);
  process.stdout.write(`\nhot-add bytes sent / bytes changed: ${triple(ratio, (x) => x.toFixed(3))}; the transporter wrote ${mib(written)} in ${runs} runs\n`);
  process.stdout.write(failover.length
    ? 'failover: the replica\'s failover run (revert to the latest point, network mapping, CBT on, power on) from the request to the run\'s end; undone after each\n'
    : `failover: ${failoverNote}\n`);
  process.stdout.write(`\nphases, seed:              ${seed.phases}\nphases, last hot-add run:  ${hotAdd.at(-1)!.phases}\nphases, last full upload:  ${full.at(-1)!.phases}\n\n`);
  process.stdout.write('restore: from the request to the run\'s end, the whole disk written at the DR host and powered on (the alternative without a replica)\n');
} finally {
  if (transporter) await transporter.kill9();
  await t.stop();
  await lab.stop();
}
