// `stillpoint transporter` — pair, list and remove transporters (helper VMs at the DR site that write
// replica disks by hot-add), and `run`: be one, on the helper VM itself.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir } from '../config.ts';
import type { TransporterInfo } from '../replication/transport/hub.ts';
import { LabDeviceLocator, ScsiDeviceLocator, type DeviceLocator } from '../replication/transport/devices.ts';
import { Transporter } from '../replication/transport/transporter.ts';
import { flag, formatTime, option, table } from './format.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';

export const help: Help = {
  usage: ['stillpoint transporter [pair|list|unpair|run] … '],
  summary: 'Transporters: Stillpoint processes on helper VMs at the DR site that attach replica disks to their own VM\n' +
    '(hot-add) and write only the changed blocks. Pair a helper VM here, then start `stillpoint transporter run`\n' +
    'on it with the token; replication runs use it whenever its host mounts the replica\'s datastore.',
  examples: ['stillpoint transporter pair dr-transporter01', 'stillpoint transporter list',
    'STILLPOINT_TRANSPORTER_TOKEN=sptp_… stillpoint transporter run --listen 0.0.0.0:8444 --advertise dr-transporter01.example.com'],
};

export const commands: Record<string, Help> = {
  pair: {
    usage: ['stillpoint transporter pair <helper VM name or id> [--name N] [--json]'],
    summary: 'pair a helper VM at the DR site; prints the token to start its transporter with (shown once; pairing the VM again replaces it)',
    options: [['--name N', 'what runs and logs call it (default: the VM\'s name)'], ['--json', 'the pairing as JSON']],
    notes: 'Needs Global.Settings on the root folder: the transporter receives vCenter sessions of the service account.',
    examples: ['stillpoint transporter pair dr-transporter01', 'stillpoint transporter pair vm-42 --name dr-proxy-a --json'],
  },
  list: {
    usage: ['stillpoint transporter list [--json]'],
    summary: 'the paired transporters: helper VM, site, running now or not, where it listens',
    options: [['--json', 'the transporters as JSON']],
    examples: ['stillpoint transporter list', 'stillpoint transporter list --json'],
  },
  unpair: {
    usage: ['stillpoint transporter unpair <name or id>'],
    summary: 'remove a pairing: its token stops working, runs no longer use it',
    examples: ['stillpoint transporter unpair dr-transporter01'],
  },
  run: {
    usage: ['stillpoint transporter run [--token T] [--listen HOST:PORT] [--advertise HOST] [--data-dir D]',
      '                          [--lease-seconds N] [--renew-seconds N] [--devices scsi|lab] [--lab-url URL --lab-token T --lab-ca FILE]'],
    summary: 'be a transporter (on the helper VM): register with the service, attach replica disks, write changed blocks',
    options: [
      ['--token T', 'the pairing token (or STILLPOINT_TRANSPORTER_TOKEN, which keeps it out of the process list)'],
      ['--listen HOST:PORT', 'where the service reaches this transporter over HTTPS (default 0.0.0.0:8444; port 0: any free port)'],
      ['--advertise HOST', 'the host name or address the service uses for it (default: the listen address)'],
      ['--data-dir D', 'where its TLS certificate is kept (default ~/.local/state/stillpoint-transporter)'],
      ['--lease-seconds N', 'a session the service leaves idle this long is ended, its disks detached (default 120)'],
      ['--renew-seconds N', 'how often it registers again, so a restarted service knows it (default 20)'],
      ['--devices scsi|lab', 'how attached disks are found: scsi = /dev/disk/by-id/wwn-0x<disk uuid> (needs disk.EnableUUID=TRUE); lab = the lab vCenter\'s device paths'],
      ['--lab-url, --lab-token, --lab-ca', 'for --devices lab: the lab\'s address, control token and certificate file'],
    ],
    notes: 'The service is STILLPOINT_URL (trusting STILLPOINT_CA, a PEM file). Prints one JSON line when ready: {"url","id","name","helperVm","cleaned"}.\n' +
      'At start it detaches replica disks a killed predecessor left attached; SIGTERM/SIGINT detach before exiting.',
    examples: ['STILLPOINT_URL=https://stillpoint.example.com:8443 STILLPOINT_CA=/etc/stillpoint/ca.pem STILLPOINT_TRANSPORTER_TOKEN=sptp_… stillpoint transporter run',
      'stillpoint transporter run --token sptp_… --listen 10.0.5.20:8444'],
  },
};

export async function run(args: string[]): Promise<number> {
  const askedHelp = wantsHelp(args);
  const json = flag(args, '--json');
  const [sub = 'list', ...rest] = args;
  if (askedHelp) return args.length && commands[sub] ? showHelp(commands[sub]) : showHelp(help, commands);
  if (!commands[sub]) return usageError('transporter', `unknown command '${sub}'`, help, commands);
  try {
    if (sub === 'run') return await runTransporter(rest);
    const client = new ServiceClient();
    switch (sub) {
      case 'pair': {
        const name = option(rest, '--name');
        if (rest.length !== 1 || rest[0]!.startsWith('-')) return usageError('transporter pair', 'name the helper VM', commands.pair!);
        const [vm] = await resolveVms(client, rest);
        const r = await client.post<{ id: string; name: string; helperVm: string; token: string }>('/api/transporters/pair', { vm: vm!.id, ...(name ? { name } : {}) });
        process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n'
          : `Paired transporter '${r.name}' (${r.id}) on VM ${vm!.name}. Its token, shown only now:\n\n  ${r.token}\n\n` +
            `On that VM: STILLPOINT_URL=${client.baseUrl} STILLPOINT_TRANSPORTER_TOKEN=<token> stillpoint transporter run\n`);
        return 0;
      }
      case 'list': {
        const list = await client.get<TransporterInfo[]>('/api/transporters');
        process.stdout.write(json ? JSON.stringify(list, null, 2) + '\n'
          : table(['NAME', 'HELPER VM', 'SITE', 'RUNNING', 'URL', 'PAIRED'], list.map((t) => [t.name, t.helperVm, t.site, t.online ? 'yes' : 'no', t.url ?? '-', formatTime(t.pairedAt)])));
        return 0;
      }
      case 'unpair': {
        if (rest.length !== 1) return usageError('transporter unpair', 'name one transporter', commands.unpair!);
        const list = await client.get<TransporterInfo[]>('/api/transporters');
        const t = list.find((x) => x.id === rest[0] || x.name === rest[0]);
        if (!t) throw new Error(`no transporter '${rest[0]}'; list them with \`stillpoint transporter list\``);
        await client.request('DELETE', `/api/transporters/${t.id}`);
        process.stdout.write(`Removed transporter '${t.name}'.\n`);
        return 0;
      }
    }
    return 2;
  } catch (e) {
    process.stderr.write(`stillpoint transporter ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
}

async function runTransporter(args: string[]): Promise<number> {
  const token = option(args, '--token') ?? process.env.STILLPOINT_TRANSPORTER_TOKEN;
  const listen = option(args, '--listen') ?? '0.0.0.0:8444';
  const advertise = option(args, '--advertise');
  const dataDir = option(args, '--data-dir') ?? join(homedir(), '.local', 'state', 'stillpoint-transporter');
  const lease = option(args, '--lease-seconds');
  const renew = option(args, '--renew-seconds');
  const devicesKind = option(args, '--devices') ?? 'scsi';
  const labUrl = option(args, '--lab-url');
  const labToken = option(args, '--lab-token');
  const labCa = option(args, '--lab-ca');
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) return usageError('transporter run', `unknown option ${unknown}`, commands.run!);
  if (!token) return usageError('transporter run', 'give the pairing token (--token or STILLPOINT_TRANSPORTER_TOKEN); `stillpoint transporter pair` prints it', commands.run!);
  const m = /^(.+):(\d+)$/.exec(listen);
  if (!m) return usageError('transporter run', `--listen ${listen}: write it as HOST:PORT`, commands.run!);
  for (const [name, v] of [['--lease-seconds', lease], ['--renew-seconds', renew]] as const) {
    if (v !== undefined && !/^[1-9]\d*$/.test(v)) return usageError('transporter run', `${name} ${v}: give a whole number of seconds`, commands.run!);
  }
  let devices: DeviceLocator;
  if (devicesKind === 'lab') {
    if (!labUrl || !labToken || !labCa) return usageError('transporter run', '--devices lab needs --lab-url, --lab-token and --lab-ca', commands.run!);
    devices = new LabDeviceLocator(labUrl, labToken, readFileSync(labCa, 'utf8'));
  } else if (devicesKind === 'scsi') {
    devices = new ScsiDeviceLocator();
  } else {
    return usageError('transporter run', `--devices ${devicesKind}: scsi or lab`, commands.run!);
  }
  const serviceUrl = process.env.STILLPOINT_URL ?? 'https://127.0.0.1:8443';
  const caFile = process.env.STILLPOINT_CA ?? join(process.env.STILLPOINT_DATA_DIR ?? defaultDataDir(), 'tls', 'server.crt');
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const t = new Transporter({
    serviceUrl, ...(existsSync(caFile) ? { serviceCa: readFileSync(caFile, 'utf8') } : {}), pairingToken: token,
    listenHost: m[1]!.replace(/^\[|\]$/g, ''), listenPort: Number(m[2]), ...(advertise ? { advertiseHost: advertise } : {}),
    dataDir, devices, ...(lease !== undefined ? { leaseMs: Number(lease) * 1000 } : {}), ...(renew !== undefined ? { renewMs: Number(renew) * 1000 } : {}), version,
  });
  const started = await t.start();
  process.stdout.write(JSON.stringify({ url: started.url, id: started.registration.id, name: started.registration.name, helperVm: started.registration.helperVm, cleaned: started.cleaned }) + '\n');
  await new Promise<void>((resolve) => {
    const stop = () => { void t.stop().finally(resolve); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.stderr.write(`stillpoint transporter: stopped after writing ${t.bytesWritten} bytes\n`);
  return 0;
}
