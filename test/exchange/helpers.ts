/** Shared by the Exchange tests: the parsed mail file carries what the message in the database holds. */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser'
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


/**
 * Reads a .msg file with Debian's msgconvert (libemail-outlook-message-perl) and checks it carries the
 * message: names on msgconvert's header lines as written, the rest through mailparser.
 */
export async function assertMsgconvertReadsSame(msgPath: string, m: ExchangeMessage, how: string): Promise<void> {
  const eml = `${msgPath}.msgconvert.eml`
  execFileSync('msgconvert', ['--outfile', eml, msgPath], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  // msgconvert prints display names unquoted ("陈静 (Chen Jing) <chen@…>", where a parser takes
  // "(Chen Jing)" for a comment), so names are compared on its header lines as written, addresses parsed.
  const raw = readFileSync(eml)
  // (Its header lines come out as UTF-8, or as Latin-1 when all their characters fit Latin-1.)
  const lineText = (l: Buffer) => { try { return new TextDecoder('utf-8', { fatal: true }).decode(l) } catch { return l.toString('latin1') } }
  const header = raw.subarray(0, raw.indexOf('\n\n')).toString('latin1').split('\n').map((l) => lineText(Buffer.from(l, 'latin1'))).join('\n').replace(/\r?\n(?=[ \t])/g, '')
  const line = (h: string) => header.match(new RegExp(`^${h}: (.*)$`, 'm'))?.[1]
  assert.equal(line('From'), `${m.from.name} <${m.from.address}>`, `${how}: From line`)
  assert.equal(line('To'), m.to.map((a) => `${a.name} <${a.address}>`).join(', '), `${how}: To line`)
  assert.equal(line('Cc'), m.cc.length ? m.cc.map((a) => `${a.name} <${a.address}>`).join(', ') : undefined, `${how}: Cc line`)
  const parsed = await simpleParser(raw)
  // msgconvert 0.921 prints a message whose headers hold non-ASCII characters through a wide-character
  // print ("Wide character in print"), which encodes the (already UTF-8) body bytes a second time.
  // Undo exactly that: text made only of Latin-1 code points that decodes as UTF-8.
  const once = (t: string | false | undefined) => (typeof t === 'string' && /^[\x00-\xff]*$/.test(t) && /[\xc2-\xf4][\x80-\xbf]/.test(t) ? Buffer.from(t, 'latin1').toString('utf8') : t)
  parsed.text = once(parsed.text) as string | undefined
  parsed.html = once(parsed.html) as string | false
  assertSameMail(parsed, m, how, true)
}
