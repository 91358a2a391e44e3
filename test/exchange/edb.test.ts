/**
 * The SYNTHETIC Exchange-2013+-shaped mailbox database (32 KiB pages, written by the test-only ESE
 * writer from real mails composed by nodemailer and parsed by mailparser) counts only when Debian's
 * esedbexport reads it back with the same values; then the Exchange layer reads mailboxes, the folder
 * tree, messages and attachments from it, searches it, and says when the database is dirty.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeEdb, edbTables } from '../ese-writer/edb.ts'
import { writeEseDatabase, COLTYP } from '../ese-writer/writer.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts'
import { decodePropertyBlob, PROP } from '../../backend/exchange/property-blob.ts'

const dir = mkdtempSync(join(tmpdir(), 'stillpoint-edb-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const { mailboxes } = await sampleMailboxes()
const file = join(dir, 'mailbox.edb')
const layout = writeEdb(file, mailboxes)

function oracle(path: string): Map<string, { header: string[]; rows: string[][] }> {
  execFileSync('esedbexport', ['-t', `${path}.oracle`, path], { stdio: 'ignore', timeout: 120_000 })
  const out = new Map<string, { header: string[]; rows: string[][] }>()
  for (const f of readdirSync(`${path}.oracle.export`)) {
    const lines = readFileSync(join(`${path}.oracle.export`, f), 'utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    out.set(f.replace(/\.\d+$/, ''), { header: lines[0].split('\t'), rows: lines.slice(1).map((l) => l.split('\t')) })
  }
  return out
}

test('EDB (synthetic, 32 KiB pages): esedbexport reads every table back with the values written', () => {
  const o = oracle(file)
  assert.deepEqual([...o.keys()].sort(), ['Attachment_101', 'Attachment_102', 'ExtendedPropertyNameMapping_101', 'ExtendedPropertyNameMapping_102',
    'Folder_101', 'Folder_102', 'MSysObjects', 'MSysObjectsShadow', 'Mailbox', 'MailboxIdentity', 'Message_101', 'Message_102'])
  const mb = o.get('Mailbox')!
  assert.deepEqual(mb.rows.map((r) => r[mb.header.indexOf('MailboxOwnerDisplayName')]), ['Alice Müller', 'Bob Søndergaard'])
  for (const m of mailboxes) {
    const msgs = o.get(`Message_${m.number}`)!
    const col = (r: string[], n: string) => r[msgs.header.indexOf(n)]
    assert.equal(msgs.rows.length, m.messages.length)
    m.messages.forEach((w, i) => {
      const r = msgs.rows[i]
      assert.equal(col(r, 'MessageDocumentId'), String(layout.documentIds.get(m.number)![i]))
      assert.equal(col(r, 'FolderId'), layout.folderIds.get(m.number)!.get(w.folder)!.toString('hex'))
      assert.equal(col(r, 'MessageClass'), 'IPM.Note') // 7-bit compressed in the file
      assert.equal(col(r, 'DisplayTo'), w.to.map((a) => a.name).join('; '))
      assert.equal(col(r, 'HasAttachments'), w.attachments.length ? 'true' : 'false')
      // The property blob as esedbexport prints it decodes to the subject and sender written.
      const blob = decodePropertyBlob(Buffer.from(col(r, 'PropertyBlob'), 'hex'))
      assert.equal(blob.get(PROP.subject), w.subject)
      assert.equal(blob.get(PROP.senderSmtp), w.from.address)
      const body = w.html ?? w.text ?? ''
      // Bodies under 4 KiB are inline (esedbexport prints them); larger ones are long values, which
      // esedbexport 20181229 prints empty — our reader is checked on those below.
      assert.equal(col(r, 'NativeBody'), Buffer.byteLength(body) >= 4096 ? '' : Buffer.from(body).toString('hex'), `message ${i}`)
    })
    const folders = o.get(`Folder_${m.number}`)!
    assert.deepEqual(folders.rows.map((r) => r[folders.header.indexOf('DisplayName')]), m.folders.map((f) => f.name))
    const att = o.get(`Attachment_${m.number}`)!
    assert.deepEqual(att.rows.map((r) => r[att.header.indexOf('Name')]), m.messages.flatMap((x) => x.attachments.map((a) => a.filename)))
  }
})

test('Exchange layer: mailboxes, folder tree, messages with recipients, bodies and attachments, equal to the mails written', async () => {
  const db = await openMailboxDatabase(openFileReader(file))
  assert.equal(db.ese.info().pageSize, 32768)
  const boxes = await db.mailboxes()
  assert.equal(boxes.database.state, 'clean')
  assert.deepEqual(boxes.items.map((b) => [b.number, b.displayName, b.smtp, b.messageCount]),
    [[101, 'Alice Müller', 'alice@corp.example.test', 5], [102, 'Bob Søndergaard', 'bob@corp.example.test', 1]])
  const folders = (await db.folders(101)).items
  assert.deepEqual(folders.map((f) => f.path), ['Top of Information Store', 'Inbox', 'Inbox/Projects', 'Sent Items', 'Deleted Items'])
  assert.equal(folders.find((f) => f.name === 'Projects')!.parentId, folders.find((f) => f.name === 'Inbox')!.id)
  for (const m of mailboxes) {
    const all = (await db.search(m.number)).items
    assert.equal(all.length, m.messages.length)
    for (const [i, w] of m.messages.entries()) {
      const s = all[i]
      assert.equal(s.subject, w.subject)
      const full = (await db.message(m.number, s.documentId)).items
      assert.deepEqual(full.problems, [])
      assert.deepEqual(full.from, w.from)
      assert.deepEqual(full.to, w.to)
      assert.deepEqual(full.cc, w.cc)
      assert.equal(full.sent, w.sent.toISOString())
      assert.equal(full.received, w.received.toISOString())
      assert.equal(full.text, w.text)
      assert.equal(full.html, w.html)
      assert.equal(full.messageId, w.messageId)
      assert.deepEqual(full.attachments.map((a) => [a.filename, a.contentType, a.contentId]), w.attachments.map((a) => [a.filename, a.contentType, a.contentId]))
      full.attachments.forEach((a, k) => assert.ok(a.content.equals(w.attachments[k].content), `${w.subject}: attachment ${a.filename}`))
    }
  }
})

test('Exchange search: by sender, subject, date range and attachment name', async () => {
  const db = await openMailboxDatabase(openFileReader(file))
  const subjects = async (q: Parameters<typeof db.search>[1]) => (await db.search(101, q)).items.map((s) => s.subject).sort()
  assert.deepEqual(await subjects({ from: 'søndergaard' }), ['Lunch on Friday?', 'Quarterly report Q3 — figures attached'])
  assert.deepEqual(await subjects({ from: 'ops@partner' }), ['Grüße aus München – Termin nächste Woche?'])
  assert.deepEqual(await subjects({ subject: 'quarterly' }), ['Quarterly report Q3 — figures attached', 'Re: Quarterly report Q3 — figures attached'])
  assert.deepEqual(await subjects({ after: '2026-11-24', before: '2026-11-26' }), ['Grüße aus München – Termin nächste Woche?', 'Project Stillwater: kickoff notes'])
  assert.deepEqual(await subjects({ attachment: 'zeitplan' }), ['Project Stillwater: kickoff notes'])
  assert.deepEqual(await subjects({ attachment: '.pdf', from: 'bob' }), ['Quarterly report Q3 — figures attached'])
  const inbox = (await db.folders(101)).items.find((f) => f.name === 'Inbox')!
  assert.equal((await db.search(101, { folderId: inbox.id })).items.length, 2)
  await assert.rejects(db.search(101, { after: 'last week' }), /not a date/)
  await assert.rejects(db.message(101, 999_999), /no message with document id 999999/)
})

test('Exchange layer: a dirty database is read as it stands and every answer says so', async () => {
  const dirty = join(dir, 'dirty.edb')
  writeEdb(dirty, mailboxes.slice(1), { dirty: { minLog: 0x31, maxLog: 0x35 } })
  const db = await openMailboxDatabase(openFileReader(dirty))
  for (const a of [await db.mailboxes(), await db.folders(102), await db.search(102), await db.message(102, 1000)]) {
    assert.equal(a.database.state, 'dirty')
    assert.deepEqual(a.database.requiredLogs, { min: 0x31, max: 0x35 })
    assert.match(a.database.detail, /without log replay/)
  }
  assert.equal((await db.message(102, 1000)).items.subject, 'Welcome to the team')
})

test('Exchange layer: a damaged recipient list is reported on the message, the rest still read; not a mailbox database is a clear error', async () => {
  const { tables } = edbTables(mailboxes.slice(1))
  const messages = tables.find((t) => t.name === 'Message_102')!
  const list = Buffer.from(messages.rows[0].RecipientList as Buffer)
  list.write('PrXP', 6, 'latin1') // the first recipient's blob signature
  messages.rows[0].RecipientList = list
  const broken = join(dir, 'broken.edb')
  writeEseDatabase(broken, tables, { pageSize: 32768, longValueMin: 4096 })
  const db = await openMailboxDatabase(openFileReader(broken))
  const s = (await db.search(102)).items[0]
  assert.equal(s.subject, 'Welcome to the team')
  assert.deepEqual(s.to, [])
  assert.match(s.problems.join('\n'), /RecipientList entry 0 is damaged: it does not start with "ProP"/)
  const other = join(dir, 'other.edb')
  writeEseDatabase(other, [{ name: 'datatable', columns: [{ name: 'DNT_col', type: COLTYP.Long }], rows: [{ DNT_col: 1 }] }])
  await assert.rejects(openMailboxDatabase(openFileReader(other)), /no "Mailbox" table, so it is not an Exchange 2010\+ mailbox database/)
})
