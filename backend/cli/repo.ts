// `stillpoint repo …`: work on a backup repository folder directly.
import { stat } from 'node:fs/promises'; // the image to back up, not repository files
import { basename } from 'node:path';
import type { RebuildReport, RetentionPolicy } from '../repository/repository.ts';
import { RepositoryError } from '../repository/errors.ts';
import { progressBar, formatBytes } from './progress.ts';
import { count } from '../common/units.ts';
import { hasRetention } from '../model/retention.ts';
import { showHelp, wantsHelp, type Help } from './help.ts';
import { int, out, passphraseFor, prompt, repository, runCommand, str, UsageError, withRepo, type Parsed } from './repo-common.ts';
import { ls } from './repo-ls.ts';

export const USAGE = `usage: stillpoint repo <command> <dir> [options]

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
    case 'ls': return ls(p, json);
    case 'verify': {
      need(1, '<dir>');
      return withRepo(dir, 'verify', async (repo) => {
        const bar = progressBar('verify');
        const r = await repo.verify({ quick: p.flags.has('quick'), onProgress: (a, b) => bar.update(a, b) });
        bar.done();
        let text = `${r.mode} verify: ${r.chunks} chunks in ${r.packs} packs, ${r.restorePoints} restore points: ${r.ok ? 'no errors' : count(r.damaged.length, 'damaged chunk')}\n`;
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
      if (r.exported) text += `wrote ${count(r.exported, 'restore point object')} from the previous index first\n`;
      text += `rebuilt the index from ${count(r.packs, 'pack')} (${r.chunks} chunks${r.duplicates ? `, ${r.duplicates} found twice` : ''}) and ${count(r.restorePoints.length, 'restore point')}` +
        `${r.fromOldIndex.length ? `, ${r.fromOldIndex.length} of them recovered from the damaged index` : ''}\n`;
      for (const p of r.packProblems) text += `  pack ${p.pack}: ${p.problem} at offset ${p.offset}; the records after it are not indexed\n`;
      for (const l of r.lost) text += `  not recovered: ${l.restorePoint ? `${l.restorePoint}: ` : ''}${l.problem}\n`;
      for (const i of r.incomplete) text += `  damaged: ${i.restorePoint} references ${count(i.missingChunks, 'chunk')} that no pack holds\n`;
      if (r.unreferencedChunks) text += `${count(r.unreferencedChunks, 'chunk')} in the packs belong to no recovered restore point (\`stillpoint repo gc ${dir}\` reclaims them)\n`;
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
  return runCommand(rest, async () => USAGE, (p, json) => cmd(name, p, json));
}
