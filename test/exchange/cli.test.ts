/**
 * `stillpoint exchange` on the SYNTHETIC EDB file: ls, find, show, export (EML, MSG, a folder as zip),
 * restore into Dovecot, --help; usage mistakes say what is wrong.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import { writeEdb } from '../ese-writer/edb.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts'
import { makeTestCa, startDovecot } from '../helpers/dovecot.ts'
import { ImapFlow } from 'imapflow'
import { assertMsgconvertReadsSame, assertSameMail } from './helpers.ts'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'stillpoint-exchange-cli-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const { mailboxes } = await sampleMailboxes()
const file = join(dir, 'mailbox.edb')
writeEdb(file, mailboxes, { dirty: { minLog: 7, maxLog: 9 } })
const db = await openMailboxDatabase(openFileReader(file))
const cli = (...args: string[]) => run(process.execPath, ['backend/cli/main.ts', 'exchange', ...args], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, STILLPOINT_MAIL_PASSWORD: 'Cli-Pass-1' }, maxBuffer: 16 << 20 })
  .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }))

test('stillpoint exchange: ls, find, show and export a message (EML, MSG) and a folder (zip)', async () => {
  const ls = await cli('ls', file)
  assert.equal(ls.code, 0, ls.stderr)
  assert.match(ls.stdout, /^ +101 {2}Alice Müller <alice@corp\.example\.test> {2}5 messages$/m)
  assert.match(ls.stderr, /warning: .* dirty-shutdown .*without log replay/)
  assert.match((await cli('ls', file, '101')).stdout, /^ {2}Inbox {2}\(2, 1 unread\)\n {4}Projects/m)
  const found = await cli('find', file, '101', '--subject', 'kickoff', '--json')
  const hits = JSON.parse(found.stdout)
  assert.equal(hits.database.state, 'dirty')
  assert.deepEqual(hits.items.map((s: { subject: string }) => s.subject), ['Project Stillwater: kickoff notes'])
  const doc = String(hits.items[0].documentId)
  const show = await cli('show', file, '101', doc)
  assert.match(show.stdout, /^From: 陈静 \(Chen Jing\) <chen@corp\.example\.test>$/m)
  assert.match(show.stdout, /^Attachment: Übersicht Zeitplan\.txt \(text\/plain, 34 bytes\)$/m)
  const m = (await db.message(101, Number(doc))).items
  assert.equal((await cli('export', file, '101', doc, '-o', join(dir, 'k.eml'))).code, 0)
  assertSameMail(await simpleParser(readFileSync(join(dir, 'k.eml'))), m, 'CLI EML')
  assert.equal((await cli('export', file, '101', doc, '--format', 'msg', '-o', join(dir, 'k.msg'))).code, 0)
  await assertMsgconvertReadsSame(join(dir, 'k.msg'), m, 'CLI MSG')
  const zip = await cli('export', file, '101', '--folder', 'Inbox', '-o', join(dir, 'inbox.zip'))
  assert.equal(zip.code, 0, zip.stderr)
  assert.match(zip.stdout, /inbox\.zip: 2 messages/)
})

test('stillpoint exchange restore: into a Dovecot folder with the password from the environment', async () => {
  const imap = await startDovecot({ user: 'alice', password: 'Cli-Pass-1' })
  after(() => imap.stop())
  const s = (await db.search(101, { subject: 'Grüße' })).items[0]!
  const r = await cli('restore', file, '101', String(s.documentId), '--imap', `${imap.host}:${imap.port}`, '--user', 'alice', '--folder', 'From CLI')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /appended|UID/)
  const c = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: 'alice', pass: 'Cli-Pass-1' }, logger: false })
  await c.connect()
  try {
    const lock = await c.getMailboxLock('From CLI')
    try {
      const got = []
      for await (const x of c.fetch('1:*', { source: true })) got.push(x)
      assertSameMail(await simpleParser(got[0]!.source!), (await db.message(101, s.documentId)).items, 'CLI IMAP restore')
    } finally { lock.release() }
  } finally { await c.logout() }
})

test('stillpoint exchange restore over STARTTLS: refused with what to do without the CA, done with --ca FILE', async () => {
  const ca = makeTestCa(mkdtempSync(join(dir, 'ca-')))
  const imap = await startDovecot({ user: 'dave', password: 'Cli-Pass-1', tls: { certFile: ca.certFile, keyFile: ca.keyFile } })
  after(() => imap.stop())
  const s = (await db.search(101, { subject: 'kickoff' })).items[0]!
  const args = ['restore', file, '101', String(s.documentId), '--imap', `${imap.host}:${imap.port}`, '--user', 'dave', '--folder', 'TLS']
  const refused = await cli(...args)
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /the server's certificate is not trusted .*give the PEM of the CA that signed it/)
  const r = await cli(...args, '--ca', ca.caFile)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /UID 1 in TLS/)
  const missing = await cli(...args, '--ca', join(dir, 'no-such-ca.pem'))
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /--ca: cannot read .*no-such-ca\.pem \(ENOENT\): give the CA certificate as a PEM file/)
})

test('stillpoint exchange: --help has examples; mistakes say what is wrong', async () => {
  const h = await cli('--help')
  assert.equal(h.code, 0)
  assert.match(h.stdout, /^usage: stillpoint exchange /)
  assert.match(h.stdout, /\n\nexamples:\n {2}stillpoint exchange ls /)
  const noBox = await cli('find', file)
  assert.equal(noBox.code, 2)
  assert.match(noBox.stderr, /^stillpoint exchange: name the mailbox by its number/)
  const noImap = await cli('restore', file, '101', '1000')
  assert.match(noImap.stderr, /restore needs --imap HOST, --user NAME and --folder PATH/)
  const bad = await cli('show', file, '101', '4242')
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /mailbox 101 has no message with document id 4242/)
})
