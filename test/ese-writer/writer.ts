/**
 * TEST-ONLY ESE (JET Blue) database writer — never part of the product. It writes small, cleanly
 * shut down databases (format 0x620 revision 0x14, 4/8 KiB pages or 16/32 KiB large pages, new-format page checksums): the
 * catalog MSysObjects at page 4 and tables with fixed, variable and tagged columns (multi-values
 * too), each table a B+tree of one level or two (a root branch page over linked leaf pages). A file it
 * writes counts only when Debian's esedbexport reads it back with the same values (see its tests).
 * Tagged values over LONG_VALUE_MIN bytes go to the table's long-value tree (separated, in chunks).
 * Optionally 7-bit compressed ASCII text and a dirty header state. No indexes, no space trees, no XPRESS.
 */
import { writeFileSync } from 'node:fs'
import { eccXor32, xor32, HEADER_SEED } from '../../backend/ese/checksum.ts'
import { COLTYP, FIXED_SIZE } from '../../backend/ese/values.ts'

export type WValue = null | undefined | boolean | number | bigint | string | Buffer
export interface WColumn { name: string; type: number; multi?: boolean; codepage?: 1200 | 1252; /** force tagged storage */ tagged?: boolean; /** store ASCII-only text values 7-bit compressed (ESE's JET_bitColumnCompressed) */ compressed?: boolean }
export interface WTable { name: string; columns: WColumn[]; rows: Record<string, WValue | WValue[]>[] }
export interface WOptions {
  /** 16/32 KiB pages use the large-page layout: 80-byte page headers with four checksums, 15-bit tags, and a flag byte on every tagged value (Exchange 2010+ uses 32 KiB). */
  pageSize?: 4096 | 8192 | 16384 | 32768
  /** Tagged values at least this large go to the long-value tree (default LONG_VALUE_MIN). */
  longValueMin?: number
  /** Header state: 3 clean shutdown (default) or 2 dirty shutdown with these required log generations. */
  dirty?: { minLog: number; maxLog: number }
}

const PAGE_ROOT = 0x1, PAGE_LEAF = 0x2, PAGE_PARENT_OF_LEAF = 0x4, PAGE_NEW_FORMAT = 0x800, PAGE_NEW_CHECKSUM = 0x2000
const CATALOG_PAGE = 4
/** libesedb also reads the backup catalog, MSysObjectsShadow, at page 24. */
const SHADOW_CATALOG_PAGE = 24
const FORMAT_REVISION = 0x14
const PAGE_LONG_VALUE = 0x80
/** Tagged values this large are stored as separated long values. */
export const LONG_VALUE_MIN = 1024

interface Col extends WColumn { id: number; kind: 'fixed' | 'variable' | 'tagged'; size: number; offset: number }

function layoutColumns(cols: WColumn[]): Col[] {
  let f = 0, v = 127, t = 255, off = 0
  return cols.map((c) => {
    const fixedSize = FIXED_SIZE[c.type]
    if (fixedSize !== undefined && !c.multi && !c.tagged) { const col: Col = { ...c, id: ++f, kind: 'fixed', size: fixedSize, offset: off }; off += fixedSize; return col }
    if ((c.type === COLTYP.Text || c.type === COLTYP.Binary) && !c.multi && !c.tagged) return { ...c, id: ++v, kind: 'variable', size: 255, offset: 0 }
    return { ...c, id: ++t, kind: 'tagged', size: 0, offset: 0 }
  })
}

function encodeScalar(c: WColumn, v: WValue): Buffer {
  if (v === null || v === undefined) throw new Error(`null inside a value of ${c.name}`)
  const b = (n: number) => Buffer.alloc(n)
  switch (c.type) {
    case COLTYP.Bit: return Buffer.from([v ? 0xff : 0])
    case COLTYP.UnsignedByte: return Buffer.from([Number(v)])
    case COLTYP.Short: { const x = b(2); x.writeInt16LE(Number(v)); return x }
    case COLTYP.UnsignedShort: { const x = b(2); x.writeUInt16LE(Number(v)); return x }
    case COLTYP.Long: { const x = b(4); x.writeInt32LE(Number(v)); return x }
    case COLTYP.UnsignedLong: { const x = b(4); x.writeUInt32LE(Number(v) >>> 0); return x }
    case COLTYP.Currency: case COLTYP.LongLong: { const x = b(8); x.writeBigInt64LE(BigInt(v as number | bigint)); return x }
    case COLTYP.IEEESingle: { const x = b(4); x.writeFloatLE(Number(v)); return x }
    case COLTYP.IEEEDouble: case COLTYP.DateTime: { const x = b(8); x.writeDoubleLE(Number(v)); return x }
    case COLTYP.GUID: if (Buffer.isBuffer(v) && v.length === 16) return v; throw new Error(`${c.name}: a GUID is 16 bytes`)
    case COLTYP.Text: case COLTYP.LongText:
      return Buffer.from(String(v), c.codepage === 1200 ? 'utf16le' : 'latin1')
    default:
      if (Buffer.isBuffer(v)) return v
      throw new Error(`${c.name}: binary columns take Buffers`)
  }
}

/** One record: fixed part, null bitmap, variable offsets and data, tagged array (revision ≥ 9 layout). */
function encodeRecord(cols: Col[], row: Record<string, WValue | WValue[]>, separate: (data: Buffer) => Buffer, large = false, lvMin = LONG_VALUE_MIN): Buffer {
  const fixed = cols.filter((c) => c.kind === 'fixed'), vars = cols.filter((c) => c.kind === 'variable'), tagged = cols.filter((c) => c.kind === 'tagged')
  const lastFixed = fixed.length, lastVar = vars.length ? 127 + vars.length : 127
  const fixedBytes = fixed.reduce((n, c) => n + c.size, 0)
  const bitmap = Buffer.alloc((lastFixed + 7) >> 3)
  const fx = Buffer.alloc(fixedBytes)
  for (const c of fixed) {
    const v = row[c.name] as WValue
    if (v === null || v === undefined) { bitmap[(c.id - 1) >> 3] |= 1 << ((c.id - 1) & 7); continue }
    encodeScalar(c, v).copy(fx, c.offset)
  }
  const varOffsets = Buffer.alloc(vars.length * 2)
  const varData: Buffer[] = []
  let end = 0
  vars.forEach((c, i) => {
    const v = row[c.name] as WValue
    if (v === null || v === undefined) { varOffsets.writeUInt16LE(end | 0x8000, i * 2); return }
    const d = encodeScalar(c, v)
    if (d.length > 255) throw new Error(`${c.name}: ${d.length} bytes is over a variable column's 255`)
    varData.push(d); end += d.length
    varOffsets.writeUInt16LE(end, i * 2)
  })
  const present: { c: Col; flags: number; data: Buffer }[] = []
  for (const c of tagged) {
    const v = row[c.name]
    const vals = (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v]).filter((x) => x !== null && x !== undefined)
    if (!vals.length) continue
    if (vals.length === 1) {
      const d = encodeScalar(c, vals[0])
      const packed = c.compressed ? sevenBitCompress(c, vals[0]) : undefined
      present.push(d.length >= lvMin ? { c, flags: 0x05, data: separate(d) } : packed ? { c, flags: 0x02, data: packed } : { c, flags: 0, data: d })
      continue
    }
    const parts = vals.map((x) => encodeScalar(c, x))
    if (parts.some((p) => p.length >= lvMin)) throw new Error(`${c.name}: this writer separates single values only, not one of ${parts.length}`)
    const head = Buffer.alloc(parts.length * 2)
    let o = head.length
    parts.forEach((p, i) => { head.writeUInt16LE(o, i * 2); o += p.length })
    present.push({ c, flags: 0x08, data: Buffer.concat([head, ...parts]) })
  }
  const arr = Buffer.alloc(present.length * 4)
  const tdata: Buffer[] = []
  let to = arr.length
  present.forEach((p, i) => {
    arr.writeUInt16LE(p.c.id, i * 4)
    // Large pages: every value has a flag byte and offsets use 15 bits; small pages mark a flag byte with 0x4000.
    arr.writeUInt16LE(to | (p.flags && !large ? 0x4000 : 0), i * 4 + 2)
    const d = p.flags || large ? Buffer.concat([Buffer.from([p.flags]), p.data]) : p.data
    tdata.push(d); to += d.length
  })
  if (to > (large ? 0x3fff : 0x1fff)) throw new Error('record too large for this writer (lower longValueMin)')
  const head = Buffer.alloc(4)
  head[0] = lastFixed; head[1] = lastVar; head.writeUInt16LE(4 + fixedBytes + bitmap.length, 2)
  return Buffer.concat([head, fx, bitmap, varOffsets, ...varData, arr, ...tdata])
}

/** Normalized key parts: 0x7f then big-endian with the sign bit flipped, as ESE sorts signed integers. */
export function keyLong(n: number): Buffer { const b = Buffer.alloc(5); b[0] = 0x7f; b.writeUInt32BE((n ^ 0x80000000) >>> 0, 1); return b }
function keyShort(n: number): Buffer { const b = Buffer.alloc(3); b[0] = 0x7f; b.writeUInt16BE((n ^ 0x8000) & 0xffff, 1); return b }

interface Node { key: Buffer; data: Buffer }
const nodeBytes = (n: Node) => 2 + n.key.length + n.data.length

interface PlannedTree { levels: { pages: number[]; nodes: Node[][] }[] }
interface Tree { objid: number; nodes: Node[]; leaves: Node[][]; root: number; pages: number[]; lv?: { objid: number; nodes: Node[]; root: number } }

function packLeaves(nodes: Node[], pageSize: number): Node[][] {
  const room = pageSize - headerBytes(pageSize) - 4 - 64
  const out: Node[][] = [[]]
  let used = 0
  for (const n of nodes) {
    const need = nodeBytes(n) + 4
    if (need > room) throw new Error(`a ${need}-byte node does not fit a ${pageSize}-byte page`)
    if (used + need > room && out[out.length - 1].length) { out.push([]); used = 0 }
    out[out.length - 1].push(n); used += need
  }
  return out
}

const headerBytes = (pageSize: number) => (pageSize >= 16384 ? 80 : 40)

/** 7-bit packing (scheme 1 = ASCII bytes, 2 = UTF-16 text), only for text whose characters are all below 128. */
function sevenBitCompress(c: WColumn, v: WValue): Buffer | undefined {
  if (typeof v !== 'string' || !(c.type === COLTYP.Text || c.type === COLTYP.LongText) || v.length < 2 || /[^\x00-\x7f]/.test(v)) return undefined
  const bits = v.length * 7
  const out = Buffer.alloc(1 + Math.ceil(bits / 8))
  let acc = 0, have = 0, pos = 1
  for (let i = 0; i < v.length; i++) {
    acc |= v.charCodeAt(i) << have; have += 7
    while (have >= 8) { out[pos++] = acc & 0xff; acc >>>= 8; have -= 8 }
  }
  if (have) out[pos++] = acc & 0xff
  const usedInLast = bits % 8 || 8
  out[0] = ((c.codepage === 1200 ? 2 : 1) << 3) | (usedInLast - 1)
  return out
}

function page(pageSize: number, pgno: number, objid: number, flags: number, tag0: Buffer, nodes: Node[], prev = 0, next = 0): Buffer {
  const p = Buffer.alloc(pageSize)
  const hb = headerBytes(pageSize)
  const values = [tag0, ...nodes.map((n) => { const b = Buffer.alloc(nodeBytes(n)); b.writeUInt16LE(n.key.length, 0); n.key.copy(b, 2); n.data.copy(b, 2 + n.key.length); return b })]
  let off = 0
  values.forEach((v, i) => {
    v.copy(p, hb + off)
    const at = pageSize - 4 * (i + 1)
    p.writeUInt16LE(v.length, at); p.writeUInt16LE(off, at + 2)
    off += v.length
  })
  const free = pageSize - hb - off - values.length * 4
  if (free < 0) throw new Error(`page ${pgno} overflows`)
  p.writeBigUInt64LE(1n, 8)
  p.writeUInt32LE(prev, 16); p.writeUInt32LE(next, 20); p.writeUInt32LE(objid, 24)
  p.writeUInt16LE(free, 28); p.writeUInt16LE(0, 30); p.writeUInt16LE(off, 32); p.writeUInt16LE(values.length, 34)
  p.writeUInt32LE(flags | PAGE_NEW_FORMAT | PAGE_NEW_CHECKSUM, 36)
  if (hb === 80) {
    // Large pages: the page number at 64, then one XOR/ECC pair per quarter (at 0, 40, 48, 56).
    p.writeUInt32LE(pgno, 64)
    const block = pageSize / 4
    for (const [b, at] of [[1, 40], [2, 48], [3, 56], [0, 0]]) {
      const s = b * block
      const { xor, ecc } = eccXor32(p, b === 0 ? 8 : s, s + block, pgno)
      p.writeUInt32LE(xor, at); p.writeUInt32LE(ecc, at + 4)
    }
    return p
  }
  const { xor, ecc } = eccXor32(p, 8, pageSize, pgno)
  p.writeUInt32LE(xor, 0); p.writeUInt32LE(ecc, 4)
  return p
}

function rootHeader(initialPages: number): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt32LE(initialPages, 0); b.writeUInt32LE(1, 4); b.writeUInt32LE(0, 8); b.writeUInt32LE(0, 12)
  return b
}

/** Catalog record (MSysObjects' fixed schema: 9 fixed columns, then Name, …, TemplateTable). */
function catalogRecord(objidTable: number, type: number, id: number, coltypOrPgno: number, spaceUsage: number, flags: number, pagesOrLocale: number, recordOffset: number, name: string): Buffer {
  const fx = Buffer.alloc(4 + 2 + 4 + 4 + 4 + 4 + 4 + 1 + 2)
  let o = 0
  fx.writeInt32LE(objidTable, o); o += 4; fx.writeInt16LE(type, o); o += 2; fx.writeInt32LE(id, o); o += 4
  fx.writeInt32LE(coltypOrPgno, o); o += 4; fx.writeInt32LE(spaceUsage, o); o += 4; fx.writeInt32LE(flags | 0, o); o += 4
  fx.writeInt32LE(pagesOrLocale, o); o += 4; fx[o] = type === 1 ? 0xff : 0; o += 1; fx.writeInt16LE(recordOffset, o)
  const nameBytes = Buffer.from(name, 'latin1')
  const head = Buffer.from([9, 128, 0, 0]); head.writeUInt16LE(4 + fx.length + 2, 2)
  const bitmap = Buffer.from([0, 0])
  const varEnd = Buffer.alloc(2); varEnd.writeUInt16LE(nameBytes.length)
  return Buffer.concat([head, fx, bitmap, varEnd, nameBytes])
}

const CATALOG_COLUMNS: WColumn[] = [
  ['ObjidTable', COLTYP.Long], ['Type', COLTYP.Short], ['Id', COLTYP.Long], ['ColtypOrPgnoFDP', COLTYP.Long], ['SpaceUsage', COLTYP.Long],
  ['Flags', COLTYP.Long], ['PagesOrLocale', COLTYP.Long], ['RootFlag', COLTYP.Bit], ['RecordOffset', COLTYP.Short], ['LCMapFlags', COLTYP.Long],
  ['KeyMost', COLTYP.UnsignedShort], ['LVChunkMax', COLTYP.Long],
].map(([name, type]) => ({ name: name as string, type: type as number })).concat([
  { name: 'Name', type: COLTYP.Text }, { name: 'Stats', type: COLTYP.Binary }, { name: 'TemplateTable', type: COLTYP.Text },
  { name: 'DefaultValue', type: COLTYP.Binary }, { name: 'KeyFldIDs', type: COLTYP.Binary }, { name: 'VarSegMac', type: COLTYP.Binary },
  { name: 'ConditionalColumns', type: COLTYP.Binary }, { name: 'TupleLimits', type: COLTYP.Binary }, { name: 'Version', type: COLTYP.Binary },
])

function columnFlags(c: Col): number {
  return (c.kind === 'fixed' ? 0x1 : 0) | (c.kind === 'tagged' ? 0x2 : 0) | (c.multi ? 0x400 : 0) | (c.compressed ? 0x80000 : 0)
}

function headerPage(pageSize: number, dirty?: WOptions['dirty']): Buffer {
  const h = Buffer.alloc(pageSize)
  h.writeUInt32LE(0x89abcdef, 4); h.writeUInt32LE(0x620, 8); h.writeUInt32LE(0, 12)
  h.writeBigUInt64LE(1n, 16)
  h.writeUInt32LE(0x5e1a7e57, 24)
  const now = new Date()
  const lt = Buffer.from([now.getUTCSeconds(), now.getUTCMinutes(), now.getUTCHours(), now.getUTCDate(), now.getUTCMonth() + 1, now.getUTCFullYear() - 1900, 0, 0])
  lt.copy(h, 28); Buffer.from('STILLPOINT-TEST', 'latin1').copy(h, 36)
  h.writeUInt32LE(dirty ? 2 : 3, 52) // dirty or clean shutdown
  if (dirty) { h.writeInt32LE(dirty.minLog, 296); h.writeInt32LE(dirty.maxLog, 300) }
  lt.copy(h, 64); lt.copy(h, 72); lt.copy(h, 88)
  h.writeUInt32LE(6, 216); h.writeUInt32LE(1, 220); h.writeUInt32LE(7601, 224)
  h.writeUInt32LE(FORMAT_REVISION, 232); h.writeUInt32LE(pageSize, 236)
  h.writeUInt32LE(0x620, 0xd8 + 0x20) // creation format version (informational)
  h.writeUInt32LE(xor32(h, 4, pageSize, HEADER_SEED), 0)
  return h
}

/** Writes the database to `path` and returns its bytes. Table objids start at 4 (1 = database, 2 = catalog, 3 = its shadow). */
export function writeEseDatabase(path: string, tables: WTable[], options: WOptions = {}): Buffer {
  const pageSize = options.pageSize ?? 8192
  const large = pageSize >= 16384, lvMin = options.longValueMin ?? LONG_VALUE_MIN
  const laid = tables.map((t, i) => ({ t, objid: 4 + i, cols: layoutColumns(t.columns) }))
  const chunk = pageSize / 2
  const trees: Tree[] = laid.map(({ t, objid, cols }) => {
    // Long values: a root node (key = id big-endian; refcount, size) then chunks (key = id, offset).
    const lvNodes: Node[] = []
    let lvId = 0
    const separate = (data: Buffer) => {
      const id = ++lvId
      const k = Buffer.alloc(4); k.writeUInt32BE(id)
      const root = Buffer.alloc(8); root.writeUInt32LE(1, 0); root.writeUInt32LE(data.length, 4)
      lvNodes.push({ key: k, data: root })
      for (let o = 0; o < data.length; o += chunk) {
        const ck = Buffer.alloc(8); ck.writeUInt32BE(id, 0); ck.writeUInt32BE(o, 4)
        lvNodes.push({ key: ck, data: data.subarray(o, o + chunk) })
      }
      const ref = Buffer.alloc(4); ref.writeUInt32LE(id)
      return ref
    }
    const nodes = t.rows.map((r, i) => ({ key: keyLong(i + 1), data: encodeRecord(cols, r, separate, large, lvMin) }))
    return { objid, nodes, leaves: packLeaves(nodes, pageSize), root: 0, pages: [], lv: lvNodes.length ? { objid: 1000 + objid, nodes: lvNodes, root: 0 } : undefined }
  })
  const catCols = layoutColumns(CATALOG_COLUMNS)
  const catalogNodes = (): Node[] => {
    const out: Node[] = []
    const add = (objid: number, type: number, id: number, rec: Buffer) => out.push({ key: Buffer.concat([keyLong(objid), keyShort(type), keyLong(id)]), data: rec })
    add(2, 1, 2, catalogRecord(2, 1, 2, CATALOG_PAGE, 80, 0, 1, 0, 'MSysObjects'))
    for (const c of catCols) add(2, 2, c.id, catalogRecord(2, 2, c.id, c.type, c.kind === 'fixed' ? c.size : 0, columnFlags(c), c.type === COLTYP.Text ? 1252 : 0, c.kind === 'fixed' ? 4 + c.offset : 0, c.name))
    add(3, 1, 3, catalogRecord(3, 1, 3, SHADOW_CATALOG_PAGE, 80, 0, 1, 0, 'MSysObjectsShadow'))
    for (const c of catCols) add(3, 2, c.id, catalogRecord(3, 2, c.id, c.type, c.kind === 'fixed' ? c.size : 0, columnFlags(c), c.type === COLTYP.Text ? 1252 : 0, c.kind === 'fixed' ? 4 + c.offset : 0, c.name))
    laid.forEach(({ t, objid, cols }, i) => {
      add(objid, 1, objid, catalogRecord(objid, 1, objid, trees[i].root, 80, 0, 1, 0, t.name))
      for (const c of cols) {
        const cp = c.type === COLTYP.Text || c.type === COLTYP.LongText ? (c.codepage ?? 1252) : 0
        add(objid, 2, c.id, catalogRecord(objid, 2, c.id, c.type, c.kind === 'fixed' ? c.size : c.kind === 'variable' ? 255 : 0, columnFlags(c), cp, c.kind === 'fixed' ? 4 + c.offset : 0, c.name))
      }
      const lv = trees[i].lv
      if (lv) add(objid, 4, lv.objid, catalogRecord(objid, 4, lv.objid, lv.root, 80, 0, 1, 0, 'LV'))
    })
    return out
  }
  // Page numbers: 1–3 database root and its space trees, 4 catalog root, 24 its shadow (5–23 stay
  // blank), then catalog pages, shadow pages and tables. A tree is leaves plus as many branch
  // levels as it takes to end in one root page.
  const catLeaves = packLeaves(catalogNodes(), pageSize)
  let next = 25
  const plan = (leaves: Node[][], root: number): PlannedTree => {
    const levels: { pages: number[]; nodes: Node[][] }[] = [{ pages: [], nodes: leaves }]
    while (levels[levels.length - 1].nodes.length > 1) {
      const below = levels[levels.length - 1]
      const entries: Node[] = below.nodes.map((l, i) => ({ key: i + 1 < below.nodes.length ? below.nodes[i + 1][0].key : Buffer.alloc(0), data: Buffer.alloc(4) }))
      levels.push({ pages: [], nodes: packLeaves(entries, pageSize) })
    }
    for (let li = 0; li < levels.length; li++) {
      const top = li === levels.length - 1
      levels[li].pages = levels[li].nodes.map(() => (top ? root : next++))
    }
    for (let li = 1; li < levels.length; li++) {
      let k = 0
      for (const n of levels[li].nodes) for (const e of n) e.data.writeUInt32LE(levels[li - 1].pages[k++])
    }
    return { levels }
  }
  const catPlan = plan(catLeaves, CATALOG_PAGE)
  const shadowPlan = plan(packLeaves(catalogNodes(), pageSize), SHADOW_CATALOG_PAGE)
  const tablePlans = trees.map((tr) => { tr.root = next++; return plan(tr.leaves, tr.root) })
  const lvPlans = trees.map((tr) => { if (!tr.lv) return undefined; tr.lv.root = next++; return plan(packLeaves(tr.lv.nodes, pageSize), tr.lv.root) })
  // Table roots are known only now: lay the catalog out again with them (same sizes, so same pages).
  const finalCat = packLeaves(catalogNodes(), pageSize)
  catPlan.levels[0].nodes = finalCat
  shadowPlan.levels[0].nodes = packLeaves(catalogNodes(), pageSize)
  const pageCount = next - 1
  const file = Buffer.alloc((Math.max(pageCount, SHADOW_CATALOG_PAGE) + 2) * pageSize)
  headerPage(pageSize, options.dirty).copy(file, 0); headerPage(pageSize, options.dirty).copy(file, pageSize)
  const put = (pgno: number, p: Buffer) => p.copy(file, (pgno + 1) * pageSize)
  // (Large pages keep node flags in the top 3 bits of a value's second byte, tag 0 included: stay below 0x2000.)
  put(1, page(pageSize, 1, 1, PAGE_ROOT | PAGE_LEAF, rootHeader(Math.min(pageCount, 0x1fff)), []))
  put(2, page(pageSize, 2, 1, PAGE_ROOT | PAGE_LEAF | 0x20, rootHeader(1), []))
  put(3, page(pageSize, 3, 1, PAGE_ROOT | PAGE_LEAF | 0x20, rootHeader(1), []))
  const writeTree = (objid: number, p: PlannedTree, extraFlags = 0) => {
    const top = p.levels.length - 1
    p.levels.forEach((lv, li) => {
      const isRoot = li === top
      lv.nodes.forEach((nodes, i) => {
        const flags = (isRoot ? PAGE_ROOT : 0) | (li === 0 ? PAGE_LEAF : li === 1 ? PAGE_PARENT_OF_LEAF : 0) | extraFlags
        // Only leaves are linked to their siblings (libesedb refuses a branch page with a next page).
        const linked = !isRoot && li === 0
        const prev = linked && i ? lv.pages[i - 1] : 0, nxt = linked && i + 1 < lv.pages.length ? lv.pages[i + 1] : 0
        put(lv.pages[i], page(pageSize, lv.pages[i], objid, flags, isRoot ? rootHeader(1) : Buffer.alloc(0), nodes, prev, nxt))
      })
    })
  }
  writeTree(2, catPlan)
  writeTree(3, shadowPlan)
  trees.forEach((tr, i) => writeTree(tr.objid, tablePlans[i]))
  trees.forEach((tr, i) => { if (tr.lv && lvPlans[i]) writeTree(tr.lv.objid, lvPlans[i]!, PAGE_LONG_VALUE) })
  writeFileSync(path, file)
  return file
}

export { COLTYP }
