/**
 * Active Directory objects from an opened ntds.dit (ESE database): the schema from the same file,
 * objects of datatable with DNs from the parent chain, linked attributes from link_table (forward
 * links such as member, back links such as memberOf derived from them), deleted objects and the
 * Recycle Bin state. Every answer carries the database's consistency: a dirty ntds.dit (a VSS copy
 * of a live DC) is read without log replay and says so. PEK-encrypted secrets and confidential
 * attributes are never returned.
 */
import { FsError } from '../filesystems/types.ts'
import type { EseConsistency, EseDatabase } from '../ese/database.ts'
import type { EseScalar, EseValue } from '../ese/values.ts'
import { A, parseColumnName } from './attrtyp.ts'
import { dnBuilder, normalizeDn, type DnBuilder } from './dn.ts'
import { schemaFromRows, type AdAttribute, type AdSchema } from './schema.ts'
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
  roots(): AdAnswer<AdObjectSummary[]>
  children(dn: string, options?: { includeDeleted?: boolean; limit?: number }): AdAnswer<AdObjectSummary[]>
  search(q: AdSearch): AdAnswer<AdObjectSummary[]>
  /** An object by DN, objectGUID or DNT, with all its attributes (secrets withheld). */
  get(ref: string | number): AdAnswer<AdObject>
  recycleBin(): AdAnswer<RecycleBinState>
}

interface Entry {
  dnt: number
  pdnt: number
  rdn: string
  rdnType: number
  /** Non-null values by column. */
  values: Map<string, EseValue>
  problems: { column: string; error: string }[]
  children: number[]
}

interface Link { from: number; to: number; base: number }

const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined)
const list = (v: EseValue | undefined): EseScalar[] => (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v])

export interface OpenAdOptions { maxObjects?: number }

export async function openActiveDirectory(db: EseDatabase, options: OpenAdOptions = {}): Promise<ActiveDirectory> {
  const consistency = db.info().consistency
  const tables = new Set(db.tables().map((t) => t.name))
  if (!tables.has('datatable')) throw new FsError('ENOTSUP', `not an ntds.dit: it has no datatable (tables: ${[...tables].join(', ')})`)
  const maxObjects = options.maxObjects ?? 5_000_000
  const entries = new Map<number, Entry>()
  for await (const row of db.rows('datatable')) {
    const dnt = num(row.values.DNT_col)
    if (dnt === undefined) continue
    // datatable has a column per attribute (over a thousand), nearly all null in a row: no entries array per row.
    const values = new Map<string, EseValue>()
    const rv = row.values
    for (const k in rv) { const v = rv[k]!; if (v !== null && !(Array.isArray(v) && v.length === 0)) values.set(k, v) }
    const rdn = row.values[`ATTm${A.name}`]
    entries.set(dnt, {
      dnt, pdnt: num(row.values.PDNT_col) ?? 0, rdn: typeof rdn === 'string' ? rdn : '', rdnType: num(row.values.RDNtyp_col) ?? 0,
      values, problems: row.problems, children: [],
    })
    if (entries.size > maxObjects) throw new FsError('ELIMIT', `ntds.dit has more than ${maxObjects} objects`)
  }
  // Only schema objects (they have an lDAPDisplayName) are turned into records for the schema reader.
  const nameCol = `ATTm${A.lDAPDisplayName}`
  const schema = schemaFromRows((function* () { for (const e of entries.values()) if (e.values.has(nameCol)) yield Object.fromEntries(e.values) })())
  if (!schema.attributes.length) throw new FsError('ECORRUPT', 'ntds.dit: datatable has no attributeSchema objects, so attribute names cannot be known')
  const dns: DnBuilder = dnBuilder([...entries.values()], (t) => schema.nameOf(t))
  const byDn = new Map<string, number>()
  const byGuid = new Map<string, number>()
  for (const e of entries.values()) {
    if (e.dnt !== e.pdnt) entries.get(e.pdnt)?.children.push(e.dnt)
    let dn: string | undefined
    try { dn = dns.dn(e.dnt) } catch (err) { if (!(err instanceof FsError)) throw err; e.problems.push({ column: 'PDNT_col', error: err.message }) }
    if (dn) byDn.set(normalizeDn(dn), e.dnt)
    const g = e.values.get(`ATTk${A.objectGUID}`)
    if (Buffer.isBuffer(g) && g.length === 16) byGuid.set(guidString(g), e.dnt)
  }

  // Links: link_base = linkID / 2.
  const links: Link[] = []
  if (tables.has('link_table')) {
    for await (const row of db.rows('link_table')) {
      const from = num(row.values.link_DNT), to = num(row.values.backlink_DNT), base = num(row.values.link_base)
      if (from === undefined || to === undefined || base === undefined) continue
      // A removed value keeps its row with link_deltime; a deactivated one (owner deleted with the
      // Recycle Bin on) with link_deactivetime: neither is a current value.
      const set = (v: unknown) => v !== null && v !== undefined && v !== 0 && v !== 0n
      if (set(row.values.link_deltime) || set(row.values.link_deactivetime)) continue
      links.push({ from, to, base })
    }
  }
  const forward = new Map<number, Link[]>(), backward = new Map<number, Link[]>()
  for (const l of links) {
    (forward.get(l.from) ?? forward.set(l.from, []).get(l.from)!).push(l)
    ;(backward.get(l.to) ?? backward.set(l.to, []).get(l.to)!).push(l)
  }

  const safeDn = (dnt: number) => { try { return dns.dn(dnt) } catch { return undefined } }
  const ctx = { dnOf: safeDn, nameOf: (t: number) => schema.nameOf(t), sdTable: tables.has('sd_table') }
  const colOf = (name: string) => schema.byName.get(name.toLowerCase())?.column
  const str = (e: Entry, col: string | undefined) => { const v = col ? e.values.get(col) : undefined; return typeof v === 'string' ? v : undefined }

  const isDeleted = (e: Entry) => { const v = e.values.get(`ATTi${A.isDeleted}`); return v === 1 || v === true }
  const isRecycled = (e: Entry) => { const v = e.values.get(`ATTi${A.isRecycled}`); return v === 1 || v === true }
  const classesOf = (e: Entry) => list(e.values.get(`ATTc${A.objectClass}`)).map((t) => (typeof t === 'number' ? schema.nameOf(t >>> 0) : String(t)))

  function summary(e: Entry): AdObjectSummary {
    const guid = e.values.get(`ATTk${A.objectGUID}`)
    const sid = e.values.get(`ATTr${A.objectSid}`)
    const lkp = num(e.values.get(`ATTb${A.lastKnownParent}`))
    return {
      dn: safeDn(e.dnt) ?? `<DNT=${e.dnt}>`, dnt: e.dnt, name: e.rdn, objectClass: classesOf(e),
      objectGUID: Buffer.isBuffer(guid) && guid.length === 16 ? guidString(guid) : undefined,
      objectSid: Buffer.isBuffer(sid) ? sidFromNtds(sid) : undefined,
      sAMAccountName: str(e, `ATTm${A.sAMAccountName}`), deleted: isDeleted(e), recycled: isRecycled(e),
      lastKnownParent: lkp !== undefined ? safeDn(lkp) : undefined, hasChildren: e.children.length > 0,
    }
  }

  const isObject = (e: Entry) => e.dnt > 2 && e.values.has(`ATTc${A.objectClass}`)

  function resolve(ref: string | number): Entry {
    let dnt: number | undefined
    if (typeof ref === 'number') dnt = ref
    else if (/^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(ref)) dnt = byGuid.get(ref.replace(/[{}]/g, '').toLowerCase())
    else dnt = byDn.get(normalizeDn(ref))
    const e = dnt !== undefined ? entries.get(dnt) : undefined
    if (!e) throw new FsError('ENOENT', `no object "${ref}" in this ntds.dit (give a DN, an objectGUID or a DNT; search to find one)`)
    return e
  }

  function attributesOf(e: Entry): Pick<AdObject, 'attributes' | 'withheld' | 'problems'> {
    const attributes: Record<string, AdValue | AdValue[]> = {}
    const withheld: string[] = []
    const problems = [...e.problems]
    const put = (a: AdAttribute, vals: AdValue[]) => {
      if (!vals.length) return
      const prev = attributes[a.name]
      const all = prev === undefined ? vals : [...(Array.isArray(prev) ? prev : [prev]), ...vals]
      attributes[a.name] = a.single && all.length === 1 ? all[0] : all
    }
    for (const [column, v] of e.values) {
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

  return {
    consistency, schema, objectCount: [...entries.values()].filter(isObject).length,
    roots() {
      // Naming contexts: objects whose parent is the root or a phantom (DC=com above DC=corp,DC=com).
      // Configuration and Schema sit under the domain NC in the parent chain, so they are its children.
      const phantomOrRoot = (dnt: number) => { const p = entries.get(dnt); return !p || p.dnt === 2 || !isObject(p) }
      return answer([...entries.values()].filter((e) => isObject(e) && phantomOrRoot(e.pdnt)).map(summary).sort(byName))
    },
    children(dn, opts = {}) {
      const e = resolve(dn)
      const limit = opts.limit ?? 10_000
      const out = e.children.map((c) => entries.get(c)!).filter((c) => isObject(c) && (opts.includeDeleted || !isDeleted(c))).map(summary).sort(byName)
      return answer(out.slice(0, limit))
    },
    search(q) {
      const limit = q.limit ?? 1000
      const text = q.text?.toLowerCase()
      const sam = q.sAMAccountName?.toLowerCase()
      const cls = q.objectClass?.toLowerCase()
      const baseDn = q.base ? normalizeDn(safeDn(resolve(q.base).dnt) ?? q.base) : undefined
      const attr = q.attribute ? schema.byName.get(q.attribute.name.toLowerCase()) : undefined
      if (q.attribute && !attr) throw new FsError('ENOENT', `no attribute "${q.attribute.name}" in this directory's schema`)
      if (attr && isSecret(attr)) throw new FsError('ENOTSUP', `${attr.name} is a secret or confidential attribute: it is never searched or shown`)
      const textCols = [`ATTm${A.name}`, `ATTm${A.sAMAccountName}`, colOf('displayName'), colOf('userPrincipalName')].filter((c): c is string => !!c)
      const out: AdObjectSummary[] = []
      for (const e of entries.values()) {
        if (out.length >= limit) break
        if (!isObject(e) || (!q.includeDeleted && isDeleted(e))) continue
        if (text && !textCols.some((c) => { const v = e.values.get(c); return typeof v === 'string' && v.toLowerCase().includes(text) })) continue
        if (sam && str(e, `ATTm${A.sAMAccountName}`)?.toLowerCase() !== sam) continue
        if (cls && !classesOf(e).some((c) => c.toLowerCase() === cls)) continue
        if (baseDn !== undefined) { const d = safeDn(e.dnt); if (!d || !(normalizeDn(d) === baseDn || normalizeDn(d).endsWith(`,${baseDn}`))) continue }
        if (attr && q.attribute) {
          const vals = attributesOf(e).attributes[attr.name]
          if (vals === undefined) continue
          const want = q.attribute.value.toLowerCase()
          if (want !== '*' && !(Array.isArray(vals) ? vals : [vals]).some((v) => String(v).toLowerCase() === want)) continue
        }
        out.push(summary(e))
      }
      return answer(out)
    },
    get(ref) {
      const e = resolve(ref)
      return answer({ ...summary(e), ...attributesOf(e) })
    },
    recycleBin() {
      const featureCol = colOf('msDS-OptionalFeatureGUID')
      let feature: Entry | undefined
      for (const e of entries.values()) {
        const g = featureCol ? e.values.get(featureCol) : undefined
        if (Buffer.isBuffer(g) && g.length === 16 && guidString(g) === RECYCLE_BIN_FEATURE_GUID) { feature = e; break }
      }
      if (!feature) return answer({ enabled: false, enabledOn: [] })
      const enabledAttr = schema.byName.get('msds-enabledfeature')
      const on = (backward.get(feature.dnt) ?? []).filter((l) => enabledAttr?.linkId !== undefined && l.base * 2 === enabledAttr.linkId).map((l) => safeDn(l.from) ?? `<DNT=${l.from}>`)
      return answer({ enabled: on.length > 0, featureDn: safeDn(feature.dnt), enabledOn: on })
    },
  }
}
