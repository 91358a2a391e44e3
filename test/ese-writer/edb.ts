/**
 * TEST-ONLY: writes a SYNTHETIC Exchange-2013+-shaped mailbox database (.edb, 32 KiB pages) with the
 * test ESE writer. No real Exchange database is public; this follows the documented table layout
 * (Mailbox, MailboxIdentity, ExtendedPropertyNameMapping_N, Folder_N, Message_N, Attachment_N;
 * FolderId/ParentFolderId, MessageDocumentId, DisplayTo, DateReceived, PropertyBlob, NativeBody,
 * RecipientList, SubobjectsBlob, SeparatedPropertyNN) as read from gromox's edb2mt and MDB_Explorer,
 * with property blobs encoded as described in backend/exchange/property-blob.ts. Its own encoder, so
 * that the product's decoder is checked against something written independently.
 */
import { writeEseDatabase, COLTYP, type WColumn, type WTable, type WOptions } from './writer.ts'

export interface EdbAddress { name: string; address: string }
export interface EdbAttachment { filename: string; contentType: string; content: Buffer; contentId?: string }
export interface EdbMessage {
  folder: string
  subject: string
  from: EdbAddress
  to: EdbAddress[]
  cc: EdbAddress[]
  bcc?: EdbAddress[]
  sent: Date
  received: Date
  messageId: string
  text?: string
  html?: string
  attachments: EdbAttachment[]
  read?: boolean
}
export interface EdbFolder { key: string; name: string; parent?: string; containerClass?: string }
export interface EdbMailbox { number: number; guid: Buffer; ownerName: string; smtp: string; folders: EdbFolder[]; messages: EdbMessage[] }

const CODE = { long4: 0x1b, long2: 0x1a, long1: 0x19, long0: 0x18, unicode: 0x1f, systime: 0x40, boolean: 0x0b, binary: 0x42, separated: 0x5f }
const SEPARATE_AT = 2049

type P = [id: number, kind: 'long' | 'unicode' | 'systime' | 'boolean' | 'binary', value: number | string | bigint | boolean | Buffer]

/** Encodes properties as a ProP blob; long strings go to `separated` (column number → value) when given. */
export function propBlob(props: P[], separated?: Map<number, Buffer>): Buffer {
  const head: Buffer[] = [], vals: Buffer[] = []
  for (const [id, kind, v] of props) {
    let code: number, data: Buffer
    if (kind === 'long') {
      const n = Number(v)
      if (n === 0) { code = CODE.long0; data = Buffer.alloc(0) }
      else if (n > 0 && n < 256) { code = CODE.long1; data = Buffer.from([n]) }
      else if (n > 0 && n < 65536) { code = CODE.long2; data = Buffer.alloc(2); data.writeUInt16LE(n) }
      else { code = CODE.long4; data = Buffer.alloc(4); data.writeInt32LE(n) }
    } else if (kind === 'systime') { code = CODE.systime; data = Buffer.alloc(8); data.writeBigInt64LE(BigInt(v as bigint)) }
    else if (kind === 'boolean') { code = CODE.boolean; data = Buffer.from([v ? 1 : 0]) }
    else {
      const raw = kind === 'unicode' ? Buffer.from(String(v), 'utf16le') : (v as Buffer)
      if (separated && raw.length >= SEPARATE_AT) {
        const nn = separated.size + 1
        separated.set(nn, raw)
        code = CODE.separated; data = Buffer.from([nn])
      } else {
        code = kind === 'unicode' ? CODE.unicode : CODE.binary
        const len = Buffer.alloc(4); len.writeUInt32LE(raw.length)
        data = Buffer.concat([len, raw])
      }
    }
    const h = Buffer.alloc(3); h[0] = code; h.writeUInt16LE(id, 1)
    head.push(h); vals.push(data)
  }
  const top = Buffer.alloc(8); top.write('ProP', 0, 'latin1'); top.writeUInt16LE(0x400, 4); top.writeUInt16LE(props.length, 6)
  return Buffer.concat([top, ...head, ...vals])
}

export function filetime(d: Date): bigint { return (BigInt(d.getTime()) + 11644473600000n) * 10000n }

/** FolderId: 16-byte mailbox-local GUID + 6-byte big-endian counter + 4 bytes (26 bytes, as in the Folder_N tables). */
export function folderIdBytes(localGuid: Buffer, counter: number): Buffer {
  const b = Buffer.alloc(26); localGuid.copy(b, 0); b.writeUIntBE(counter, 16, 6); return b
}

const text = (name: string, compressed = false): WColumn => ({ name, type: COLTYP.LongText, codepage: 1200, compressed })
const SEPARATED_COLUMNS = 4

export interface EdbWriteOptions { pageSize?: 16384 | 32768; dirty?: WOptions['dirty'] }

export interface EdbLayout {
  /** Per mailbox: folder key → FolderId bytes; message index → MessageDocumentId. */
  folderIds: Map<number, Map<string, Buffer>>
  documentIds: Map<number, number[]>
}

export function edbTables(mailboxes: EdbMailbox[]): { tables: WTable[]; layout: EdbLayout } {
  const layout: EdbLayout = { folderIds: new Map(), documentIds: new Map() }
  const tables: WTable[] = [
    {
      name: 'Mailbox',
      columns: [{ name: 'MailboxNumber', type: COLTYP.Long }, { name: 'MailboxGuid', type: COLTYP.GUID }, { name: 'OwnerADGuid', type: COLTYP.GUID },
        { name: 'MessageCount', type: COLTYP.LongLong }, { name: 'LastLogonTime', type: COLTYP.LongLong }, text('MailboxOwnerDisplayName'), text('DisplayName'),
        { name: 'PropertyBlob', type: COLTYP.LongBinary }],
      rows: mailboxes.map((m) => ({
        MailboxNumber: m.number, MailboxGuid: m.guid, OwnerADGuid: Buffer.from(m.guid).reverse(), MessageCount: BigInt(m.messages.length),
        LastLogonTime: filetime(new Date(Date.UTC(2026, 10, 30, 8))), MailboxOwnerDisplayName: m.ownerName, DisplayName: m.ownerName,
        PropertyBlob: propBlob([[0x3001, 'unicode', m.ownerName], [0x39fe, 'unicode', m.smtp]]),
      })),
    },
    {
      name: 'MailboxIdentity',
      columns: [{ name: 'MailboxNumber', type: COLTYP.Long }, { name: 'LocalIdGuid', type: COLTYP.GUID }],
      rows: mailboxes.map((m) => ({ MailboxNumber: m.number, LocalIdGuid: localGuid(m) })),
    },
  ]
  for (const m of mailboxes) {
    const n = m.number
    const ids = new Map<string, Buffer>()
    m.folders.forEach((f, i) => ids.set(f.key, folderIdBytes(localGuid(m), i + 1)))
    layout.folderIds.set(n, ids)
    tables.push({
      name: `ExtendedPropertyNameMapping_${n}`,
      columns: [{ name: 'PropNumber', type: COLTYP.Long }, { name: 'PropGuid', type: COLTYP.GUID }, text('PropName'), { name: 'PropDispId', type: COLTYP.Long }],
      rows: [{ PropNumber: 0x8001, PropGuid: Buffer.from('00062008000000c00000000000000046', 'hex'), PropName: null, PropDispId: 0x8554 },
        { PropNumber: 0x8002, PropGuid: Buffer.from('00020329000000c00000000000000046', 'hex'), PropName: 'Keywords', PropDispId: 0 }],
    })
    const counts = (key: string) => m.messages.filter((x) => x.folder === key)
    tables.push({
      name: `Folder_${n}`,
      columns: [{ name: 'FolderId', type: COLTYP.Binary }, { name: 'ParentFolderId', type: COLTYP.Binary }, text('DisplayName'), text('ContainerClass', true),
        { name: 'MessageCount', type: COLTYP.Long }, { name: 'UnreadMessageCount', type: COLTYP.Long }, { name: 'FolderCount', type: COLTYP.Long },
        { name: 'LastModificationTime', type: COLTYP.LongLong }, { name: 'PropertyBlob', type: COLTYP.LongBinary }],
      rows: m.folders.map((f) => ({
        FolderId: ids.get(f.key)!, ParentFolderId: f.parent ? ids.get(f.parent)! : Buffer.alloc(26),
        DisplayName: f.name, ContainerClass: f.containerClass ?? null, MessageCount: counts(f.key).length,
        UnreadMessageCount: counts(f.key).filter((x) => !x.read).length, FolderCount: m.folders.filter((c) => c.parent === f.key).length,
        LastModificationTime: filetime(new Date(Date.UTC(2026, 10, 30, 9))),
        PropertyBlob: propBlob([[0x3001, 'unicode', f.name], ...(f.containerClass ? [[0x3613, 'unicode', f.containerClass] as P] : [])]),
      })),
    })
    const docIds: number[] = []
    const attachmentRows: Record<string, unknown>[] = []
    const messageRows = m.messages.map((msg, i) => {
      const doc = 1000 + i * 3
      docIds.push(doc)
      const inids = msg.attachments.map((a, k) => {
        const inid = doc * 100 + k + 1
        attachmentRows.push({
          Inid: inid, MessageDocumentId: doc, Name: a.filename, Size: BigInt(a.content.length), Content: a.content,
          PropertyBlob: propBlob([[0x3707, 'unicode', a.filename], [0x370e, 'unicode', a.contentType], [0x0e20, 'long', a.content.length],
            ...(a.contentId ? [[0x3712, 'unicode', a.contentId] as P] : [])]),
        })
        return inid
      })
      const separated = new Map<number, Buffer>()
      const blob = propBlob([
        [0x0037, 'unicode', msg.subject], [0x0c1a, 'unicode', msg.from.name], [0x5d01, 'unicode', msg.from.address],
        [0x1035, 'unicode', msg.messageId], [0x0039, 'systime', filetime(msg.sent)], [0x0e06, 'systime', filetime(msg.received)],
        [0x1016, 'long', msg.html ? 3 : 1], ...(msg.text !== undefined ? [[0x1000, 'unicode', msg.text] as P] : []),
      ], separated)
      const recipients = [...msg.to.map((a) => [1, a] as const), ...msg.cc.map((a) => [2, a] as const), ...(msg.bcc ?? []).map((a) => [3, a] as const)]
      const recipientBlobs = recipients.map(([type, a]) => propBlob([[0x0c15, 'long', type], [0x3001, 'unicode', a.name], [0x39fe, 'unicode', a.address]]))
      const list = Buffer.alloc(2); list.writeUInt16LE(recipientBlobs.length)
      const sub = Buffer.alloc(2 + inids.length * 4); sub.writeUInt16LE(inids.length); inids.forEach((x, k) => sub.writeUInt32LE(x, 2 + k * 4))
      const row: Record<string, unknown> = {
        MessageDocumentId: doc, FolderId: ids.get(msg.folder)!, MessageClass: 'IPM.Note',
        DateReceived: filetime(msg.received), DateSent: filetime(msg.sent), Size: BigInt(msg.subject.length + (msg.text?.length ?? 0) + (msg.html?.length ?? 0) + msg.attachments.reduce((s, a) => s + a.content.length, 0)),
        HasAttachments: msg.attachments.length > 0, IsRead: !!msg.read,
        DisplayTo: msg.to.map((a) => a.name).join('; '), DisplayCc: msg.cc.map((a) => a.name).join('; ') || null,
        PropertyBlob: blob, RecipientList: Buffer.concat([list, ...recipientBlobs.flatMap((b) => { const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return [l, b] })]),
        NativeBody: msg.html !== undefined ? Buffer.from(msg.html, 'utf8') : msg.text !== undefined ? Buffer.from(msg.text, 'utf8') : null,
        SubobjectsBlob: inids.length ? sub : null,
      }
      if (separated.size > SEPARATED_COLUMNS) throw new Error(`message ${i}: more than ${SEPARATED_COLUMNS} separated properties`)
      for (const [nn, v] of separated) row[`SeparatedProperty${String(nn).padStart(2, '0')}`] = v
      return row
    })
    layout.documentIds.set(n, docIds)
    tables.push({
      name: `Message_${n}`,
      columns: [{ name: 'MessageDocumentId', type: COLTYP.Long }, { name: 'FolderId', type: COLTYP.Binary }, text('MessageClass', true),
        { name: 'DateReceived', type: COLTYP.LongLong }, { name: 'DateSent', type: COLTYP.LongLong }, { name: 'Size', type: COLTYP.LongLong },
        { name: 'HasAttachments', type: COLTYP.Bit }, { name: 'IsRead', type: COLTYP.Bit }, text('DisplayTo'), text('DisplayCc'),
        { name: 'PropertyBlob', type: COLTYP.LongBinary }, { name: 'RecipientList', type: COLTYP.LongBinary }, { name: 'NativeBody', type: COLTYP.LongBinary },
        { name: 'SubobjectsBlob', type: COLTYP.LongBinary },
        ...Array.from({ length: SEPARATED_COLUMNS }, (_, k) => ({ name: `SeparatedProperty${String(k + 1).padStart(2, '0')}`, type: COLTYP.LongBinary }))],
      rows: messageRows as WTable['rows'],
    })
    tables.push({
      name: `Attachment_${n}`,
      columns: [{ name: 'Inid', type: COLTYP.Long }, { name: 'MessageDocumentId', type: COLTYP.Long }, { name: 'Size', type: COLTYP.LongLong }, text('Name'),
        { name: 'PropertyBlob', type: COLTYP.LongBinary }, { name: 'Content', type: COLTYP.LongBinary }],
      rows: attachmentRows as WTable['rows'],
    })
  }
  return { tables, layout }
}

export function localGuid(m: EdbMailbox): Buffer { const g = Buffer.from(m.guid); g[0] ^= 0x5a; return g }

/** Writes the EDB-shaped database; values ≥ 4 KiB go to long-value trees as Exchange's large properties do. */
export function writeEdb(path: string, mailboxes: EdbMailbox[], options: EdbWriteOptions = {}): EdbLayout {
  const { tables, layout } = edbTables(mailboxes)
  writeEseDatabase(path, tables, { pageSize: options.pageSize ?? 32768, longValueMin: 4096, dirty: options.dirty })
  return layout
}
