// Exchange mail items of a restore point (contracts/exchange.ts): mailboxes, folders, messages and
// search from the mailbox database the point's VSS manifest names; export as EML, MSG or a folder as
// a zip of EML; restore into an IMAP folder or send over SMTP as runs. Every route first checks that
// the user sees the VM and holds the fileRestore privileges on it.
import type { Request } from 'express';
import type {
  ExchangeDatabaseInfo, ExchangeDeliveryReport, ExchangeMessageDto, ExchangeRestoreRequest, ExchangeSendRequest, JobRun, RestorePoint,
} from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref as named, type Schema } from '../schema.ts';
import { param, UUID_ID } from '../http.ts';
import { InvalidRequest, NotFound, StillpointError } from '../../common/errors.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { FsError } from '../../filesystems/types.ts';
import { IsolationError } from '../../file-restore/isolation.ts';
import type { PointMailboxDatabase, PointMailboxes } from '../../exchange/point-mailboxes.ts';
import type { ExchangeDeliveryReports } from '../../exchange/deliver-run.ts';
import { emlZip, messageFileName, toEml, toMsg } from '../../exchange/export.ts';
import type { ExchangeMessage } from '../../exchange/types.ts';
import { contentDisposition } from './files.ts';
import { RP_ID, requireOnVms, requireVisible } from './operations.ts';

export interface ExchangeDeps {
  mailboxes: PointMailboxes;
  reports: ExchangeDeliveryReports;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
  /** Starts an 'exchange-restore' or 'exchange-send' run (the password is held in memory, not in the run). */
  start(kind: 'exchange-restore' | 'exchange-send', rp: RestorePoint, req: ExchangeRestoreRequest | ExchangeSendRequest, user: UserContext): Promise<JobRun>;
}

const isFsError = (e: unknown): e is FsError => e instanceof FsError || ((e as Error)?.name === 'FsError' && typeof (e as FsError).code === 'string');

/** Backup-side problems (no Exchange writer, a damaged .edb, a parser stopped by its bounds) as HTTP answers. */
function translate(e: unknown): unknown {
  if (isFsError(e)) {
    if (e.code === 'ENOENT') return new StillpointError('not_found', 'not_found', `${e.message}.`);
    if (e.code === 'ENOTSUP') return new StillpointError('invalid', 'not_a_mailbox_database', `${e.message}.`);
    if (e.code === 'ERANGE') return new InvalidRequest(`Invalid request: ${e.message}.`);
    return new StillpointError('invalid', 'edb_damaged', `The mailbox database in this restore point cannot be read here: ${e.message} (${e.code}). Try another restore point.`);
  }
  if (e instanceof IsolationError) return new StillpointError('invalid', 'edb_damaged', `${e.message}`);
  return e;
}
const guarded = async <T>(f: () => Promise<T> | T): Promise<T> => { try { return await f(); } catch (e) { throw translate(e); } };

const MAILBOX = /^\d{1,9}$/;
const FOLDER_ID = /^[0-9a-f]{2,128}$/;
const DOC = /^\d{1,10}$/;

const ImapTargetSchema = named('ImapTarget', {
  type: 'object', additionalProperties: false, required: ['host', 'port', 'secure', 'user', 'password', 'folder'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 }, port: { type: 'integer', minimum: 1, maximum: 65535 },
    secure: { type: 'boolean', description: 'TLS from the start (993); otherwise STARTTLS when offered' },
    user: { type: 'string', minLength: 1, maxLength: 512 },
    password: { type: 'string', minLength: 1, maxLength: 1024, description: 'used by this run only; never stored or logged' },
    folder: { type: 'string', minLength: 1, maxLength: 512, description: 'created when missing, e.g. "Restored items"' },
    caPem: { type: 'string', maxLength: 65536, description: "PEM of the CA that signed the server's certificate, when the system does not trust it" },
  },
});
const SmtpTargetSchema = named('SmtpTarget', {
  type: 'object', additionalProperties: false, required: ['host', 'port', 'secure', 'envelopeFrom', 'to'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 }, port: { type: 'integer', minimum: 1, maximum: 65535 }, secure: { type: 'boolean' },
    user: { type: 'string', maxLength: 512 }, password: { type: 'string', maxLength: 1024, description: 'used by this run only; never stored or logged' },
    envelopeFrom: { type: 'string', minLength: 3, maxLength: 512 },
    to: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 3, maxLength: 512 } },
    caPem: { type: 'string', maxLength: 65536, description: "PEM of the CA that signed the server's certificate, when the system does not trust it" },
  },
});
const MESSAGES: Schema = { type: 'array', minItems: 1, maxItems: 10_000, items: { type: 'integer', minimum: 0 }, description: 'document ids from a listing' };
const ExchangeRestoreRequestSchema = named('ExchangeRestoreRequest', {
  type: 'object', additionalProperties: false, required: ['mailbox', 'messages', 'imap'],
  properties: { mailbox: { type: 'integer', minimum: 0 }, messages: MESSAGES, imap: ImapTargetSchema },
});
const ExchangeSendRequestSchema = named('ExchangeSendRequest', {
  type: 'object', additionalProperties: false, required: ['mailbox', 'messages', 'smtp'],
  properties: { mailbox: { type: 'integer', minimum: 0 }, messages: MESSAGES, smtp: SmtpTargetSchema },
});
const MessagesQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 256, description: "part of the sender's name or address" },
    subject: { type: 'string', maxLength: 256 },
    after: { type: 'string', maxLength: 40, description: 'sent at or after (ISO 8601)' },
    before: { type: 'string', maxLength: 40, description: 'sent before (ISO 8601)' },
    attachment: { type: 'string', maxLength: 256, description: "part of an attachment's file name" },
    folderId: { type: 'string', maxLength: 128 },
    limit: { type: 'integer', minimum: 1, maximum: 100_000 },
  },
};
const ExportQuery: Schema = { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['eml', 'msg'] } } };

/** A message without its attachments' bytes (they come with an export). */
export function messageDto(m: ExchangeMessage): ExchangeMessageDto {
  return { ...m, attachments: m.attachments.map(({ content: _c, ...a }) => a) };
}

export function exchangeRoutes(d: ExchangeDeps): RouteDef[] {
  async function authorize(user: UserContext, req: Request): Promise<RestorePoint> {
    const id = param(req, 'id', RP_ID, 'restore point');
    const rp = await d.restorePoint(id);
    if (!rp) throw new NotFound('Restore point', id);
    await requireVisible(user, [rp.vmId]);
    await requireOnVms(user, [rp.vmId], 'Restoring Exchange items from a restore point', PRIVILEGES.fileRestore);
    return rp;
  }
  const database = async (user: UserContext, req: Request): Promise<PointMailboxDatabase> => {
    const rp = await authorize(user, req);
    return guarded(() => d.mailboxes.open(rp.id));
  };
  const mailboxOf = (req: Request) => Number(param(req, 'mb', MAILBOX, 'mailbox'));
  const deliver = (kind: 'exchange-restore' | 'exchange-send') => async ({ req, user, body }: { req: Request; user: UserContext; body: unknown }) => {
    const rp = await authorize(user, req);
    const r = body as ExchangeRestoreRequest | ExchangeSendRequest;
    const { db } = await guarded(() => d.mailboxes.open(rp.id));
    // Unknown messages are a 404 before anything is delivered.
    for (const doc of r.messages) await guarded(() => db.message(r.mailbox, doc));
    return d.start(kind, rp, r, user);
  };

  return [
    {
      method: 'get', path: '/restore-points/:id/exchange', tag: 'exchange',
      summary: "The restore point's Exchange mailbox database (from its VSS manifest's Exchange writer): where, its state, logs, mailboxes",
      handler: async ({ req, user }): Promise<ExchangeDatabaseInfo> => {
        const { located, db, restorePointId } = await database(user, req);
        const boxes = await guarded(() => db.mailboxes());
        return {
          restorePointId, path: located.path, ...(located.caption ? { caption: located.caption } : {}), volumeId: located.volume, sizeBytes: located.file.size,
          ...(located.logDir ? { logDir: located.logDir } : {}),
          logs: located.logs.map((l) => ({ name: l.name, size: l.size, ...(l.mtime ? { mtime: l.mtime } : {}) })),
          database: boxes.database, mailboxes: boxes.items,
        };
      },
    },
    {
      method: 'get', path: '/restore-points/:id/exchange/mailboxes/:mb/folders', tag: 'exchange',
      summary: "A mailbox's folder tree (id, parent, path, counts)",
      handler: async ({ req, user }) => { const { db } = await database(user, req); return guarded(() => db.folders(mailboxOf(req))); },
    },
    {
      method: 'get', path: '/restore-points/:id/exchange/mailboxes/:mb/messages', tag: 'exchange', query: MessagesQuery,
      summary: 'Messages of a mailbox (or a folder), searched by sender, subject, date range and attachment name',
      handler: async ({ req, user, query }) => {
        const { db } = await database(user, req);
        if (query.folderId !== undefined && !FOLDER_ID.test(query.folderId)) throw new InvalidRequest('Invalid request: folderId is the hex id of a folder from the folder listing.');
        return guarded(() => db.search(mailboxOf(req), { ...query, limit: query.limit ?? 5000 }));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/exchange/mailboxes/:mb/messages/:doc', tag: 'exchange',
      summary: 'One message: sender, recipients, dates, bodies, attachments (names and sizes)',
      handler: async ({ req, user }) => {
        const { db } = await database(user, req);
        const a = await guarded(() => db.message(mailboxOf(req), Number(param(req, 'doc', DOC, 'message'))));
        return { database: a.database, items: messageDto(a.items) };
      },
    },
    {
      method: 'get', path: '/restore-points/:id/exchange/mailboxes/:mb/messages/:doc/export', tag: 'exchange', query: ExportQuery,
      summary: 'A message as an EML (RFC 5322) or MSG (Outlook) file',
      handler: async ({ req, res, user, query }) => {
        const { db } = await database(user, req);
        const { items: m, database: state } = await guarded(() => db.message(mailboxOf(req), Number(param(req, 'doc', DOC, 'message'))));
        const format = (query.format ?? 'eml') as 'eml' | 'msg';
        const bytes = format === 'msg' ? toMsg(m) : await toEml(m);
        res.status(200).type(format === 'msg' ? 'application/vnd.ms-outlook' : 'message/rfc822')
          .setHeader('content-disposition', contentDisposition(messageFileName(m, format)));
        res.setHeader('x-stillpoint-database-state', state.state);
        res.end(bytes);
        return undefined;
      },
    },
    {
      method: 'get', path: '/restore-points/:id/exchange/mailboxes/:mb/folders/:folder/export', tag: 'exchange',
      summary: 'A folder as a zip of EML files, streamed as it is made',
      handler: async ({ req, res, user }) => {
        const { db } = await database(user, req);
        const mb = mailboxOf(req);
        const folderId = param(req, 'folder', FOLDER_ID, 'folder');
        const folders = await guarded(() => db.folders(mb));
        const folder = folders.items.find((f) => f.id === folderId);
        if (!folder) throw new NotFound('Folder', folderId);
        const list = await guarded(() => db.search(mb, { folderId }));
        async function* messages() { for (const s of list.items) yield (await db.message(mb, s.documentId)).items; }
        res.status(200).type('application/zip').setHeader('content-disposition', contentDisposition(`${folder.name || 'folder'}.zip`));
        res.setHeader('x-stillpoint-database-state', list.database.state);
        const zip = emlZip(messages());
        await new Promise<void>((resolve) => { zip.on('error', () => { res.destroy(); resolve(); }); res.on('close', resolve); zip.pipe(res); });
        return undefined;
      },
    },
    {
      method: 'post', path: '/restore-points/:id/exchange/restore', tag: 'exchange', status: 202, body: ExchangeRestoreRequestSchema,
      summary: 'Restore messages into a folder of a mailbox over IMAP (APPEND, created when missing), with your own mail account, as a run',
      handler: deliver('exchange-restore'),
    },
    {
      method: 'post', path: '/restore-points/:id/exchange/send', tag: 'exchange', status: 202, body: ExchangeSendRequestSchema,
      summary: 'Send messages, as they were, to mailboxes over SMTP, as a run',
      handler: deliver('exchange-send'),
    },
    {
      method: 'get', path: '/exchange-deliveries/:runId', tag: 'exchange',
      summary: 'What an Exchange restore or send run did, message by message, or the server answer that stopped it',
      handler: async ({ req, user }): Promise<ExchangeDeliveryReport> => {
        const runId = param(req, 'runId', UUID_ID, 'run');
        const rep = d.reports.get(runId);
        if (!rep) throw new NotFound('Exchange delivery run', runId, 'reports are kept in memory until the service restarts.');
        const rp = await d.restorePoint(rep.restorePointId);
        if (!rp) throw new NotFound('Restore point', rep.restorePointId);
        await requireVisible(user, [rp.vmId]);
        await requireOnVms(user, [rp.vmId], 'Reading an Exchange delivery report', PRIVILEGES.fileRestore);
        return rep;
      },
    },
  ];
}
