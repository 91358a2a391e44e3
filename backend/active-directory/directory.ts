/**
 * Active Directory objects from an opened ntds.dit (ESE database): the schema from the same file,
 * objects of datatable with DNs from the parent chain, linked attributes from link_table (forward
 * links such as member, back links such as memberOf derived from them), deleted objects and the
 * Recycle Bin state. Every answer carries the database's consistency: a dirty ntds.dit (a VSS copy
 * of a live DC) is read without log replay and says so. PEK-encrypted secrets and confidential
 * attributes are never returned.
 *
 * Opening reads datatable once, but only the few columns a tree and a listing need (DNT, parent,
 * RDN, class, GUID, SID, account and display names, deleted flags) and the schema's columns, and
 * remembers where each row is stored: an object's other attributes (over a thousand columns, long
 * values) are read when it is shown, link_table when links are first needed, and a search on any
 * other attribute scans only that column.
 */
import { FsError } from '../filesystems/types.ts'
import type { EseConsistency, EseDatabase, EseRowLocation } from '../ese/database.ts'
import type { EseScalar, EseValue } from '../ese/values.ts'
import { A, parseColumnName } from './attrtyp.ts'
import { dnBuilder, normalizeDn, rdnString, ROOT_DNT, splitDn, type DnBuilder } from './dn.ts'
import { schemaFromRows, SCHEMA_COLUMNS, type AdAttribute, type AdSchema } from './schema.ts'
import { isSecret, isSecretColumn } from './secrets.ts'
import { decodeAdValue, sidFromNtds, type AdValue } from './values.ts'
import { guidString } from '../ese/values.ts'

/** The Recycle Bin optional feature (msDS-OptionalFeatureGUID), the same in every forest. */
export const RECYCLE_BIN_FEATURE_GUID = '766ddcd8-acd0-445e-f3b9-a7f9b6744f2a'

export interface AdObjectSummary {
  dn: string
  dnt: number
  name: string
  objectClass: string[]
  objectGUID?: string
  objectSid?: string
  sAMAccountName?: string
  deleted: boolean
  recycled: boolean
  /** For deleted objects: the DN of the container it was in. */
  lastKnownParent?: string
  hasChildren: boolean
}

export interface AdObject extends AdObjectSummary {
  /** Every attribute with a value, by LDAP name: single-valued as a scalar, multi-valued as a list. */
  attributes: Record<string, AdValue | AdValue[]>
  /** Secret or confidential attributes the object has, named but never shown. */
  withheld: string[]
  /** Columns the schema does not name (kept by column name), and values that could not be decoded. */
  problems: { column: string; error: string }[]
}

export interface RecycleBinState { enabled: boolean; featureDn?: string; enabledOn: string[] }

export interface AdAnswer<T> { consistency: EseConsistency; result: T }

export interface AdSearch {
  /** Substring of the name (RDN), sAMAccountName, displayName or userPrincipalName (case-insensitive). */
  text?: string
  sAMAccountName?: string
  /** Class name: objects whose objectClass list has it. */
  objectClass?: string
  /** Any attribute: its decoded value (or one of its values) equals `value`, case-insensitive; `*` = present. */
  attribute?: { name: string; value: string }
  /** Restrict to this DN's subtree. */
  base?: string
  includeDeleted?: boolean
  limit?: number
}

export interface ActiveDirectory {
  consistency: EseConsistency
  schema: AdSchema
  objectCount: number
  /** Naming contexts (domain, configuration, schema…): the objects right under the root. */
  roots(): Promise<AdAnswer<AdObjectSummary[]>>
  children(dn: string, options?: { includeDeleted?: boolean; limit?: number }): Promise<AdAnswer<AdObjectSummary[]>>
  search(q: AdSearch): Promise<AdAnswer<AdObjectSummary[]>>
  /** An object by DN, objectGUID or DNT, with all its attributes (secrets withheld). */
  get(ref: string | number): Promise<AdAnswer<AdObject>>
  recycleBin(): Promise<AdAnswer<RecycleBinState>>
}

/** What opening keeps of each row: enough for the tree, DNs, listings and text search. */
interface Entry {
  dnt: number
  pdnt: number
  rdn: string
  rdnType: number
  classes: EseScalar[]
  guid?: Buffer
  sid?: Buffer
  sam?: string
  displayName?: string
  upn?: string
  lastKnownParent?: number
  deleted: boolean
  recycled: boolean
  /** Where datatable stores the row (read again for all its attributes). */
  at: EseRowLocation
  problems?: { column: string; error: string }[]
  children?: number[]
}

interface Link { from: number; to: number; base: number }

const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined)
const list = (v: EseValue | undefined): EseScalar[] => (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v])
const text = (v: EseValue | undefined) => (typeof v === 'string' ? v : undefined)
const bytes = (v: EseValue | undefined) => (Buffer.isBuffer(v) ? v : undefined)
const flag = (v: EseValue | undefined) => v === 1 || v === true

const COL = {
  rdn: `ATTm${A.name}`, objectClass: `ATTc${A.objectClass}`, guid: `ATTk${A.objectGUID}`, sid: `ATTr${A.objectSid}`,
  sam: `ATTm${A.sAMAccountName}`, displayName: `ATTm${A.displayName}`, upn: `ATTm${A.userPrincipalName}`,
  lastKnownParent: `ATTb${A.lastKnownParent}`, isDeleted: `ATTi${A.isDeleted}`, isRecycled: `ATTi${A.isRecycled}`,
  lDAPDisplayName: `ATTm${A.lDAPDisplayName}`,
} as const

/** The columns opening reads: the tree's and listing's, and the schema's. */
export const OPEN_COLUMNS = [...new Set(['DNT_col', 'PDNT_col', 'RDNtyp_col', ...Object.values(COL), ...SCHEMA_COLUMNS])]

export interface OpenAdOptions { maxObjects?: number }

export async function openActiveDirectory(db: EseDatabase, options: OpenAdOptions = {}): Promise<ActiveDirectory> {
  const consistency = db.info().consistency
  const tables = new Set(db.tables().map((t) => t.name))
  if (!tables.has('datatable')) throw new FsError('ENOTSUP', `not an ntds.dit: it has no datatable (tables: ${[...tables].join(', ')})`)
  const maxObjects = options.maxObjects ?? 5_000_000
  const entries = new Map<number, Entry>()
  const schemaRows: Record<string, EseValue>[] = []
  for await (const row of db.rows('datatable', { columns: OPEN_COLUMNS, locate: true })) {
    const v = row.values
    const dnt = num(v.DNT_col)
    if (dnt === undefined) continue
    if (typeof v[COL.lDAPDisplayName] === 'string') schemaRows.push(v)
    const e: Entry = {
      dnt, pdnt: num(v.PDNT_col) ?? 0, rdn: text(v[COL.rdn]) ?? '', rdnType: num(v.RDNtyp_col) ?? 0,
      classes: list(v[COL.objectClass]), guid: bytes(v[COL.guid]), sid: bytes(v[COL.sid]),
      sam: text(v[COL.sam]), displayName: text(v[COL.displayName]), upn: text(v[COL.upn]),
      lastKnownParent: num(v[COL.lastKnownParent]), deleted: flag(v[COL.isDeleted]), recycled: flag(v[COL.isRecycled]),
      at: row.location!,
    }
    if (row.problems.length) e.problems = row.problems
    entries.set(dnt, e)
    if (entries.size > maxObjects) throw new FsError('ELIMIT', `ntds.dit has more than ${maxObjects} objects`)
  }
  const schema = schemaFromRows(schemaRows)
  schemaRows.length = 0
  if (!schema.attributes.length) throw new FsError('ECORRUPT', 'ntds.dit: datatable has no attributeSchema objects, so attribute names cannot be known')
  const typeName = (t: number) => schema.nameOf(t)
  const dns: DnBuilder = dnBuilder(entries.values(), typeName)
  const isObject = (e: Entry) => e.dnt > 2 && e.classes.length > 0
  let objectCount = 0
  /** Starts of parent chains: the root object's children, and rows whose chain ends elsewhere (damaged). */
  const tops: number[] = []
  for (const e of entries.values()) {
    if (isObject(e)) objectCount++
    if (e.dnt === ROOT_DNT) continue
    if (e.pdnt === ROOT_DNT || e.pdnt === 0 || e.pdnt === e.dnt) tops.push(e.dnt)
    if (e.dnt !== e.pdnt) { const p = entries.get(e.pdnt); if (p) (p.children ??= []).push(e.dnt) }
  }

  const safeDn = (dnt: number) => { try { return dns.dn(dnt) } catch { return undefined } }
  const ctx = { dnOf: safeDn, nameOf: typeName, sdTable: tables.has('sd_table') }

  // DN → object: walk down from the top, matching each RDN among the children (per-parent maps built on first use).
  const childKeys = new Map<number, Map<string, number>>()
  const keyOf = (e: Entry) => normalizeDn(rdnString(e, typeName))
  const keysUnder = (dnt: number) => {
    let m = childKeys.get(dnt)
    if (!m) {
      m = new Map()
      for (const c of dnt === ROOT_DNT ? tops : entries.get(dnt)?.children ?? []) { const k = keyOf(entries.get(c)!); if (!m.has(k)) m.set(k, c) }
      childKeys.set(dnt, m)
    }
    return m
  }
  const byDn = (dn: string): number | undefined => {
    const parts = splitDn(dn).map((p) => normalizeDn(p))
    let cur: number | undefined = ROOT_DNT
    for (let i = parts.length - 1; i >= 0 && cur !== undefined; i--) cur = keysUnder(cur).get(parts[i]!)
    return parts.length ? cur : undefined
  }
  let guids: Map<string, number> | undefined
  const byGuid = (g: string) => {
    if (!guids) { guids = new Map(); for (const e of entries.values()) if (e.guid?.length === 16) guids.set(guidString(e.guid), e.dnt) }
    return guids.get(g)
  }

  // Links (link_base = linkID / 2), read on first need with only link_table's own columns.
  let links: Promise<{ forward: Map<number, Link[]>; backward: Map<number, Link[]> }> | undefined
  const loadLinks = () => (links ??= (async () => {
    const forward = new Map<number, Link[]>(), backward = new Map<number, Link[]>()
    if (!tables.has('link_table')) return { forward, backward }
    const cols = ['link_DNT', 'backlink_DNT', 'link_base', 'link_deltime', 'link_deactivetime']
    for await (const row of db.rows('link_table', { columns: cols })) {
      const from = num(row.values.link_DNT), to = num(row.values.backlink_DNT), base = num(row.values.link_base)
      if (from === undefined || to === undefined || base === undefined) continue
      // A removed value keeps its row with link_deltime; a deactivated one (owner deleted with the
      // Recycle Bin on) with link_deactivetime: neither is a current value.
      const set = (v: unknown) => v !== null && v !== undefined && v !== 0 && v !== 0n
      if (set(row.values.link_deltime) || set(row.values.link_deactivetime)) continue
      const l = { from, to, base }
      ;(forward.get(from) ?? forward.set(from, []).get(from)!).push(l)
      ;(backward.get(to) ?? backward.set(to, []).get(to)!).push(l)
    }
    return { forward, backward }
  })())
  const linkedValues = async (e: Entry, a: AdAttribute): Promise<string[]> => {
    if (a.linkId === undefined) return []
    const { forward, backward } = await loadLinks()
    const out: string[] = []
    if (a.linkId % 2 === 0) { if (!isSecret(a)) for (const l of forward.get(e.dnt) ?? []) if (l.base * 2 === a.linkId) { const d = safeDn(l.to); if (d !== undefined) out.push(d) } }
    else for (const l of backward.get(e.dnt) ?? []) if (l.base * 2 + 1 === a.linkId) { const d = safeDn(l.from); if (d !== undefined) out.push(d) }
    return out
  }

  const classesOf = (e: Entry) => e.classes.map((t) => (typeof t === 'number' ? schema.nameOf(t >>> 0) : String(t)))

  function summary(e: Entry): AdObjectSummary {
    return {
      dn: safeDn(e.dnt) ?? `<DNT=${e.dnt}>`, dnt: e.dnt, name: e.rdn, objectClass: classesOf(e),
      objectGUID: e.guid?.length === 16 ? guidString(e.guid) : undefined,
      objectSid: e.sid ? sidFromNtds(e.sid) : undefined,
      sAMAccountName: e.sam, deleted: e.deleted, recycled: e.recycled,
      lastKnownParent: e.lastKnownParent !== undefined ? safeDn(e.lastKnownParent) : undefined,
      hasChildren: !!e.children?.some((c) => isObject(entries.get(c)!)),
    }
  }

  function resolve(ref: string | number): Entry {
    let dnt: number | undefined
    if (typeof ref === 'number') dnt = ref
    else if (/^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(ref)) dnt = byGuid(ref.replace(/[{}]/g, '').toLowerCase())
    else dnt = byDn(ref)
    const e = dnt !== undefined ? entries.get(dnt) : undefined
    if (!e) throw new FsError('ENOENT', `no object "${ref}" in this ntds.dit (give a DN, an objectGUID or a DNT; search to find one)`)
    return e
  }

  /** Is `e` at or under `base` (by the parent chain, bounded like DN building)? */
  const within = (e: Entry, base: number) => {
    let cur: Entry | undefined = e
    for (let depth = 0; cur && depth <= 256; depth++) {
      if (cur.dnt === base) return true
      if (cur.dnt === ROOT_DNT || cur.pdnt === cur.dnt) return false
      cur = entries.get(cur.pdnt)
    }
    return false
  }

  async function attributesOf(e: Entry): Promise<Pick<AdObject, 'attributes' | 'withheld' | 'problems'>> {
    const row = await db.rowAt('datatable', e.at)
    if (num(row.values.DNT_col) !== e.dnt) throw new FsError('ECORRUPT', `ntds.dit: the row of DNT ${e.dnt} moved while reading (page ${e.at.page})`)
    const attributes: Record<string, AdValue | AdValue[]> = {}
    const withheld: string[] = []
    const problems = [...row.problems]
    const put = (a: AdAttribute, vals: AdValue[]) => {
      if (!vals.length) return
      const prev = attributes[a.name]
      const all = prev === undefined ? vals : [...(Array.isArray(prev) ? prev : [prev]), ...vals]
      attributes[a.name] = a.single && all.length === 1 ? all[0] : all
    }
    for (const column in row.values) {
      const v = row.values[column]!
      if (v === null || (Array.isArray(v) && v.length === 0)) continue
      const a = schema.byColumn.get(column)
      if (!a) {
        if (isSecretColumn(column)) withheld.push(column)
        else if (parseColumnName(column)) problems.push({ column, error: 'no attributeSchema object names this column' })
        continue
      }
      if (isSecret(a)) { withheld.push(a.name); continue }
      const vals: AdValue[] = []
      for (const s of list(v)) {
        const d = decodeAdValue(a, s, ctx)
        if (d !== undefined) vals.push(d)
        else problems.push({ column, error: `a ${a.syntax} value of ${a.name} could not be decoded` })
      }
      put(a, vals)
    }
    const { forward, backward } = await loadLinks()
    for (const l of forward.get(e.dnt) ?? []) {
      const a = schema.byLinkId.get(l.base * 2)
      const dn = safeDn(l.to)
      if (a && dn !== undefined && !isSecret(a)) put(a, [dn])
    }
    for (const l of backward.get(e.dnt) ?? []) {
      const a = schema.byLinkId.get(l.base * 2 + 1)
      const dn = safeDn(l.from)
      if (a && dn !== undefined) put(a, [dn])
    }
    return { attributes, withheld: [...new Set(withheld)].sort(), problems }
  }

  const answer = <T>(result: T): AdAnswer<T> => ({ consistency, result })
  const byName = (a: AdObjectSummary, b: AdObjectSummary) => a.name.localeCompare(b.name)
  let recycleBin: Promise<RecycleBinState> | undefined

  async function findRecycleBin(): Promise<RecycleBinState> {
    const featureCol = schema.byName.get('msds-optionalfeatureguid')?.column
    if (!featureCol) return { enabled: false, enabledOn: [] }
    const isFeature = (g: EseValue | undefined) => Buffer.isBuffer(g) && g.length === 16 && guidString(g) === RECYCLE_BIN_FEATURE_GUID
    let feature: Entry | undefined
    // Optional features are few: read that column of msDS-OptionalFeature objects only.
    const cls = schema.classByName.get('msds-optionalfeature')
    for (const e of entries.values()) {
      if (cls === undefined || !e.classes.some((c) => typeof c === 'number' && c >>> 0 === cls)) continue
      if (isFeature((await db.rowAt('datatable', e.at, [featureCol])).values[featureCol])) { feature = e; break }
    }
    if (!feature) return { enabled: false, enabledOn: [] }
    const enabledAttr = schema.byName.get('msds-enabledfeature')
    const { backward } = await loadLinks()
    const on = (backward.get(feature.dnt) ?? []).filter((l) => enabledAttr?.linkId !== undefined && l.base * 2 === enabledAttr.linkId).map((l) => safeDn(l.from) ?? `<DNT=${l.from}>`)
    return { enabled: on.length > 0, featureDn: safeDn(feature.dnt), enabledOn: on }
  }

  return {
    consistency, schema, objectCount,
    async roots() {
      // Naming contexts: objects whose parent is the root or a phantom (DC=com above DC=corp,DC=com).
      // Configuration and Schema sit under the domain NC in the parent chain, so they are its children.
      const phantomOrRoot = (dnt: number) => { const p = entries.get(dnt); return !p || p.dnt === ROOT_DNT || !isObject(p) }
      const out: AdObjectSummary[] = []
      for (const e of entries.values()) if (isObject(e) && phantomOrRoot(e.pdnt)) out.push(summary(e))
      return answer(out.sort(byName))
    },
    async children(dn, opts = {}) {
      const e = resolve(dn)
      const limit = opts.limit ?? 10_000
      const out = (e.children ?? []).map((c) => entries.get(c)!).filter((c) => isObject(c) && (opts.includeDeleted || !c.deleted)).map(summary).sort(byName)
      return answer(out.slice(0, limit))
    },
    async search(q) {
      const limit = q.limit ?? 1000
      const want = q.text?.toLowerCase()
      const sam = q.sAMAccountName?.toLowerCase()
      const cls = q.objectClass?.toLowerCase()
      const base = q.base !== undefined ? resolve(q.base).dnt : undefined
      const attr = q.attribute ? schema.byName.get(q.attribute.name.toLowerCase()) : undefined
      if (q.attribute && !attr) throw new FsError('ENOENT', `no attribute "${q.attribute.name}" in this directory's schema`)
      if (attr && isSecret(attr)) throw new FsError('ENOTSUP', `${attr.name} is a secret or confidential attribute: it is never searched or shown`)
      const has = (s: string | undefined) => s !== undefined && s.toLowerCase().includes(want!)
      const passes = (e: Entry) => isObject(e) && (q.includeDeleted || !e.deleted)
        && (!want || has(e.rdn) || has(e.sam) || has(e.displayName) || has(e.upn))
        && (!sam || e.sam?.toLowerCase() === sam)
        && (!cls || classesOf(e).some((c) => c.toLowerCase() === cls))
        && (base === undefined || within(e, base))
      const out: AdObjectSummary[] = []
      if (!attr || !q.attribute) {
        for (const e of entries.values()) { if (out.length >= limit) break; if (passes(e)) out.push(summary(e)) }
        return answer(out)
      }
      const value = q.attribute.value.toLowerCase()
      const matches = (vals: AdValue[]) => vals.length > 0 && (value === '*' || vals.some((v) => String(v).toLowerCase() === value))
      if (attr.linkId !== undefined) {
        for (const e of entries.values()) {
          if (out.length >= limit) break
          if (passes(e) && matches(await linkedValues(e, attr))) out.push(summary(e))
        }
        return answer(out)
      }
      // Any other attribute: one pass over datatable reading that column only.
      for await (const row of db.rows('datatable', { columns: ['DNT_col', attr.column] })) {
        if (out.length >= limit) break
        const v = row.values[attr.column]
        if (v === null || v === undefined) continue
        const e = entries.get(num(row.values.DNT_col) ?? -1)
        if (!e || !passes(e)) continue
        const vals = list(v).map((s) => decodeAdValue(attr, s, ctx)).filter((d): d is AdValue => d !== undefined)
        if (matches(vals)) out.push(summary(e))
      }
      return answer(out)
    },
    async get(ref) {
      const e = resolve(ref)
      const attrs = await attributesOf(e)
      try { dns.dn(e.dnt) } catch (err) { if (!(err instanceof FsError)) throw err; attrs.problems.unshift({ column: 'PDNT_col', error: err.message }) }
      return answer({ ...summary(e), ...attrs })
    },
    async recycleBin() {
      recycleBin ??= findRecycleBin()
      recycleBin.catch(() => { recycleBin = undefined })
      return answer(await recycleBin)
    },
  }
}
