/**
 * Putting backed-up messages back where people read mail: APPEND into a folder of a mailbox over IMAP
 * (Exchange serves IMAP; any IMAP server takes it), or send them to a mailbox over SMTP. Messages are
 * made into EML one at a time; progress is reported per message.
 */
import { ImapFlow } from 'imapflow'
import nodemailer from 'nodemailer'
import { toEml } from './export.ts'
import type { ExchangeMessage } from './types.ts'

export interface ImapTarget {
  host: string
  port: number
  /** TLS from the start (993); otherwise STARTTLS when the server offers it. */
  secure: boolean
  user: string
  password: string
  /** Folder path, e.g. "Restored/2026-12-02" (created when missing). */
  folder: string
  /** PEM of the CA that signed the server's certificate, when it is not one the system trusts. */
  caPem?: string
}

export interface SmtpTarget {
  host: string
  port: number
  secure: boolean
  user?: string
  password?: string
  /** Envelope: who the server hears it from, and the mailboxes to deliver to. */
  envelopeFrom: string
  to: string[]
  /** PEM of the CA that signed the server's certificate, when it is not one the system trusts. */
  caPem?: string
}

export interface DeliveryProgress { done: number; total: number; subject: string }
export interface DeliveryResult { delivered: { documentId: number; subject: string; detail: string }[] }

const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|ISSUER|ALTNAME|UNABLE_TO_VERIFY/

function explain(e: unknown, what: string): Error {
  const err = e as { authenticationFailed?: boolean; responseText?: string; response?: string; code?: string; message?: string }
  if (err.authenticationFailed || err.code === 'EAUTH') return new Error(`${what}: the server refused the login (check the user name and password)`)
  if (CERTIFICATE_ERRORS.test(err.code ?? '') || /certificate/i.test(err.message ?? '')) return new Error(`${what}: the server's certificate is not trusted (${[err.code, err.message].filter(Boolean).join(': ')}); give the PEM of the CA that signed it, or check the host name`)
  if (err.code === 'ECONNREFUSED' || err.code === 'ETIMEDOUT' || err.code === 'ENOTFOUND') return new Error(`${what}: cannot reach the server (${err.code}); check host and port`)
  return new Error(`${what}: ${err.responseText ?? err.response ?? err.message ?? String(e)}`)
}

// Always verified, as vCenter's and the DC's certificates are: a private CA is given, never switched off.
const tlsOptions = (t: { caPem?: string }) => ({ rejectUnauthorized: true, ...(t.caPem?.trim() ? { ca: t.caPem } : {}) })

/** Appends each message to `target.folder` (flags: \Seen when it was read; internal date = received). */
export async function restoreToImap(target: ImapTarget, messages: ExchangeMessage[], onProgress?: (p: DeliveryProgress) => void): Promise<DeliveryResult> {
  const client = new ImapFlow({
    host: target.host, port: target.port, secure: target.secure, auth: { user: target.user, pass: target.password },
    logger: false, tls: tlsOptions(target), connectionTimeout: 30_000,
  })
  try { await client.connect() } catch (e) { throw explain(e, `IMAP ${target.host}:${target.port}`) }
  const delivered: DeliveryResult['delivered'] = []
  try {
    const folders = await client.list()
    if (!folders.some((f) => f.path === target.folder)) {
      try { await client.mailboxCreate(target.folder) } catch (e) { throw explain(e, `IMAP: creating folder "${target.folder}"`) }
    }
    for (const [i, m] of messages.entries()) {
      const eml = await toEml(m)
      const date = m.received ? new Date(m.received) : m.sent ? new Date(m.sent) : undefined
      let res: { uid?: number } | false
      try { res = await client.append(target.folder, eml, m.read ? ['\\Seen'] : [], date) } catch (e) { throw explain(e, `IMAP: appending "${m.subject}" to "${target.folder}"`) }
      delivered.push({ documentId: m.documentId, subject: m.subject, detail: res && res.uid ? `UID ${res.uid} in ${target.folder}` : `appended to ${target.folder}` })
      onProgress?.({ done: i + 1, total: messages.length, subject: m.subject })
    }
  } finally {
    await client.logout().catch(() => client.close())
  }
  return { delivered }
}

/** Sends each message as it was (same headers, bodies, attachments) to `target.to` over SMTP. */
export async function sendViaSmtp(target: SmtpTarget, messages: ExchangeMessage[], onProgress?: (p: DeliveryProgress) => void): Promise<DeliveryResult> {
  if (!target.to.length) throw new Error('SMTP: name at least one recipient mailbox to send to')
  const transport = nodemailer.createTransport({
    host: target.host, port: target.port, secure: target.secure,
    ...(target.user ? { auth: { user: target.user, pass: target.password ?? '' } } : {}),
    tls: tlsOptions(target), connectionTimeout: 30_000,
  })
  const delivered: DeliveryResult['delivered'] = []
  try {
    for (const [i, m] of messages.entries()) {
      let info: { response?: string; messageId?: string }
      try { info = await transport.sendMail({ envelope: { from: target.envelopeFrom, to: target.to }, raw: await toEml(m) }) } catch (e) { throw explain(e, `SMTP ${target.host}:${target.port}: sending "${m.subject}"`) }
      delivered.push({ documentId: m.documentId, subject: m.subject, detail: info.response ?? 'accepted' })
      onProgress?.({ done: i + 1, total: messages.length, subject: m.subject })
    }
  } finally {
    transport.close()
  }
  return { delivered }
}
