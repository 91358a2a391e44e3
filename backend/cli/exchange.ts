// `stillpoint exchange …`: Exchange mail items straight from a mailbox database file (.edb; no
// Exchange, no esent.dll): mailboxes, folders, messages, search; export as EML/MSG/zip; restore into
// an IMAP folder or send over SMTP.
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { FsError } from '../filesystems/types.ts';
import { openFileReader } from '../ese/file-reader.ts';
import { openMailboxDatabase, type MailboxDatabase } from '../exchange/mailbox-database.ts';
import { emlZip, messageFileName, toEml, toMsg } from '../exchange/export.ts';
import { restoreToImap, sendViaSmtp } from '../exchange/deliver.ts';
import type { ExchangeMessage, ExchangeMessageSummary, ExchangeSearch } from '../exchange/types.ts';
import { progressBar } from './progress.ts';
import { count } from '../common/units.ts';

const USAGE = `usage: stillpoint exchange <command> FILE [MAILBOX] [MESSAGE…] [options]

commands:
  ls FILE [MAILBOX]       the mailboxes (number, owner, address, messages), or a mailbox's folder tree
  find FILE MAILBOX       messages, newest first, filtered by --from, --subject, --after, --before,
                          --attachment, --folder
  show FILE MAILBOX MSG   one message: sender, recipients, dates, folder, body text, attachments
  export FILE MAILBOX MSG write the message as EML (default) or MSG (--format msg), or with --folder PATH
                          the whole folder as a zip of EML (-o names the file)
  restore FILE MAILBOX MSG…  append the messages into a folder of a mailbox over IMAP (--imap, --user,
                          --folder; created when missing)
  send FILE MAILBOX MSG…  send the messages, as they were, to mailboxes over SMTP (--smtp, --to)

options:
  --json                  JSON (every answer carries the database's state)
  --from TEXT             find: part of the sender's name or address
  --subject TEXT          find: part of the subject
  --after DATE            find: sent at or after DATE (ISO 8601: 2026-11-20 or 2026-11-20T09:00:00Z)
  --before DATE           find: sent before DATE
  --attachment TEXT       find: part of an attachment's file name
  --folder PATH           find, export: this folder (as ls shows it, e.g. Inbox/Projects)
  --limit N               find: at most N messages (default 1000)
  --format eml|msg        export: the file format (default eml)
  -o, --output FILE       export: where to write (default: a name from the date and subject)

mail server (restore, send):
  --imap HOST[:PORT]      restore: the IMAP server (port 993 with --tls, else 143)
  --smtp HOST[:PORT]      send: the SMTP server (port 465 with --tls, else 25)
  --tls                   TLS from the start (otherwise STARTTLS when the server offers it)
  --user NAME             your mail account (needed for restore; for send when the server wants a login)
  --password-env VAR      the environment variable holding its password (default STILLPOINT_MAIL_PASSWORD);
                          a password is never taken on the command line
  --to ADDRESS            send: a mailbox to deliver to (repeat for more)
  --envelope-from ADDR    send: the sender the server is told (default: each message's sender)
  --ca FILE               the PEM of the CA that signed the server's certificate (when the system does not trust it)

The file is read as it stands, without log replay: a dirty database (the normal case in a VSS snapshot
of a live mailbox server) may lack its latest changes, and every answer says so.

examples:
  stillpoint exchange ls "Mailbox Database 0123456789.edb"
  stillpoint exchange ls mailbox.edb 101
  stillpoint exchange find mailbox.edb 101 --subject "quarterly report" --after 2026-11-01
  stillpoint exchange find mailbox.edb 101 --from bob@corp.example --attachment .pdf --json
  stillpoint exchange show mailbox.edb 101 1000
  stillpoint exchange export mailbox.edb 101 1000 --format msg -o report.msg
  stillpoint exchange export mailbox.edb 101 --folder Inbox -o inbox.zip
  STILLPOINT_MAIL_PASSWORD=… stillpoint exchange restore mailbox.edb 101 1000 1003 \\
    --imap mail.corp.example --tls --user alice@corp.example --folder "Restored items"
  stillpoint exchange send mailbox.edb 101 1000 --smtp mail.corp.example:25 --to helpdesk@corp.example
`;

class UsageError extends Error {}

const addr = (a: { name: string; address: string }) => (a.name ? `${a.name} <${a.address}>` : a.address);
const line = (s: ExchangeMessageSummary) =>
  `${String(s.documentId).padStart(8)}  ${(s.sent ?? s.received ?? '').slice(0, 16).replace('T', ' ').padEnd(16)}  ${addr(s.from).slice(0, 40).padEnd(40)}  ${s.hasAttachments ? '📎 ' : ''}${s.subject}  [${s.folderPath}]\n`;

function hostPort(v: string, tls: boolean, kind: 'imap' | 'smtp'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) throw new UsageError(`--${kind} takes HOST or HOST:PORT, got '${v}'`);
  const port = m[2] ? Number(m[2]) : kind === 'imap' ? (tls ? 993 : 143) : (tls ? 465 : 25);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export async function run(args: string[]): Promise<number> {
  const pos: string[] = [];
  let json = false, limit = 1000, format: 'eml' | 'msg' = 'eml', output: string | undefined, folderPath: string | undefined;
  let imap: string | undefined, smtp: string | undefined, tls = false, user: string | undefined, passwordEnv = 'STILLPOINT_MAIL_PASSWORD';
  let envelopeFrom: string | undefined, imapFolder: string | undefined, caPem: string | undefined;
  const to: string[] = [];
  const q: ExchangeSearch = {};
  const need = (i: number, opt: string) => { if (args[i] === undefined) throw new UsageError(`${opt} needs a value`); return args[i]!; };
  let cmd: string | undefined;
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
      if (a === '--json') json = true;
      else if (a === '--from') q.from = need(++i, a);
      else if (a === '--subject') q.subject = need(++i, a);
      else if (a === '--after') q.after = need(++i, a);
      else if (a === '--before') q.before = need(++i, a);
      else if (a === '--attachment') q.attachment = need(++i, a);
      else if (a === '--folder') folderPath = need(++i, a);
      else if (a === '--limit') { limit = Number(need(++i, a)); if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit needs a whole number above 0'); }
      else if (a === '--format') { const f = need(++i, a); if (f !== 'eml' && f !== 'msg') throw new UsageError(`--format is eml or msg, not '${f}'`); format = f; }
      else if (a === '-o' || a === '--output') output = need(++i, a);
      else if (a === '--imap') imap = need(++i, a);
      else if (a === '--smtp') smtp = need(++i, a);
      else if (a === '--tls') tls = true;
      else if (a === '--user') user = need(++i, a);
      else if (a === '--password-env') passwordEnv = need(++i, a);
      else if (a === '--to') to.push(need(++i, a));
      else if (a === '--envelope-from') envelopeFrom = need(++i, a);
      else if (a === '--ca') {
        const file = need(++i, a);
        try { caPem = readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`--ca: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e}): give the CA certificate as a PEM file`); }
        if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      }
      else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
      else pos.push(a);
    }
    cmd = pos[0];
    const cmds = ['ls', 'find', 'show', 'export', 'restore', 'send'];
    if (!cmd || !cmds.includes(cmd)) throw new UsageError(cmd ? `unknown command '${cmd}'` : 'name a command');
    if (!pos[1]) throw new UsageError('name the mailbox database file (.edb)');
    if (cmd !== 'ls' && !/^\d+$/.test(pos[2] ?? '')) throw new UsageError('name the mailbox by its number (stillpoint exchange ls FILE lists them)');
    if ((cmd === 'show' || cmd === 'restore' || cmd === 'send' || (cmd === 'export' && !folderPath)) && !pos.slice(3).every((x) => /^\d+$/.test(x))) throw new UsageError('messages are named by their number (as find shows them)');
    if ((cmd === 'show' || cmd === 'restore' || cmd === 'send' || (cmd === 'export' && !folderPath)) && !pos[3]) throw new UsageError('name a message by its number (as find shows it)');
    if (cmd === 'restore') {
      if (!imap || !user || !folderPath) throw new UsageError('restore needs --imap HOST, --user NAME and --folder PATH');
      imapFolder = folderPath;
    }
    if (cmd === 'send' && (!smtp || !to.length)) throw new UsageError('send needs --smtp HOST and at least one --to ADDRESS');
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`stillpoint exchange: ${e.message}\n\n${USAGE}`); return 2; }
    throw e;
  }
  const file = pos[1]!;
  let reader;
  try { reader = openFileReader(file); } catch (e) {
    process.stderr.write(`stillpoint exchange: cannot open ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const out = (v: unknown) => process.stdout.write(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x), 2) + '\n');
  try {
    const db = await openMailboxDatabase(reader);
    const state = db.state();
    if (state.state === 'dirty' && !json) process.stderr.write(`stillpoint exchange: warning: ${file} is ${state.detail}\n`);
    const mb = Number(pos[2]);
    const folderIdOf = async (path: string) => {
      const f = (await db.folders(mb)).items.find((x) => x.path.toLowerCase() === path.toLowerCase())
      if (!f) throw new FsError('ENOENT', `mailbox ${mb} has no folder "${path}" (stillpoint exchange ls ${file} ${mb} shows its folders)`);
      return f.id;
    };
    const messages = async (): Promise<ExchangeMessage[]> => { const r: ExchangeMessage[] = []; for (const d of pos.slice(3)) r.push((await db.message(mb, Number(d))).items); return r; };
    if (cmd === 'ls') {
      if (pos[2] === undefined) {
        const a = await db.mailboxes();
        if (json) out(a); else for (const m of a.items) process.stdout.write(`${String(m.number).padStart(6)}  ${m.displayName}${m.smtp ? ` <${m.smtp}>` : ''}  ${count(m.messageCount, 'message')}\n`);
      } else {
        const a = await db.folders(mb);
        const byId = new Map(a.items.map((f) => [f.id, f]));
        const depth = (f: { parentId?: string }, n = 0): number => (f.parentId && byId.has(f.parentId) && n < 64 ? depth(byId.get(f.parentId)!, n + 1) : n);
        if (json) out(a); else for (const f of a.items) process.stdout.write(`${'  '.repeat(depth(f))}${f.name}  (${f.messageCount}, ${f.unreadCount} unread)\n`);
      }
    } else if (cmd === 'find') {
      const a = await db.search(mb, { ...q, ...(folderPath ? { folderId: await folderIdOf(folderPath) } : {}), limit });
      a.items.sort((x, y) => (y.sent ?? '').localeCompare(x.sent ?? ''));
      if (json) out(a); else { for (const s of a.items) process.stdout.write(line(s)); process.stdout.write(`${count(a.items.length, 'message')}\n`); }
    } else if (cmd === 'show') {
      const a = await db.message(mb, Number(pos[3]));
      const m = a.items;
      if (json) out({ ...a, items: { ...m, attachments: m.attachments.map(({ content: _c, ...x }) => x) } });
      else {
        process.stdout.write(`Subject: ${m.subject}\nFrom: ${addr(m.from)}\nTo: ${m.to.map(addr).join(', ')}\n${m.cc.length ? `Cc: ${m.cc.map(addr).join(', ')}\n` : ''}`);
        process.stdout.write(`Sent: ${m.sent ?? '-'}\nReceived: ${m.received ?? '-'}\nFolder: ${m.folderPath}\n${m.messageId ? `Message-ID: ${m.messageId}\n` : ''}`);
        for (const at of m.attachments) process.stdout.write(`Attachment: ${at.filename} (${at.contentType}, ${at.size} bytes)\n`);
        process.stdout.write(`\n${m.text ?? (m.html ? '(HTML body only; export it to read it)' : '(no body)')}\n`);
        if (m.problems.length) process.stdout.write(`\n# ${count(m.problems.length, 'value')} not decoded: ${m.problems.slice(0, 5).join('; ')}\n`);
      }
    } else if (cmd === 'export') {
      if (folderPath) {
        const list = (await db.search(mb, { folderId: await folderIdOf(folderPath) })).items;
        const target = output ?? `${folderPath.split('/').pop() || 'folder'}.zip`;
        const bar = json ? undefined : progressBar(`exporting ${count(list.length, 'message')}`, { unit: 'count' });
        async function* all() { for (const s of list) yield (await db.message(mb, s.documentId)).items; }
        await pipeline(emlZip(all(), (n) => bar?.update(n, list.length)), createWriteStream(target));
        bar?.done();
        if (json) out({ database: state, items: { file: target, messages: list.length } }); else process.stdout.write(`${target}: ${count(list.length, 'message')}\n`);
      } else {
        const [m] = await messages();
        const target = output ?? messageFileName(m!, format);
        writeFileSync(target, format === 'msg' ? toMsg(m!) : await toEml(m!));
        if (json) out({ database: state, items: { file: target } }); else process.stdout.write(`${target}\n`);
      }
    } else {
      const password = process.env[passwordEnv];
      if (cmd === 'restore' && !password) { process.stderr.write(`stillpoint exchange: set ${passwordEnv} to the password of ${user} (it is never taken on the command line)\n`); return 2; }
      const list = await messages();
      const bar = json ? undefined : progressBar(`${cmd === 'restore' ? 'restoring' : 'sending'} ${count(list.length, 'message')}`, { unit: 'count' });
      const onProgress = (p: { done: number; total: number }) => bar?.update(p.done, p.total);
      const res = cmd === 'restore'
        ? await restoreToImap({ ...hostPort(imap!, tls, 'imap'), secure: tls, user: user!, password: password!, folder: imapFolder!, ...(caPem ? { caPem } : {}) }, list, onProgress)
        : await sendViaSmtp({ ...hostPort(smtp!, tls, 'smtp'), secure: tls, ...(user ? { user, password: password ?? '' } : {}), envelopeFrom: envelopeFrom ?? list[0]!.from.address, to, ...(caPem ? { caPem } : {}) }, list, onProgress);
      bar?.done();
      if (json) out({ database: state, items: res.delivered });
      else for (const d of res.delivered) process.stdout.write(`${d.documentId}  ${d.subject}: ${d.detail}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof FsError) { process.stderr.write(`stillpoint exchange: ${file}: ${e.message}\n`); return 1; }
    if (cmd === 'restore' || cmd === 'send') { process.stderr.write(`stillpoint exchange: ${(e as Error).message}\n`); return 1; }
    throw e;
  } finally {
    reader.close();
  }
}
