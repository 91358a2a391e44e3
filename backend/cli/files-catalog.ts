// `stillpoint files versions VM GLOB` and `stillpoint files diff POINT_A POINT_B`: the file catalog of
// restore points through the service (its catalogs; the user's own vCenter privileges apply).
// `versions` lists every version of the matching files across the VM's restore points; `diff` what
// changed between two points (by folder, then each file) and the mass-encryption check.
// The `files` family (files.ts) lists these in its subcommand table.
import type { CatalogChanges, FileVersions } from '../api/contract.ts';
import { option, table } from './format.ts';
import { formatBytes } from './progress.ts';
import { count } from '../common/units.ts';
import { ServiceClient } from './service-client.ts';
import { resolveVms } from './resolve.ts';
import { usageLine } from './help.ts';


function refuseRepo(): void {
  if (process.argv.includes('--repo')) throw new Error('versions and diff use the service\'s catalogs of restore points: leave out --repo');
}

const when = (iso?: string) => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');
const signed = (n: number) => (n < 0 ? `-${formatBytes(-n)}` : `+${formatBytes(n)}`);

/** VM GLOB [--limit N] */
export async function versions(args: string[], json: boolean): Promise<number> {
  refuseRepo();
  const usage = "versions VM 'GLOB' [--limit N]";
  const limit = Number(option(args, '--limit') ?? 1000);
  const [vm, pattern] = args;
  if (!vm || !pattern || args.length > 2 || !(limit > 0)) return usageLine('files', usage);
  const c = new ServiceClient();
  const [target] = await resolveVms(c, [vm]);
  const r = await c.get<FileVersions>(`/api/vms/${encodeURIComponent(target!.id)}/file-versions?name=${encodeURIComponent(pattern)}&limit=${limit}`);
  if (json) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return 0; }
  const pending = r.restorePoints.filter((p) => p.catalog !== 'ready');
  if (r.versions.length) {
    process.stdout.write(table(['PATH', 'SIZE', 'MODIFIED', 'IN RESTORE POINTS', 'FROM', 'TO'],
      r.versions.map((v) => [`${v.volumeId}/${v.path}`, formatBytes(v.size), when(v.mtime), v.restorePoints.length === 1 ? v.restorePoints[0]! : `${v.restorePoints.length} points`, when(v.firstSeen), when(v.lastSeen)])));
  } else process.stdout.write(`nothing matches '${pattern}' in the catalogued restore points of ${target!.name}\n`);
  process.stderr.write(`searched ${r.restorePoints.length - pending.length} of ${count(r.restorePoints.length, 'restore point')} in ${r.searchMs} ms\n`);
  for (const p of pending) process.stderr.write(`  ${p.id}: catalog ${p.catalog}${p.catalog === 'failed' ? '' : ' (try again when it is ready)'}\n`);
  if (r.truncated) process.stderr.write(`stopped at ${limit} matches: narrow the pattern or raise --limit\n`);
  return 0;
}

/** POINT_A POINT_B [--limit N] */
export async function diff(args: string[], json: boolean): Promise<number> {
  refuseRepo();
  const usage = 'diff POINT_A POINT_B [--limit N]';
  const limit = Number(option(args, '--limit') ?? 1000);
  const [a, b] = args;
  if (!a || !b || args.length > 2 || !(limit >= 0)) return usageLine('files', usage);
  const r = await new ServiceClient().get<CatalogChanges>(`/api/restore-points/${encodeURIComponent(a)}/changes?against=${encodeURIComponent(b)}&limit=${limit}`);
  if (json) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return 0; }
  const t = r.totals;
  const out: string[] = [`from ${r.from} to ${r.to}: ${t.added} added (${formatBytes(t.addedBytes)}), ${t.removed} removed (${formatBytes(t.removedBytes)}), ` +
    `${t.changed} changed (${signed(t.changedBytes)}), ${t.renamed} renamed\n`];
  if (r.folders.length) {
    out.push(table(['FOLDER', 'ADDED', 'REMOVED', 'CHANGED', 'RENAMED', 'BYTES'],
      r.folders.map((f) => [`${f.volumeId}/${f.folder}`, f.added, f.removed, f.changed, f.renamed, signed(f.addedBytes - f.removedBytes + f.changedBytes)])));
    const rows: (string | number)[][] = [
      ...r.added.map((x) => ['+', `${x.volumeId}/${x.path}`, formatBytes(x.size)]),
      ...r.removed.map((x) => ['-', `${x.volumeId}/${x.path}`, formatBytes(x.size)]),
      ...r.changed.map((x) => ['M', `${x.volumeId}/${x.path}`, `${formatBytes(x.before.size)} → ${formatBytes(x.after.size)}`]),
      ...r.renamed.map((x) => ['R', `${x.volumeId}/${x.from} → ${x.to}`, formatBytes(x.size)]),
    ];
    out.push('\n' + table(['', 'FILE', 'SIZE'], rows));
  }
  process.stdout.write(out.join(''));
  if (r.truncated) process.stderr.write(`lists cut at ${limit} files each: raise --limit for more\n`);
  process.stderr.write(`${r.massEncryption.warning ? 'WARNING: ' : ''}${r.massEncryption.summary}\n`);
  return r.massEncryption.warning ? 3 : 0;
}

/** Entries for the `files` subcommand table (files.ts). */
export const catalogSubcommands = {
  versions: {
    usage: "versions VM 'GLOB' [--limit N]",
    examples: ["stillpoint files versions win-app01 'report.xlsx'", "stillpoint files versions vm-44 '*.docx' --limit 50 --json"],
    summary: "every version of the files a name or glob matches across the VM's restore points (from their catalogs)",
    run: (args: string[], _t: unknown, json: boolean) => versions(args, json),
  },
  diff: {
    usage: 'diff POINT_A POINT_B [--limit N]',
    examples: ["stillpoint files diff rp-20261201T220000Z-1a2b3c rp-20261202T092611Z-20a592"],
    summary: 'files added, removed, changed and renamed between two restore points of a VM, by folder, with the mass-encryption check (exit 3 when it warns)',
    run: (args: string[], _t: unknown, json: boolean) => diff(args, json),
  },
};
