/**
 * Export from the SYNTHETIC EDB: each message as EML (read back by mailparser) and as MSG (read back by
 * Debian's msgconvert, then mailparser) with the same subject, sender, recipients, date, bodies and
 * attachments; a folder as a zip of EML files (listed and extracted by Info-ZIP's unzip).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import { assertMsgconvertReadsSame, assertSameMail } from './helpers.ts'
import { writeEdb } from '../ese-writer/edb.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts'
import { emlZip, messageFileName, toEml, toMsg } from '../../backend/exchange/export.ts'
import type { ExchangeMessage } from '../../backend/exchange/types.ts'

const dir = mkdtempSync(join(tmpdir(), 'stillpoint-edb-export-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const { mailboxes } = await sampleMailboxes()
const file = join(dir, 'mailbox.edb')
writeEdb(file, mailboxes)
const db = await openMailboxDatabase(openFileReader(file))

async function allMessages(mailbox: number): Promise<ExchangeMessage[]> {
  const out: ExchangeMessage[] = []
  for (const s of (await db.search(mailbox)).items) out.push((await db.message(mailbox, s.documentId)).items)
  return out
}

test('export: every message as EML, read back by mailparser with the same fields, bodies and attachments', async () => {
  for (const mb of [101, 102]) {
    for (const m of await allMessages(mb)) {
      const eml = await toEml(m)
      const p = await simpleParser(eml)
      assertSameMail(p, m, `EML of "${m.subject}"`)
      assert.equal(p.messageId, m.messageId)
    }
  }
})

test('export: every message as MSG, read back by msgconvert (Debian) with the same fields, bodies and attachments', async () => {
  for (const mb of [101, 102]) {
    for (const m of await allMessages(mb)) {
      const msg = join(dir, `${m.documentId}.msg`)
      writeFileSync(msg, toMsg(m))
      assert.equal(readFileSync(msg).subarray(0, 8).toString('hex'), 'd0cf11e0a1b11ae1', 'a compound file')
      await assertMsgconvertReadsSame(msg, m, `MSG of "${m.subject}"`)
    }
  }
})

test('export: a folder as a zip of EML, streamed; unzip lists and extracts each message', async () => {
  const inbox = (await db.folders(101)).items.find((f) => f.path === 'Inbox')!
  const summaries = (await db.search(101, { folderId: inbox.id })).items
  async function* messages() { for (const s of summaries) yield (await db.message(101, s.documentId)).items }
  const zipPath = join(dir, 'inbox.zip')
  let progress = 0
  await pipeline(emlZip(messages(), (n) => { progress = n }), createWriteStream(zipPath))
  assert.equal(progress, 2)
  const listing = execFileSync('unzip', ['-Z1', zipPath], { encoding: 'utf8' }).trim().split('\n')
  const full = await Promise.all(summaries.map(async (s) => (await db.message(101, s.documentId)).items))
  assert.deepEqual(listing, full.map((m) => messageFileName(m, 'eml')))
  for (const [i, name] of listing.entries()) {
    const eml = execFileSync('unzip', ['-p', zipPath, name], { maxBuffer: 64 << 20 })
    assertSameMail(await simpleParser(eml), full[i], `zip entry ${name}`)
  }
})
