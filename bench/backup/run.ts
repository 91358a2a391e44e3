// bench/backup: a lab VM with a 4 GiB disk filled with realistic data, backed up through the real
// service API: full backup, incremental after 2% of the disk changed, and full VM restore.
// Prints throughput and the two targets: incremental ≤ 5% of the full's time, and "right-click to
// restore point" (POST /api/backups until the restore point is listed) under 15 s.
// Usage: node bench/backup/run.ts [--disk-gib 4]
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { startTestService } from '../../test/helpers/service.ts';
import { startLab } from '../../test/lab/lab.ts';
import type { JobRun, RestorePoint } from '../../backend/api/contract.ts';

const at = process.argv.indexOf('--disk-gib');
const gib = at > 0 ? Number(process.argv[at + 1]) : 4;
if (!Number.isInteger(gib) || gib < 1) throw new Error('--disk-gib takes a whole number of GiB (≥ 1)');
const size = gib * 1024 ** 3;
const MiB = 1024 ** 2;
const fmt = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

process.stderr.write(`Starting a lab with a ${gib} GiB disk…\n`);
const lab = await startLab({ diskMiB: gib * 1024 });
const t = await startTestService({ lab });
try {
  const token = await t.login();
  const vm = (await lab.control.vms())['linux-db01']!;
  const flat = vm.disks[0]!.flatPath;

  // The guest's data: 3/4 of the disk in use — a third random (media, encrypted files), a third
  // text-like (compressible), a third copies of earlier blocks (duplicates); the rest stays empty.
  process.stderr.write('Filling the disk like a guest would…\n');
  const fh = await open(flat, 'r+');
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

  const backup = async (): Promise<{ ms: number; run: JobRun; listedMs: number; phases: string }> => {
    const t0 = performance.now();
    const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.moref] } });
    // Phase timeline from the run's progress (polled every 50 ms).
    const seen: { phase: string; at: number }[] = [];
    let run: JobRun;
    for (;;) {
      run = (await t.call<JobRun>('GET', `/api/runs/${started.body.id}`, { token })).body;
      const phase = run.vms[0]!.phase;
      if (seen[seen.length - 1]?.phase !== phase) seen.push({ phase, at: performance.now() - t0 });
      if (run.status !== 'running' && run.status !== 'queued') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const phases = seen.map((p, i) => `${p.phase} ${(((seen[i + 1]?.at ?? performance.now() - t0) - p.at) / 1000).toFixed(1)}s`).join(', ');
    if (run.status !== 'success') throw new Error(`backup ${run.status}: ${JSON.stringify(run.vms[0])}`);
    const points = await t.call<RestorePoint[]>('GET', `/api/vms/${vm.moref}/restore-points`, { token });
    const listedMs = performance.now() - t0;
    if (points.body[0]?.id !== run.vms[0]!.restorePointId) throw new Error('restore point not listed');
    return { ms: run.vms[0]!.durationMs, run, listedMs, phases };
  };

  process.stderr.write('Full backup…\n');
  const full = await backup();

  // Two kinds of 2% change: files rewritten (runs of 256 KiB–4 MiB, most guest writes) and database
  // pages (64 KiB writes spread over the whole disk, the worst case for any chunked store).
  const change = Math.round(size * 0.02);
  const rewrite = async (label: string, extent: (i: number) => { off: number; len: number }) => {
    // Through the lab's guest-write path, which marks the blocks in its CBT like ESXi does.
    process.stderr.write(`Changing 2% of the disk (${label})…\n`);
    for (let done = 0, i = 0; done < change; i++) {
      const { off, len } = extent(i);
      await lab.control.writeDisk('linux-db01', 0, off, randomBytes(len));
      done += len;
    }
  };
  await rewrite('files', (i) => {
    const len = (256 * 1024) << (i % 5); // 256 KiB … 4 MiB
    return { off: Math.floor(((i * 2654435761) % (used / (4 * MiB)))) * 4 * MiB, len };
  });
  process.stderr.write('Incremental backup (files rewritten)…\n');
  const incr = await backup();
  await rewrite('database pages', (i) => ({ off: Math.floor(((i * 2654435761) % (size / (64 * 1024)))) * 64 * 1024, len: 64 * 1024 }));
  process.stderr.write('Incremental backup (scattered pages)…\n');
  const scattered = await backup();

  let restore: { ms: number; ok: boolean } | undefined;
  const r = await t.call<JobRun>('POST', `/api/restore-points/${scattered.run.vms[0]!.restorePointId}/restore`, {
    token, body: { target: { kind: 'new', name: 'bench-restored', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false } },
  });
  if (r.status === 202) {
    process.stderr.write('Full VM restore…\n');
    const t0 = performance.now();
    const done = await t.waitRun(token, r.body.id, 3_600_000);
    restore = { ms: performance.now() - t0, ok: done.status === 'success' };
    if (done.status !== 'success') process.stderr.write(`restore ${done.status}: ${done.vms[0]?.message}\n`);
  } else {
    process.stderr.write(`restore not available: ${JSON.stringify(r.body)}\n`);
  }

  const rows = [
    ['full backup', `${(full.ms / 1000).toFixed(1)} s`, `${(full.run.vms[0]!.bytesRead / MiB).toFixed(0)} MiB read`, fmt(full.run.vms[0]!.bytesRead, full.ms), `stored ${(full.run.vms[0]!.bytesStored / MiB).toFixed(0)} MiB`],
    ['incremental, 2% in rewritten files', `${(incr.ms / 1000).toFixed(1)} s`, `${(incr.run.vms[0]!.bytesRead / MiB).toFixed(0)} MiB read`, fmt(incr.run.vms[0]!.bytesRead, incr.ms), `stored ${(incr.run.vms[0]!.bytesStored / MiB).toFixed(0)} MiB`],
    ['incremental, 2% in scattered 64 KiB pages', `${(scattered.ms / 1000).toFixed(1)} s`, `${(scattered.run.vms[0]!.bytesRead / MiB).toFixed(0)} MiB read`, fmt(scattered.run.vms[0]!.bytesRead, scattered.ms), `stored ${(scattered.run.vms[0]!.bytesStored / MiB).toFixed(0)} MiB`],
    ...(restore ? [['full VM restore', `${(restore.ms / 1000).toFixed(1)} s`, `${gib * 1024} MiB written + verified`, fmt(size, restore.ms), restore.ok ? 'ok' : 'FAILED']] : []),
  ];
  const w = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`\nStillpoint backup bench: lab VM linux-db01, ${gib} GiB disk, ${(used / MiB).toFixed(0)} MiB in use\n\n`);
  for (const row of rows) process.stdout.write(row.map((c, i) => c.padEnd(w[i]!)).join('   ') + '\n');
  process.stdout.write(`\nphases, full:        ${full.phases}\nphases, files:       ${incr.phases}\nphases, scattered:   ${scattered.phases}\n`);
  for (const [label, r] of [['rewritten files', incr], ['scattered pages', scattered]] as const) {
    const ratio = r.ms / full.ms;
    process.stdout.write(`\nincremental (${label}) / full time: ${(ratio * 100).toFixed(1)}% (target ≤ 5%) ${ratio <= 0.05 ? 'MET' : 'MISSED'}`);
  }
  process.stdout.write('\n');
  process.stdout.write(`right-click to restore point (full, ${gib} GiB VM): ${(full.listedMs / 1000).toFixed(1)} s (target < 15 s) ${full.listedMs < 15_000 ? 'MET' : 'MISSED'}\n`);
  process.stdout.write(`right-click to restore point (incremental): ${(incr.listedMs / 1000).toFixed(1)} s\n`);
} finally {
  await t.stop();
  await lab.stop();
}
