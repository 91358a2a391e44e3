// File-level restore (issue 11): the volumes of a restore point, folders, search, downloads (one file
// with Range, or a zip) and short-lived download links for <a href>. Every route first checks that the
// user sees the VM (404 otherwise) and holds the fileRestore privileges on it (model/privileges.ts,
// README "Authorization"). Files are named by volume id + entry ref, never by a path the service joins.
// Reading guest bytes happens in isolated workers (file-restore/isolation.ts): a damaged or hostile
// filesystem fails its request with 422 within the time bound, the service goes on.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import type {
  FileDownloadLink, FileDownloadLinkRequest, FileEntry, FileListing, FileSearchMatch, FileSearchResult, FileVolume, FileZipRequest, RestorePoint,
} from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import type { Schema } from '../schema.ts';
import { param } from '../http.ts';
import { InvalidRequest, NotFound, StillpointError } from '../../common/errors.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { FsError, type FsEntry } from '../../filesystems/types.ts';
import { IsolationError } from '../../file-restore/isolation.ts';
import type { FileBlock, FileRestore, PointSession } from '../../file-restore/sessions.ts';
import { READ_BLOCK, type VolumeInfo } from '../../file-restore/types.ts';
import { zipStream, zipName } from '../../file-restore/zip.ts';

import { RP_ID, requireOnVms, requireVisible } from './operations.ts';

export interface FilesDeps {
  files: FileRestore;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
}

const VOLUME_ID = /^[A-Za-z0-9._-]{1,160}$/;
const LINK_TTL_MS = 5 * 60_000;
const MAX_LINKS = 10_000;
const PRIVILEGE_CACHE_MS = 60_000;
/** Time budget of one search: a JSON answer, or an NDJSON stream the client watches grow. */
const SEARCH_MS = 60_000;
const SEARCH_STREAM_MS = 10 * 60_000;

/** Guest data problems as HTTP answers: 422 with what happened and what to do. */
class FileRestoreProblem extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) { super(message); this.status = status; this.code = code; }
}

/** FsErrors keep their name and code across the worker boundary (isolation.ts), not their class. */
const isFsError = (e: unknown): e is FsError => e instanceof FsError || ((e as Error)?.name === 'FsError' && typeof (e as FsError).code === 'string');

function translate(e: unknown): unknown {
  if (isFsError(e)) {
    switch (e.code) {
      case 'ENOENT': return new FileRestoreProblem(404, 'not_found', `${e.message}.`);
      case 'ENOTDIR': return new FileRestoreProblem(400, 'not_a_folder', `${e.message}.`);
      case 'ENOTSUP': return new FileRestoreProblem(422, 'volume_not_browsable', `${e.message}. Restore the whole VM or the disk to reach its data.`);
      default: return new FileRestoreProblem(422, 'filesystem_damaged', `The filesystem in the restore point is damaged here: ${e.message} (${e.code}). Try another restore point, or restore the disk and repair it with the guest's own tools.`);
    }
  }
  if (e instanceof IsolationError) {
    if (e.code === 'ERESTARTED') return new FileRestoreProblem(503, 'retry', e.message);
    return new FileRestoreProblem(422, 'filesystem_unreadable', e.message);
  }
  if (e instanceof StillpointError) return e;
  const m = (e as { code?: string; message?: string })?.code;
  if (m === 'EDAMAGED' || m === 'ENOTFOUND') return new FileRestoreProblem(422, 'repository_damaged', `The backup data of this restore point cannot be read: ${(e as Error).message}. Run a repository verify.`);
  return e;
}

const guarded = <T>(p: Promise<T>): Promise<T> => p.catch((e) => { throw translate(e); });

function toEntry(volumeId: string, e: FsEntry, path?: string): FileEntry {
  const { inode: _inode, ...rest } = e;
  return { volumeId, ...rest, ...(path !== undefined ? { path } : {}) };
}

function toVolume(v: VolumeInfo): FileVolume {
  const key = Number(v.diskKey);
  return {
    id: v.id, name: v.name, diskKey: Number.isFinite(key) ? key : -1, diskLabel: v.diskLabel,
    ...(v.partition !== undefined ? { partition: v.partition } : {}), ...(v.partitionType ? { partitionType: v.partitionType } : {}),
    offset: v.offset, sizeBytes: v.sizeBytes,
    ...(v.filesystem ? { filesystem: v.filesystem } : {}), ...(v.label ? { label: v.label } : {}),
    ...(v.consistency ? { consistency: v.consistency } : {}), ...(v.problem ? { problem: v.problem } : {}),
    browsable: v.browsable,
  };
}

/** `attachment` with the original name: an ASCII fallback and RFC 5987 `filename*` for everything else. */
export function contentDisposition(name: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = zipName(name).replace(/[^\x20-\x7e]/g, '_').replace(/["%;\\]/g, '_');
  const star = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${star}`;
}

/** The single byte range of a Range header over `size` bytes; undefined: whole file; 'unsatisfiable': 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // several ranges or another unit: the whole file (RFC 9110 allows)
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? 'unsatisfiable' : { start: size - n, end: size };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size : Math.min(Number(m[2]) + 1, size);
  if (start >= size || end <= start) return 'unsatisfiable';
  return { start, end };
}

const QUERY_REF: Schema = { type: 'string', minLength: 1, maxLength: 256, description: 'FileEntry.ref as the service gave it' };
const VOLUME_SCHEMA: Schema = { type: 'string', pattern: VOLUME_ID.source, maxLength: 160, description: 'FileVolume.id' };
const ListQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: { ref: QUERY_REF, offset: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 5000 } },
};
const EntryQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: { ref: QUERY_REF, path: { type: 'string', maxLength: 4096, description: 'path on the volume ("Users/Public/readme.txt"), instead of ref' } },
};
const ContentQuery: Schema = {
  type: 'object', additionalProperties: false, required: ['ref'],
  properties: { ref: QUERY_REF, stream: { type: 'string', minLength: 1, maxLength: 255, description: 'an NTFS alternate data stream of the file' } },
};
const SearchQuery: Schema = {
  type: 'object', additionalProperties: false, required: ['pattern'],
  properties: {
    pattern: { type: 'string', minLength: 1, maxLength: 1024, description: "glob: '*.docx' matches names, 'Users/**/*.pst' paths; no case" },
    volumeId: VOLUME_SCHEMA,
    limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
};
const ItemSchema: Schema = {
  type: 'object', additionalProperties: false, required: ['volumeId', 'ref'],
  properties: { volumeId: VOLUME_SCHEMA, ref: QUERY_REF },
};
const ZipName: Schema = { type: 'string', minLength: 1, maxLength: 255 };
const ZipRequestSchema: Schema = {
  type: 'object', additionalProperties: false, required: ['items'],
  properties: { items: { type: 'array', items: ItemSchema, minItems: 1, maxItems: 1000 }, name: ZipName },
};
const LinkRequestSchema: Schema = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['kind', 'volumeId', 'ref'], properties: { kind: { type: 'string', enum: ['file'] }, volumeId: VOLUME_SCHEMA, ref: QUERY_REF, stream: { type: 'string', minLength: 1, maxLength: 255 } } },
    { type: 'object', additionalProperties: false, required: ['kind', 'items'], properties: { kind: { type: 'string', enum: ['zip'] }, items: { type: 'array', items: ItemSchema, minItems: 1, maxItems: 1000 }, name: ZipName } },
  ],
  discriminator: 'kind',
};

interface Link { rpId: string; request: FileDownloadLinkRequest; expires: number }

/**
 * Sends one file (or stream), honouring Range/If-Range; streamed block by block. Exported for the
 * items bench, which serves downloads through it (bench/items/run.ts).
 */
export async function sendFile(req: Request, res: Response, s: PointSession, volumeId: string, ref: string, stream?: string): Promise<void> {
  const e = await guarded(s.stat(volumeId, ref));
  if (e.type !== 'file') throw new InvalidRequest(`'${e.name}' is a ${e.type === 'dir' ? 'folder: download it as a zip' : e.type}, not a file.`);
  let size = e.size;
  if (stream) {
    const st = e.streams?.find((x) => x.name === stream);
    if (!st) throw new NotFound('Data stream', stream, `'${e.name}' has ${e.streams?.length ? `the streams ${e.streams.map((x) => x.name).join(', ')}` : 'no named streams'}.`);
    size = st.size;
  }
  const etag = `"${createHash('sha256').update(`${s.rpId}\0${volumeId}\0${ref}\0${stream ?? ''}\0${size}`).digest('base64url').slice(0, 32)}"`;
  const lastModified = e.mtime ? new Date(e.mtime).toUTCString() : undefined;
  const ifRange = req.headers['if-range'];
  const rangeAllowed = !ifRange || ifRange === etag || (lastModified !== undefined && ifRange === lastModified);
  const range = rangeAllowed ? parseRange(req.headers.range, size) : undefined;
  res.set({
    'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: etag, 'Cache-Control': 'private, no-store',
    'Content-Disposition': contentDisposition(stream ? `${e.name}_${stream}` : e.name),
    ...(lastModified ? { 'Last-Modified': lastModified } : {}),
  });
  if (range === 'unsatisfiable') {
    res.status(416).set('Content-Range', `bytes */${size}`).end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: size };
  res.status(range ? 206 : 200).set('Content-Length', String(end - start));
  if (range) res.set('Content-Range', `bytes ${start}-${end - 1}/${size}`);
  if (req.method === 'HEAD' || end === start) { res.end(); return; }
  // The first block is read before anything is sent: a file that cannot be read gets an error answer, not a cut download.
  const first = await guarded(s.read(volumeId, ref, start, Math.min(READ_BLOCK, end - start), stream)).catch((err) => {
    for (const h of ['Content-Disposition', 'Content-Type', 'Content-Range', 'Content-Length', 'ETag', 'Last-Modified', 'Accept-Ranges']) res.removeHeader(h);
    throw err;
  });
  if (first.length === 0) throw new FileRestoreProblem(422, 'filesystem_damaged', `'${e.name}' ends before its size says: its data on the volume is damaged.`);
  res.write(first);
  await sendBlocks(res, s.fileBlocks(volumeId, ref, start + first.length, end, stream));
}

/**
 * Writes a download's blocks (the headers and first block are out already). Each block's buffer goes
 * back to its pool only in its write callback, when the socket no longer needs the bytes; a full
 * socket is waited for (drain). A failure cuts the connection (never a complete-looking download);
 * a client that leaves stops the reading.
 */
async function sendBlocks(res: Response, blocks: AsyncGenerator<FileBlock>): Promise<void> {
  const gone = () => res.destroyed || res.writableEnded;
  try {
    for await (const b of blocks) {
      if (gone()) { b.release(); break; }
      if (!res.write(b.bytes, () => b.release())) {
        await new Promise<void>((resolve) => {
          const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (gone()) break;
    }
    if (!gone()) res.end();
  } catch (e) {
    res.destroy(e as Error);
  }
}

/**
 * Pipes a body. A failure before anything was sent becomes an error answer; after the headers went
 * out it cuts the connection (the client sees an incomplete download, never a complete-looking one).
 * A client that leaves stops the reading.
 */
export function sendStream(res: Response, body: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    body.once('error', (e) => {
      body.unpipe(res);
      if (!res.headersSent) {
        for (const h of ['Content-Disposition', 'Content-Type', 'Content-Range', 'Content-Length', 'ETag', 'Last-Modified', 'Accept-Ranges']) res.removeHeader(h);
        reject(translate(e));
      } else { res.destroy(e); resolve(); }
    });
    res.once('close', () => { if (!res.writableFinished) body.destroy(); resolve(); });
    body.pipe(res);
  });
}

export function fileRoutes(d: FilesDeps): RouteDef[] {
  const links = new Map<string, Link>();
  const granted = new WeakMap<object, Map<string, number>>();

  /** The restore point, if the user sees its VM and may restore files from it. */
  async function authorize(user: UserContext, req: Request): Promise<RestorePoint> {
    const id = param(req, 'id', RP_ID, 'restore point');
    const rp = await d.restorePoint(id);
    if (!rp) throw new NotFound('Restore point', id);
    await requireVisible(user, [rp.vmId]);
    const seen = granted.get(user.session) ?? new Map<string, number>();
    if ((seen.get(rp.vmId) ?? 0) < Date.now()) {
      await requireOnVms(user, [rp.vmId], 'Restoring files from a restore point', PRIVILEGES.fileRestore);
      seen.set(rp.vmId, Date.now() + PRIVILEGE_CACHE_MS);
      granted.set(user.session, seen);
    }
    return rp;
  }
  const session = (rpId: string): Promise<PointSession> => guarded(d.files.open(rpId));
  const volumeParam = (req: Request) => param(req, 'volumeId', VOLUME_ID, 'volume');

  async function sendZip(res: Response, s: PointSession, rp: RestorePoint, items: FileZipRequest['items'], name?: string): Promise<void> {
    for (const it of items) await guarded(s.volume(it.volumeId));
    // The first item is checked before the headers go out, so a wrong ref is a 404, not a cut zip.
    await guarded(s.stat(items[0]!.volumeId, items[0]!.ref));
    const fileName = name ?? `${rp.vmName}-${rp.createdAt.slice(0, 19).replace(/[:T]/g, '-')}.zip`;
    res.status(200).set({ 'Content-Type': 'application/zip', 'Content-Disposition': contentDisposition(fileName.endsWith('.zip') ? fileName : `${fileName}.zip`), 'Cache-Control': 'private, no-store' });
    await sendStream(res, zipStream(s, items));
  }

  function sweepLinks(): void {
    const now = Date.now();
    for (const [k, l] of links) if (l.expires < now) links.delete(k);
  }

  return [
    {
      method: 'get', path: '/restore-points/:id/volumes', tag: 'files', summary: 'Volumes of a restore point\'s disks: partition, filesystem, label, consistency, problem',
      handler: async ({ req, user }) => {
        const rp = await authorize(user, req);
        const s = await session(rp.id);
        return (await guarded(s.volumes())).map(toVolume) satisfies FileVolume[];
      },
    },
    {
      method: 'get', path: '/restore-points/:id/volumes/:volumeId/list', tag: 'files', query: ListQuery,
      summary: 'One page of a folder (the volume\'s root without ref): folders first, then by name',
      handler: async ({ req, user, query }) => {
        const rp = await authorize(user, req);
        const volumeId = volumeParam(req);
        const s = await session(rp.id);
        const q = query as { ref?: string; offset?: number; limit?: number };
        const page = await guarded(s.list(volumeId, q.ref, q.offset ?? 0, q.limit ?? 1000));
        return {
          volumeId, dir: toEntry(volumeId, page.dir), entries: page.entries.map((e) => toEntry(volumeId, e)), offset: page.offset, total: page.total,
          ...(s.openedInMs !== undefined ? { openedInMs: s.openedInMs } : {}),
        } satisfies FileListing;
      },
    },
    {
      method: 'get', path: '/restore-points/:id/volumes/:volumeId/entry', tag: 'files', query: EntryQuery,
      summary: 'One file or folder, by ref or by its path on the volume',
      handler: async ({ req, user, query }) => {
        const rp = await authorize(user, req);
        const volumeId = volumeParam(req);
        const q = query as { ref?: string; path?: string };
        if ((q.ref === undefined) === (q.path === undefined)) throw new InvalidRequest('Give either ref or path.');
        const s = await session(rp.id);
        const e = q.ref !== undefined ? await guarded(s.stat(volumeId, q.ref)) : await guarded(s.lookup(volumeId, q.path!));
        return toEntry(volumeId, e, q.path?.split('/').filter(Boolean).join('/'));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/search', tag: 'files', query: SearchQuery,
      summary: 'Files and folders whose name (or path) matches a glob; with Accept: application/x-ndjson one match per line as found',
      handler: async ({ req, res, user, query }) => {
        const rp = await authorize(user, req);
        const q = query as { pattern: string; volumeId?: string; limit?: number };
        const limit = q.limit ?? 1000;
        const s = await session(rp.id);
        const vols = await guarded(s.volumes());
        const diskOf = new Map(vols.map((v) => [v.id, Number(v.diskKey)]));
        const match = (e: { volumeId: string; path: string } & FsEntry): FileSearchMatch => ({ ...toEntry(e.volumeId, e, e.path), path: e.path, diskKey: diskOf.get(e.volumeId) ?? -1 });
        const result: FileSearchResult = { pattern: q.pattern, matches: [], truncated: false, scanned: 0 };
        const problems: { volumeId: string; message: string }[] = [];
        const ndjson = /application\/x-ndjson/.test(req.headers.accept ?? '');
        let count = 0;
        let done = false;
        const batches = s.search(q.pattern, q.volumeId ? [q.volumeId] : [], limit);
        if (ndjson) res.status(200).set({ 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
        try {
          const deadline = Date.now() + (ndjson ? SEARCH_STREAM_MS : SEARCH_MS);
          for await (const b of batches) {
            result.scanned = b.scanned;
            problems.push(...b.problems);
            done = b.done;
            count += b.items.length;
            if (ndjson) {
              if (res.destroyed) break;
              for (const it of b.items) res.write(`${JSON.stringify(match(it))}\n`);
            } else result.matches.push(...b.items.map(match));
            if (res.destroyed || Date.now() > deadline) break; // the client left, or the time budget is spent: truncated
          }
        } catch (e) {
          if (!ndjson) throw translate(e);
          problems.push({ volumeId: q.volumeId ?? '', message: (translate(e) as Error).message });
        }
        result.truncated = !done;
        if (problems.length) result.problems = problems;
        if (!ndjson) return result;
        res.end(`${JSON.stringify({ done: true, truncated: result.truncated, scanned: result.scanned, matches: count, ...(problems.length ? { problems } : {}) })}\n`);
        return undefined;
      },
    },
    {
      method: 'get', path: '/restore-points/:id/volumes/:volumeId/content', tag: 'files', query: ContentQuery,
      summary: 'Download one file (or NTFS named stream): Range/If-Range, Last-Modified, Content-Disposition with the original name',
      handler: async ({ req, res, user, query }) => {
        const rp = await authorize(user, req);
        const q = query as { ref: string; stream?: string };
        await sendFile(req, res, await session(rp.id), volumeParam(req), q.ref, q.stream);
        return undefined;
      },
    },
    {
      method: 'post', path: '/restore-points/:id/zip', tag: 'files', body: ZipRequestSchema,
      summary: 'Download files and folders as one zip, streamed (zip64 past 4 GiB)',
      handler: async ({ req, res, user, body }) => {
        const rp = await authorize(user, req);
        const b = body as FileZipRequest;
        await sendZip(res, await session(rp.id), rp, b.items, b.name);
        return undefined;
      },
    },
    {
      method: 'post', path: '/restore-points/:id/download-links', tag: 'files', status: 201, body: LinkRequestSchema,
      summary: 'A single-use link (5 minutes) to a file or zip, for <a href> downloads without the session header',
      handler: async ({ req, user, body }) => {
        const rp = await authorize(user, req);
        const b = body as FileDownloadLinkRequest;
        // Refuse a link that could only fail: the items must exist now.
        const s = await session(rp.id);
        for (const it of b.kind === 'file' ? [b] : b.items) await guarded(s.stat(it.volumeId, it.ref));
        sweepLinks();
        if (links.size >= MAX_LINKS) throw new FileRestoreProblem(503, 'too_many_links', 'Too many download links are open; use them or wait a few minutes.');
        const token = randomBytes(24).toString('base64url');
        const expires = Date.now() + LINK_TTL_MS;
        links.set(token, { rpId: rp.id, request: b, expires });
        return { url: `/api/downloads/${token}`, expiresAt: new Date(expires).toISOString() } satisfies FileDownloadLink;
      },
    },
    {
      method: 'get', path: '/downloads/:token', tag: 'files', public: true,
      summary: 'A download link made by POST /restore-points/{id}/download-links (spent by this request)',
      handler: async ({ req, res }) => {
        const token = param(req, 'token', /^[A-Za-z0-9_-]{32}$/, 'download link');
        const link = links.get(token);
        links.delete(token);
        if (!link || link.expires < Date.now()) throw new FileRestoreProblem(404, 'link_expired', 'This download link was used already or has expired: start the download again.');
        const rp = await d.restorePoint(link.rpId);
        if (!rp) throw new NotFound('Restore point', link.rpId);
        const s = await session(rp.id);
        const r = link.request;
        if (r.kind === 'file') await sendFile(req, res, s, r.volumeId, r.ref, r.stream);
        else await sendZip(res, s, rp, r.items, r.name);
        return undefined;
      },
    },
  ];
}
