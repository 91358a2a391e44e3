// `stillpoint vms [--json]`: the VMs the service sees in vCenter, with their protection state.
import type { VmSummary } from '../api/contract.ts';
import { flag, formatTime, table } from './format.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';
import { ServiceClient, ServiceError } from './service-client.ts';

export const help: Help = {
  usage: ['stillpoint vms [--json]'],
  summary: 'List the VMs you can see in vCenter: power state, guest, host, whether they are protected, and\n' +
    'their last backup (local time, with its result and consistency).',
  options: [['--json', 'the service\'s VM summaries as JSON (times in UTC, ISO 8601)']],
  examples: ['stillpoint vms', "stillpoint vms --json | jq -r '.[] | select(.protected | not) | .name'"],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  if (args.length) return usageError('vms', `unexpected '${args[0]}'`, help);
  try {
    const vms = await new ServiceClient().get<VmSummary[]>('/api/vms');
    if (json) {
      process.stdout.write(JSON.stringify(vms, null, 2) + '\n');
    } else {
      process.stdout.write(table(['ID', 'NAME', 'POWER', 'GUEST', 'HOST', 'PROTECTED', 'LAST BACKUP'],
        vms.map((v) => [v.id, v.name, v.powerState, v.guestOs, v.host, v.protected ? 'yes' : 'no',
          v.lastBackup ? `${formatTime(v.lastBackup.at)} ${v.lastBackup.status}${v.lastBackup.consistency ? ` (${v.lastBackup.consistency})` : ''}` : '-'])));
    }
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint vms: ${(e as Error).message}\n`);
    return e instanceof ServiceError && e.status === 401 ? 3 : 1;
  }
}
