/**
 * Acceptance, end to end: back up the lab's mail server "mail01" (a Windows VM whose NTFS disk holds
 * a SYNTHETIC Exchange mailbox database, dirty as in a live VSS snapshot; the lab's VMware Tools
 * reports the Exchange VSS writer), then from the restore point — manifest → NTFS → ESE → items —
 * find a message by subject, export it as EML (mailparser) and MSG (msgconvert) with the same subject,
 * sender, recipients, date, body and attachments, and restore it into a folder of Dovecot and fetch
 * it back identical.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { simpleParser } from 'mailparser'
import { startLab, type Lab } from '../lab/lab.ts'
import { buildMail01Image, MAIL01_DIRTY_LOGS, type Mail01Image } from '../lab/images/mail01.ts'
import { connectToLab } from '../helpers/lab-vsphere.ts'
import { DEFAULT_SETTINGS } from '../helpers/backup-env.ts'
import { startDovecot, type Dovecot } from '../helpers/dovecot.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { Repository } from '../../backend/repository/repository.ts'
import { SessionJournal } from '../../backend/sources/snapshot/journal.ts'
import { VmLocks } from '../../backend/sources/snapshot/vm-lock.ts'
import { backupVm } from '../../backend/backup/backup-vm.ts'
import { FileRestore } from '../../backend/file-restore/sessions.ts'
import { locateDatabase, pointFileReader } from '../../backend/app-items/locate.ts'
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts'
import { toEml, toMsg } from '../../backend/exchange/export.ts'
import { restoreToImap } from '../../backend/exchange/deliver.ts'
import type { VSphere } from '../../backend/vsphere/index.ts'
import { assertMsgconvertReadsSame, assertSameMail } from './helpers.ts'

let img: Mail01Image, lab: Lab, vs: VSphere, repo: Repository, files: FileRestore, imap: Dovecot, dir: string
before(async () => {
  img = await buildMail01Image()
  lab = await startLab({ appVms: { mail01: img.image } })
  dir = mkdtempSync(join(tmpdir(), 'stillpoint-mail01-'))
  vs = await connectToLab(lab)
  repo = await Repository.init(join(dir, 'repo'))
  files = new FileRestore(async () => repo)
  imap = await startDovecot({ user: 'alice', password: 'Restore-Into-1' })
})
after(async () => {
  await files?.close(); await repo?.close().catch(() => undefined); await vs?.close().catch(() => undefined)
  await lab?.stop(); await imap?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('mail01: back up, find a message by subject, export EML and MSG, restore it into Dovecot — all equal to the mail written', async () => {
  const vmId = (await lab.control.vms()).mail01!.moref
  const r = await backupVm({ vs, repo, journal: new SessionJournal(join(dir, 'data')), locks: new VmLocks() }, { vmId, settings: DEFAULT_SETTINGS })
  assert.equal(r.consistency, 'application', r.reason)
  assert.match(r.reason, /Microsoft Exchange Writer/)

  const session = await files.open(r.restorePoint.id)
  const located = await locateDatabase(session, 'exchange')
  assert.equal(located.caption, 'Mailbox Database 0123456789')
  assert.equal(located.file.size, img.edbBytes.length)
  const db = await openMailboxDatabase(pointFileReader(session, located.volume, located.file))
  // A VSS copy of a live mailbox server is dirty: read as it stands, and said on every answer.
  const boxes = await db.mailboxes()
  assert.equal(boxes.database.state, 'dirty')
  assert.deepEqual(boxes.database.requiredLogs, { min: MAIL01_DIRTY_LOGS.minLog, max: MAIL01_DIRTY_LOGS.maxLog })
  assert.deepEqual(located.logs, [], 'the log generations it needs are not on the disk')
  const alice = boxes.items.find((b) => b.smtp === 'alice@corp.example.test')!

  const found = await db.search(alice.number, { subject: 'kickoff notes' })
  assert.equal(found.database.state, 'dirty')
  assert.equal(found.items.length, 1)
  const m = (await db.message(alice.number, found.items[0]!.documentId)).items
  // The message read from the backup is the mail that was written into the database.
  const { mailboxes } = await sampleMailboxes()
  const written = mailboxes[0]!.messages.find((x) => x.subject === 'Project Stillwater: kickoff notes')!
  assert.deepEqual([m.subject, m.from, m.to, m.cc, m.sent, m.text, m.html], [written.subject, written.from, written.to, written.cc, written.sent.toISOString(), written.text, written.html])
  assert.deepEqual(m.attachments.map((a) => [a.filename, a.content.toString('base64')]), written.attachments.map((a) => [a.filename, a.content.toString('base64')]))
  assert.equal(m.folderPath, 'Inbox/Projects')

  assertSameMail(await simpleParser(await toEml(m)), m, 'EML export')
  const msgPath = join(dir, 'kickoff.msg')
  writeFileSync(msgPath, toMsg(m))
  await assertMsgconvertReadsSame(msgPath, m, 'MSG export')

  const res = await restoreToImap({ host: imap.host, port: imap.port, secure: false, user: 'alice', password: 'Restore-Into-1', folder: 'Restored items' }, [m])
  assert.equal(res.delivered.length, 1)
  const c = new ImapFlow({ host: imap.host, port: imap.port, secure: false, auth: { user: 'alice', pass: 'Restore-Into-1' }, logger: false })
  await c.connect()
  try {
    const lock = await c.getMailboxLock('Restored items')
    try {
      const got = []
      for await (const x of c.fetch('1:*', { source: true })) got.push(x)
      assert.equal(got.length, 1)
      assertSameMail(await simpleParser(got[0]!.source!), m, 'fetched back from Dovecot')
    } finally { lock.release() }
  } finally { await c.logout() }
})
