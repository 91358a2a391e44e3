// `stillpoint backup <vm>… [--json] [--no-wait]`: back up VMs now and follow the run.
import type { JobRun } from '../api/contract.ts';
import { flag } from './format.ts';
import { followRun } from './follow.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';
import { formatBytes } from './progress.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

export const help: Help = {
  usage: ['stillpoint backup <vm name or id>… [--no-wait] [--json]'],
  summary: 'Back up VMs now (each with its job\'s app-aware settings, or the defaults) and follow the run with a\n' +
    'progress bar; prints each VM\'s result, consistency and new restore point.',
  options: [
    ['--no-wait', 'start the run and print its id; `stillpoint runs follow <id>` follows it later'],
    ['--json', 'the finished run as JSON (no progress bar)'],
  ],
  notes: 'A VM is named as `stillpoint vms` shows it, by id (vm-42), or as site:name when several vCenters have the name.\n' +
    'Exit code 0 when every VM succeeded (warnings included), 1 otherwise.',
  examples: ['stillpoint backup win-app01', 'stillpoint backup win-app01 linux-db01 --no-wait', 'stillpoint backup vm-44 --json > run.json'],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  if (args.length === 0) return usageError('backup', 'name at least one VM', help);
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) return usageError('backup', `unknown option ${unknown}`, help);
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
