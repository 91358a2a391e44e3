// `stillpoint points <vm> [--json]`: the VM's restore points with their consistency.
import type { RestorePoint } from '../api/contract.ts';
import { flag, table } from './format.ts';
import { formatBytes } from './progress.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  if (args.length !== 1) {
    process.stderr.write('usage: stillpoint points <vm name or id> [--json]\n');
    return 2;
  }
  try {
    const client = new ServiceClient();
    const [vm] = await resolveVms(client, args);
    const points = await client.get<RestorePoint[]>(`/api/vms/${vm!.id}/restore-points`);
    if (json) process.stdout.write(JSON.stringify(points, null, 2) + '\n');
    else if (!points.length) process.stdout.write(`${vm!.name} has no restore points yet: \`stillpoint backup ${vm!.name}\` makes one.\n`);
    else process.stdout.write(table(['ID', 'CREATED', 'CONSISTENCY', 'SIZE', 'NEW DATA', 'DURATION', 'LOCKED UNTIL'],
      points.map((p) => [p.id, p.createdAt, p.consistency, formatBytes(p.logicalBytes), formatBytes(p.storedBytes), `${(p.durationMs / 1000).toFixed(1)} s`, p.lockedUntil ?? '-'])));
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint points: ${(e as Error).message}\n`);
    return 1;
  }
}
