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

const USAGE = 'usage: stillpoint plugin register|update|unregister|status --vcenter https://vc --user administrator@vsphere.local\n' +
  '         [--thumbprint <vCenter SHA-256>] [--manifest-url https://host:8443/plugin.json] [--server-thumbprint <SHA-256>] [--version 1.0.0.0] [--json]\n';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  const [sub, ...rest] = args;
  try {
    const vcenter = option(rest, '--vcenter') ?? process.env.STILLPOINT_VCENTER_URL;
    const user = option(rest, '--user') ?? process.env.STILLPOINT_VCENTER_USER;
    const thumbprint = option(rest, '--thumbprint') ?? process.env.STILLPOINT_VCENTER_THUMBPRINT;
    let manifestUrl = option(rest, '--manifest-url');
    let serverThumbprint = option(rest, '--server-thumbprint');
    const version = option(rest, '--version');
    if (!sub || !['register', 'update', 'unregister', 'status'].includes(sub) || !vcenter || !user || rest.length) {
      process.stderr.write(USAGE);
      return 2;
    }
    let url: URL;
    try { url = new URL(vcenter); } catch { throw new Error(`'${vcenter}' is not a URL: give the vCenter address as https://vcenter.example.com`); }
    if (url.protocol !== 'https:') throw new Error(`vCenter must be reached over https: ${vcenter}`);
    const password = process.env.STILLPOINT_VCENTER_PASSWORD ?? await promptSecret(`vCenter password for ${user}: `);
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
    else process.stdout.write(`Stillpoint ${status.version} is registered (${status.key}), manifest ${status.manifestUrl}, server thumbprint ${status.serverThumbprint}.\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint plugin: ${(e as Error).message}\n`);
    return 1;
  }
}
