/**
 * Opens an ESE (JET Blue) database over a ReadAt, with no native engine: header, catalog, tables,
 * columns and rows with typed values, long values and compressed values. It reads the pages as they
 * stand: a database that was not shut down cleanly (the normal case in a VSS snapshot of a live DC or
 * Exchange server) is read without log replay, and `info().consistency` says so on every answer.
 */
import { FsError, type ReadAt } from '../filesystems/types.ts'
import { CATALOG_OBJID, CATALOG_ROOT, readCatalog, type EseColumn, type EseTableDef } from './catalog.ts'
import { decompressValue } from './compression.ts'
import { parseHeader, type EseHeader } from './header.ts'
import { PageStore } from './pages.ts'
import { NODE_DELETED } from './page.ts'
import {
  parseRecord, splitMultiValue, TAGGED_COMPRESSED, TAGGED_ENCRYPTED, TAGGED_MULTI, TAGGED_NULL, TAGGED_SEPARATED,
  TAGGED_TWO_VALUES, type RawTagged, type RecordLayout,
} from './record.ts'
import { COLTYP, decodeScalar, type EseScalar, type EseValue } from './values.ts'

export interface EseOpenOptions {
  /** Refuse pages whose checksum fails (default true); false reads them and counts them in info(). */
  verifyChecksums?: boolean
  /** Largest long value assembled in memory (default 64 MiB). */
  maxLongValueBytes?: number
  cachePages?: number
}

export interface EseConsistency {
  /** 'clean' = shut down cleanly; 'dirty' = logs were not replayed, so recent changes may be missing or half-applied. */
  state: 'clean' | 'dirty'
  detail: string
  requiredLogs?: { min: number; max: number }
}

export interface EseInfo {
  header: EseHeader
  consistency: EseConsistency
  pageSize: number
  pageCount: number
  formatVersion: string
  badChecksumPages: number[]
}

export interface EseColumnInfo { id: number; name: string; type: string; kind: EseColumn['kind']; multiValued: boolean; codepage?: number; size: number; hasDefault: boolean; fromTemplate: boolean }
export interface EseTableInfo { name: string; objid: number; rootPage: number; template?: string; columns: number; indexes: string[]; hasLongValues: boolean }

export interface EseRow {
  values: Record<string, EseValue>
  /** Columns whose value could not be decoded (damaged, encrypted, unsupported compression), with why. */
  problems: { column: string; error: string }[]
  /** How tagged values were stored, where not plainly inline (for diagnostics and format checks). */
  storage: Record<string, { compressed: boolean; separated: boolean; multi: boolean }>
  /** Where the row is stored (with `rows(…, { locate: true })`): give it to rowAt() to read the row again. */
  location?: EseRowLocation
}

/** A row's place in its table's B+tree: leaf page and node index (valid for the file as it is). */
export interface EseRowLocation { page: number; index: number }

/** Decodes `columns` of each row first and the rest only for rows that pass `test` (a lookup without decoding every long value). */
export interface EseRowFilter { columns: string[]; test(values: Record<string, EseValue>): boolean }

export interface EseDatabase {
  info(): EseInfo
  tables(): EseTableInfo[]
  columns(table: string): EseColumnInfo[]
  /** `columns`: decode only these (others are left out of `values`), e.g. to skip long values while listing. */
  rows(table: string, options?: { limit?: number; columns?: string[]; where?: EseRowFilter; locate?: boolean }): AsyncGenerator<EseRow>
  /** One row read again from where rows(…, { locate: true }) found it (only `columns` when given). */
  rowAt(table: string, location: EseRowLocation, columns?: string[]): Promise<EseRow>
  rowCount(table: string): Promise<number>
  /** The catalog definition (for layers such as AD and Exchange that need column ids). */
  tableDef(table: string): EseTableDef
}

export function consistencyOf(h: EseHeader): EseConsistency {
  if (!h.dirty) return { state: 'clean', detail: 'clean shutdown: the pages hold every committed change' }
  const logs = h.requiredLogs
  const range = logs.min || logs.max ? `log generations ${logs.min}–${logs.max} (0x${logs.min.toString(16)}–0x${logs.max.toString(16)})` : 'its transaction logs'
  return {
    state: 'dirty', requiredLogs: logs,
    detail: `${h.state} (state ${h.stateCode}): read as it stands without log replay; replaying ${range} (esentutl /r) would be needed for a consistent copy, so recent changes may be missing`,
  }
}

export async function openEseDatabase(reader: ReadAt, options: EseOpenOptions = {}): Promise<EseDatabase> {
  if (reader.size < 8192) throw new FsError('ECORRUPT', `not an ESE database: ${reader.size} bytes is smaller than the two header pages`)
  const first = await reader.readAt(0, Math.min(reader.size, 32768))
  const shadows = new Map<number, Buffer>()
  for (const ps of [4096, 8192, 16384, 32768]) if (reader.size >= ps * 2) shadows.set(ps, await reader.readAt(ps, ps))
  const header = parseHeader(first, (ps) => shadows.get(ps))
  if (header.fileType !== 'database') throw new FsError('ENOTSUP', `ESE file type is ${header.fileType}, not a database`)
  if (header.formatVersion !== 0x620) throw new FsError('ENOTSUP', `ESE format version 0x${header.formatVersion.toString(16)} is not supported (0x620 is: Windows 2000 and later, Exchange 2000 and later)`)
  const store = new PageStore(reader, header.pageSize, {
    verifyChecksums: options.verifyChecksums ?? true, cachePages: options.cachePages ?? 512,
  })
  const layout: RecordLayout = { largePages: store.largePages, linearTagged: header.formatRevision <= 2 }
  const defs = await readCatalog(store, layout, CATALOG_ROOT)
  const byName = new Map(defs.map((t) => [t.name, t]))
  const maxLv = options.maxLongValueBytes ?? 64 * 1024 * 1024
  const consistency = consistencyOf(header)

  const def = (name: string): EseTableDef => {
    const t = byName.get(name)
    if (!t) throw new FsError('ENOENT', `ESE table "${name}" does not exist (tables: ${defs.map((d) => d.name).join(', ')})`)
    return t
  }

  async function longValue(t: EseTableDef, ref: Buffer): Promise<Buffer> {
    if (!t.longValueRoot) throw new FsError('ECORRUPT', `ESE table "${t.name}" refers to a long value but has no long-value tree`)
    if (ref.length !== 4 && ref.length !== 8) throw new FsError('ECORRUPT', `ESE long-value reference of ${ref.length} bytes (4 or 8 expected)`)
    const key = Buffer.from(ref).reverse()
    let total = -1
    const chunks: { offset: number; data: Buffer }[] = []
    let bytes = 0
    for await (const n of store.withPrefix(t.longValueRoot, t.longValueObjid ?? 0, key, `long values of "${t.name}"`)) {
      if (n.key.length === key.length) {
        if (n.data.length < 8) throw new FsError('ECORRUPT', `ESE long value ${key.toString('hex')} has a ${n.data.length}-byte root`)
        total = n.data.readUInt32LE(4)
        if (total > maxLv) throw new FsError('ELIMIT', `ESE long value ${key.toString('hex')} is ${total} bytes, over the ${maxLv}-byte bound`)
      } else if (n.key.length === key.length + 4) {
        if (n.flags & NODE_DELETED) continue
        chunks.push({ offset: n.key.readUInt32BE(key.length), data: n.data })
        bytes += n.data.length
        if (bytes > maxLv + 65536) throw new FsError('ELIMIT', `ESE long value ${key.toString('hex')} has more chunk data than the ${maxLv}-byte bound`)
      }
    }
    if (total < 0) throw new FsError('ECORRUPT', `ESE long value ${key.toString('hex')} of table "${t.name}" is missing from its long-value tree`)
    const out = Buffer.alloc(total)
    let filled = 0
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]
      const end = Math.min(total, i + 1 < chunks.length ? chunks[i + 1].offset : total)
      if (c.offset !== filled || end < c.offset) throw new FsError('ECORRUPT', `ESE long value ${key.toString('hex')}: chunk at ${c.offset} does not follow the ${filled} bytes before it`)
      let data = c.data
      const want = end - c.offset
      if (data.length !== want) {
        data = decompressValue(data)
        if (data.length !== want) throw new FsError('ECORRUPT', `ESE long value ${key.toString('hex')}: chunk at ${c.offset} decompresses to ${data.length} bytes, ${want} expected`)
      }
      data.copy(out, c.offset)
      filled = end
    }
    if (filled !== total) throw new FsError('ECORRUPT', `ESE long value ${key.toString('hex')}: chunks cover ${filled} of ${total} bytes`)
    return out
  }

  async function taggedValue(t: EseTableDef, c: EseColumn, tag: RawTagged): Promise<EseValue> {
    if (tag.flags & TAGGED_NULL) return null
    if (tag.flags & TAGGED_ENCRYPTED) throw new FsError('ENOTSUP', 'the value is encrypted by the engine (JET_bitColumnEncrypted); the key is not in the file')
    if (tag.flags & (TAGGED_MULTI | TAGGED_TWO_VALUES)) {
      const { values, separated } = splitMultiValue(tag.data, tag.flags)
      const out: EseScalar[] = []
      for (let i = 0; i < values.length; i++) {
        let v = values[i]
        if (separated[i]) v = await longValue(t, v)
        else if (i === 0 && (tag.flags & TAGGED_COMPRESSED)) v = decompressValue(v)
        out.push(decodeScalar(c.type, v, c.codepage, c.name))
      }
      return out
    }
    let v = tag.data
    if (tag.flags & TAGGED_SEPARATED) v = await longValue(t, v)
    else if (tag.flags & TAGGED_COMPRESSED) v = decompressValue(v)
    const s = decodeScalar(c.type, v, c.codepage, c.name)
    return c.multiValued ? [s] : s
  }

  // Column subsets by table and names: a row of a wide table (datatable: over a thousand columns)
  // decodes only the few asked for, without walking all of its columns.
  const subsets = new Map<string, EseColumn[]>()
  const columnsOf = (t: EseTableDef, names?: string[]): EseColumn[] => {
    if (!names) return t.columns
    const k = `${t.name}\0${names.join('\0')}`
    let cols = subsets.get(k)
    if (!cols) {
      const want = new Set(names)
      cols = t.columns.filter((c) => want.has(c.name))
      if (subsets.size > 256) subsets.clear()
      subsets.set(k, cols)
    }
    return cols
  }

  async function decodeRow(t: EseTableDef, data: Buffer, cols: EseColumn[]): Promise<EseRow> {
    const r = parseRecord(data, layout)
    // A few columns: find each tagged one in the record's sorted array; many: split the array once.
    let tagged: Map<number, RawTagged> | undefined
    const taggedOf = (c: EseColumn): RawTagged | undefined => {
      if (cols.length <= 24) return r.findTagged(c.id, c.fromTemplate)
      if (!tagged) { tagged = new Map(); for (const tg of r.tagged) tagged.set(tg.id + (tg.derived ? 0x10000 : 0), tg) }
      return tagged.get(c.id + (c.fromTemplate ? 0x10000 : 0))
    }
    const values: Record<string, EseValue> = {}
    const problems: EseRow['problems'] = []
    const storage: EseRow['storage'] = {}
    for (const c of cols) {
      try {
        let v: EseValue = null
        if (c.kind === 'fixed') {
          const b = r.fixed(c.id, c.offset, c.size)
          v = b === undefined ? (c.defaultValue ? decodeScalar(c.type, c.defaultValue, c.codepage, c.name) : null) : b === null ? null : decodeScalar(c.type, b, c.codepage, c.name)
        } else if (c.kind === 'variable') {
          const b = r.variable(c.id)
          v = b === undefined ? (c.defaultValue ? decodeScalar(c.type, c.defaultValue, c.codepage, c.name) : null) : b === null ? null : decodeScalar(c.type, b, c.codepage, c.name)
        } else {
          const tg = taggedOf(c)
          if (tg) {
            if (tg.flags & (TAGGED_COMPRESSED | TAGGED_SEPARATED | TAGGED_MULTI | TAGGED_TWO_VALUES)) {
              storage[c.name] = { compressed: !!(tg.flags & TAGGED_COMPRESSED), separated: !!(tg.flags & TAGGED_SEPARATED), multi: !!(tg.flags & (TAGGED_MULTI | TAGGED_TWO_VALUES)) }
            }
            v = await taggedValue(t, c, tg)
          }
          else if (c.defaultValue) v = decodeScalar(c.type, c.defaultValue, c.codepage, c.name)
        }
        values[c.name] = v
      } catch (e) {
        if (!(e instanceof FsError)) throw e
        values[c.name] = null
        problems.push({ column: c.name, error: e.message })
      }
    }
    return { values, problems, storage }
  }

  const tableObjid = (t: EseTableDef) => (t.name === 'MSysObjects' ? CATALOG_OBJID : t.objid)

  return {
    info() {
      return {
        header, consistency, pageSize: header.pageSize, pageCount: store.pageCount,
        formatVersion: `0x${header.formatVersion.toString(16)}, revision 0x${header.formatRevision.toString(16)}`,
        badChecksumPages: [...store.badChecksums].sort((a, b) => a - b),
      }
    },
    tables() {
      return defs.map((t) => ({
        name: t.name, objid: t.objid, rootPage: t.rootPage, template: t.templateName, columns: t.columns.length,
        indexes: t.indexes.map((i) => i.name), hasLongValues: !!t.longValueRoot,
      }))
    },
    columns(name) {
      return def(name).columns.map((c) => ({
        id: c.id, name: c.name, type: c.typeName, kind: c.kind, multiValued: c.multiValued, size: c.size,
        codepage: c.type === COLTYP.Text || c.type === COLTYP.LongText ? c.codepage : undefined,
        hasDefault: !!c.defaultValue, fromTemplate: c.fromTemplate,
      }))
    },
    async *rows(name, opts = {}) {
      const t = def(name)
      const cols = columnsOf(t, opts.columns)
      const whereCols = opts.where ? columnsOf(t, opts.where.columns) : undefined
      let n = 0
      for await (const p of store.leafPages(t.rootPage, tableObjid(t), `table "${t.name}"`)) {
        for (let i = 0; i < p.nodes.length; i++) {
          const node = p.nodes[i]
          if (node.flags & NODE_DELETED) continue
          if (opts.limit !== undefined && n >= opts.limit) return
          if (opts.where && !opts.where.test((await decodeRow(t, node.data, whereCols!)).values)) continue
          n++
          const row = await decodeRow(t, node.data, cols)
          if (opts.locate) row.location = { page: p.pgno, index: i }
          yield row
        }
      }
    },
    async rowAt(name, location, columns) {
      const t = def(name)
      const p = await store.page(location.page)
      const node = p.nodes[location.index]
      if (p.objid !== tableObjid(t) || !p.isLeaf || !node || (node.flags & NODE_DELETED)) {
        throw new FsError('ECORRUPT', `ESE table "${t.name}": no row at page ${location.page}, node ${location.index}`)
      }
      return { ...(await decodeRow(t, node.data, columnsOf(t, columns))), location }
    },
    async rowCount(name) {
      const t = def(name)
      let n = 0
      for await (const node of store.leaves(t.rootPage, tableObjid(t), `table "${t.name}"`)) if (!(node.flags & NODE_DELETED)) n++
      return n
    },
    tableDef: def,
  }
}
