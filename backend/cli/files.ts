// `stillpoint files …`: file-level restore from the command line. Through the service by restore
// point id (the user's own vCenter privileges apply), or straight on a repository folder with
// --repo DIR (no service; filesystems are read in isolated workers as the service does).
//
// Subcommands are the SUBCOMMANDS table below: to add one, add an entry (usage, summary, run);
// `run` gets the arguments after the subcommand and a Target (service or repository) it can use.
import { createWriteStream } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileDownloadLink, FileEntry, FileListing, FileSearchMatch, FileVolume } from '../api/contract.ts';
import { ServiceClient, ServiceError } from './service-client.ts';
import { flag, option, table } from './format.ts';
import { formatBytes, progressBar } from './progress.ts';
import { promptSecret } from './prompt.ts';
import { Repository, RepositoryError } from '../repository/repository.ts';
import { FileRestore, type PointSession } from '../file-restore/sessions.ts';
import type { VolumeInfo } from '../file-restore/types.ts';
import type { FsEntry } from '../filesystems/types.ts';
import { zipStream } from '../file-restore/zip.ts';
import { putSubcommand } from './files-put.ts';
import { publishSubcommands } from './files-publish.ts';
import { catalogSubcommands } from './files-catalog.ts';

const PATHS = `PATH is <volume>/<path on the volume>: the volume is its id from \`stillpoint files ls POINT\`
(e.g. 2000-p1: disk 2000, partition 1) or its filesystem label when no other volume has it (e.g. System).
'/' separates folders ('\\' is accepted too); names are matched exactly, then without case.
VOLUME:PATH is accepted as well (2000-p1:Users/Public).`;

const USAGE = `usage: stillpoint files <command> [--repo DIR] POINT … [options]

Browse, search and download files inside a restore point's disks (file-level restore). POINT is a
restore point id (\`stillpoint points <vm>\`, or \`stillpoint repo ls DIR\` with --repo).

commands:
%COMMANDS%

options:
  --repo DIR   read a repository folder directly instead of asking the service (encrypted ones take
               the passphrase from STILLPOINT_PASSPHRASE or ask for it)
  --json       machine-readable output
  --help       this text, or a command's own

${PATHS}

examples:
  stillpoint files ls rp-20261202T092611Z-20a592
  stillpoint files ls rp-20261202T092611Z-20a592 2000-p2/etc
  stillpoint files find rp-20261202T092611Z-20a592 '*.conf'
  stillpoint files find --repo /backups rp-20261202T092611Z-20a592 'Users/**/*.pst' --json
  stillpoint files get rp-20261202T092611Z-20a592 2000-p1/Users/Public/Documents/readme.txt -o readme.txt
  stillpoint files get --repo /backups rp-20261202T092611Z-20a592 System/Data -o data.zip
`;

/** Where the files come from: the service (by restore point id) or a repository folder. */
export interface Target {
  volumes(point: string): Promise<FileVolume[]>;
  list(point: string, volumeId: string, ref?: string): Promise<FileListing>;
  lookup(point: string, volumeId: string, path: string): Promise<FileEntry>;
  /** Matches as they are found (by batch); stops at `limit`. */
  find(point: string, pattern: string, limit: number, volumeId?: string): AsyncGenerator<FileSearchMatch>;
  /** A file's bytes, or a folder as a zip. */
  download(point: string, entry: FileEntry): Promise<{ body: Readable; size?: number }>;
  close(): Promise<void>;
}

// --- the service

/** Trusts the service's own certificate as ServiceClient does (STILLPOINT_CA or the data folder's). */
function serviceTarget(): Target {
  const c = new ServiceClient();
  const rp = (point: string) => `/api/restore-points/${encodeURIComponent(point)}`;
  return {
    volumes: (point) => c.get<FileVolume[]>(`${rp(point)}/volumes`),
    async list(point, volumeId, ref) {
      const first = await c.get<FileListing>(`${rp(point)}/volumes/${encodeURIComponent(volumeId)}/list?limit=5000${ref ? `&ref=${encodeURIComponent(ref)}` : ''}`);
      while (first.entries.length < first.total) {
        const more = await c.get<FileListing>(`${rp(point)}/volumes/${encodeURIComponent(volumeId)}/list?limit=5000&offset=${first.entries.length}&ref=${encodeURIComponent(first.dir.ref)}`);
        if (!more.entries.length) break;
        first.entries.push(...more.entries);
      }
      return first;
    },
    lookup: (point, volumeId, path) => c.get<FileEntry>(`${rp(point)}/volumes/${encodeURIComponent(volumeId)}/entry?path=${encodeURIComponent(path)}`),
    async *find(point, pattern, limit, volumeId) {
      const r = await c.get<{ matches: FileSearchMatch[]; truncated: boolean; problems?: { volumeId: string; message: string }[] }>(
        `${rp(point)}/search?pattern=${encodeURIComponent(pattern)}&limit=${limit}${volumeId ? `&volumeId=${encodeURIComponent(volumeId)}` : ''}`);
      for (const p of r.problems ?? []) process.stderr.write(`warning: volume ${p.volumeId}: ${p.message}\n`);
      yield* r.matches;
    },
    async download(point, entry) {
      const link = await c.post<FileDownloadLink>(`${rp(point)}/download-links`, entry.type === 'dir'
        ? { kind: 'zip', items: [{ volumeId: entry.volumeId, ref: entry.ref }] }
        : { kind: 'file', volumeId: entry.volumeId, ref: entry.ref });
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        request(c.baseUrl + link.url, { agent: c.agent }, resolve).on('error', reject).end();
      });
      if ((res.statusCode ?? 0) >= 400) {
        const text = Buffer.concat(await res.toArray()).toString('utf8');
        let message = text;
        try { message = (JSON.parse(text) as { message: string }).message; } catch { /* not JSON */ }
        throw new ServiceError(res.statusCode ?? 0, 'download', message);
      }
      return { body: res, ...(entry.type === 'dir' ? {} : { size: entry.size }) };
    },
    async close() {},
  };
}

// --- a repository folder

async function openRepository(dir: string): Promise<Repository> {
  let passphrase: string | undefined;
  try {
    if ((await Repository.inspect(dir)).encryption) {
      passphrase = process.env.STILLPOINT_PASSPHRASE;
      if (passphrase === undefined) {
        if (!process.stdin.isTTY) throw new RepositoryError('ENEEDPASS', 'a passphrase is needed: set STILLPOINT_PASSPHRASE (no terminal to ask on).');
        passphrase = await promptSecret(`passphrase for ${dir}: `);
      }
    }
  } catch (e) { if (e instanceof RepositoryError && e.code === 'ENEEDPASS') throw e; } // open() reports what is wrong
  return Repository.open(dir, { passphrase, command: 'stillpoint files' });
}

const entryDto = (volumeId: string, e: FsEntry, path?: string): FileEntry => {
  const { inode: _inode, ...rest } = e;
  return { volumeId, ...rest, ...(path !== undefined ? { path } : {}) };
};
const volumeDto = (v: VolumeInfo): FileVolume => ({
  id: v.id, name: v.name, diskKey: Number(v.diskKey), diskLabel: v.diskLabel,
  ...(v.partition !== undefined ? { partition: v.partition } : {}), ...(v.partitionType ? { partitionType: v.partitionType } : {}),
  offset: v.offset, sizeBytes: v.sizeBytes, ...(v.filesystem ? { filesystem: v.filesystem } : {}), ...(v.label ? { label: v.label } : {}),
  ...(v.consistency ? { consistency: v.consistency } : {}), ...(v.problem ? { problem: v.problem } : {}), browsable: v.browsable,
});

function repoTarget(dir: string): Target {
  let repo: Promise<Repository> | undefined;
  const files = new FileRestore(() => (repo ??= openRepository(dir)), { idleMs: 3_600_000 });
  const session = (point: string): Promise<PointSession> => files.open(point);
  return {
    async volumes(point) { return (await (await session(point)).volumes()).map(volumeDto); },
    async list(point, volumeId, ref) {
      const s = await session(point);
      const all: FsEntry[] = [];
      let page = await s.list(volumeId, ref, 0, 5000);
      all.push(...page.entries);
      while (all.length < page.total) {
        page = await s.list(volumeId, page.dir.ref, all.length, 5000);
        if (!page.entries.length) break;
        all.push(...page.entries);
      }
      return { volumeId, dir: entryDto(volumeId, page.dir), entries: all.map((e) => entryDto(volumeId, e)), offset: 0, total: page.total };
    },
    async lookup(point, volumeId, path) { return entryDto(volumeId, await (await session(point)).lookup(volumeId, path), path); },
    async *find(point, pattern, limit, volumeId) {
      const s = await session(point);
      const disk = new Map((await s.volumes()).map((v) => [v.id, Number(v.diskKey)]));
      for await (const b of s.search(pattern, volumeId ? [volumeId] : [], limit)) {
        for (const p of b.problems) process.stderr.write(`warning: volume ${p.volumeId}: ${p.message}\n`);
        for (const e of b.items) yield { ...entryDto(e.volumeId, e, e.path), path: e.path, diskKey: disk.get(e.volumeId) ?? -1 };
      }
    },
    async download(point, entry) {
      const s = await session(point);
      if (entry.type === 'dir') return { body: zipStream(s, [{ volumeId: entry.volumeId, ref: entry.ref }]) };
      return { body: s.fileStream(entry.volumeId, entry.ref, 0, entry.size), size: entry.size };
    },
    async close() {
      await files.close();
      if (repo) await (await repo).close();
    },
  };
}

// --- paths

/** Splits "<volume>/<path>" (or "<volume>:<path>") and finds the volume by id or unique label. */
async function resolveVolume(t: Target, point: string, spec: string): Promise<{ volume: FileVolume; path: string }> {
  const norm = spec.replace(/\\/g, '/');
  const colon = norm.indexOf(':');
  const slash = norm.indexOf('/');
  const cut = colon > 0 && (slash < 0 || colon < slash) ? colon : slash;
  const name = cut < 0 ? norm : norm.slice(0, cut);
  const path = cut < 0 ? '' : norm.slice(cut + 1).split('/').filter((s) => s && s !== '.').join('/');
  const vols = await t.volumes(point);
  const byId = vols.find((v) => v.id === name);
  const byLabel = vols.filter((v) => v.label !== undefined && v.label.toLowerCase() === name.toLowerCase());
  const volume = byId ?? (byLabel.length === 1 ? byLabel[0] : undefined);
  if (!volume) {
    const why = byLabel.length > 1 ? `the label '${name}' names ${byLabel.length} volumes: use the id` : `no volume '${name}'`;
    throw new Error(`${why}; the volumes of ${point} are: ${vols.map((v) => `${v.id}${v.label ? ` (${v.label})` : ''}`).join(', ')}`);
  }
  if (!volume.browsable) throw new Error(`volume ${volume.id} cannot be browsed: ${volume.problem ?? 'no filesystem Stillpoint reads'}`);
  return { volume, path };
}

const when = (iso?: string) => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');
const kindOf = (e: FileEntry) => (e.type === 'dir' ? 'dir' : e.type === 'file' ? 'file' : e.type);

// --- subcommands

interface Subcommand { usage: string; summary: string; examples: string[]; run(args: string[], t: Target, json: boolean): Promise<number> }

export const SUBCOMMANDS: Record<string, Subcommand> = {
  put: putSubcommand(resolveVolume),
  ...publishSubcommands,
  ...catalogSubcommands,
  ls: {
    usage: 'ls POINT [VOLUME[/PATH]]',
    summary: 'the volumes of a restore point, or a folder\'s entries',
    examples: ['stillpoint files ls rp-20261202T092611Z-20a592', 'stillpoint files ls rp-20261202T092611Z-20a592 2000-p2/etc', 'stillpoint files ls --repo /backups rp-20261202T092611Z-20a592 C/Users --json'],
    async run(args, t, json) {
      const [point, spec] = args;
      if (!point || args.length > 2) return usage('ls');
      if (!spec) {
        const vols = await t.volumes(point);
        process.stdout.write(json ? JSON.stringify(vols, null, 2) + '\n' : table(['VOLUME', 'DISK', 'PARTITION', 'FILESYSTEM', 'LABEL', 'SIZE', 'STATE'],
          vols.map((v) => [v.id, v.diskLabel, v.partition !== undefined ? `${v.partition} ${v.partitionType ?? ''}`.trim() : '-', v.filesystem ?? '-', v.label ?? '-',
            formatBytes(v.sizeBytes), v.problem ?? v.consistency?.summary ?? '-'])));
        return 0;
      }
      const { volume, path } = await resolveVolume(t, point, spec);
      const dir = await t.lookup(point, volume.id, path);
      if (dir.type !== 'dir') {
        process.stdout.write(json ? JSON.stringify(dir, null, 2) + '\n' : table(['TYPE', 'SIZE', 'MODIFIED', 'NAME'], [[kindOf(dir), formatBytes(dir.size), when(dir.mtime), dir.name]]));
        return 0;
      }
      const l = await t.list(point, volume.id, dir.ref);
      process.stdout.write(json ? JSON.stringify(l.entries, null, 2) + '\n' : table(['TYPE', 'SIZE', 'MODIFIED', 'NAME'],
        l.entries.map((e) => [kindOf(e), e.type === 'dir' ? '-' : formatBytes(e.size), when(e.mtime), e.name + (e.type === 'dir' ? '/' : '')])));
      return 0;
    },
  },
  find: {
    usage: "find POINT 'GLOB' [--volume VOLUME] [--limit N]",
    examples: ["stillpoint files find rp-20261202T092611Z-20a592 '*.conf'", "stillpoint files find rp-20261202T092611Z-20a592 'Users/**/*.pst' --volume 2000-p1", "stillpoint files find --repo /backups rp-20261202T092611Z-20a592 'report*.xlsx' --json"],
    summary: "files and folders by glob: '*.docx' matches names, 'Users/**/*.pst' paths (no case); --json: one JSON object per line",
    async run(args, t, json) {
      const volumeId = option(args, '--volume');
      const limit = Number(option(args, '--limit') ?? 10_000);
      const [point, pattern] = args;
      if (!point || !pattern || args.length > 2 || !(limit > 0)) return usage('find');
      const vol = volumeId ? (await resolveVolume(t, point, volumeId)).volume.id : undefined;
      let n = 0;
      const rows: string[][] = [];
      for await (const m of t.find(point, pattern, limit, vol)) {
        n++;
        if (json) process.stdout.write(JSON.stringify({ disk: m.diskKey, volume: m.volumeId, path: m.path, type: m.type, size: m.size, mtime: m.mtime ?? null, ref: m.ref }) + '\n');
        else rows.push([kindOf(m), m.type === 'dir' ? '-' : formatBytes(m.size), when(m.mtime), `${m.volumeId}/${m.path}`]);
      }
      if (!json) process.stdout.write(rows.length ? table(['TYPE', 'SIZE', 'MODIFIED', 'PATH'], rows) : `nothing matches '${pattern}'\n`);
      if (n >= limit) process.stderr.write(`stopped at ${limit} matches: narrow the pattern or raise --limit\n`);
      return 0;
    },
  },
  get: {
    usage: 'get POINT PATH -o FILE',
    examples: ['stillpoint files get rp-20261202T092611Z-20a592 2000-p1/Users/Public/Documents/readme.txt -o readme.txt', 'stillpoint files get rp-20261202T092611Z-20a592 2000-p2/etc -o etc.zip', 'stillpoint files get --repo /backups rp-20261202T092611Z-20a592 2000-p2/etc/hostname -o -'],
    summary: 'write a file\'s bytes to FILE (a folder: a zip); -o - writes to standard output',
    async run(args, t) {
      const outFile = option(args, '-o') ?? option(args, '--output');
      const [point, spec] = args;
      if (!point || !spec || !outFile || args.length > 2) return usage('get');
      const { volume, path } = await resolveVolume(t, point, spec);
      const entry = await t.lookup(point, volume.id, path);
      if (entry.type !== 'file' && entry.type !== 'dir') throw new Error(`${spec} is a ${entry.type}, not a file or folder`);
      const { body, size } = await t.download(point, entry);
      const bar = progressBar(`${entry.name}${entry.type === 'dir' ? '.zip' : ''}`);
      let done = 0;
      body.on('data', (c: Buffer) => { done += c.length; bar.update(done, size ?? done); });
      await pipeline(body, outFile === '-' ? process.stdout : createWriteStream(outFile));
      bar.done();
      if (size !== undefined && done !== size) throw new Error(`got ${done} of ${size} bytes: the download was cut; try again`);
      if (outFile !== '-') process.stderr.write(`${outFile}: ${formatBytes(done)}${entry.type === 'dir' ? ' (zip)' : ''}\n`);
      return 0;
    },
  },
};

function usage(name?: string): number {
  if (name) {
    const s = SUBCOMMANDS[name]!;
    process.stderr.write(`usage: stillpoint files ${s.usage} [--repo DIR] [--json]\n  ${s.summary}\n\n${PATHS}\n`);
    return 2;
  }
  process.stderr.write(help());
  return 2;
}

function help(): string {
  return USAGE.replace('%COMMANDS%', Object.values(SUBCOMMANDS).map((s) => `  ${s.usage}\n      ${s.summary}`).join('\n'));
}

export async function run(argv: string[]): Promise<number> {
  const args = [...argv];
  const [name] = args.splice(0, 1);
  if (!name || name === '--help' || name === '-h' || name === 'help') { process.stdout.write(help()); return name ? 0 : 2; }
  const sub = SUBCOMMANDS[name];
  if (!sub) { process.stderr.write(`stillpoint files: unknown command '${name}'\n\n`); return usage(); }
  if (flag(args, '--help') || flag(args, '-h')) {
    process.stdout.write(`usage: stillpoint files ${sub.usage} [--repo DIR] [--json]\n  ${sub.summary}\n\n${PATHS}\n\nexamples:\n${sub.examples.map((e) => `  ${e}\n`).join('')}`);
    return 0;
  }
  let t: Target | undefined;
  try {
    const json = flag(args, '--json');
    const dir = option(args, '--repo');
    t = dir ? repoTarget(dir) : serviceTarget();
    return await sub.run(args, t, json);
  } catch (e) {
    process.stderr.write(`stillpoint files ${name}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await t?.close().catch(() => {});
  }
}
