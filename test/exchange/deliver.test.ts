/**
 * Restore into a real IMAP server (Debian's Dovecot, started here on a loopback port) and send to a
 * mailbox through a real SMTP server (smtp-server in its own process): messages from the SYNTHETIC
 * EDB arrive with the same subject, sender, recipients, date, bodies and attachments.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { simpleParser } from 'mailparser'
import { writeEdb } from '../ese-writer/edb.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts'
import { restoreToImap, sendViaSmtp } from '../../backend/exchange/deliver.ts'
import { makeTestCa, startDovecot } from '../helpers/dovecot.ts'
import { startSmtpSink } from '../helpers/smtp.ts'
import { assertSameMail } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'stillpoint-edb-deliver-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const { mailboxes } = await sampleMailboxes()
const file = join(dir, 'mailbox.edb')
writeEdb(file, mailboxes)
const db = await openMailboxDatabase(openFileReader(file))
const summaries = (await db.search(101)).items
const quarterly = (await db.message(101, summaries.find((s) => s.subject.startsWith('Quarterly'))!.documentId)).items
const kickoff = (await db.message(101, summaries.find((s) => s.subject.startsWith('Project'))!.documentId)).items
const imap = await startDovecot()
after(() => imap.stop())

test('restore to IMAP: messages are appended into a new folder of Dovecot and fetched back identical', async () => {
  const progress: number[] = []
  const res = await restoreToImap({ host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, folder: 'Restored/Exchange' },
    [quarterly, kickoff], (p) => progress.push(p.done))
  assert.deepEqual(progress, [1, 2])
  assert.equal(res.delivered.length, 2)
  const c = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: imap.user, pass: imap.password }, logger: false })
  await c.connect()
  try {
    const lock = await c.getMailboxLock('Restored/Exchange')
    try {
      const got = []
      for await (const m of c.fetch('1:*', { source: true, flags: true, internalDate: true })) got.push(m)
      assert.equal(got.length, 2)
      for (const [i, want] of [quarterly, kickoff].entries()) {
        assertSameMail(await simpleParser(got[i].source!), want, `IMAP copy of "${want.subject}"`)
        assert.equal(got[i].flags!.has('\\Seen'), want.read, 'read state kept')
        assert.equal(new Date(got[i].internalDate!).toISOString(), want.received, 'arrival time kept')
      }
    } finally { lock.release() }
  } finally { await c.logout() }
})

test('restore to IMAP: a wrong password is a clear error', async () => {
  await assert.rejects(restoreToImap({ host: imap.host, port: imap.port, secure: false, user: imap.user, password: 'wrong', folder: 'INBOX' }, [quarterly]),
    /IMAP 127\.0\.0\.1:\d+: the server refused the login \(check the user name and password\)/)
})

test('restore to IMAP over STARTTLS: a certificate from a private CA is refused with what to do, and accepted with that CA given', async () => {
  const ca = makeTestCa(dir)
  const tlsImap = await startDovecot({ user: 'carol', password: 'Tls-Restore-1', tls: { certFile: ca.certFile, keyFile: ca.keyFile } })
  try {
    const target = { host: tlsImap.host, port: tlsImap.port, secure: false, user: tlsImap.user, password: tlsImap.password, folder: 'Restored/TLS' }
    await assert.rejects(restoreToImap(target, [quarterly]), /IMAP 127\.0\.0\.1:\d+: the server's certificate is not trusted \(.+\); give the PEM of the CA that signed it/)
    const res = await restoreToImap({ ...target, caPem: ca.caPem }, [quarterly])
    assert.equal(res.delivered.length, 1)
    const c = new ImapFlow({ host: tlsImap.host, port: tlsImap.port, secure: false, auth: { user: tlsImap.user, pass: tlsImap.password }, logger: false, tls: { ca: ca.caPem } })
    await c.connect()
    try {
      assert.ok(c.secureConnection, 'the session was upgraded to TLS')
      const lock = await c.getMailboxLock('Restored/TLS')
      try {
        const got = []
        for await (const m of c.fetch('1:*', { source: true })) got.push(m)
        assert.equal(got.length, 1)
        assertSameMail(await simpleParser(got[0]!.source!), quarterly, 'IMAP copy over TLS')
      } finally { lock.release() }
    } finally { await c.logout() }
  } finally { await tlsImap.stop() }
})

test('send via SMTP: the message reaches the mailbox named, with the same content', async () => {
  const smtp = await startSmtpSink()
  try {
    const res = await sendViaSmtp({ host: smtp.host, port: smtp.port, secure: false, envelopeFrom: 'restore@corp.example.test', to: ['helpdesk@corp.example.test'] }, [quarterly, kickoff])
    assert.equal(res.delivered.length, 2)
    const got = smtp.received()
    assert.equal(got.length, 2)
    for (const [i, want] of [quarterly, kickoff].entries()) {
      assert.deepEqual(got[i].envelope.to, ['helpdesk@corp.example.test'])
      assert.equal(got[i].envelope.from, 'restore@corp.example.test')
      assertSameMail(await simpleParser(got[i].raw), want, `SMTP copy of "${want.subject}"`)
    }
    await assert.rejects(sendViaSmtp({ host: smtp.host, port: smtp.port, secure: false, envelopeFrom: 'x@y', to: [] }, [quarterly]), /name at least one recipient/)
  } finally { await smtp.stop() }
})
