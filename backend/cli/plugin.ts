// `stillpoint plugin register|update|unregister|status --vcenter URL --user U [--thumbprint T]
//  [--manifest-url URL --server-thumbprint T] [--version V] [--json]`
// The vCenter password comes from STILLPOINT_VCENTER_PASSWORD or a prompt. Without --manifest-url
// the local service's address and certificate are used (STILLPOINT_URL, data folder).
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDataDir } from '../config.ts';
import { pluginStatus, registerPlugin, unregisterPlugin, updatePlugin, type PluginStatus, type VcenterTarget } from '../../plugin/registration.ts';
import { flag, option } from './format.ts';
import { promptSecret } from './prompt.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';

const COMMON: [string, string][] = [
  ['--vcenter URL', 'vCenter\'s address, https://… (default STILLPOINT_VCENTER_URL)'],
  ['--user U', 'a vCenter administrator (default STILLPOINT_VCENTER_USER)'],
  ['--thumbprint T', 'SHA-256 of vCenter\'s certificate, to pin it (default STILLPOINT_VCENTER_THUMBPRINT; else system CAs)'],
  ['--json', 'the registration as JSON'],
];
const PASSWORD = 'The password is asked on the terminal, or taken from STILLPOINT_VCENTER_PASSWORD.';
const SERVER: [string, string][] = [
  ['--manifest-url URL', 'where vCenter fetches plugin.json (default STILLPOINT_PUBLIC_URL or STILLPOINT_URL + /plugin.json)'],
  ['--server-thumbprint T', 'SHA-256 of the service\'s certificate (default: read from the data folder\'s tls/server.crt)'],
  ['--version V', 'the plugin version vCenter shows (register: 1.0.0.0)'],
];
const VC = '--vcenter https://vcenter.example.com --user administrator@vsphere.local';

export const help: Help = {
  usage: ['stillpoint plugin register|update|unregister|status --vcenter URL --user U [options]'],
  summary: 'The vSphere Client plugin\'s registration in vCenter (ExtensionManager).',
  examples: [`stillpoint plugin status ${VC}`, `stillpoint plugin register ${VC}`],
};

export const commands: Record<string, Help> = {
  register: {
    usage: ['stillpoint plugin register --vcenter URL --user U [--thumbprint T] [--manifest-url URL] [--server-thumbprint T] [--version V] [--json]'],
    summary: 'register the plugin so the vSphere Client loads it from this service',
    options: [...COMMON, ...SERVER], notes: PASSWORD,
    examples: [`stillpoint plugin register ${VC}`, `stillpoint plugin register ${VC} --manifest-url https://stillpoint.example.com:8443/plugin.json`],
  },
  update: {
    usage: ['stillpoint plugin update --vcenter URL --user U [--thumbprint T] [--manifest-url URL] [--server-thumbprint T] [--version V] [--json]'],
    summary: 'point the registration at a new address, certificate or version',
    options: [...COMMON, ...SERVER], notes: PASSWORD,
    examples: [`stillpoint plugin update ${VC} --version 1.1.0.0`],
  },
  unregister: {
    usage: ['stillpoint plugin unregister --vcenter URL --user U [--thumbprint T] [--json]'],
    summary: 'remove the plugin from vCenter',
    options: COMMON, notes: PASSWORD,
    examples: [`stillpoint plugin unregister ${VC}`],
  },
  status: {
    usage: ['stillpoint plugin status --vcenter URL --user U [--thumbprint T] [--json]'],
    summary: 'whether the plugin is registered, with its version, manifest address and server thumbprint',
    options: COMMON, notes: PASSWORD,
    examples: [`stillpoint plugin status ${VC}`, `STILLPOINT_VCENTER_PASSWORD=… stillpoint plugin status ${VC} --json`],
  },
};

export async function run(args: string[]): Promise<number> {
  const askedHelp = wantsHelp(args);
  const json = flag(args, '--json');
  const [sub, ...rest] = args;
  if (askedHelp) return sub && commands[sub] ? showHelp(commands[sub]) : showHelp(help, commands);
  try {
    const vcenter = option(rest, '--vcenter') ?? process.env.STILLPOINT_VCENTER_URL;
    const user = option(rest, '--user') ?? process.env.STILLPOINT_VCENTER_USER;
    const thumbprint = option(rest, '--thumbprint') ?? process.env.STILLPOINT_VCENTER_THUMBPRINT;
    let manifestUrl = option(rest, '--manifest-url');
    let serverThumbprint = option(rest, '--server-thumbprint');
    const version = option(rest, '--version');
    if (!sub || !commands[sub]) return usageError('plugin', sub ? `unknown command '${sub}'` : 'give a command', help, commands);
    if (!vcenter || !user || rest.length) {
      return usageError(`plugin ${sub}`, rest.length ? `unexpected '${rest[0]}'` : `give ${!vcenter ? '--vcenter' : '--user'}`, commands[sub]!);
    }
    let url: URL;
    try { url = new URL(vcenter); } catch { throw new Error(`'${vcenter}' is not a URL: give the vCenter address as https://vcenter.example.com`); }
    if (url.protocol !== 'https:') throw new Error(`vCenter must be reached over https: ${vcenter}`);
    const password = process.env.STILLPOINT_VCENTER_PASSWORD ?? await promptSecret(`vCenter password for ${user}: `, 'STILLPOINT_VCENTER_PASSWORD');
    const target: VcenterTarget = { url: vcenter, username: user, password, ...(thumbprint ? { thumbprint } : {}) };
    if ((sub === 'register' || sub === 'update') && (!manifestUrl || !serverThumbprint)) {
      const crt = join(defaultDataDir(), 'tls', 'server.crt');
      manifestUrl ??= `${(process.env.STILLPOINT_PUBLIC_URL ?? process.env.STILLPOINT_URL ?? 'https://127.0.0.1:8443').replace(/\/$/, '')}/plugin.json`;
      if (!serverThumbprint) {
        if (!existsSync(crt)) throw new Error(`give --server-thumbprint, or start the service once so it creates its certificate (${crt})`);
        serverThumbprint = new X509Certificate(readFileSync(crt)).fingerprint256;
      }
    }
    let status: PluginStatus;
    if (sub === 'register') status = await registerPlugin(target, { manifestUrl: manifestUrl!, serverThumbprint: serverThumbprint!, version: version ?? '1.0.0.0' });
    else if (sub === 'update') status = await updatePlugin(target, { manifestUrl: manifestUrl!, serverThumbprint: serverThumbprint!, ...(version ? { version } : {}) });
    else if (sub === 'unregister') status = await unregisterPlugin(target);
    else status = await pluginStatus(target);
    if (json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    else if (!status.registered) process.stdout.write(sub === 'unregister' ? 'Stillpoint is unregistered from vCenter.\n' : 'Stillpoint is not registered in this vCenter.\n');
    else process.stdout.write(`Stillpoint ${status.version} is registered (${status.key}), manifest ${status.manifestUrl}, server thumbprint ${status.serverThumbprint}${status.alarms ? `, ${status.alarms.length} vCenter alarms` : ''}.\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint plugin: ${(e as Error).message}\n`);
    return 1;
  }
}
