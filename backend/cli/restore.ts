// `stillpoint restore <restore-point-id> --as <new-vm-name> [--host H --datastore D] [--power-on]`
// `stillpoint restore <restore-point-id> --original --yes [--power-on]`
import type { HostInfo, JobRun, RestorePoint, RestoreTarget, VmDetail } from '../api/contract.ts';
import { flag, option } from './format.ts';
import { followRun } from './follow.ts';
import { ServiceClient } from './service-client.ts';

const USAGE = 'usage: stillpoint restore <restore-point-id> --as <new VM name> [--host H] [--datastore D] [--power-on] [--json]\n' +
  '       stillpoint restore <restore-point-id> --original --yes [--power-on] [--json]\n';

export async function run(args: string[]): Promise<number> {
  try {
    const json = flag(args, '--json');
    const powerOn = flag(args, '--power-on');
    const original = flag(args, '--original');
    const yes = flag(args, '--yes');
    const as = option(args, '--as');
    let host = option(args, '--host');
    let datastore = option(args, '--datastore');
    if (args.length !== 1 || (!as && !original) || (as && original)) { process.stderr.write(USAGE); return 2; }
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
