/**
 * Splits one ESE record (a table leaf node's data) into raw column values.
 * Layout: [last fixed id][last variable id][u16 end of fixed data], fixed values in id order, a null
 * bitmap for the fixed columns, cumulative u16 ends of the variable values (high bit = null), the
 * variable values, then the tagged part. Tagged part (revision ≥ 9): an array of (u16 id, u16 offset)
 * whose first offset gives its length, values follow, each with an optional flag byte (always present
 * on 16/32 KiB pages). Revision ≤ 2: a linear list of (u16 id, u16 size[, flag byte], value).
 */
import { FsError } from '../filesystems/types.ts'

export const TAGGED_LONG_VALUE = 0x01
export const TAGGED_COMPRESSED = 0x02
export const TAGGED_SEPARATED = 0x04
export const TAGGED_MULTI = 0x08
export const TAGGED_TWO_VALUES = 0x10
export const TAGGED_NULL = 0x20
export const TAGGED_ENCRYPTED = 0x40

export interface RawTagged { id: number; derived: boolean; flags: number; data: Buffer }

export interface RawRecord {
  lastFixed: number
  lastVariable: number
  /** Fixed column bytes by id (only for ids ≤ lastFixed and not null); offsets come from the schema. */
  fixed(id: number, offset: number, size: number): Buffer | null | undefined
  /** Variable column bytes by id; null = stored null, undefined = beyond lastVariable (use the default). */
  variable(id: number): Buffer | null | undefined
  /** Every tagged value (the whole array checked and split on first access). */
  readonly tagged: RawTagged[]
  /**
   * One tagged value by column id (`derived`: a template column's instance), found without splitting
   * the others: a binary search of the sorted (id, offset) array on 9+ layouts.
   */
  findTagged(id: number, derived: boolean): RawTagged | undefined
}

export interface RecordLayout { largePages: boolean; linearTagged: boolean }

export function parseRecord(d: Buffer, layout: RecordLayout): RawRecord {
  if (d.length < 4) {
    return { lastFixed: 0, lastVariable: 127, fixed: () => undefined, variable: () => undefined, tagged: [], findTagged: () => undefined }
  }
  const bad = (why: string) => new FsError('ECORRUPT', `ESE record is damaged: ${why}`)
  const lastFixed = d[0], lastVariable = d[1], endFixed = d.readUInt16LE(2)
  if (lastVariable !== 0 && lastVariable < 127) throw bad(`last variable column id ${lastVariable} is below 127`)
  if (lastFixed > 127) throw bad(`last fixed column id ${lastFixed} is above 127`)
  const nVar = lastVariable >= 128 ? lastVariable - 127 : 0
  const bitmapStart = endFixed - ((lastFixed + 7) >> 3)
  if (endFixed > d.length || bitmapStart < 4) throw bad(`fixed data ends at ${endFixed} in a ${d.length}-byte record`)
  const varData = endFixed + nVar * 2
  if (varData > d.length) throw bad(`${nVar} variable offsets run past the record`)
  const varEnds: number[] = []
  for (let i = 0; i < nVar; i++) varEnds.push(d.readUInt16LE(endFixed + i * 2))
  const taggedStart = varData + (nVar ? varEnds[nVar - 1] & 0x7fff : 0)
  if (taggedStart > d.length) throw bad(`variable data (${taggedStart - varData} bytes) runs past the record`)
  const fixed = (id: number, offset: number, size: number): Buffer | null | undefined => {
    if (id > lastFixed) return undefined
    const bit = id - 1
    if (d[bitmapStart + (bit >> 3)] & (1 << (bit & 7))) return null
    const at = 4 + offset
    if (at + size > bitmapStart) throw bad(`fixed column ${id} (${size} bytes at ${at}) overlaps the null bitmap at ${bitmapStart}`)
    return d.subarray(at, at + size)
  }
  const variable = (id: number): Buffer | null | undefined => {
    if (id > lastVariable || nVar === 0) return undefined
    const i = id - 128
    const end = varEnds[i]
    if (end & 0x8000) return null
    const start = i === 0 ? 0 : varEnds[i - 1] & 0x7fff
    if (end < start || varData + end > taggedStart) throw bad(`variable column ${id} spans ${start}..${end}`)
    return d.subarray(varData + start, varData + end)
  }
  let all: RawTagged[] | undefined
  const tagged = () => (all ??= layout.linearTagged ? linearTagged(d, taggedStart, bad) : indexedTagged(d, taggedStart, layout.largePages, bad))
  const findTagged = (id: number, derived: boolean): RawTagged | undefined => {
    if (all || layout.linearTagged) { for (const t of tagged()) if (t.id === id && t.derived === derived) return t; return undefined }
    return findIndexedTagged(d, taggedStart, layout.largePages, bad, id, derived)
  }
  return { lastFixed, lastVariable: nVar ? lastVariable : 127, fixed, variable, get tagged() { return tagged() }, findTagged }
}

/** The sort key of the (id, offset) array: derived (template) columns first, each part by id. */
const taggedOrder = (id: number, derived: boolean) => id + (derived ? 0 : 0x10000)

function findIndexedTagged(d: Buffer, start: number, large: boolean, bad: (w: string) => FsError, id: number, derived: boolean): RawTagged | undefined {
  if (d.length - start < 4) return undefined
  const t = d.subarray(start)
  const mask = large ? 0x7fff : 0x1fff
  const first = t.readUInt16LE(2) & mask
  if (first < 4 || first % 4 !== 0 || first > t.length) throw bad(`tagged column array length ${first} does not fit ${t.length} bytes`)
  const n = first / 4
  const want = taggedOrder(id, derived)
  let lo = 0, hi = n - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const ib = t.readUInt16LE(mid * 4 + 2)
    const k = taggedOrder(t.readUInt16LE(mid * 4), (ib & 0x8000) !== 0)
    if (k < want) lo = mid + 1
    else if (k > want) hi = mid - 1
    else return taggedAt(t, mid, n, first, large, bad)
  }
  return undefined
}

/** Entry `i` of the (id, offset) array, bounds-checked. */
function taggedAt(t: Buffer, i: number, n: number, first: number, large: boolean, bad: (w: string) => FsError): RawTagged {
  const mask = large ? 0x7fff : 0x1fff
  const id = t.readUInt16LE(i * 4), ib = t.readUInt16LE(i * 4 + 2)
  const off = ib & mask
  const end = i + 1 < n ? t.readUInt16LE(i * 4 + 6) & mask : t.length
  if (off < first || off > end || end > t.length) throw bad(`tagged column ${id} spans ${off}..${end} of ${t.length} bytes`)
  if (id < 256) throw bad(`tagged column id ${id} is below 256`)
  const derived = (ib & 0x8000) !== 0
  if (!large && (ib & 0x2000)) return { id, derived, flags: TAGGED_NULL, data: Buffer.alloc(0) }
  let flags = 0, data = t.subarray(off, end)
  if (large || (ib & 0x4000) !== 0) {
    if (data.length < 1) throw bad(`tagged column ${id} lacks its flag byte`)
    flags = data[0]; data = data.subarray(1)
  }
  return { id, derived, flags, data }
}

function indexedTagged(d: Buffer, start: number, large: boolean, bad: (w: string) => FsError): RawTagged[] {
  const out: RawTagged[] = []
  if (d.length - start < 4) return out
  const t = d.subarray(start)
  const mask = large ? 0x7fff : 0x1fff
  const first = t.readUInt16LE(2) & mask
  if (first < 4 || first % 4 !== 0 || first > t.length) throw bad(`tagged column array length ${first} does not fit ${t.length} bytes`)
  const n = first / 4
  let prevId = -1
  for (let i = 0; i < n; i++) {
    const tg = taggedAt(t, i, n, first, large, bad)
    const key = taggedOrder(tg.id, tg.derived)
    if (key <= prevId) throw bad(`tagged column ids are not ascending at ${tg.id}`)
    prevId = key
    out.push(tg)
  }
  return out
}

function linearTagged(d: Buffer, start: number, bad: (w: string) => FsError): RawTagged[] {
  const out: RawTagged[] = []
  let p = start
  while (p + 4 <= d.length) {
    const id = d.readUInt16LE(p), sz = d.readUInt16LE(p + 2)
    p += 4
    let size = sz & 0x5fff, flags = 0
    if (sz & 0x8000) {
      if (p >= d.length || size < 1) throw bad(`tagged column ${id} lacks its flag byte`)
      flags = d[p]; p++; size -= 1
    }
    if (p + size > d.length) throw bad(`tagged column ${id} (${size} bytes) runs past the record`)
    out.push({ id, derived: false, flags, data: d.subarray(p, p + size) })
    p += size
  }
  return out
}

/** Splits a multi-valued tagged value into its instances; `separated[i]` marks long-value references. */
export function splitMultiValue(data: Buffer, flags: number): { values: Buffer[]; separated: boolean[] } {
  const bad = (why: string) => new FsError('ECORRUPT', `ESE multi-value is damaged: ${why}`)
  if (flags & TAGGED_TWO_VALUES) {
    if (data.length < 1 || 1 + data[0] > data.length) throw bad('two-value size byte exceeds the value')
    const a = data[0]
    return { values: [data.subarray(1, 1 + a), data.subarray(1 + a)], separated: [false, false] }
  }
  if (data.length < 2) throw bad('too short for its offset array')
  const first = data.readUInt16LE(0) & 0x7fff
  if (first < 2 || first % 2 || first > data.length) throw bad(`offset array length ${first} in ${data.length} bytes`)
  const n = first / 2
  const values: Buffer[] = [], separated: boolean[] = []
  for (let i = 0; i < n; i++) {
    const o = data.readUInt16LE(i * 2)
    const s = o & 0x7fff
    const e = i + 1 < n ? data.readUInt16LE(i * 2 + 2) & 0x7fff : data.length
    if (s < first || e < s || e > data.length) throw bad(`value ${i} spans ${s}..${e} of ${data.length} bytes`)
    values.push(data.subarray(s, e))
    separated.push((o & 0x8000) !== 0)
  }
  return { values, separated }
}
