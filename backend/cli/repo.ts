// `stillpoint repo …`: work on a backup repository folder directly.
import { stat } from 'node:fs/promises'; // the image to back up, not repository files
import { basename } from 'node:path';
import type { Repository, RebuildReport, RestorePoint, RetentionPolicy } from '../repository/repository.ts';
import { RepositoryError } from '../repository/errors.ts';
import { warningsOf } from '../repository/catalog.ts';
import { progressBar, formatBytes } from './progress.ts';
import { log } from '../common/log.ts';
import { promptSecret } from './prompt.ts';
import { hasRetention } from '../model/retention.ts';
import { showHelp, wantsHelp, type Help } from './help.ts';

const USAGE = `usage: stillpoint repo <command> <dir> [options]

commands:
  init <dir> [--encrypt] [--chunk-size MiB] [--compression-level N]
                                                 create a repository (--encrypt asks for a passphrase;
                                                 zstd level, default 2: 1 is faster, 3 smaller)
  backup <dir> <image> [--name N] [--vm-id ID] [--consistency crash|filesystem|application]
         [--notes TEXT] [--no-parent]            back up a disk image; prints the new restore point id
  restore <dir> <point-id> <out-image> [--disk KEY]
  ls <dir> [--vm-id ID]                          list restore points (--json: with their metadata: source,
                                                 job, consistency and reason, warnings, VSS writers,
                                                 VM configuration, disk layouts)
  verify <dir> [--quick]                         check every chunk (or only index/pack consistency);
                                                 damaged chunks are marked, and the next backup of the
                                                 same data stores them again (repairing the points)
  prune <dir> [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]
        [--dry-run] [--no-gc]                    apply retention, then reclaim space
  gc <dir>                                       reclaim space of unreferenced chunks
  rebuild-index <dir>                            rebuild a damaged or missing index from the packs and the
                                                 restore point objects (the old index is moved aside)
  lock <dir> <point-id> --until DATE             make a restore point immutable until DATE
  delete <dir> <point-id>                        delete one restore point
  stats <dir>                                    sizes and deduplication

every command takes --json. Encrypted repositories read the passphrase from STILLPOINT_PASSPHRASE,
or ask for it on the terminal. \`stillpoint repo <command> --help\` shows a command's options and examples.

examples:
  stillpoint repo init /backups/repo
  stillpoint repo backup /backups/repo disk.img --name web01
  stillpoint repo ls /backups/repo
  stillpoint repo prune /backups/repo --keep-last 7 --keep-monthly 12 --dry-run
`;

const R = '/backups/repo';
const RP = 'rp-20261202T092611Z-20a592';
export const commands: Record<string, Help> = {
  init: {
    usage: ['stillpoint repo init <dir> [--encrypt] [--chunk-size MiB] [--compression-level N] [--json]'],
    summary: 'create a repository in an empty or new folder',
    options: [['--encrypt', 'encrypt it (passphrase from STILLPOINT_PASSPHRASE, or asked twice)'], ['--chunk-size MiB', 'chunk size (default 1)'],
      ['--compression-level N', 'zstd level 1..19 (default 2: 1 is faster, 3 smaller)']],
    examples: [`stillpoint repo init ${R}`, `STILLPOINT_PASSPHRASE=… stillpoint repo init ${R} --encrypt`],
  },
  backup: {
    usage: ['stillpoint repo backup <dir> <image> [--name N] [--vm-id ID] [--consistency crash|filesystem|application]', '  [--notes TEXT] [--no-parent] [--json]'],
    summary: 'back up a disk image file or block device; prints the new restore point id',
    options: [['--name N', 'the source\'s name (default: the image file name)'], ['--vm-id ID', 'the VM id the point belongs to'],
      ['--consistency C', 'what the point claims (default crash)'], ['--notes TEXT', 'free text kept with the point'],
      ['--no-parent', 'read everything instead of only what changed since the last point of the same source']],
    examples: [`stillpoint repo backup ${R} /dev/vg0/web01 --name web01`, `stillpoint repo backup ${R} disk.img --vm-id vm-41 --consistency filesystem`],
  },
  restore: {
    usage: ['stillpoint repo restore <dir> <point id> <out image> [--disk KEY] [--json]'],
    summary: 'write a restore point\'s disk to an image file or block device',
    options: [['--disk KEY', 'which disk, when the point has several']],
    examples: [`stillpoint repo restore ${R} ${RP} restored.img`, `stillpoint repo restore ${R} ${RP} /dev/sdb --disk 2001`],
  },
  ls: {
    usage: ['stillpoint repo ls <dir> [--vm-id ID] [--json]'],
    summary: 'list restore points (--json: with their metadata: source, job, consistency and reason, warnings, VSS writers, VM configuration, disk layouts)',
    options: [['--vm-id ID', 'only this VM\'s points'], ['--json', 'the points with all their metadata']],
    examples: [`stillpoint repo ls ${R}`, `stillpoint repo ls ${R} --vm-id vm-41 --json`],
  },
  verify: {
    usage: ['stillpoint repo verify <dir> [--quick] [--json]'],
    summary: 'check every chunk (or only index/pack consistency); damaged chunks are marked and stored again by the next backup of the same data',
    options: [['--quick', 'only the index and packs, not every chunk\'s bytes']],
    examples: [`stillpoint repo verify ${R}`, `stillpoint repo verify ${R} --quick --json`],
  },
  prune: {
    usage: ['stillpoint repo prune <dir> [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]', '  [--dry-run] [--no-gc] [--json]'],
    summary: 'apply retention (per source), then reclaim space',
    options: [['--keep-last N', 'the N newest points'], ['--keep-daily/-weekly/-monthly/-yearly N', 'the last point of each of N days, weeks…'],
      ['--dry-run', 'only say what would be removed'], ['--no-gc', 'remove points but do not reclaim space now']],
    examples: [`stillpoint repo prune ${R} --keep-last 7 --dry-run`, `stillpoint repo prune ${R} --keep-daily 7 --keep-monthly 12`],
  },
  gc: { usage: ['stillpoint repo gc <dir> [--json]'], summary: 'reclaim the space of chunks no restore point uses', examples: [`stillpoint repo gc ${R}`] },
  'rebuild-index': {
    usage: ['stillpoint repo rebuild-index <dir> [--json]'],
    summary: 'rebuild a damaged or missing index from the packs and restore point objects (the old index is moved aside)',
    examples: [`stillpoint repo rebuild-index ${R}`],
  },
  lock: {
    usage: ['stillpoint repo lock <dir> <point id> --until DATE [--json]'],
    summary: 'make a restore point immutable until DATE (retention and delete leave it alone)',
    options: [['--until DATE', 'e.g. 2027-01-01 or 2027-01-01T12:00:00Z']],
    examples: [`stillpoint repo lock ${R} ${RP} --until 2027-01-01`],
  },
  delete: { usage: ['stillpoint repo delete <dir> <point id> [--json]'], summary: 'delete one restore point (not a locked one)', examples: [`stillpoint repo delete ${R} ${RP}`] },
  stats: { usage: ['stillpoint repo stats <dir> [--json]'], summary: 'sizes and deduplication', examples: [`stillpoint repo stats ${R}`, `stillpoint repo stats ${R} --json`] },
};

interface Parsed { pos: string[]; flags: Map<string, string | true> }

const VALUE_FLAGS = new Set(['name', 'vm-id', 'consistency', 'notes', 'disk', 'keep-last', 'keep-daily', 'keep-weekly',
  'keep-monthly', 'keep-yearly', 'until', 'chunk-size', 'parent', 'compression-level']);

function parse(args: string[]): Parsed {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (VALUE_FLAGS.has(name)) {
        if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
        flags.set(name, args[++i]);
      } else flags.set(name, true);
    } else pos.push(a);
  }
  return { pos, flags };
}

class UsageError extends Error {}

function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function int(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} needs a whole number, got '${v}'`);
  return n;
}

/** Asks for a passphrase on the terminal (no echo); without a terminal, says how to give it instead. */
async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new RepositoryError('ENEEDPASS', 'a passphrase is needed: set STILLPOINT_PASSPHRASE (no terminal to ask on).');
  try {
    return await promptSecret(question);
  } catch (e) {
    throw new RepositoryError('EABORTED', (e as Error).message);
  }
}

/** The Repository class, loaded when a command needs it (`--help` and usage errors do not). */
async function repository(): Promise<typeof Repository> {
  return (await import('../repository/repository.ts')).Repository;
}

async function passphraseFor(dir: string): Promise<string | undefined> {
  try {
    const { inspectRepository } = await import('../repository/config.ts'); // no LevelDB loaded (repo ls)
    if (!(await inspectRepository(dir)).encryption) return undefined;
  } catch { return undefined; } // open() reports what is wrong
  return process.env.STILLPOINT_PASSPHRASE ?? prompt(`passphrase for ${dir}: `);
}

/** `readOnly`: for commands that only read (ls, stats): no lock object written, nothing fsynced. */
/** `passphrase`: one the command already asked for (else it is asked for when the repository is encrypted). */
async function openRepo(dir: string, command: string, readOnly = false, passphrase?: string): Promise<Repository> {
  return (await repository()).open(dir, { passphrase: passphrase ?? await passphraseFor(dir), command: `stillpoint repo ${command}`, readOnly });
}

function out(json: boolean, obj: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj, null, 2) + '\n' : text);
}

function rpLine(rp: RestorePoint): string {
  const locked = rp.lockedUntil && Date.parse(rp.lockedUntil) > Date.now() ? ` locked until ${rp.lockedUntil}` : '';
  const warnings = warningsOf(rp).length;
  const o = rp.metadata?.origin;
  const job = o ? ` ${o.kind === 'job' ? `job ${o.jobName ?? o.jobId ?? '?'}` : 'on-demand'}` : '';
  return `${rp.id}  ${rp.vm.name.padEnd(16)} ${rp.createdAt}  ${rp.consistency.padEnd(11)} ${String(warnings).padStart(2)} warning(s) ` +
    `${String(rp.disks.length).padStart(2)} disk(s) ` +
    `${formatBytes(rp.logicalBytes).padStart(10)} logical ${formatBytes(rp.newStoredBytes).padStart(10)} new${job}${locked}`;
}

/** `ls --json`: each record as stored (with `metadata` when it has one) plus its warnings wherever they are kept. */
function rpJson(rp: RestorePoint): RestorePoint & { warnings: string[] } {
  return { ...rp, warnings: warningsOf(rp) };
}

async function withRepo<T>(dir: string, command: string, fn: (repo: Repository) => Promise<T>, readOnly = false, passphrase?: string): Promise<T> {
  const repo = await openRepo(dir, command, readOnly, passphrase);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nstillpoint repo: ${sig}, stopping (nothing partial is kept)\n`);
    repo.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try { return await fn(repo); } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await repo.close();
  }
}

async function cmd(name: string, p: Parsed, json: boolean): Promise<number> {
  const need = (n: number, what: string) => { if (p.pos.length < n) throw new UsageError(`repo ${name} needs ${what}`); };
  const dir = p.pos[0];
  switch (name) {
    case 'init': {
      need(1, '<dir>');
      let passphrase: string | undefined;
      if (p.flags.has('encrypt')) {
        passphrase = process.env.STILLPOINT_PASSPHRASE;
        if (passphrase === undefined) {
          passphrase = await prompt('new passphrase: ');
          if ((await prompt('repeat passphrase: ')) !== passphrase) throw new RepositoryError('EPASSPHRASE', 'the passphrases differ; run init again.');
        }
        if (!passphrase) throw new RepositoryError('EPASSPHRASE', 'an empty passphrase is not allowed.');
      }
      const cs = int(p, 'chunk-size');
      const level = int(p, 'compression-level');
      if (level !== undefined && (level < 1 || level > 19)) throw new UsageError('--compression-level must be between 1 and 19');
      const repo = await (await repository()).init(dir, { passphrase, chunkSize: cs ? cs * 1024 * 1024 : undefined, zstdLevel: level });
      const cfg = repo.config;
      await repo.close();
      out(json, { dir, id: cfg.id, encrypted: !!cfg.encryption, chunkSize: cfg.chunkSize }, `created ${cfg.encryption ? 'encrypted ' : ''}repository ${dir}\n`);
      return 0;
    }
    case 'backup': {
      need(2, '<dir> <image>');
      const image = p.pos[1];
      const st = await stat(image).catch(() => undefined);
      if (!st) throw new RepositoryError('ENOENT', `image ${image} does not exist`);
      const vmName = str(p, 'name') ?? basename(image);
      const vmId = str(p, 'vm-id') ?? vmName;
      const consistency = (str(p, 'consistency') ?? 'crash') as 'crash';
      return withRepo(dir, 'backup', async (repo) => {
        let parent = str(p, 'parent');
        if (!parent && !p.flags.has('no-parent')) parent = (await repo.listRestorePoints({ vmId }))[0]?.id;
        const w = await repo.beginRestorePoint({ vm: { id: vmId, name: vmName }, consistency, notes: str(p, 'notes'), parent });
        const bar = progressBar(`backup ${basename(image)}`);
        try {
          const d = await w.addDisk({ key: '0', label: image, capacity: st.size, file: image });
          await d.writeFile(image, { onProgress: (a, b) => bar.update(a, b) });
          const rp = await w.commit();
          bar.done();
          out(json, rp, `${rp.id}\n`);
          if (!json) process.stderr.write(`stored ${formatBytes(rp.newStoredBytes)} new of ${formatBytes(rp.nonZeroBytes)} non-zero (${formatBytes(rp.logicalBytes)} disk)\n`);
          return 0;
        } catch (e) {
          bar.done();
          await w.abort();
          throw e;
        }
      });
    }
    case 'restore': {
      need(3, '<dir> <point-id> <out-image>');
      return withRepo(dir, 'restore', async (repo) => {
        const rp = await repo.getRestorePoint(p.pos[1]);
        const key = str(p, 'disk') ?? (rp.disks.length === 1 ? rp.disks[0].key : undefined);
        if (key === undefined) throw new UsageError(`restore point ${rp.id} has ${rp.disks.length} disks; pick one with --disk (${rp.disks.map((d) => d.key).join(', ')})`);
        const bar = progressBar(`restore ${rp.id}`);
        const r = await repo.restoreDisk(rp.id, key, p.pos[2], (a, b) => bar.update(a, b));
        bar.done();
        out(json, { restorePoint: rp.id, disk: key, out: p.pos[2], ...r }, `restored ${formatBytes(r.bytes)} to ${p.pos[2]}\n`);
        return 0;
      });
    }
    case 'ls': {
      need(1, '<dir>');
      const show = (list: RestorePoint[]) => {
        const head = `${'id'.padEnd(26)}  ${'vm'.padEnd(16)} ${'created'.padEnd(24)}  ${'consistency'.padEnd(11)} warnings\n`;
        const text = list.length ? head + list.map(rpLine).join('\n') + '\n' : 'no restore points\n';
        out(json, list.map(rpJson), text);
        return 0;
      };
      const filter = { vmId: str(p, 'vm-id') };
      // From the restore point objects alone (no index: fast, and works while the service has it open);
      // through the index where the objects can't say everything.
      const { listFromPointObjects } = await import('../repository/point-list.ts');
      const passphrase = await passphraseFor(dir);
      const fromObjects = await listFromPointObjects(dir, passphrase, filter);
      return fromObjects ? show(fromObjects) : withRepo(dir, 'ls', async (repo) => show(await repo.listRestorePoints(filter)), true, passphrase);
    }
    case 'verify': {
      need(1, '<dir>');
      return withRepo(dir, 'verify', async (repo) => {
        const bar = progressBar('verify');
        const r = await repo.verify({ quick: p.flags.has('quick'), onProgress: (a, b) => bar.update(a, b) });
        bar.done();
        let text = `${r.mode} verify: ${r.chunks} chunks in ${r.packs} packs, ${r.restorePoints} restore points: ${r.ok ? 'no errors' : `${r.damaged.length} damaged chunk(s)`}\n`;
        for (const d of r.damaged.slice(0, 20)) text += `  chunk ${d.id.slice(0, 16)}… ${d.pack ? `pack ${d.pack}: ` : ''}${d.problem}\n`;
        for (const a of r.affected) text += `  affected: ${a.restorePoint} (${a.vm.name}) disks ${a.disks.map((d) => `${d.key} (${d.damagedChunks} chunks)`).join(', ')}\n`;
        if (r.repair) text += `${r.repair}\n`;
        out(json, r, text);
        return r.ok ? 0 : 1;
      });
    }
    case 'prune': {
      need(1, '<dir>');
      const policy: RetentionPolicy = { keepLast: int(p, 'keep-last'), keepDaily: int(p, 'keep-daily'), keepWeekly: int(p, 'keep-weekly'), keepMonthly: int(p, 'keep-monthly'), keepYearly: int(p, 'keep-yearly') };
      if (!hasRetention(policy)) throw new UsageError('repo prune needs at least one of --keep-last/--keep-daily/--keep-weekly/--keep-monthly/--keep-yearly');
      return withRepo(dir, 'prune', async (repo) => {
        const dry = p.flags.has('dry-run');
        const d = await repo.applyRetention(policy, { dryRun: dry, vmId: str(p, 'vm-id') });
        const g = !dry && !p.flags.has('no-gc') ? await repo.gc() : undefined;
        let text = d.keep.map((k) => `keep   ${k.id} (${k.reasons.join(', ')})\n`).join('') + d.remove.map((r) => `${dry ? 'would remove' : 'remove'} ${r.id}\n`).join('');
        if (g) text += `reclaimed ${formatBytes(g.reclaimedBytes)} (${g.deletedChunks} chunks, ${g.deletedPacks} packs deleted, ${g.repackedPacks} repacked)\n`;
        out(json, { ...d, dryRun: dry, gc: g }, text);
        return 0;
      });
    }
    case 'gc': {
      need(1, '<dir>');
      return withRepo(dir, 'gc', async (repo) => {
        const g = await repo.gc();
        out(json, g, `reclaimed ${formatBytes(g.reclaimedBytes)} (${g.deletedChunks} chunks, ${g.deletedPacks} packs deleted, ${g.repackedPacks} repacked)\n`);
        return 0;
      });
    }
    case 'rebuild-index': {
      need(1, '<dir>');
      const bar = progressBar('rebuild index');
      let r: RebuildReport;
      try {
        r = await (await repository()).rebuildIndex(dir, { passphrase: await passphraseFor(dir), command: 'stillpoint repo rebuild-index', onProgress: (a, b) => bar.update(a, b) });
      } finally { bar.done(); }
      let text = r.movedTo ? `moved the previous index (${r.previous}) to ${r.movedTo}; delete it once the repository checks out\n` : 'there was no index\n';
      if (r.exported) text += `wrote ${r.exported} restore point object(s) from the previous index first\n`;
      text += `rebuilt the index from ${r.packs} pack(s) (${r.chunks} chunks${r.duplicates ? `, ${r.duplicates} found twice` : ''}) and ${r.restorePoints.length} restore point(s)` +
        `${r.fromOldIndex.length ? `, ${r.fromOldIndex.length} of them recovered from the damaged index` : ''}\n`;
      for (const p of r.packProblems) text += `  pack ${p.pack}: ${p.problem} at offset ${p.offset}; the records after it are not indexed\n`;
      for (const l of r.lost) text += `  not recovered: ${l.restorePoint ? `${l.restorePoint}: ` : ''}${l.problem}\n`;
      for (const i of r.incomplete) text += `  damaged: ${i.restorePoint} references ${i.missingChunks} chunk(s) that no pack holds\n`;
      if (r.unreferencedChunks) text += `${r.unreferencedChunks} chunk(s) in the packs belong to no recovered restore point (\`stillpoint repo gc ${dir}\` reclaims them)\n`;
      text += `check the repository with \`stillpoint repo verify ${dir}\`\n`;
      out(json, r, text);
      return r.lost.length || r.incomplete.length ? 1 : 0;
    }
    case 'lock': {
      need(2, '<dir> <point-id>');
      const until = str(p, 'until');
      if (!until || Number.isNaN(Date.parse(until))) throw new UsageError('repo lock needs --until DATE (e.g. 2027-01-01)');
      return withRepo(dir, 'lock', async (repo) => {
        const rp = await repo.lock(p.pos[1], new Date(until));
        out(json, rp, `${rp.id} locked until ${rp.lockedUntil}\n`);
        return 0;
      });
    }
    case 'delete': {
      need(2, '<dir> <point-id>');
      return withRepo(dir, 'delete', async (repo) => {
        await repo.deleteRestorePoint(p.pos[1]);
        out(json, { deleted: p.pos[1] }, `deleted ${p.pos[1]} (run \`stillpoint repo gc\` to reclaim space)\n`);
        return 0;
      });
    }
    case 'stats': {
      need(1, '<dir>');
      return withRepo(dir, 'stats', async (repo) => {
        const s = await repo.stats();
        out(json, s, `restore points ${s.restorePoints} (${s.vms} VMs)\nchunks ${s.chunks} in ${s.packs} packs\n` +
          `logical ${formatBytes(s.logicalBytes)}, non-zero ${formatBytes(s.nonZeroBytes)}, on disk ${formatBytes(s.packBytes)} ` +
          `(${s.dedupRatio.toFixed(2)}× dedup+compression)\nencrypted ${s.encrypted ? 'yes' : 'no'}, chunk size ${formatBytes(s.chunkSize)}\n`);
        return 0;
      }, true);
    }
    default:
      throw new UsageError(`unknown repo command '${name}'`);
  }
}

export async function run(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === 'help' || name === '--help' || name === '-h') { process.stdout.write(USAGE); return name ? 0 : 2; }
  if (wantsHelp(rest)) {
    const c = commands[name];
    if (c) return showHelp(c);
    process.stderr.write(`stillpoint repo: unknown repo command '${name}'\n\n${USAGE}`);
    return 2;
  }
  let json = false;
  try {
    const p = parse(rest);
    json = p.flags.has('json');
    // Log records go to stdout; keep it for results (and pure JSON with --json) unless asked otherwise.
    if (!process.env.STILLPOINT_LOG_LEVEL) log.level = json ? 'error' : 'warn';
    return await cmd(name, p, json);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`stillpoint repo: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    const code = (e as RepositoryError).code ?? 'ERROR';
    const message = (e as Error).message;
    if (json) process.stdout.write(JSON.stringify({ error: { code, message } }, null, 2) + '\n');
    process.stderr.write(`stillpoint repo: ${message}\n`);
    return 1;
  }
}
