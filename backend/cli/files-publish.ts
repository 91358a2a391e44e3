// `stillpoint files publish POINT [--disk KEY]... [--tls] [--expires MINUTES] [--allow ADDR]...`,
// `stillpoint files unpublish ID`, `stillpoint files publications`: a restore point's disks
// published read-only over NBD through the service, for nbdinfo, nbdcopy, qemu-img, nbd-client.
// The `files` family (files.ts) lists these in its subcommand table.
import { join } from 'node:path';
import type { DiskPublication, DiskPublishRequest } from '../api/contract.ts';
import { defaultDataDir } from '../config.ts';
import { flag, option, table } from './format.ts';
import { formatBytes } from './progress.ts';
import { ServiceClient } from './service-client.ts';
import { usageLine } from './help.ts';


function refuseRepo(): void {
  if (process.argv.includes('--repo')) throw new Error('publishing works through the service (it serves the disks over NBD): leave out --repo');
}

/** Every value of a repeatable option. */
function options(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let v = option(args, name); v !== undefined; v = option(args, name)) out.push(v);
  return out;
}

function showPublication(p: DiskPublication): string {
  const lines = [`publication ${p.id}: restore point ${p.restorePointId} of ${p.vmName ?? p.vmId}, read-only${p.tls ? ', TLS only' : ''}` +
    `${p.expiresAt ? `, until ${p.expiresAt}` : ', until unpublished'}${p.allowFrom ? `, from ${p.allowFrom.join(', ')}` : ''}`];
  lines.push(table(['DISK', 'LABEL', 'SIZE', 'CLIENTS', 'ADDRESS'],
    p.exports.map((x) => [x.disk, x.label ?? '-', formatBytes(x.size), x.connections, x.url ?? '(only its publisher sees it)'])).trimEnd());
  return lines.join('\n') + '\n';
}

/** POINT [--disk KEY]... [--tls] [--expires MINUTES] [--allow ADDR]... */
export async function publish(args: string[], json: boolean): Promise<number> {
  refuseRepo();
  const usage = 'publish POINT [--disk KEY]... [--tls] [--expires MINUTES] [--allow ADDRESS|CIDR]...';
  const tls = flag(args, '--tls');
  const disks = options(args, '--disk');
  const allow = options(args, '--allow');
  const expires = option(args, '--expires');
  if (args.length !== 1 || disks.some((d) => !/^\d{1,10}$/.test(d)) || (expires !== undefined && !/^\d{1,6}$/.test(expires))) return usageLine('files', usage);
  const body: DiskPublishRequest = {
    ...(disks.length ? { disks: disks.map(Number) } : {}), ...(tls ? { tls } : {}),
    ...(expires ? { expiresInMinutes: Number(expires) } : {}), ...(allow.length ? { allowFrom: allow } : {}),
  };
  const client = new ServiceClient();
  const p = await client.post<DiskPublication>(`/api/restore-points/${encodeURIComponent(args[0]!)}/publish`, body);
  if (json) { process.stdout.write(JSON.stringify(p, null, 2) + '\n'); return 0; }
  process.stdout.write(showPublication(p));
  const url = p.exports[0]?.url ?? 'nbd://…';
  const ca = process.env.STILLPOINT_CA ?? join(defaultDataDir(), 'tls', 'server.crt');
  process.stdout.write('\nThe address is the key: anyone who has it can read the disk until you run ' +
    `\`stillpoint files unpublish ${p.id}\`. A service restart ends the publication.\n` +
    (p.tls
      ? `Clients check the service's certificate: put it as ca-cert.pem in a folder, then\n  nbdinfo '${url}?tls-certificates=FOLDER'\n` +
        `(the certificate: ${ca} on the service's machine).\n`
      : `Try: nbdinfo ${url}\n     nbdcopy ${url} disk.img\n     qemu-img convert -f raw -O qcow2 ${url} disk.qcow2\n`));
  return 0;
}

/** ID */
export async function unpublish(args: string[], json: boolean): Promise<number> {
  refuseRepo();
  if (args.length !== 1) return usageLine('files', 'unpublish ID');
  await new ServiceClient().request('DELETE', `/api/publications/${encodeURIComponent(args[0]!)}`);
  if (json) process.stdout.write(JSON.stringify({ id: args[0], ended: true }) + '\n');
  else process.stdout.write(`publication ${args[0]} ended: its clients were disconnected and its addresses no longer work\n`);
  return 0;
}

export async function publications(args: string[], json: boolean): Promise<number> {
  refuseRepo();
  if (args.length) return usageLine('files', 'publications');
  const list = await new ServiceClient().get<DiskPublication[]>('/api/publications');
  if (json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
  else if (!list.length) process.stdout.write('nothing is published: `stillpoint files publish POINT` publishes a restore point\'s disks\n');
  else process.stdout.write(list.map(showPublication).join('\n'));
  return 0;
}

/** Entries for the `files` subcommand table (files.ts). */
export const publishSubcommands = {
  publish: {
    usage: 'publish POINT [--disk KEY]... [--tls] [--expires MINUTES] [--allow ADDRESS|CIDR]...',
    examples: ['stillpoint files publish rp-20261202T092611Z-20a592', 'stillpoint files publish rp-20261202T092611Z-20a592 --disk 2000 --tls --expires 120 --allow 10.0.0.0/24'],
    summary: 'publish the restore point\'s disks read-only over NBD (nbd:// addresses for nbdinfo, nbdcopy, qemu-img, nbd-client) until unpublished',
    run: (args: string[], _t: unknown, json: boolean) => publish(args, json),
  },
  unpublish: {
    usage: 'unpublish ID',
    examples: ['stillpoint files unpublish pub-5f0c2a9e41d7b863'],
    summary: 'end a publication: its clients are disconnected, its addresses stop working',
    run: (args: string[], _t: unknown, json: boolean) => unpublish(args, json),
  },
  publications: {
    usage: 'publications',
    examples: ['stillpoint files publications', 'stillpoint files publications --json'],
    summary: 'the published disks of the VMs you can see (addresses only for your own)',
    run: (args: string[], _t: unknown, json: boolean) => publications(args, json),
  },
};
