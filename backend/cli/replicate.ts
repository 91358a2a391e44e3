// `stillpoint replicate <vm> --host H --datastore D [--network SRC=DST]… [--keep N]`: replicate a VM to
// the DR site now and follow the run; `stillpoint replicas [--json]`: the replicas and their state.
import type { JobRun, ReplicaState, ReplicateRequest } from '../api/contract.ts';
import { flag, formatTime, option, table } from './format.ts';
import { followRun } from './follow.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';
import { formatBytes } from './progress.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

export const help: Help = {
  usage: ['stillpoint replicate <vm name or id> --host <DR host> --datastore <DR datastore> [--folder F] [--suffix S]',
    '                    [--network SRC=DST]… [--keep N] [--no-wait] [--json]'],
  summary: 'Replicate a VM to the DR site now, from a consistent snapshot of the running VM, and follow the run.\n' +
    'The first run creates the replica (powered off, marked as a replica, named <vm><suffix>); every run\n' +
    'writes its disks whole (full upload) and adds a recovery point (a snapshot on the replica).',
  options: [
    ['--host H', 'DR host, by name or id'],
    ['--datastore D', 'DR datastore of the replica\'s files'],
    ['--folder F', 'VM folder at DR (default: the datacenter\'s VM folder)'],
    ['--suffix S', 'appended to the VM\'s name for the replica (default -replica)'],
    ['--network SRC=DST', 'put NICs on source network SRC on DR network DST (repeatable); unmapped NICs are disconnected'],
    ['--keep N', 'recovery points to keep, 1..28 (default 7); older ones are removed'],
    ['--no-wait', 'start the run and print its id; `stillpoint runs follow <id>` follows it later'],
    ['--json', 'the finished run as JSON (no progress bar)'],
  ],
  notes: 'Exit code 0 when the run succeeded (warnings included), 1 otherwise.',
  examples: ['stillpoint replicate win-app01 --host esx-dr-01.lab.local --datastore dr-ds1',
    'stillpoint replicate linux-db01 --host esx-dr-01.lab.local --datastore dr-ds1 --network "VM Network=DR Network" --keep 3'],
};

export const replicasHelp: Help = {
  usage: ['stillpoint replicas [--json]'],
  summary: 'The replicas you can see: replica, source, state (ready, syncing, error), last sync and recovery points.',
  options: [['--json', 'the replicas as JSON, with every recovery point']],
  examples: ['stillpoint replicas', 'stillpoint replicas --json | jq \'.[].points\''],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  let body: ReplicateRequest;
  try {
    const host = option(args, '--host');
    const datastore = option(args, '--datastore');
    const folder = option(args, '--folder');
    const suffix = option(args, '--suffix');
    const keep = option(args, '--keep');
    const networkMap: { source: string; target: string }[] = [];
    for (let n = option(args, '--network'); n !== undefined; n = option(args, '--network')) {
      const i = n.lastIndexOf('=');
      if (i <= 0 || i === n.length - 1) return usageError('replicate', `--network ${n}: write it as SOURCE=TARGET network names`, help);
      networkMap.push({ source: n.slice(0, i), target: n.slice(i + 1) });
    }
    if (!host || !datastore) return usageError('replicate', 'give the DR --host and --datastore', help);
    if (keep !== undefined && !/^\d+$/.test(keep)) return usageError('replicate', `--keep ${keep}: give a whole number from 1 to 28`, help);
    body = { host, datastore, ...(folder ? { folder } : {}), ...(suffix ? { suffix } : {}), ...(networkMap.length ? { networkMap } : {}), ...(keep ? { keep: Number(keep) } : {}) };
  } catch (e) {
    return usageError('replicate', (e as Error).message, help);
  }
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) return usageError('replicate', `unknown option ${unknown}`, help);
  if (args.length !== 1) return usageError('replicate', args.length ? 'name one VM' : 'name the VM to replicate', help);
  try {
    const client = new ServiceClient();
    const [vm] = await resolveVms(client, args);
    const started = await client.post<JobRun>(`/api/vms/${encodeURIComponent(vm!.id)}/replicate`, body);
    const done = noWait ? started : await followRun(client, started, { quiet: json });
    if (json) process.stdout.write(JSON.stringify(done, null, 2) + '\n');
    else if (noWait) process.stdout.write(`${done.id}\n`);
    else {
      for (const v of done.vms) {
        process.stdout.write(`${v.vmName}: ${v.status}${v.consistency ? `, ${v.consistency}-consistent` : ''}, sent ${formatBytes(v.bytesRead)}` +
          `${v.message ? `: ${v.message}` : ''}\n`);
        for (const w of v.warnings) process.stdout.write(`  warning: ${w}\n`);
      }
    }
    return done.status === 'success' || done.status === 'warning' || noWait ? 0 : 1;
  } catch (e) {
    process.stderr.write(`stillpoint replicate: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function listReplicas(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(replicasHelp);
  const json = flag(args, '--json');
  if (args.length) return usageError('replicas', `unexpected ${args[0]}`, replicasHelp);
  try {
    const list = await new ServiceClient().get<ReplicaState[]>('/api/replicas');
    if (json) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return 0; }
    if (!list.length) { process.stdout.write('No replicas. `stillpoint replicate <vm> --host H --datastore D` makes one.\n'); return 0; }
    const rows = list.map((r) => r.state === 'none' ? [r.vmId, '', 'none', '', '', ''] : [
      r.replicaName ?? r.replicaVmId, r.sourceName ?? r.vmId, r.state, r.targetHost, formatTime(r.lastSync), String(r.recoveryPoints),
    ]);
    process.stdout.write(table(['REPLICA', 'SOURCE', 'STATE', 'HOST', 'LAST SYNC', 'POINTS'], rows));
    for (const r of list) if (r.state === 'error' && r.error) process.stdout.write(`${r.replicaName}: ${r.error}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint replicas: ${(e as Error).message}\n`);
    return 1;
  }
}
