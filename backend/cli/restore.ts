// `stillpoint restore <restore-point-id> --as <new-vm-name> [--host H --datastore D] [--power-on]`
// `stillpoint restore <restore-point-id> --original --yes [--power-on]`
import type { HostInfo, JobRun, RestorePoint, RestoreTarget, VmDetail } from '../api/contract.ts';
import { flag, option } from './format.ts';
import { followRun } from './follow.ts';
import { ServiceClient } from './service-client.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

export const help: Help = {
  usage: [
    'stillpoint restore <restore point id> --as <new VM name> [--host H] [--datastore D] [--power-on] [--json]',
    'stillpoint restore <restore point id> --original --yes [--power-on] [--json]',
  ],
  summary: 'Restore a whole VM from a restore point, to a new VM or over the original, and follow it with a\n' +
    'progress bar. Restore point ids come from `stillpoint points <vm>`.',
  options: [
    ['--as NAME', 'create a new VM with this name (at the source VM\'s host and datastore unless given)'],
    ['--host H', 'the ESXi host for the new VM'],
    ['--datastore D', 'the datastore for the new VM\'s disks'],
    ['--original', 'restore over the original VM: powers it off and replaces its disks'],
    ['--yes', 'confirm --original'],
    ['--power-on', 'power the VM on when the restore is done'],
    ['--json', 'the finished run as JSON'],
  ],
  examples: [
    'stillpoint restore rp-20261202T092611Z-20a592 --as win-app01-restored',
    'stillpoint restore rp-20261202T092611Z-20a592 --as test01 --host esx-prod-02.lab.local --datastore LocalDS_1 --power-on',
    'stillpoint restore rp-20261202T092611Z-20a592 --original --yes',
  ],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  try {
    const json = flag(args, '--json');
    const powerOn = flag(args, '--power-on');
    const original = flag(args, '--original');
    const yes = flag(args, '--yes');
    const as = option(args, '--as');
    let host = option(args, '--host');
    let datastore = option(args, '--datastore');
    if (args.length !== 1 || (!as && !original) || (as && original)) {
      return usageError('restore', args.length !== 1 ? 'give one restore point id' : 'give either --as <new VM name> or --original --yes', help);
    }
    if (original && !yes) {
      process.stderr.write('stillpoint restore: restoring over the original VM powers it off and replaces its disks; add --yes to confirm.\n');
      return 2;
    }
    const client = new ServiceClient();
    const rp = await client.get<RestorePoint>(`/api/restore-points/${encodeURIComponent(args[0]!)}`);
    let target: RestoreTarget;
    if (as) {
      if (!host || !datastore) {
        // Default placement: where the source VM runs now.
        const vm = await client.get<VmDetail>(`/api/vms/${rp.vmId}`).catch(() => undefined);
        // The restore goes to the restore point's own site: only that site's hosts are candidates.
        const hosts = (await client.get<HostInfo[]>('/api/inventory/hosts')).filter((h) => !rp.site || !h.site || h.site === rp.site);
        host ??= vm?.host ?? hosts[0]?.name;
        datastore ??= vm?.datastores[0] ?? hosts.find((h) => h.name === host)?.datastores[0];
        if (!host || !datastore) throw new Error('give --host and --datastore: the source VM is gone and no default placement was found');
      }
      target = { kind: 'new', name: as, host, datastore, powerOn };
    } else {
      target = { kind: 'original', confirm: true, powerOn };
    }
    const started = await client.post<JobRun>(`/api/restore-points/${rp.id}/restore`, { target });
    const done = await followRun(client, started, { quiet: json });
    if (json) process.stdout.write(JSON.stringify(done, null, 2) + '\n');
    else process.stdout.write(`${done.status}: ${done.vms[0]?.message ?? ''}\n`);
    return done.status === 'success' ? 0 : 1;
  } catch (e) {
    process.stderr.write(`stillpoint restore: ${(e as Error).message}\n`);
    return 1;
  }
}
