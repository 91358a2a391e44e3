/**
 * Exchange 2010+ "PropertyBlob" values (the `ProP` blobs in Folder_N, Message_N, Attachment_N and
 * RecipientList). Layout, as far as it is documented (gromox tools/edb2mt, MDB_Explorer): "ProP",
 * 16-bit flags (0x400, or 0x401 with an extra 32-bit value), 16-bit count, count × (1-byte type code,
 * 16-bit property id), then the values in that order. Codes 0x18–0x1b are a 32-bit long stored in
 * 0/1/2/4 bytes (documented). The other codes below are how our synthetic test databases store
 * strings, times, booleans and binaries (inferred, not confirmed on a real EDB), and 0x5f says the
 * value was moved to a `SeparatedPropertyNN` column (values ≥ 2,049 bytes, documented) with NN after it.
 */
import { FsError } from '../filesystems/types.ts'

export const PROP_CODE = {
  long0: 0x18, long1: 0x19, long2: 0x1a, long4: 0x1b,
  unicode: 0x1f, systime: 0x40, boolean: 0x0b, binary: 0x42, i8: 0x14, separated: 0x5f,
} as const

/** MAPI property ids used by the Exchange layer. */
export const PROP = {
  subject: 0x0037, clientSubmitTime: 0x0039, senderName: 0x0c1a, senderSmtp: 0x5d01, senderEmail: 0x0c1f,
  recipientType: 0x0c15, displayName: 0x3001, smtpAddress: 0x39fe, internetMessageId: 0x1035,
  body: 0x1000, nativeBodyInfo: 0x1016, deliveryTime: 0x0e06, messageClass: 0x001a, inReplyTo: 0x1042,
  attachLongFilename: 0x3707, attachMimeTag: 0x370e, attachContentId: 0x3712, attachSize: 0x0e20,
  containerClass: 0x3613,
} as const

export type PropValue = string | number | bigint | boolean | Buffer | { separated: number }

export const SEPARATE_AT = 2049

/** Decodes one ProP blob into property id → value; a damaged blob is a clear FsError. */
export function decodePropertyBlob(b: Buffer, what = 'PropertyBlob'): Map<number, PropValue> {
  const bad = (why: string) => new FsError('ECORRUPT', `Exchange ${what} is damaged: ${why}`)
  if (b.length < 8 || b.toString('latin1', 0, 4) !== 'ProP') throw bad(`it does not start with "ProP" (${b.subarray(0, 8).toString('hex')})`)
  const flags = b.readUInt16LE(4)
  let p = 6
  if (flags === 0x401) p += 4
  else if (flags !== 0x400) throw bad(`flags 0x${flags.toString(16)} (0x400 or 0x401 expected)`)
  if (p + 2 > b.length) throw bad('it ends inside its header')
  const count = b.readUInt16LE(p); p += 2
  if (p + count * 3 > b.length) throw bad(`${count} property entries do not fit in ${b.length} bytes`)
  const entries: { code: number; id: number }[] = []
  for (let i = 0; i < count; i++) { entries.push({ code: b[p], id: b.readUInt16LE(p + 1) }); p += 3 }
  const out = new Map<number, PropValue>()
  const need = (n: number, id: number) => { if (p + n > b.length) throw bad(`property 0x${id.toString(16)} runs past the blob`) }
  for (const { code, id } of entries) {
    switch (code) {
      case PROP_CODE.long0: out.set(id, 0); break
      case PROP_CODE.long1: need(1, id); out.set(id, b[p]); p += 1; break
      case PROP_CODE.long2: need(2, id); out.set(id, b.readUInt16LE(p)); p += 2; break
      case PROP_CODE.long4: need(4, id); out.set(id, b.readInt32LE(p)); p += 4; break
      case PROP_CODE.boolean: need(1, id); out.set(id, b[p] !== 0); p += 1; break
      case PROP_CODE.systime: case PROP_CODE.i8: need(8, id); out.set(id, b.readBigInt64LE(p)); p += 8; break
      case PROP_CODE.unicode: case PROP_CODE.binary: {
        need(4, id); const n = b.readUInt32LE(p); p += 4; need(n, id)
        const v = b.subarray(p, p + n); p += n
        if (code === PROP_CODE.unicode && n % 2) throw bad(`string property 0x${id.toString(16)} has an odd byte length ${n}`)
        out.set(id, code === PROP_CODE.unicode ? v.toString('utf16le') : Buffer.from(v))
        break
      }
      case PROP_CODE.separated: need(1, id); out.set(id, { separated: b[p] }); p += 1; break
      default: throw bad(`property 0x${id.toString(16)} has type code 0x${code.toString(16)}, which this reader does not know`)
    }
  }
  return out
}

/** A list of ProP blobs, each with a 32-bit length (RecipientList in our layout); count first. */
export function decodeBlobList(b: Buffer, what: string): Map<number, PropValue>[] {
  if (b.length < 2) throw new FsError('ECORRUPT', `Exchange ${what} is damaged: ${b.length} bytes`)
  const n = b.readUInt16LE(0)
  const out: Map<number, PropValue>[] = []
  let p = 2
  for (let i = 0; i < n; i++) {
    if (p + 4 > b.length) throw new FsError('ECORRUPT', `Exchange ${what} is damaged: entry ${i} of ${n} is missing`)
    const len = b.readUInt32LE(p); p += 4
    if (p + len > b.length) throw new FsError('ECORRUPT', `Exchange ${what} is damaged: entry ${i} (${len} bytes) runs past the list`)
    out.push(decodePropertyBlob(b.subarray(p, p + len), `${what} entry ${i}`)); p += len
  }
  return out
}
