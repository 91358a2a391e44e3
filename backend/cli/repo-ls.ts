// `stillpoint repo ls <dir> [--vm-id ID] [--json]`: the restore points, newest first. Loaded on its own by
// main.ts (not through repo.ts): listing is what admins and scripts run most, and it should answer at once.
import type { RestorePoint } from '../repository/catalog.ts';
import { warningsOf } from '../repository/catalog.ts';
import { count, formatBytes } from '../common/units.ts';
import { out, passphraseFor, runCommand, str, UsageError, withRepo, type Parsed } from './repo-common.ts';

function rpLine(rp: RestorePoint): string {
  const locked = rp.lockedUntil && Date.parse(rp.lockedUntil) > Date.now() ? ` locked until ${rp.lockedUntil}` : '';
  const o = rp.metadata?.origin;
  const job = o ? ` ${o.kind === 'job' ? `job ${o.jobName ?? o.jobId ?? '?'}` : 'on-demand'}` : '';
  return `${rp.id}  ${rp.vm.name.padEnd(16)} ${rp.createdAt}  ${rp.consistency.padEnd(11)} ${count(warningsOf(rp).length, 'warning').padStart(12)} ` +
    `${count(rp.disks.length, 'disk').padStart(8)} ` +
    `${formatBytes(rp.logicalBytes).padStart(10)} logical ${formatBytes(rp.newStoredBytes).padStart(10)} new${job}${locked}`;
}

/** `ls --json`: each record as stored (with `metadata` when it has one) plus its warnings wherever they are kept. */
function rpJson(rp: RestorePoint): RestorePoint & { warnings: string[] } {
  return { ...rp, warnings: warningsOf(rp) };
}

export async function ls(p: Parsed, json: boolean): Promise<number> {
  const dir = p.pos[0];
  if (!dir) throw new UsageError('repo ls needs <dir>');
  const show = (list: RestorePoint[]) => {
    const head = `${'id'.padEnd(26)}  ${'vm'.padEnd(16)} ${'created'.padEnd(24)}  ${'consistency'.padEnd(11)} warnings\n`;
    out(json, list.map(rpJson), list.length ? head + list.map(rpLine).join('\n') + '\n' : 'no restore points\n');
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

/** `args` as main.ts passes them: `ls <dir> …`. A usage error prints repo's usage (loaded only then). */
export function run(args: string[]): Promise<number> {
  return runCommand(args.slice(1), async () => (await import('./repo.ts')).USAGE, ls);
}
