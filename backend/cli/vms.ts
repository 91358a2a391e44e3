// `stillpoint vms [--json]`: the VMs the service sees in vCenter, with their protection state.
import type { VmSummary } from '../api/contract.ts';
import { flag, table } from './format.ts';
import { ServiceClient, ServiceError } from './service-client.ts';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  try {
    const vms = await new ServiceClient().get<VmSummary[]>('/api/vms');
    if (json) {
      process.stdout.write(JSON.stringify(vms, null, 2) + '\n');
    } else {
      process.stdout.write(table(['ID', 'NAME', 'POWER', 'GUEST', 'HOST', 'PROTECTED', 'LAST BACKUP'],
        vms.map((v) => [v.id, v.name, v.powerState, v.guestOs, v.host, v.protected ? 'yes' : 'no',
          v.lastBackup ? `${v.lastBackup.at} ${v.lastBackup.status}${v.lastBackup.consistency ? ` (${v.lastBackup.consistency})` : ''}` : '-'])));
    }
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint vms: ${(e as Error).message}\n`);
    return e instanceof ServiceError && e.status === 401 ? 3 : 1;
  }
}
