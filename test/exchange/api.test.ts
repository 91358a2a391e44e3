/**
 * Exchange items through the API, end to end: lab VM "mail01" (NTFS disk with a SYNTHETIC, dirty
 * Exchange mailbox database; Exchange writer in its VSS manifest) backed up through the service;
 * then mailboxes, folders, search, a message, EML/MSG/zip downloads, a restore into Dovecot and a
 * send through an SMTP server as runs, and a user who cannot see the VM refused.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:https'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { ImapFlow } from 'imapflow'
import { simpleParser } from 'mailparser'
import { startLab, type Lab } from '../lab/lab.ts'
import { buildMail01Image } from '../lab/images/mail01.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { startDovecot, type Dovecot } from '../helpers/dovecot.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'
import type {
  ExchangeAnswerDto, ExchangeDatabaseInfo, ExchangeDeliveryReport, ExchangeFolderDto, ExchangeMessageDto, ExchangeMessageSummaryDto, JobRun,
} from '../../backend/api/contract.ts'
import { assertMsgconvertReadsSame, assertSameMail } from './helpers.ts'
import type { ExchangeMessage } from '../../backend/exchange/types.ts'

let lab: Lab | undefined, t: TestService, admin: string, rp: string, imap: Dovecot, smtp: SmtpSink, tmp: string
before(async () => {
  const img = await buildMail01Image()
  lab = await startLab({ appVms: { mail01: img.image } })
  t = await startTestService({ lab })
  admin = await t.login()
  imap = await startDovecot({ user: 'alice', password: 'Api-Restore-1' })
  smtp = await startSmtpSink()
  tmp = mkdtempSync(join(tmpdir(), 'stillpoint-exchange-api-'))
  const vmId = (await t.lab.control.vms()).mail01!.moref
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [vmId] } })
  assert.equal(b.status, 202, JSON.stringify(b.body))
  const run = await t.waitRun(admin, b.body.id, 180_000)
  assert.equal(run.status, 'success', JSON.stringify(run))
  assert.equal(run.vms[0]!.consistency, 'application')
  rp = run.vms[0]!.restorePointId!
})
// The service's stop() leaves a lab it was given running: this file stops its own, or it never ends.
after(async () => { await t?.stop(); await lab?.stop(); await imap?.stop(); await smtp?.stop(); if (tmp) rmSync(tmp, { recursive: true, force: true }) })

const api = <T>(method: string, path: string, body?: unknown, token = admin) => t.call<T>(method, `/api/restore-points/${rp}/exchange${path}`, { token, ...(body ? { body } : {}) })
function download(path: string): Promise<{ status: number; type: string; state: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.service.url}/api/restore-points/${rp}/exchange${path}`, { headers: { authorization: `Bearer ${admin}` }, ca: t.service.cert }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), state: String(res.headers['x-stillpoint-database-state']), body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}
/** The full message as the API shows it plus the attachment bytes (from the EML download) for comparisons. */
async function full(mb: number, doc: number): Promise<ExchangeMessage> {
  const m = (await api<ExchangeAnswerDto<ExchangeMessageDto>>('GET', `/mailboxes/${mb}/messages/${doc}`)).body.items
  const eml = await simpleParser((await download(`/mailboxes/${mb}/messages/${doc}/export?format=eml`)).body)
  return { ...m, attachments: m.attachments.map((a, i) => ({ ...a, content: eml.attachments[i]!.content })) }
}

test('mail01 through the API: database info (dirty, logs it needs), folders, search, a message, EML/MSG/zip downloads', async () => {
  const info = await api<ExchangeDatabaseInfo>('GET', '')
  assert.equal(info.status, 200, JSON.stringify(info.body))
  assert.equal(info.body.path, 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Mailbox\\Mailbox Database 0123456789\\Mailbox Database 0123456789.edb')
  assert.equal(info.body.database.state, 'dirty')
  assert.deepEqual(info.body.database.requiredLogs, { min: 0x31, max: 0x35 })
  assert.deepEqual(info.body.mailboxes.map((m) => m.displayName), ['Alice Müller', 'Bob Søndergaard'])
  const mb = info.body.mailboxes[0]!.number
  const folders = await api<ExchangeAnswerDto<ExchangeFolderDto[]>>('GET', `/mailboxes/${mb}/folders`)
  assert.deepEqual(folders.body.items.map((f) => f.path), ['Top of Information Store', 'Inbox', 'Inbox/Projects', 'Sent Items', 'Deleted Items'])
  const found = await api<ExchangeAnswerDto<ExchangeMessageSummaryDto[]>>('GET', `/mailboxes/${mb}/messages?subject=quarterly&from=bob&after=2026-11-01&attachment=pdf`)
  assert.equal(found.status, 200, JSON.stringify(found.body))
  assert.equal(found.body.database.state, 'dirty')
  assert.deepEqual(found.body.items.map((s) => s.subject), ['Quarterly report Q3 — figures attached'])
  const doc = found.body.items[0]!.documentId
  const m = await api<ExchangeAnswerDto<ExchangeMessageDto>>('GET', `/mailboxes/${mb}/messages/${doc}`)
  assert.deepEqual(m.body.items.attachments.map((a) => [a.filename, a.size]), [['Q3-report.pdf', 9000], ['figures.csv', 27]])
  const message = await full(mb, doc)
  const eml = await download(`/mailboxes/${mb}/messages/${doc}/export?format=eml`)
  assert.equal(eml.type, 'message/rfc822'); assert.equal(eml.state, 'dirty')
  assertSameMail(await simpleParser(eml.body), message, 'EML download')
  const msg = await download(`/mailboxes/${mb}/messages/${doc}/export?format=msg`)
  assert.equal(msg.type, 'application/vnd.ms-outlook')
  writeFileSync(join(tmp, 'q3.msg'), msg.body)
  await assertMsgconvertReadsSame(join(tmp, 'q3.msg'), message, 'MSG download')
  const inbox = folders.body.items.find((f) => f.path === 'Inbox')!
  const zip = await download(`/mailboxes/${mb}/folders/${inbox.id}/export`)
  assert.equal(zip.status, 200); assert.equal(zip.type, 'application/zip')
  writeFileSync(join(tmp, 'inbox.zip'), zip.body)
  assert.equal(execFileSync('unzip', ['-Z1', join(tmp, 'inbox.zip')], { encoding: 'utf8' }).trim().split('\n').length, 2)
  assert.equal((await api('GET', `/mailboxes/${mb}/messages/999999`)).status, 404)
  assert.equal((await api('GET', `/mailboxes/${mb}/messages?after=yesterday`)).status, 400)
})

test('restore into Dovecot and send through SMTP as runs; the messages arrive as they were', async () => {
  const mb = (await api<ExchangeDatabaseInfo>('GET', '')).body.mailboxes[0]!.number
  const all = (await api<ExchangeAnswerDto<ExchangeMessageSummaryDto[]>>('GET', `/mailboxes/${mb}/messages`)).body.items
  const pick = all.filter((s) => /Quarterly report|Grüße/.test(s.subject) && !s.subject.startsWith('Re:'))
  assert.equal(pick.length, 2)
  const r = await api<JobRun>('POST', '/restore', { mailbox: mb, messages: pick.map((s) => s.documentId), imap: { host: imap.host, port: imap.port, secure: false, user: 'alice', password: 'Api-Restore-1', folder: 'Restored/From backup' } })
  assert.equal(r.status, 202, JSON.stringify(r.body))
  assert.equal(r.body.kind, 'exchange-restore')
  const run = await t.waitRun(admin, r.body.id, 120_000)
  assert.equal(run.status, 'success', JSON.stringify(run))
  assert.match(run.vms[0]!.message ?? '', /2 messages restored into "Restored\/From backup" .*dirty mailbox database/)
  assert.doesNotMatch(JSON.stringify(run), /Api-Restore-1/, 'the password is not in the run')
  const rep = await t.call<ExchangeDeliveryReport>('GET', `/api/exchange-deliveries/${r.body.id}`, { token: admin })
  assert.equal(rep.body.done, 2)
  const c = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: 'alice', pass: 'Api-Restore-1' }, logger: false })
  await c.connect()
  try {
    const lock = await c.getMailboxLock('Restored/From backup')
    try {
      const got = []
      for await (const x of c.fetch('1:*', { source: true })) got.push(x)
      assert.equal(got.length, 2)
      for (const [i, s] of pick.entries()) assertSameMail(await simpleParser(got[i]!.source!), await full(mb, s.documentId), `IMAP copy of ${s.subject}`)
    } finally { lock.release() }
  } finally { await c.logout() }

  const bad = await api<JobRun>('POST', '/restore', { mailbox: mb, messages: [pick[0]!.documentId], imap: { host: imap.host, port: imap.port, secure: false, user: 'alice', password: 'wrong', folder: 'INBOX' } })
  const failed = await t.waitRun(admin, bad.body.id, 120_000)
  assert.equal(failed.status, 'failed')
  assert.match(JSON.stringify(failed.vms[0]), /refused the login \(check the user name and password\)/)

  const s = await api<JobRun>('POST', '/send', { mailbox: mb, messages: [pick[0]!.documentId], smtp: { host: smtp.host, port: smtp.port, secure: false, envelopeFrom: 'restore@corp.example.test', to: ['alice@corp.example.test'] } })
  assert.equal(s.status, 202, JSON.stringify(s.body))
  assert.equal((await t.waitRun(admin, s.body.id, 120_000)).status, 'success')
  const got = smtp.received()
  assert.equal(got.length, 1)
  assert.deepEqual(got[0]!.envelope.to, ['alice@corp.example.test'])
  assertSameMail(await simpleParser(got[0]!.raw), await full(mb, pick[0]!.documentId), 'SMTP copy')
})

test('a user who cannot see mail01 gets nothing from its backup', async () => {
  const operator = await t.login('restricted')
  const r = await api('GET', '', undefined, operator)
  assert.ok(r.status === 403 || r.status === 404, `${r.status} ${JSON.stringify(r.body)}`)
  const s = await api('POST', '/send', { mailbox: 101, messages: [1000], smtp: { host: smtp.host, port: smtp.port, secure: false, envelopeFrom: 'x@y.z', to: ['a@b.c'] } }, operator)
  assert.ok(s.status === 403 || s.status === 404)
})
