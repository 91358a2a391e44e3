/**
 * Mailboxes, folders and messages of an Exchange 2010+ mailbox database, read through our ESE reader
 * (no Exchange, no esent.dll): Mailbox and Folder_N/Message_N/Attachment_N tables, property blobs,
 * recipient lists, native bodies and attachments. A dirty database (the normal case in a VSS snapshot
 * of a live mailbox server) is read as it stands, and every answer says so.
 */
import { FsError, type ReadAt } from '../filesystems/types.ts'
import { openEseDatabase, type EseDatabase, type EseRow } from '../ese/database.ts'
import { filetimeToIso } from '../ese/values.ts'
import { decodeBlobList, decodePropertyBlob, PROP, type PropValue } from './property-blob.ts'
import type {
  ExchangeAddress, ExchangeAnswer, ExchangeAttachment, ExchangeDatabaseState, ExchangeFolder, ExchangeMailbox, ExchangeMessage,
  ExchangeMessageSummary, ExchangeSearch,
} from './types.ts'

const SUMMARY_COLUMNS = ['MessageDocumentId', 'FolderId', 'DateReceived', 'DateSent', 'Size', 'HasAttachments', 'IsRead', 'PropertyBlob', 'RecipientList']

export interface MailboxDatabase {
  state(): ExchangeDatabaseState
  mailboxes(): Promise<ExchangeAnswer<ExchangeMailbox[]>>
  folders(mailbox: number): Promise<ExchangeAnswer<ExchangeFolder[]>>
  /** Messages of a mailbox (or one folder), in storage order; `onItem` streams them as they are read. */
  search(mailbox: number, query?: ExchangeSearch): Promise<ExchangeAnswer<ExchangeMessageSummary[]>>
  message(mailbox: number, documentId: number): Promise<ExchangeAnswer<ExchangeMessage>>
  ese: EseDatabase
}

const str = (v: PropValue | undefined) => (typeof v === 'string' ? v : undefined)
const hex = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : '')
const timeOf = (v: unknown) => (typeof v === 'bigint' ? filetimeToIso(v) : undefined)

export async function openMailboxDatabase(reader: ReadAt): Promise<MailboxDatabase> {
  const ese = await openEseDatabase(reader)
  const c = ese.info().consistency
  const state: ExchangeDatabaseState = { state: c.state, detail: c.detail, ...(c.requiredLogs ? { requiredLogs: c.requiredLogs } : {}) }
  const answer = <T>(items: T): ExchangeAnswer<T> => ({ database: state, items })
  const tables = new Set(ese.tables().map((t) => t.name))
  if (!tables.has('Mailbox')) {
    throw new FsError('ENOTSUP', `this ESE database has no "Mailbox" table, so it is not an Exchange 2010+ mailbox database (tables: ${[...tables].slice(0, 12).join(', ')})`)
  }
  const need = (table: string, mailbox: number) => {
    if (!tables.has(table)) throw new FsError('ENOENT', `mailbox ${mailbox} has no table ${table} in this database (list the mailboxes first)`)
    return table
  }
  const folderCache = new Map<number, ExchangeFolder[]>()

  async function folders(mailbox: number): Promise<ExchangeFolder[]> {
    const hit = folderCache.get(mailbox)
    if (hit) return hit
    const raw: { id: string; parent: string; name: string; containerClass?: string; messageCount: number; unreadCount: number }[] = []
    for await (const r of ese.rows(need(`Folder_${mailbox}`, mailbox))) {
      const v = r.values
      raw.push({
        id: hex(v.FolderId), parent: hex(v.ParentFolderId), name: typeof v.DisplayName === 'string' ? v.DisplayName : '(no name)',
        containerClass: typeof v.ContainerClass === 'string' ? v.ContainerClass : undefined,
        messageCount: Number(v.MessageCount ?? 0), unreadCount: Number(v.UnreadMessageCount ?? 0),
      })
    }
    const byId = new Map(raw.map((f) => [f.id, f]))
    const pathOf = (id: string): string => {
      const parts: string[] = []
      const seen = new Set<string>()
      for (let f = byId.get(id); f && !seen.has(f.id); f = byId.get(f.parent)) { seen.add(f.id); parts.unshift(f.name) }
      // The mailbox root ("Top of Information Store") is left out of paths.
      return parts.slice(1).join('/') || parts[0] || ''
    }
    const out = raw.map((f) => ({
      id: f.id, ...(byId.has(f.parent) ? { parentId: f.parent } : {}), name: f.name, path: pathOf(f.id),
      ...(f.containerClass ? { containerClass: f.containerClass } : {}), messageCount: f.messageCount, unreadCount: f.unreadCount,
    }))
    folderCache.set(mailbox, out)
    return out
  }

  function summaryOf(mailbox: number, r: EseRow, folderPaths: Map<string, string>): ExchangeMessageSummary & { props: Map<number, PropValue> } {
    const v = r.values
    const problems = r.problems.map((p) => `${p.column}: ${p.error}`)
    let props = new Map<number, PropValue>()
    try { if (Buffer.isBuffer(v.PropertyBlob)) props = decodePropertyBlob(v.PropertyBlob) } catch (e) { if (!(e instanceof FsError)) throw e; problems.push(e.message) }
    const to: ExchangeAddress[] = [], cc: ExchangeAddress[] = [], bcc: ExchangeAddress[] = []
    try {
      if (Buffer.isBuffer(v.RecipientList)) {
        for (const rp of decodeBlobList(v.RecipientList, 'RecipientList')) {
          const a = { name: str(rp.get(PROP.displayName)) ?? '', address: str(rp.get(PROP.smtpAddress)) ?? '' }
          const type = rp.get(PROP.recipientType)
          ;(type === 2 ? cc : type === 3 ? bcc : to).push(a)
        }
      }
    } catch (e) { if (!(e instanceof FsError)) throw e; problems.push(e.message) }
    const folderId = hex(v.FolderId)
    return {
      mailbox, documentId: Number(v.MessageDocumentId), folderId, folderPath: folderPaths.get(folderId) ?? '',
      subject: str(props.get(PROP.subject)) ?? '',
      from: { name: str(props.get(PROP.senderName)) ?? '', address: str(props.get(PROP.senderSmtp)) ?? str(props.get(PROP.senderEmail)) ?? '' },
      to, cc, bcc,
      sent: timeOf(v.DateSent) ?? timeOf(props.get(PROP.clientSubmitTime)), received: timeOf(v.DateReceived) ?? timeOf(props.get(PROP.deliveryTime)),
      hasAttachments: v.HasAttachments === true, read: v.IsRead === true, size: Number(v.Size ?? 0), problems, props,
    }
  }

  async function attachmentsByMessage(mailbox: number, nameLike?: string): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>()
    const table = `Attachment_${mailbox}`
    if (!tables.has(table)) return out
    for await (const r of ese.rows(table, { columns: ['MessageDocumentId', 'Name'] })) {
      const name = typeof r.values.Name === 'string' ? r.values.Name : ''
      if (nameLike && !name.toLowerCase().includes(nameLike)) continue
      const doc = Number(r.values.MessageDocumentId)
      out.set(doc, [...(out.get(doc) ?? []), name])
    }
    return out
  }

  async function search(mailbox: number, q: ExchangeSearch = {}): Promise<ExchangeMessageSummary[]> {
    const paths = new Map((await folders(mailbox)).map((f) => [f.id, f.path]))
    const from = q.from?.toLowerCase(), subject = q.subject?.toLowerCase()
    const after = q.after ? Date.parse(q.after) : undefined, before = q.before ? Date.parse(q.before) : undefined
    for (const [k, t] of [['after', after], ['before', before]] as const) if (t !== undefined && Number.isNaN(t)) throw new FsError('ERANGE', `search: "${k}" is not a date (use ISO 8601, e.g. 2026-11-20 or 2026-11-20T09:00:00Z)`)
    const withAttachment = q.attachment ? await attachmentsByMessage(mailbox, q.attachment.toLowerCase()) : undefined
    const out: ExchangeMessageSummary[] = []
    for await (const r of ese.rows(need(`Message_${mailbox}`, mailbox), { columns: SUMMARY_COLUMNS })) {
      if (q.folderId && hex(r.values.FolderId) !== q.folderId) continue
      if (withAttachment && !withAttachment.has(Number(r.values.MessageDocumentId))) continue
      const { props: _props, ...s } = summaryOf(mailbox, r, paths)
      if (from && !`${s.from.name} ${s.from.address}`.toLowerCase().includes(from)) continue
      if (subject && !s.subject.toLowerCase().includes(subject)) continue
      const t = s.sent ? Date.parse(s.sent) : s.received ? Date.parse(s.received) : undefined
      if (after !== undefined && (t === undefined || t < after)) continue
      if (before !== undefined && (t === undefined || t >= before)) continue
      out.push(s)
      if (q.limit !== undefined && out.length >= q.limit) break
    }
    return out
  }

  async function message(mailbox: number, documentId: number): Promise<ExchangeMessage> {
    const paths = new Map((await folders(mailbox)).map((f) => [f.id, f.path]))
    let row: EseRow | undefined
    const where = { columns: ['MessageDocumentId'], test: (v: Record<string, unknown>) => Number(v.MessageDocumentId) === documentId }
    for await (const r of ese.rows(need(`Message_${mailbox}`, mailbox), { where, limit: 1 })) row = r
    if (!row) throw new FsError('ENOENT', `mailbox ${mailbox} has no message with document id ${documentId} (search the mailbox to find its messages)`)
    const s = summaryOf(mailbox, row, paths)
    const { props, ...summary } = s
    const separated = (v: PropValue | undefined): PropValue | undefined => {
      if (v && typeof v === 'object' && 'separated' in v) {
        const col = row!.values[`SeparatedProperty${String(v.separated).padStart(2, '0')}`]
        if (!Buffer.isBuffer(col)) { summary.problems.push(`a property was moved to SeparatedProperty${v.separated}, which is empty`); return undefined }
        return col
      }
      return v
    }
    const asText = (v: PropValue | undefined) => (Buffer.isBuffer(v) ? v.toString('utf16le') : str(v))
    const text = asText(separated(props.get(PROP.body)))
    const nativeFormat = props.get(PROP.nativeBodyInfo)
    const native = Buffer.isBuffer(row.values.NativeBody) ? row.values.NativeBody.toString('utf8') : undefined
    const html = nativeFormat === 3 ? native : undefined
    const attachments: ExchangeAttachment[] = []
    const table = `Attachment_${mailbox}`
    if (summary.hasAttachments && tables.has(table)) {
      const wanted = subobjects(row.values.SubobjectsBlob, summary.problems)
      const mine = (v: Record<string, unknown>) => (wanted ? wanted.includes(Number(v.Inid)) : Number(v.MessageDocumentId) === documentId)
      for await (const a of ese.rows(table, { where: { columns: ['Inid', 'MessageDocumentId'], test: mine } })) {
        const id = Number(a.values.Inid)
        let ap = new Map<number, PropValue>()
        try { if (Buffer.isBuffer(a.values.PropertyBlob)) ap = decodePropertyBlob(a.values.PropertyBlob, 'attachment PropertyBlob') } catch (e) { if (!(e instanceof FsError)) throw e; summary.problems.push(e.message) }
        for (const p of a.problems) summary.problems.push(`attachment ${id} ${p.column}: ${p.error}`)
        const content = Buffer.isBuffer(a.values.Content) ? a.values.Content : Buffer.alloc(0)
        const cid = str(ap.get(PROP.attachContentId))
        attachments.push({
          id, filename: str(ap.get(PROP.attachLongFilename)) ?? (typeof a.values.Name === 'string' ? a.values.Name : `attachment-${id}`),
          contentType: str(ap.get(PROP.attachMimeTag)) ?? 'application/octet-stream', size: content.length, ...(cid ? { contentId: cid } : {}), content,
        })
      }
      if (wanted) attachments.sort((x, y) => wanted.indexOf(x.id) - wanted.indexOf(y.id))
    }
    return { ...summary, messageId: str(props.get(PROP.internetMessageId)), ...(text !== undefined ? { text } : {}), ...(html !== undefined ? { html } : {}), attachments }
  }

  return {
    ese,
    state: () => state,
    async mailboxes() {
      const out: ExchangeMailbox[] = []
      for await (const r of ese.rows('Mailbox')) {
        const v = r.values
        let smtp: string | undefined
        try { if (Buffer.isBuffer(v.PropertyBlob)) smtp = str(decodePropertyBlob(v.PropertyBlob, 'Mailbox PropertyBlob').get(PROP.smtpAddress)) } catch (e) { if (!(e instanceof FsError)) throw e }
        out.push({
          number: Number(v.MailboxNumber), guid: hex(v.MailboxGuid),
          displayName: typeof v.MailboxOwnerDisplayName === 'string' ? v.MailboxOwnerDisplayName : typeof v.DisplayName === 'string' ? v.DisplayName : '',
          ...(smtp ? { smtp } : {}), messageCount: Number(v.MessageCount ?? 0),
        })
      }
      return answer(out)
    },
    async folders(mailbox) { return answer(await folders(mailbox)) },
    async search(mailbox, q) { return answer(await search(mailbox, q)) },
    async message(mailbox, documentId) { return answer(await message(mailbox, documentId)) },
  }
}

/** SubobjectsBlob: a 16-bit count then the attachments' 32-bit ids (our layout). */
function subobjects(v: unknown, problems: string[]): number[] | undefined {
  if (!Buffer.isBuffer(v)) return undefined
  const n = v.length >= 2 ? v.readUInt16LE(0) : -1
  if (n < 0 || 2 + n * 4 > v.length) { problems.push(`SubobjectsBlob is damaged (${v.length} bytes); attachments matched by message id instead`); return undefined }
  return Array.from({ length: n }, (_, i) => v.readUInt32LE(2 + i * 4))
}
