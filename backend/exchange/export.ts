/**
 * A message read from a mailbox database, written out as a mail client would want it: EML (RFC 5322
 * MIME, by nodemailer's MailComposer), MSG (Outlook's compound file, by @tutao/oxmsg), or a whole
 * folder as a zip of EML files streamed as they are made (yazl; no temporary copies).
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js'
import { Attachment as MsgAttachment, Email as MsgEmail } from '@tutao/oxmsg'
import yazl from 'yazl'
import type { Readable } from 'node:stream'
import type { ExchangeAddress, ExchangeMessage } from './types.ts'

const addr = (a: ExchangeAddress) => ({ name: a.name, address: a.address })

/** MailComposer options for a message (also used to send it over SMTP). */
export function mailOptions(m: ExchangeMessage) {
  return {
    from: addr(m.from), to: m.to.map(addr), cc: m.cc.map(addr), bcc: m.bcc.map(addr), subject: m.subject,
    date: m.sent ? new Date(m.sent) : m.received ? new Date(m.received) : undefined,
    ...(m.messageId ? { messageId: m.messageId } : {}),
    ...(m.text !== undefined ? { text: m.text } : {}), ...(m.html !== undefined ? { html: m.html } : {}),
    attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, ...(a.contentId ? { cid: a.contentId } : {}) })),
    // Bcc recipients are kept in the exported file, as Outlook keeps them in a saved sent item.
    keepBcc: true,
  }
}

export function toEml(m: ExchangeMessage): Promise<Buffer> {
  const mail = new MailComposer(mailOptions(m)).compile()
  mail.keepBcc = true
  return new Promise((resolve, reject) => mail.build((e: Error | null, b: Buffer) => (e ? reject(e) : resolve(b))))
}

export function toMsg(m: ExchangeMessage): Buffer {
  const e = new MsgEmail(false, false)
  e.sender(m.from.address, m.from.name).subject(m.subject)
  for (const a of m.to) e.to(a.address, a.name)
  for (const a of m.cc) e.cc(a.address, a.name)
  for (const a of m.bcc) e.bcc(a.address, a.name)
  if (m.sent) e.sentOn(new Date(m.sent))
  if (m.received) e.receivedOn(new Date(m.received))
  if (m.text !== undefined) e.bodyText(m.text)
  if (m.html !== undefined) e.bodyHtml(m.html)
  if (m.messageId) e.internetMessageId = m.messageId
  for (const a of m.attachments) e.attach(new MsgAttachment(new Uint8Array(a.content), a.filename, a.contentId ?? ''))
  return Buffer.from(e.msg())
}

/** A file name for a message: its date and subject, without characters that file systems refuse. */
export function messageFileName(m: ExchangeMessage | { subject: string; sent?: string; documentId: number }, ext: 'eml' | 'msg'): string {
  const day = m.sent ? m.sent.slice(0, 10) : 'undated'
  const subject = (m.subject || 'no subject').replace(/[\\/:*?"<>|\x00-\x1f]/g, '_').slice(0, 80).trim()
  return `${day} ${subject} (${m.documentId}).${ext}`
}

/**
 * A zip of EML files, one per message, streamed as it is made (no temporary file): `messages` yields
 * full messages one at a time; each is turned into EML and handed to the zip.
 */
export function emlZip(messages: AsyncIterable<ExchangeMessage>, onItem?: (done: number) => void): Readable {
  const zip = new yazl.ZipFile()
  ;(async () => {
    let n = 0
    for await (const m of messages) {
      zip.addBuffer(await toEml(m), messageFileName(m, 'eml'), { mtime: m.sent ? new Date(m.sent) : new Date(0) })
      onItem?.(++n)
    }
    zip.end()
  })().catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))))
  const out = zip.outputStream as unknown as Readable
  return out
}
