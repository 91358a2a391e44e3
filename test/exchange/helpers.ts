/** Shared by the Exchange tests: the parsed mail file carries what the message in the database holds. */
import assert from 'node:assert/strict'
import type { AddressObject, ParsedMail } from 'mailparser'
import type { ExchangeMessage } from '../../backend/exchange/types.ts'

const addrs = (o: AddressObject | AddressObject[] | undefined) => (Array.isArray(o) ? o : o ? [o] : []).flatMap((x) => x.value).map((v) => ({ name: v.name, address: v.address }))
const norm = (s: string | undefined) => (s ?? '').replace(/\r\n/g, '\n').trim()

export function assertSameMail(p: ParsedMail, m: ExchangeMessage, how: string, addressesOnly = false): void {
  assert.equal(p.subject, m.subject, `${how}: subject`)
  const pick = (l: { name?: string; address?: string }[]) => (addressesOnly ? l.map((a) => a.address) : l)
  assert.deepEqual(pick(addrs(p.from)), pick([m.from]), `${how}: from`)
  assert.deepEqual(pick(addrs(p.to)), pick(m.to), `${how}: to`)
  assert.deepEqual(pick(addrs(p.cc)), pick(m.cc), `${how}: cc`)
  assert.equal(p.date?.toISOString(), m.sent, `${how}: date`)
  assert.equal(norm(p.text), norm(m.text), `${how}: text body`)
  if (m.html !== undefined) assert.equal(norm(typeof p.html === 'string' ? p.html : ''), norm(m.html), `${how}: html body`)
  const files = p.attachments.map((a) => [a.filename, a.content.toString('base64')])
  assert.deepEqual(files, m.attachments.map((a) => [a.filename, a.content.toString('base64')]), `${how}: attachments`)
}

