// `stillpoint points <vm> [--json]`: the VM's restore points with their consistency.
import type { RestorePoint } from '../api/contract.ts';
import { flag, formatTime, table } from './format.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';
import { formatBytes } from './progress.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';

export const help: Help = {
  usage: ['stillpoint points <vm name or id> [--json]'],
  summary: 'List the restore points of a VM, newest first: when (local time), consistency, size, new data\n' +
    'stored, duration and immutability lock. The ID is what `restore` and `files` take.',
  options: [['--json', 'the restore points as JSON (times in UTC, ISO 8601)']],
  examples: ['stillpoint points win-app01', 'stillpoint points vm-41 --json', 'stillpoint points dr:linux-db01'],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  if (args.length !== 1) return usageError('points', args.length ? 'give one VM' : 'name the VM', help);
  try {
    const client = new ServiceClient();
    const [vm] = await resolveVms(client, args);
    const points = await client.get<RestorePoint[]>(`/api/vms/${vm!.id}/restore-points`);
    if (json) process.stdout.write(JSON.stringify(points, null, 2) + '\n');
    else if (!points.length) process.stdout.write(`${vm!.name} has no restore points yet: \`stillpoint backup ${vm!.name}\` makes one.\n`);
    else process.stdout.write(table(['ID', 'CREATED', 'CONSISTENCY', 'SIZE', 'NEW DATA', 'DURATION', 'LOCKED UNTIL'],
      points.map((p) => [p.id, formatTime(p.createdAt), p.consistency, formatBytes(p.logicalBytes), formatBytes(p.storedBytes), `${(p.durationMs / 1000).toFixed(1)} s`, p.lockedUntil ? formatTime(p.lockedUntil) : '-'])));
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint points: ${(e as Error).message}\n`);
    return 1;
  }
}
