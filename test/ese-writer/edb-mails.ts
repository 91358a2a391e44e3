/**
 * TEST-ONLY: real mails for the synthetic EDB. Each is composed by nodemailer's MailComposer (real
 * MIME: Unicode headers, HTML, attachments) and parsed back by mailparser; the parsed fields are what
 * goes into the database, as Exchange's transport stores a received message's properties.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js'
import { simpleParser, type AddressObject } from 'mailparser'
import { createHash } from 'node:crypto'
import type { EdbAddress, EdbMailbox, EdbMessage } from './edb.ts'

export interface SampleMail {
  folder: string
  subject: string
  from: EdbAddress
  to: EdbAddress[]
  cc?: EdbAddress[]
  date: Date
  text: string
  html?: string
  attachments?: { filename: string; contentType: string; content: Buffer; cid?: string }[]
  read?: boolean
}

const addr = (a: EdbAddress) => ({ name: a.name, address: a.address })
const list = (o: AddressObject | AddressObject[] | undefined): EdbAddress[] =>
  (Array.isArray(o) ? o : o ? [o] : []).flatMap((x) => x.value).map((v) => ({ name: v.name, address: v.address ?? '' }))

export async function composeMail(m: SampleMail, host = 'mail01.corp.example.test'): Promise<{ raw: Buffer; message: EdbMessage }> {
  const composer = new MailComposer({
    from: addr(m.from), to: m.to.map(addr), cc: (m.cc ?? []).map(addr), subject: m.subject, date: m.date,
    text: m.text, html: m.html,
    messageId: `<${createHash('sha1').update(m.subject + m.date.toISOString()).digest('hex').slice(0, 16)}@${host}>`,
    attachments: (m.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, cid: a.cid })),
  })
  const raw: Buffer = await new Promise((resolve, reject) => composer.compile().build((e: Error | null, b: Buffer) => (e ? reject(e) : resolve(b))))
  const p = await simpleParser(raw)
  const from = list(p.from)[0]
  return {
    raw,
    message: {
      folder: m.folder, subject: p.subject ?? '', from, to: list(p.to), cc: list(p.cc), sent: p.date!, received: new Date(p.date!.getTime() + 42_000),
      messageId: p.messageId ?? '', text: p.text, html: typeof p.html === 'string' ? p.html : undefined, read: m.read,
      attachments: p.attachments.map((a) => ({ filename: a.filename ?? 'attachment', contentType: a.contentType, content: a.content, contentId: a.cid ? a.cid : undefined })),
    },
  }
}

const alice = { name: 'Alice Müller', address: 'alice@corp.example.test' }
const bob = { name: 'Bob Søndergaard', address: 'bob@corp.example.test' }
const chen = { name: '陈静 (Chen Jing)', address: 'chen@corp.example.test' }
const ext = { name: 'Ops Desk', address: 'ops@partner.example.net' }

function pseudoPdf(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24 }
  Buffer.from('%PDF-1.4\n').copy(b)
  return b
}

export const SAMPLE_MAILS: Record<number, SampleMail[]> = {
  1: [
    { folder: 'inbox', subject: 'Quarterly report Q3 — figures attached', from: bob, to: [alice], cc: [chen], date: new Date('2026-11-20T09:15:00Z'),
      text: 'Hi Alice,\n\nthe Q3 figures are attached (PDF and CSV).\n\nBob', html: '<p>Hi Alice,</p><p>the <b>Q3 figures</b> are attached (PDF and CSV).</p><p>Bob</p>',
      attachments: [{ filename: 'Q3-report.pdf', contentType: 'application/pdf', content: pseudoPdf(9000, 7) }, { filename: 'figures.csv', contentType: 'text/csv', content: Buffer.from('quarter,revenue\nQ3,1234567\n') }], read: true },
    { folder: 'inbox', subject: 'Grüße aus München – Termin nächste Woche?', from: ext, to: [alice, bob], date: new Date('2026-11-24T14:02:11Z'),
      text: 'Hallo Alice,\n\nwie wäre es mit Dienstag, 10:00?\n\nViele Grüße\nOps Desk' },
    { folder: 'projects', subject: 'Project Stillwater: kickoff notes', from: chen, to: [alice], date: new Date('2026-11-25T08:00:00Z'),
      text: `Kickoff notes\n\n${Array.from({ length: 60 }, (_, i) => `${i + 1}. Action item number ${i + 1} for the Stillwater project team.`).join('\n')}\n`,
      html: `<h1>Kickoff notes</h1><ol>${Array.from({ length: 60 }, (_, i) => `<li>Action item number ${i + 1} for the Stillwater project team.</li>`).join('')}</ol>`,
      attachments: [{ filename: 'Übersicht Zeitplan.txt', contentType: 'text/plain', content: Buffer.from('Phase 1: Dezember\nPhase 2: Januar\n', 'utf8') }] },
    { folder: 'sent', subject: 'Re: Quarterly report Q3 — figures attached', from: alice, to: [bob], date: new Date('2026-11-20T10:01:30Z'),
      text: 'Thanks Bob, looks good. 👍\n\nAlice', read: true },
    { folder: 'deleted', subject: 'Lunch on Friday?', from: bob, to: [alice], date: new Date('2026-11-27T11:45:00Z'), text: 'Pizza or sushi?', read: true },
  ],
  2: [
    { folder: 'inbox', subject: 'Welcome to the team', from: alice, to: [bob], date: new Date('2026-10-01T07:30:00Z'), text: 'Welcome aboard, Bob!',
      html: '<p>Welcome aboard, <i>Bob</i>!</p><img src="cid:logo@corp">', attachments: [{ filename: 'logo.png', contentType: 'image/png', content: Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4e70000000049454e44ae426082', 'hex'), cid: 'logo@corp' }] },
  ],
}

const FOLDERS = [
  { key: 'root', name: 'Top of Information Store' },
  { key: 'inbox', name: 'Inbox', parent: 'root', containerClass: 'IPF.Note' },
  { key: 'projects', name: 'Projects', parent: 'inbox', containerClass: 'IPF.Note' },
  { key: 'sent', name: 'Sent Items', parent: 'root', containerClass: 'IPF.Note' },
  { key: 'deleted', name: 'Deleted Items', parent: 'root', containerClass: 'IPF.Note' },
]

/** The two sample mailboxes (alice: 5 mails in 4 folders, bob: 1), built from composed and parsed mails. */
export async function sampleMailboxes(): Promise<{ mailboxes: EdbMailbox[]; raw: Map<string, Buffer> }> {
  const raw = new Map<string, Buffer>()
  const mailboxes: EdbMailbox[] = []
  for (const [n, owner] of [[1, alice], [2, bob]] as const) {
    const messages: EdbMessage[] = []
    for (const m of SAMPLE_MAILS[n]) { const c = await composeMail(m); messages.push(c.message); raw.set(c.message.subject + '/' + n, c.raw) }
    const guid = createHash('md5').update(owner.address).digest()
    mailboxes.push({ number: n + 100, guid, ownerName: owner.name, smtp: owner.address, folders: FOLDERS, messages })
  }
  return { mailboxes, raw }
}
