// `stillpoint backup <vm>… [--json] [--no-wait]`: back up VMs now and follow the run.
import type { JobRun } from '../api/contract.ts';
import { flag } from './format.ts';
import { followRun } from './follow.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';
import { formatBytes } from './progress.ts';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  if (args.length === 0 || args.some((a) => a.startsWith('--'))) {
    process.stderr.write('usage: stillpoint backup <vm name or id>… [--json] [--no-wait]\n');
    return 2;
  }
  try {
    const client = new ServiceClient();
    const vms = await resolveVms(client, args);
    const started = await client.post<JobRun>('/api/backups', { vmIds: vms.map((v) => v.id) });
    const run = noWait ? started : await followRun(client, started, { quiet: json });
    if (json) process.stdout.write(JSON.stringify(run, null, 2) + '\n');
    else {
      for (const v of run.vms) {
        process.stdout.write(`${v.vmName}: ${v.status}${v.consistency ? `, ${v.consistency}-consistent` : ''}` +
          `${v.restorePointId ? `, restore point ${v.restorePointId}` : ''}, read ${formatBytes(v.bytesRead)}, stored ${formatBytes(v.bytesStored)}` +
          `${v.status === 'failed' || v.status === 'cancelled' ? `: ${v.message}` : ''}\n`);
        for (const w of v.warnings) process.stdout.write(`  warning: ${w}\n`);
      }
    }
    return run.status === 'success' || run.status === 'warning' || noWait ? 0 : 1;
  } catch (e) {
    process.stderr.write(`stillpoint backup: ${(e as Error).message}\n`);
    return 1;
  }
}
