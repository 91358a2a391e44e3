/**
 * The catalog (MSysObjects, root page 4, object 2): one row per table, column, index, long-value tree
 * and callback, keyed (ObjidTable, Type, Id). Read with the catalog's own fixed schema; template
 * tables lend their columns to the tables derived from them.
 */
import { FsError } from '../filesystems/types.ts'
import type { PageStore } from './pages.ts'
import { parseRecord, type RecordLayout } from './record.ts'
import { COLTYP, COLTYP_NAMES, FIXED_SIZE, decodeText } from './values.ts'

export const CATALOG_ROOT = 4
export const CATALOG_OBJID = 2
export const SHADOW_CATALOG_ROOT = 24

export const SYSOBJ_TABLE = 1
export const SYSOBJ_COLUMN = 2
export const SYSOBJ_INDEX = 3
export const SYSOBJ_LONG_VALUE = 4
export const SYSOBJ_CALLBACK = 5

export const COLUMN_FLAG_FIXED = 0x1
export const COLUMN_FLAG_TAGGED = 0x2
export const COLUMN_FLAG_MULTI_VALUED = 0x400
export const COLUMN_FLAG_COMPRESSED = 0x80000

export interface EseColumn {
  id: number
  name: string
  type: number
  typeName: string
  /** Bytes a fixed column takes in the record; the maximum size for others (0 = no limit). */
  size: number
  flags: number
  codepage: number
  kind: 'fixed' | 'variable' | 'tagged'
  multiValued: boolean
  /** Byte offset after the 4-byte record header (fixed columns only). */
  offset: number
  defaultValue?: Buffer
  /** Inherited from the template table: tagged instances carry the "derived" bit. */
  fromTemplate: boolean
}

export interface EseIndex { id: number; name: string; rootPage: number; flags: number; keyColumns: number[] }

export interface EseTableDef {
  objid: number
  name: string
  rootPage: number
  flags: number
  templateName?: string
  columns: EseColumn[]
  indexes: EseIndex[]
  longValueRoot?: number
  longValueObjid?: number
}

/** The catalog's own schema (Microsoft's fixed layout of MSysObjects). */
const CATALOG_FIXED: [number, string, number][] = [
  [1, 'ObjidTable', COLTYP.Long], [2, 'Type', COLTYP.Short], [3, 'Id', COLTYP.Long], [4, 'ColtypOrPgnoFDP', COLTYP.Long],
  [5, 'SpaceUsage', COLTYP.Long], [6, 'Flags', COLTYP.Long], [7, 'PagesOrLocale', COLTYP.Long], [8, 'RootFlag', COLTYP.Bit],
  [9, 'RecordOffset', COLTYP.Short], [10, 'LCMapFlags', COLTYP.Long], [11, 'KeyMost', COLTYP.UnsignedShort], [12, 'LVChunkMax', COLTYP.Long],
]

interface CatalogRow { objidTable: number; type: number; id: number; coltypOrPgno: number; spaceUsage: number; flags: number; pagesOrLocale: number; name: string; templateTable?: string; defaultValue?: Buffer; keyFldIds?: Buffer }

function catalogRow(data: Buffer, layout: RecordLayout): CatalogRow {
  const r = parseRecord(data, layout)
  const offsets: number[] = []
  let off = 0
  for (const [, , t] of CATALOG_FIXED) { offsets.push(off); off += FIXED_SIZE[t] }
  const fx = (i: number) => { const b = r.fixed(i + 1, offsets[i], FIXED_SIZE[CATALOG_FIXED[i][2]]); return b ?? undefined }
  const i32 = (i: number) => fx(i)?.readInt32LE(0) ?? 0
  const vr = (id: number) => r.variable(id) ?? undefined
  const objidTable = i32(0), id = i32(2)
  const type = fx(1)?.readInt16LE(0) ?? 0
  const name = vr(128)
  if (!name) throw new FsError('ECORRUPT', `ESE catalog row (object ${objidTable}, type ${type}, id ${id}) has no name`)
  const tmpl = vr(130)
  return {
    objidTable, type, id, coltypOrPgno: i32(3), spaceUsage: i32(4), flags: i32(5), pagesOrLocale: i32(6),
    name: decodeText(name, 1252), templateTable: tmpl && tmpl.length ? decodeText(tmpl, 1252).replace(/\0+$/, '') : undefined,
    defaultValue: vr(131), keyFldIds: vr(132),
  }
}

export const MAX_CATALOG_ROWS = 2_000_000

export async function readCatalog(store: PageStore, layout: RecordLayout, root = CATALOG_ROOT): Promise<EseTableDef[]> {
  const tables: EseTableDef[] = []
  let cur: EseTableDef | undefined
  let rows = 0
  for await (const node of store.leaves(root, CATALOG_OBJID, 'catalog (MSysObjects)')) {
    if (++rows > MAX_CATALOG_ROWS) throw new FsError('ELIMIT', `ESE catalog has more than ${MAX_CATALOG_ROWS} rows`)
    if (node.flags & 0x2) continue
    const row = catalogRow(node.data, layout)
    if (row.type === SYSOBJ_TABLE) {
      cur = { objid: row.objidTable, name: row.name, rootPage: row.coltypOrPgno, flags: row.flags, templateName: row.templateTable, columns: [], indexes: [] }
      tables.push(cur)
      continue
    }
    if (!cur || row.objidTable !== cur.objid) {
      throw new FsError('ECORRUPT', `ESE catalog row "${row.name}" (type ${row.type}) belongs to object ${row.objidTable}, which has no table row before it`)
    }
    if (row.type === SYSOBJ_COLUMN) cur.columns.push(columnOf(row))
    else if (row.type === SYSOBJ_INDEX) {
      const keys: number[] = []
      if (row.keyFldIds) for (let i = 0; i + 2 <= row.keyFldIds.length; i += 2) keys.push(row.keyFldIds.readUInt16LE(i))
      cur.indexes.push({ id: row.id, name: row.name, rootPage: row.coltypOrPgno, flags: row.flags, keyColumns: keys })
    } else if (row.type === SYSOBJ_LONG_VALUE) { cur.longValueRoot = row.coltypOrPgno; cur.longValueObjid = row.id }
  }
  applyTemplates(tables)
  for (const t of tables) layoutFixed(t)
  return tables
}

function columnOf(row: CatalogRow): EseColumn {
  const id = row.id
  const kind = id <= 127 ? 'fixed' : id <= 255 ? 'variable' : 'tagged'
  const type = row.coltypOrPgno
  return {
    id, name: row.name, type, typeName: COLTYP_NAMES[type] ?? `type ${type}`,
    size: kind === 'fixed' ? (row.spaceUsage > 0 ? row.spaceUsage : FIXED_SIZE[type] ?? 0) : Math.max(0, row.spaceUsage),
    flags: row.flags, codepage: row.pagesOrLocale, kind,
    multiValued: (row.flags & COLUMN_FLAG_MULTI_VALUED) !== 0, offset: 0,
    defaultValue: row.defaultValue && row.defaultValue.length ? row.defaultValue : undefined, fromTemplate: false,
  }
}

/** A derived table starts with a copy of its template's columns; its own come after. */
function applyTemplates(tables: EseTableDef[]): void {
  const byName = new Map(tables.map((t) => [t.name, t]))
  for (const t of tables) {
    if (!t.templateName) continue
    const tmpl = byName.get(t.templateName)
    if (!tmpl || tmpl === t) throw new FsError('ECORRUPT', `ESE table "${t.name}" derives from template "${t.templateName}", which is not in the catalog`)
    if (tmpl.templateName) throw new FsError('ENOTSUP', `ESE template "${tmpl.name}" itself derives from "${tmpl.templateName}": nested templates are not supported`)
    const inherited = tmpl.columns.map((c) => ({ ...c, fromTemplate: true }))
    t.columns = [...inherited, ...t.columns.filter((c) => !inherited.some((i) => i.id === c.id && i.kind !== 'tagged'))]
  }
}

/** Fixed values sit back to back in column-id order (deleted columns keep their space). */
function layoutFixed(t: EseTableDef): void {
  let off = 0
  const fixed = t.columns.filter((c) => c.kind === 'fixed').sort((a, b) => a.id - b.id)
  for (const c of fixed) { c.offset = off; off += c.size }
}
