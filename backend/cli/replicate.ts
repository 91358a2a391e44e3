// `stillpoint replicate <vm> --host H --datastore D [--network SRC=DST]… [--keep N]`: replicate a VM to
// the DR site now and follow the run; with `--job NAME` the same target is saved as a replication job
// (schedule, RPO, source) and run; `stillpoint replicas [--json]`: the replicas, their state and RPO.
import type { JobRun, ReplicaRpo, ReplicaState, ReplicateRequest, ReplicationJob, ReplicationJobInput } from '../api/contract.ts';
import { flag, formatTime, option, table } from './format.ts';
import { followRun } from './follow.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';
import { formatBytes } from './progress.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

export const help: Help = {
  usage: ['stillpoint replicate <vm name or id> --host <DR host> --datastore <DR datastore> [--folder F] [--suffix S]',
    '                    [--network SRC=DST]… [--keep N] [--no-wait] [--json]',
    '                    [--job NAME [--schedule CRON] [--rpo MINUTES] [--site S] [--from-backup] [--no-quiesce] [--no-run]]'],
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
    ['--job NAME', 'save this as a replication job named NAME (kept on the service, run by its schedule) and run it now'],
    ['--schedule CRON', 'with --job: when the job runs, e.g. "*/15 * * * *" (default: on demand only)'],
    ['--rpo MINUTES', 'with --job: the RPO target; an older newest recovery point is a warning, twice as old an error (default 60)'],
    ['--site S', 'with --job: the DR site (a configured vCenter) of --host and --datastore (default the primary)'],
    ['--from-backup', 'with --job: replicate from the VM\'s newest restore point in the repository (no snapshot on production)'],
    ['--no-quiesce', 'with --job: crash-consistent snapshots (no VMware Tools quiescing)'],
    ['--no-run', 'with --job: save the job without running it'],
    ['--no-wait', 'start the run and print its id; `stillpoint runs follow <id>` follows it later'],
    ['--json', 'the finished run as JSON (no progress bar)'],
  ],
  notes: 'Exit code 0 when the run succeeded (warnings included), 1 otherwise.',
  examples: ['stillpoint replicate win-app01 --host esx-dr-01.lab.local --datastore dr-ds1',
    'stillpoint replicate linux-db01 --host esx-dr-01.lab.local --datastore dr-ds1 --network "VM Network=DR Network" --keep 3',
    'stillpoint replicate linux-db01 --host esx-dr-01.lab.local --datastore dr-ds1 --job "DR db" --schedule "*/30 * * * *" --rpo 60',
    'stillpoint replicate linux-db01 --site dr --host esx-dr-01.lab.local --datastore dr-ds1 --job "DR db (other vCenter)" --from-backup'],
};

export const replicasHelp: Help = {
  usage: ['stillpoint replicas [--json]'],
  summary: 'The replicas you can see: replica, source, state (ready, syncing, failed over, error), last sync,\n' +
    'RPO compliance (age of the newest point ÷ the replication job\'s RPO: ok, warning over 1×, error over 2×)\n' +
    'and recovery points.',
  options: [['--json', 'the replicas as JSON, with every recovery point']],
  examples: ['stillpoint replicas', 'stillpoint replicas --json | jq \'.[].points\''],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  let body: ReplicateRequest;
  let job: { name: string; schedule?: string; rpo: number; site?: string; fromBackup: boolean; quiesce: boolean; run: boolean } | undefined;
  try {
    const jobName = option(args, '--job');
    const schedule = option(args, '--schedule');
    const rpo = option(args, '--rpo');
    const site = option(args, '--site');
    const fromBackup = flag(args, '--from-backup');
    const noQuiesce = flag(args, '--no-quiesce');
    const noRun = flag(args, '--no-run');
    if (jobName === undefined && (schedule !== undefined || rpo !== undefined || site !== undefined || fromBackup || noQuiesce || noRun)) {
      return usageError('replicate', '--schedule, --rpo, --site, --from-backup, --no-quiesce and --no-run belong to a job: add --job NAME', help);
    }
    if (rpo !== undefined && !/^\d+$/.test(rpo)) return usageError('replicate', `--rpo ${rpo}: give whole minutes, e.g. 60`, help);
    if (jobName !== undefined) {
      job = { name: jobName, ...(schedule ? { schedule } : {}), rpo: rpo ? Number(rpo) : 60, ...(site ? { site } : {}), fromBackup, quiesce: !noQuiesce, run: !noRun };
    }
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
    let started: JobRun;
    if (job) {
      const input: ReplicationJobInput = {
        name: job.name, vmIds: [vm!.id], source: job.fromBackup ? 'backup' : 'snapshot',
        target: { ...(job.site ? { site: job.site } : {}), host: body.host, datastore: body.datastore, ...(body.folder ? { folder: body.folder } : {}), ...(body.suffix ? { suffix: body.suffix } : {}), ...(body.networkMap ? { networkMap: body.networkMap } : {}) },
        schedule: { cron: job.schedule ?? null }, rpoMinutes: job.rpo, keepPoints: body.keep ?? 7,
        appAware: { quiesce: job.quiesce, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
      };
      const saved = await client.post<ReplicationJob>('/api/replication-jobs', input);
      process.stderr.write(`Saved replication job '${saved.name}' (${saved.id})${saved.nextRun ? `, next run ${formatTime(saved.nextRun)}` : ''}.\n`);
      if (!job.run) { if (json) process.stdout.write(JSON.stringify(saved, null, 2) + '\n'); return 0; }
      started = await client.post<JobRun>(`/api/replication-jobs/${encodeURIComponent(saved.id)}/run`);
    } else {
      started = await client.post<JobRun>(`/api/vms/${encodeURIComponent(vm!.id)}/replicate`, body);
    }
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
    const rows = list.map((r) => r.state === 'none' ? [r.vmId, '', 'none', '', '', '', ''] : [
      r.replicaName ?? r.replicaVmId, r.sourceName ?? r.vmId, r.state, r.targetHost, formatTime(r.lastSync), rpoText(r.rpo), String(r.recoveryPoints),
    ]);
    process.stdout.write(table(['REPLICA', 'SOURCE', 'STATE', 'HOST', 'LAST SYNC', 'RPO', 'POINTS'], rows));
    for (const r of list) if (r.state === 'error' && r.error) process.stdout.write(`${r.replicaName}: ${r.error}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint replicas: ${(e as Error).message}\n`);
    return 1;
  }
}

/** "ok 0.2× of 60 min", "warning 1.5× of 60 min", "error (no point) of 60 min", "-" without a job. */
function rpoText(r: ReplicaRpo | undefined): string {
  if (!r) return '-';
  return `${r.level} ${r.ratio !== undefined ? `${r.ratio}×` : '(no point)'} of ${r.rpoMinutes} min`;
}
