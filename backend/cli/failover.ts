// `stillpoint failover <vm> [--point P] [--test|--planned|--undo|--permanent]` and `stillpoint failback
// <vm> [--transport M | --to-new NAME --host H --datastore D] [--commit|--undo]`: fail a replica over (or test, plan, undo, make permanent) and fail it back,
// following the run. <vm> is the replica or its source, by name or id.
import type { JobRun, ReplicaState } from '../api/contract.ts';
import type { FailbackNewVmDto, FailbackRequest, FailoverRequest, ReIpRuleDto } from '../api/contracts/failover.ts';
import { flag, option } from './format.ts';
import { followRun } from './follow.ts';
import { ServiceClient } from './service-client.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

export const help: Help = {
  usage: ['stillpoint failover <vm> [--point P] [--network SRC=DST]… [--reip SRC/N=DST/N[,gw=G][,dns=D1+D2]]… [--credential ID]',
    '                    [--test [--isolated NET] | --planned | --undo | --permanent --yes] [--timeout S] [--no-wait] [--json]'],
  summary: 'Fail a replica over at the DR site and follow the run. <vm> is the replica or its source (name or id).\n' +
    'Default: revert the replica to the latest (or --point) recovery point, move its NICs to their DR networks\n' +
    '(unmapped NICs stay disconnected), power it on, re-IP it through guest operations while its NICs are\n' +
    'disconnected, then connect them. Replication leaves a failed-over replica alone until undo, permanent or failback.',
  options: [
    ['--point P', 'recovery point id or name (`stillpoint replicas --json` lists them); default the latest'],
    ['--network SRC=DST', 'source network SRC goes to DR network DST (repeatable); default the networks replication gave the replica'],
    ['--reip RULE', 'guest addresses in SRC/N get the same host bits in DST/N, with gateway and DNS (repeatable); needs --credential'],
    ['--credential ID', 'stored guest credential for the re-IP commands (`GET /api/credentials`)'],
    ['--test', 'test failover: protective snapshot, isolated network, wait for the Tools heartbeat, then clean up (the replica is as before)'],
    ['--isolated NET', 'with --test: the isolated portgroup (default Stillpoint-Test-Isolated)'],
    ['--planned', 'planned failover: sync, shut the source down through Tools (power off after --timeout), sync again, fail over'],
    ['--undo', 'undo the failover: power off, back to the point it started from (what it did is discarded); replication resumes'],
    ['--permanent', 'commit the failover: remove the recovery points, the replica becomes the VM, its source leaves replication (needs --yes)'],
    ['--timeout S', 'seconds to wait for VMware Tools (or, with --planned, for the source\'s shutdown)'],
    ['--no-wait', 'start the run and print its id'],
    ['--json', 'the finished run as JSON'],
  ],
  notes: 'Exit code 0 when the run succeeded (warnings included), 1 when it failed, 2 for a usage mistake.',
  examples: [
    'stillpoint failover win-app01 --network Prod-App=DR-App --reip 10.20.0.0/16=192.168.120.0/24,gw=192.168.120.1,dns=192.168.120.53 --credential 6f1c…',
    'stillpoint failover win-app01 --test',
    'stillpoint failover linux-db01 --planned --network "VM Network=DR-Network"',
    'stillpoint failover win-app01 --point "stillpoint 2026-12-02 10:40 application-consistent"',
    'stillpoint failover win-app01 --undo',
    'stillpoint failover win-app01 --permanent --yes',
  ],
};

export const failbackHelp: Help = {
  usage: ['stillpoint failback <vm> [--transport auto|hot-add|full-upload] [--commit-now] [--timeout S] [--no-wait] [--json]',
    'stillpoint failback <vm> --to-new NAME --host H --datastore D [--folder F] [--network DR=PROD]… [--commit-now] …',
    'stillpoint failback <vm> --commit | --undo'],
  summary: 'Fail a failed-over replica back. To its original VM (powered off): the replica is shut down, only what\n' +
    'changed on it since the failover (CBT) is sent back, the original VM gets it and is powered on. With --to-new: a new\n' +
    'VM is made at production with the replica\'s configuration and a full copy of its disks (read through a transporter\n' +
    'at the DR site), it is powered on and the replica\'s replication jobs replicate it from then on.\n' +
    'Then --commit (the replica becomes a ready replica again) or --undo (the original VM back as it was, or the new VM\n' +
    'deleted and the jobs pointed back; the replica runs).',
  options: [
    ['--transport MODE', 'to the original VM: hot-add (through a transporter paired at production: only the changed pieces are sent), full-upload (the whole disks), auto (default: hot-add when a transporter serves its datastore)'],
    ['--to-new NAME', 'fail back to a new VM of this name (refused when a VM has it) instead of the original'],
    ['--host H', 'with --to-new: the production host (name or id)'],
    ['--datastore D', 'with --to-new: the datastore of the new VM'],
    ['--folder F', 'with --to-new: the VM folder (default the datacenter\'s)'],
    ['--network DR=PROD', 'with --to-new: the replica\'s network DR goes to production network PROD (repeatable)'],
    ['--commit', 'commit the failback that waits'],
    ['--undo', 'undo the failback that waits'],
    ['--commit-now', 'fail back and commit in one run'],
    ['--timeout S', 'seconds the replica\'s guest may take to shut down before it is powered off'],
    ['--no-wait', 'start the run and print its id'],
    ['--json', 'the finished run as JSON'],
  ],
  notes: 'Exit code 0 when the run succeeded (warnings included), 1 when it failed, 2 for a usage mistake.',
  examples: [
    'stillpoint failback win-app01', 'stillpoint failback win-app01 --transport hot-add',
    'stillpoint failback win-app01 --to-new win-app01-new --host esx-prod-02.lab.local --datastore prod-ds2 --network DR-App=Prod-App',
    'stillpoint failback win-app01 --commit', 'stillpoint failback win-app01 --undo',
  ],
};

/** "10.20.0.0/16=192.168.120.0/24,gw=192.168.120.1,dns=192.168.120.53+192.168.120.54" */
export function parseReIp(text: string): ReIpRuleDto {
  const [pair, ...extras] = text.split(',');
  const i = pair!.indexOf('=');
  if (i <= 0 || i === pair!.length - 1) throw new Error(`--reip ${text}: write it as SOURCE/N=TARGET/N[,gw=GATEWAY][,dns=D1+D2]`);
  const rule: ReIpRuleDto = { sourceSubnet: pair!.slice(0, i), targetSubnet: pair!.slice(i + 1) };
  for (const e of extras) {
    const [k, v] = e.split('=');
    if (k === 'gw' && v) rule.gateway = v;
    else if (k === 'dns' && v) rule.dns = v.split('+');
    else throw new Error(`--reip ${text}: '${e}' is neither gw=ADDRESS nor dns=D1+D2`);
  }
  return rule;
}

/** The replica (its VM id) named by a replica or source name or id. */
async function replicaId(client: ServiceClient, arg: string): Promise<{ id: string; name: string }> {
  const list = (await client.get<ReplicaState[]>('/api/replicas')).filter((r): r is Extract<ReplicaState, { replicaVmId: string }> => r.state !== 'none');
  const hit = list.filter((r) => [r.replicaVmId, r.replicaName, r.vmId, r.sourceName].includes(arg));
  if (hit.length === 1) return { id: hit[0]!.replicaVmId, name: hit[0]!.replicaName ?? hit[0]!.replicaVmId };
  if (!hit.length) throw new Error(`no replica of or named '${arg}': \`stillpoint replicas\` lists them`);
  throw new Error(`'${arg}' names ${hit.length} replicas (${hit.map((h) => h.replicaVmId).join(', ')}): give the replica's id`);
}

async function start(command: string, args: string[], path: (id: string) => string, body: unknown, json: boolean, noWait: boolean): Promise<number> {
  try {
    const client = new ServiceClient();
    const r = await replicaId(client, args[0]!);
    const started = await client.post<JobRun>(path(r.id), body);
    const done = noWait ? started : await followRun(client, started, { quiet: json });
    if (json) process.stdout.write(JSON.stringify(done, null, 2) + '\n');
    else if (noWait) process.stdout.write(`${done.id}\n`);
    else {
      for (const v of done.vms) {
        process.stdout.write(`${v.vmName}: ${v.status}${v.message ? `: ${v.message}` : ''}\n`);
        for (const w of v.warnings) process.stdout.write(`  warning: ${w}\n`);
      }
    }
    return done.status === 'success' || done.status === 'warning' || noWait ? 0 : 1;
  } catch (e) {
    process.stderr.write(`stillpoint ${command}: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  const test = flag(args, '--test');
  const planned = flag(args, '--planned');
  const undo = flag(args, '--undo');
  const permanent = flag(args, '--permanent');
  const yes = flag(args, '--yes');
  let body: FailoverRequest;
  try {
    const point = option(args, '--point');
    const credential = option(args, '--credential');
    const isolated = option(args, '--isolated');
    const timeout = option(args, '--timeout');
    const networkMap: { source: string; target: string }[] = [];
    for (let n = option(args, '--network'); n !== undefined; n = option(args, '--network')) {
      const i = n.lastIndexOf('=');
      if (i <= 0 || i === n.length - 1) return usageError('failover', `--network ${n}: write it as SOURCE=TARGET network names`, help);
      networkMap.push({ source: n.slice(0, i), target: n.slice(i + 1) });
    }
    const reIp: ReIpRuleDto[] = [];
    for (let r = option(args, '--reip'); r !== undefined; r = option(args, '--reip')) reIp.push(parseReIp(r));
    if ([test, planned, undo, permanent].filter(Boolean).length > 1) return usageError('failover', 'choose one of --test, --planned, --undo, --permanent', help);
    if (timeout !== undefined && !/^\d+$/.test(timeout)) return usageError('failover', `--timeout ${timeout}: give whole seconds`, help);
    if (reIp.length && !credential) return usageError('failover', '--reip needs --credential (the re-IP commands run in the guest)', help);
    if (permanent && !yes) return usageError('failover', '--permanent removes every recovery point of the replica and cannot be undone: add --yes', help);
    body = {
      ...(test ? { mode: 'test' as const } : planned ? { mode: 'planned' as const } : {}), ...(point ? { point } : {}), ...(networkMap.length ? { networkMap } : {}),
      ...(reIp.length ? { reIp } : {}), ...(credential ? { guestCredentialId: credential } : {}), ...(isolated ? { isolatedNetwork: isolated } : {}),
      ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
    };
  } catch (e) {
    return usageError('failover', (e as Error).message, help);
  }
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) return usageError('failover', `unknown option ${unknown}`, help);
  if (args.length !== 1) return usageError('failover', args.length ? 'name one VM' : 'name the replica or its source VM', help);
  const enc = (id: string) => `/api/replicas/${encodeURIComponent(id)}`;
  if (undo) return start('failover', args, (id) => `${enc(id)}/undo`, undefined, json, noWait);
  if (permanent) return start('failover', args, (id) => `${enc(id)}/permanent`, { confirm: true }, json, noWait);
  return start('failover', args, (id) => `${enc(id)}/failover`, body, json, noWait);
}

export async function failback(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(failbackHelp);
  const json = flag(args, '--json');
  const noWait = flag(args, '--no-wait');
  const commit = flag(args, '--commit');
  const undo = flag(args, '--undo');
  const now = flag(args, '--commit-now');
  let timeout: string | undefined;
  let transport: string | undefined;
  let toNew: FailbackNewVmDto | undefined;
  try {
    timeout = option(args, '--timeout');
    transport = option(args, '--transport');
    const name = option(args, '--to-new');
    const host = option(args, '--host');
    const datastore = option(args, '--datastore');
    const folder = option(args, '--folder');
    const networkMap: { source: string; target: string }[] = [];
    for (let n = option(args, '--network'); n !== undefined; n = option(args, '--network')) {
      const i = n.lastIndexOf('=');
      if (i <= 0 || i === n.length - 1) return usageError('failback', `--network ${n}: write it as DR=PRODUCTION network names`, failbackHelp);
      networkMap.push({ source: n.slice(0, i), target: n.slice(i + 1) });
    }
    if (name !== undefined) {
      if (!host || !datastore) return usageError('failback', '--to-new needs --host and --datastore: where the new VM goes at production', failbackHelp);
      toNew = { name, host, datastore, ...(folder ? { folder } : {}), ...(networkMap.length ? { networkMap } : {}) };
    } else if (host || datastore || folder || networkMap.length) {
      return usageError('failback', '--host, --datastore, --folder and --network go with --to-new NAME', failbackHelp);
    }
  } catch (e) { return usageError('failback', (e as Error).message, failbackHelp); }
  if ([commit, undo, now].filter(Boolean).length > 1) return usageError('failback', 'choose one of --commit, --undo, --commit-now', failbackHelp);
  if (timeout !== undefined && !/^\d+$/.test(timeout)) return usageError('failback', `--timeout ${timeout}: give whole seconds`, failbackHelp);
  if (transport !== undefined && !['auto', 'hot-add', 'full-upload'].includes(transport)) return usageError('failback', `--transport ${transport}: choose auto, hot-add or full-upload`, failbackHelp);
  if (toNew && transport) return usageError('failback', '--transport is for the original VM: a new VM gets a full copy', failbackHelp);
  if ((commit || undo) && (toNew || transport)) return usageError('failback', '--commit and --undo act on the failback that waits: leave out --to-new and --transport', failbackHelp);
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) return usageError('failback', `unknown option ${unknown}`, failbackHelp);
  if (args.length !== 1) return usageError('failback', args.length ? 'name one VM' : 'name the replica or its source VM', failbackHelp);
  const body: FailbackRequest = {
    action: commit ? 'commit' : undo ? 'undo' : 'failback', ...(now ? { commit: true } : {}), ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
    ...(transport ? { transport: transport as NonNullable<FailbackRequest['transport']> } : {}), ...(toNew ? { toNew } : {}),
  };
  return start('failback', args, (id) => `/api/replicas/${encodeURIComponent(id)}/failback`, body, json, noWait);
}
