// `stillpoint files put POINT PATH... --to GUEST_FOLDER|--original --credential ID [--existing skip|overwrite|keep-both]`:
// files and folders of a restore point put back into the running VM through the service (guest
// operations with a stored guest credential), followed with a progress bar like any run.
// The `files` family (files.ts) lists it in its subcommand table and hands it its path resolver.
import type { ExistingFileChoice, FileEntry, FileRestoreRequest, FileRestoreTarget, FileVolume, GuestCredential, JobRun } from '../api/contract.ts';
import { flag, option } from './format.ts';
import { followRun } from './follow.ts';
import { ServiceClient } from './service-client.ts';

/** What files.ts hands its subcommands (the part of its Target this command needs). */
export interface PutTarget { lookup(point: string, volumeId: string, path: string): Promise<FileEntry> }
export type ResolveVolume<T> = (t: T, point: string, spec: string) => Promise<{ volume: FileVolume; path: string }>;

const USAGE = 'put POINT PATH... (--to GUEST_FOLDER | --original) --credential ID|NAME [--existing skip|overwrite|keep-both]';
const SUMMARY = 'put files and folders back into the running VM (guest operations with a stored guest credential; '
  + 'existing files are skipped unless --existing overwrite or keep-both); --original: where they were (C:\\ or / volume)';
const EXISTING: readonly ExistingFileChoice[] = ['skip', 'overwrite', 'keep-both'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A stored guest credential by id, or by its name when exactly one of yours is called so. */
async function credentialId(client: ServiceClient, given: string): Promise<string> {
  if (UUID.test(given)) return given;
  const mine = (await client.get<GuestCredential[]>('/api/credentials')).filter((c) => c.name === given);
  if (mine.length === 1) return mine[0]!.id;
  throw new Error(mine.length ? `${mine.length} guest credentials are called '${given}': give the id` : `no guest credential '${given}': list them with GET /api/credentials, store one in the UI`);
}

/** Runs `put`: resolves PATHs to volume id + entry ref, starts the run, follows it. */
export async function putFiles<T extends PutTarget>(args: string[], t: T, json: boolean, resolveVolume: ResolveVolume<T>, usage: () => number): Promise<number> {
  if (process.argv.includes('--repo')) throw new Error('put works through the service (it writes into a VM with your vCenter privileges): leave out --repo');
  const to = option(args, '--to');
  const original = flag(args, '--original');
  const cred = option(args, '--credential');
  const existing = (option(args, '--existing') ?? 'skip') as ExistingFileChoice;
  const [point, ...paths] = args;
  if (!point || !paths.length || !cred || (to === undefined) === !original || !EXISTING.includes(existing)) return usage();
  const items: FileRestoreRequest['items'] = [];
  for (const spec of paths) {
    const { volume, path } = await resolveVolume(t, point, spec);
    const e = await t.lookup(point, volume.id, path);
    items.push({ volumeId: volume.id, ref: e.ref });
  }
  const client = new ServiceClient();
  const target: FileRestoreTarget = to !== undefined ? { kind: 'folder', path: to } : { kind: 'original' };
  const body: FileRestoreRequest = { items, target, existing, credentialId: await credentialId(client, cred) };
  const started = await client.post<JobRun>(`/api/restore-points/${encodeURIComponent(point)}/files/restore`, body);
  const done = await followRun(client, started, { quiet: json });
  const v = done.vms[0];
  if (json) process.stdout.write(JSON.stringify(done, null, 2) + '\n');
  else process.stdout.write(`${done.status}: ${v?.message ?? done.message ?? ''}\n${(v?.warnings ?? []).map((w) => `  ${w}\n`).join('')}`);
  return done.status === 'success' ? 0 : 1;
}

/** The `files put` entry of files.ts's subcommand table. */
export function putSubcommand<T extends PutTarget>(resolveVolume: ResolveVolume<T>) {
  const usage = () => {
    process.stderr.write(`usage: stillpoint files ${USAGE} [--json]\n  ${SUMMARY}\n`);
    return 2;
  };
  return {
    usage: USAGE, summary: SUMMARY,
    examples: [
      'stillpoint files put rp-20261202T092611Z-20a592 2000-p2/etc/hostname --original --credential linux-root',
      'stillpoint files put rp-20261202T092611Z-20a592 2000-p1/Users/Public/Documents --to "C:\\Restored" --credential win-admin --existing keep-both',
    ],
    run: (args: string[], t: T, json: boolean) => putFiles(args, t, json, resolveVolume, usage),
  };
}
