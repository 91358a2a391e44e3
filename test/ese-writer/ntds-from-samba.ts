/**
 * TEST-ONLY: a SYNTHETIC ntds.dit-shaped ESE database filled from a real Samba AD DC's directory.
 * Samba is provisioned offline into a temp dir, given users, groups, OUs and memberships, some
 * objects are deleted, and `ldbsearch --show-deleted --show-recycled --cross-ncs` dumps everything
 * (schema included). Each object becomes a datatable row with Windows' layout: DNT_col, PDNT_col,
 * RDNtyp_col, OBJ_col and one tagged column per attribute named ATT<syntax letter><ATTRTYP> from the
 * dumped schema; forward links (member, msDS-EnabledFeature …) go to link_table; sd_table holds the
 * binary security descriptors given by DN (read over LDAP; the dump's SDDL is not encoded). Values of 1 KiB and more go to the
 * long-value tree when they are an attribute's only value; others that large are left out and listed
 * in `omitted`.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { COLTYP, LONG_VALUE_MIN, writeEseDatabase, type WTable, type WValue } from './writer.ts'
import { parseLdif, text, first, type LdifRecord } from './ldif.ts'

export const ADMIN_PASSWORD = 'Stillp0int-Lab!Admin'
const SAMBA_SCHEMA_JSON = '/work/shared/fixtures/ese/samba-schema-att-columns.json'
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }

/** Provisions a Samba AD DC (offline, no DNS, no network) into `dir` unless already there. */
export function provisionSamba(dir: string): void {
  if (existsSync(join(dir, 'private', 'sam.ldb'))) return
  mkdirSync(dir, { recursive: true })
  execFileSync('samba-tool', ['domain', 'provision', '--realm=LAB.LOCAL', '--domain=LAB', '--server-role=dc', '--dns-backend=NONE',
    '--use-rfc2307', `--targetdir=${dir}`, `--adminpass=${ADMIN_PASSWORD}`], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 })
}

export function samLdb(dir: string): string { return join(dir, 'private', 'sam.ldb') }

export function ldbAdd(dir: string, ldif: string): void {
  const f = join(dir, `add-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`)
  writeFileSync(f, ldif)
  execFileSync('ldbadd', ['-H', samLdb(dir), f], { env, stdio: ['ignore', 'ignore', 'pipe'] })
}
export function ldbModify(dir: string, ldif: string): void {
  const f = join(dir, `mod-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`)
  writeFileSync(f, ldif)
  execFileSync('ldbmodify', ['-H', samLdb(dir), f], { env, stdio: ['ignore', 'ignore', 'pipe'] })
}
export function ldbDel(dir: string, dn: string): void {
  execFileSync('ldbdel', ['-H', samLdb(dir), dn], { env, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** The whole directory, deleted and recycled objects and secrets included (as a DC holds them). */
export function dumpSamba(dir: string): { ldif: string; records: LdifRecord[] } {
  const ldif = execFileSync('ldbsearch', ['-H', samLdb(dir), '--cross-ncs', '--show-deleted', '--show-recycled', '(objectClass=*)',
    '*', 'unicodePwd', 'supplementalCredentials', 'ntPwdHistory', 'msDS-IntId'], { env, maxBuffer: 256 * 1024 * 1024 }).toString('utf8')
  return { ldif, records: parseLdif(ldif) }
}

/** Split a DN at unescaped commas (written here, independent of the product's DN code). */
function rdns(dn: string): string[] {
  const out: string[] = []
  let cur = ''
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') { cur += dn[i] + (dn[i + 1] ?? ''); i++; continue }
    if (dn[i] === ',') { out.push(cur); cur = ''; continue }
    cur += dn[i]
  }
  out.push(cur)
  return out
}
const unescape = (v: string) => {
  const bytes: number[] = []
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) { bytes.push(parseInt(v.slice(i + 1, i + 3), 16)); i += 2; continue }
    if (v[i] === '\\') { i++ }
    bytes.push(...Buffer.from(v[i], 'utf8'))
  }
  return Buffer.from(bytes).toString('utf8')
}
const dnKey = (dn: string) => rdns(dn).map((r) => r.toLowerCase()).join(',')

function guidBytes(s: string): Buffer | undefined {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(s)
  if (!m) return undefined
  const le = (h: string) => Buffer.from(h, 'hex').reverse()
  return Buffer.concat([le(m[1]), le(m[2]), le(m[3]), Buffer.from(m[4] + m[5], 'hex')])
}
/** SID text → ntds.dit bytes: sub-authorities little-endian, except the RID, stored big-endian. */
function sidBytes(s: string): Buffer | undefined {
  const m = /^S-1-(\d+)((?:-\d+)*)$/.exec(s)
  if (!m) return undefined
  const subs = m[2] ? m[2].slice(1).split('-').map(Number) : []
  const b = Buffer.alloc(8 + 4 * subs.length)
  b[0] = 1; b[1] = subs.length; b.writeUIntBE(Number(m[1]), 2, 6)
  subs.forEach((v, i) => (i === subs.length - 1 ? b.writeUInt32BE(v, 8 + 4 * i) : b.writeUInt32LE(v, 8 + 4 * i)))
  return b
}
/** "20261202101809.0Z" → seconds since 1601-01-01 (how ntds.dit stores 2.5.5.11). */
function dsTime(s: string): bigint | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)/.exec(s)
  if (!m) return undefined
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  return BigInt(ms / 1000) + 11644473600n
}

interface SchemaAttr { name: string; attrtyp: number; syntax: number; single: boolean; linkId?: number }

const DEFAULT_PREFIXES = [
  '2.5.4', '2.5.6', '1.2.840.113556.1.2', '1.2.840.113556.1.3', '2.16.840.1.101.2.2.1', '2.16.840.1.101.2.2.3',
  '2.16.840.1.101.2.1.5', '2.16.840.1.101.2.1.4', '2.5.5', '1.2.840.113556.1.4', '1.2.840.113556.1.5',
  '1.2.840.113556.1.4.260', '1.2.840.113556.1.5.56', '1.2.840.113556.1.4.262', '1.2.840.113556.1.5.57',
  '1.2.840.113556.1.4.263', '1.2.840.113556.1.5.58', '1.2.840.113556.1.5.73', '1.2.840.113556.1.4.305',
  '0.9.2342.19200300.100', '2.16.840.1.113730.3', '0.9.2342.19200300.100.1', '2.16.840.1.113730.3.1',
  '1.2.840.113556.1.5.7000', '2.5.21', '2.5.18', '2.5.20',
]

/** A prefix table: the default one, the indices Samba gave other prefixes (from the schema fixture), then new ones. */
function prefixTable(): (oid: string) => number {
  const idx = new Map(DEFAULT_PREFIXES.map((p, i) => [p, i]))
  const json = JSON.parse(readFileSync(SAMBA_SCHEMA_JSON, 'utf8')) as Record<string, { attributeID: string; attrtyp: number }>
  for (const a of Object.values(json)) {
    const p = a.attributeID.slice(0, a.attributeID.lastIndexOf('.'))
    if (!idx.has(p)) idx.set(p, a.attrtyp >>> 16)
  }
  let nextIdx = Math.max(...idx.values()) + 1
  return (oid) => {
    const cut = oid.lastIndexOf('.')
    const p = oid.slice(0, cut), last = Number(oid.slice(cut + 1))
    if (last >= 0x4000) throw new Error(`OID ${oid}: last arc over 16383 is not handled by this test writer`)
    if (!idx.has(p)) idx.set(p, nextIdx++)
    return ((idx.get(p)! << 16) | last) >>> 0
  }
}

export interface BuiltNtds { file: string; dntByDn: Map<string, number>; omitted: string[]; objects: number; links: number }

const MAX_VALUE = 256 * 1024
const MAX_RECORD = 6000

export interface NtdsWriteOptions {
  /**
   * Binary security descriptors by DN (as a DC returns nTSecurityDescriptor over LDAP with the SD_FLAGS
   * control): written to sd_table, one row per distinct descriptor, and the object's nTSecurityDescriptor
   * column holds its 8-byte sd_id, as on Windows since 2003. ldbsearch prints descriptors as SDDL, which
   * this writer does not encode: objects without one here get no descriptor.
   */
  securityDescriptors?: Map<string, Buffer>
}

/** Writes the records (an ldbsearch dump) as a synthetic ntds.dit-shaped database at `file`. */
export function writeNtdsFromLdif(records: LdifRecord[], file: string, options: NtdsWriteOptions = {}): BuiltNtds {
  const sdByDn = new Map([...options.securityDescriptors ?? []].map(([dn, sd]) => [dnKey(dn), sd]))
  const sdRows: { sd_id: bigint; sd_hash: Buffer; sd_refcount: number; sd_value: Buffer }[] = []
  const sdIdOf = new Map<string, (typeof sdRows)[number]>()
  const toAttrtyp = prefixTable()
  const attrs = new Map<string, SchemaAttr>()
  const classes = new Map<string, number>()
  for (const r of records) {
    const oc = text(r, 'objectClass')
    const name = first(r, 'lDAPDisplayName')
    if (!name) continue
    if (oc.includes('attributeSchema')) {
      const intId = first(r, 'msDS-IntId')
      attrs.set(name.toLowerCase(), {
        name, attrtyp: intId ? Number(intId) >>> 0 : toAttrtyp(first(r, 'attributeID')!), syntax: Number(first(r, 'attributeSyntax')!.split('.')[3]),
        single: first(r, 'isSingleValued') === 'TRUE', linkId: first(r, 'linkID') !== undefined ? Number(first(r, 'linkID')) : undefined,
      })
    } else if (oc.includes('classSchema')) classes.set(name.toLowerCase(), toAttrtyp(first(r, 'governsID')!))
  }
  const attrOf = (n: string) => attrs.get(n.toLowerCase())
  // DNTs: 1 and 2 as on Windows, then parents before children; ancestors without an object
  // (DC=local above DC=lab,DC=local) become phantom rows, as a DC keeps them.
  const byKey = new Map<string, LdifRecord>()
  for (const r of records) byKey.set(dnKey(r.dn), r)
  const dntByDn = new Map<string, number>()
  interface Row { dnt: number; pdnt: number; rdn: string; rdnType: number; rec?: LdifRecord }
  const rows: Row[] = [{ dnt: 1, pdnt: 0, rdn: '$NOT_AN_OBJECT1$', rdnType: 0 }, { dnt: 2, pdnt: 0, rdn: '$ROOT_OBJECT$', rdnType: 0 }]
  let nextDnt = 3
  const ensure = (dn: string): number => {
    const k = dnKey(dn)
    const known = dntByDn.get(k)
    if (known !== undefined) return known
    const parts = rdns(dn)
    const pdnt = parts.length > 1 ? ensure(parts.slice(1).join(',')) : 2
    const eq = parts[0].indexOf('=')
    const type = parts[0].slice(0, eq).trim()
    const rec = byKey.get(k)
    const name = rec ? first(rec, 'name') : undefined
    const a = attrOf(type)
    if (!a) throw new Error(`RDN type ${type} is not in the dumped schema`)
    const dnt = nextDnt++
    rows.push({ dnt, pdnt, rdn: name ?? unescape(parts[0].slice(eq + 1)), rdnType: a.attrtyp, rec })
    dntByDn.set(k, dnt)
    return dnt
  }
  for (const r of [...records].sort((a, b) => rdns(a.dn).length - rdns(b.dn).length)) ensure(r.dn)

  const omitted = new Set<string>()
  const columns = new Map<string, { name: string; type: number; multi: boolean; codepage?: 1200 }>()
  const colFor = (a: SchemaAttr) => {
    const letter = String.fromCharCode(0x61 + a.syntax)
    const name = `ATT${letter}${a.attrtyp}`
    if (!columns.has(name)) {
      const type = [1, 2, 8, 9].includes(a.syntax) ? COLTYP.Long : [11, 16, 15].includes(a.syntax) ? COLTYP.Currency
        : [3, 4, 5, 6, 12, 13].includes(a.syntax) ? COLTYP.LongText : COLTYP.LongBinary
      columns.set(name, { name, type, multi: !a.single, codepage: type === COLTYP.LongText ? 1200 : undefined })
    }
    return name
  }
  const links: { link_DNT: number; backlink_DNT: number; link_base: number }[] = []
  const dataRows: Record<string, WValue | WValue[]>[] = []
  for (const row of rows) {
    const out: Record<string, WValue | WValue[]> = { DNT_col: row.dnt, PDNT_col: row.pdnt, RDNtyp_col: row.rdnType, OBJ_col: !!row.rec, cnt_col: 0 }
    out[`ATTm589825`] = row.rdn
    columns.set('ATTm589825', { name: 'ATTm589825', type: COLTYP.LongText, multi: false, codepage: 1200 })
    let size = 0
    for (const [attrName, raw] of row.rec?.attrs ?? []) {
      const a = attrOf(attrName)
      if (!a) { omitted.add(`${attrName} (not in schema)`); continue }
      if (a.name === 'name') continue
      if (a.syntax === 15) continue // descriptors: from options.securityDescriptors, below
      if (a.linkId !== undefined) {
        if (a.linkId % 2 === 1) continue // back links (memberOf …) are never stored: derived from link_table
        for (const v of raw) {
          const target = dntByDn.get(dnKey(v.toString('utf8')))
          if (target === undefined) { omitted.add(`${a.name} → ${v.toString('utf8')} (target not in the dump)`); continue }
          links.push({ link_DNT: row.dnt, backlink_DNT: target, link_base: a.linkId / 2 })
        }
        continue
      }
      const vals: WValue[] = []
      for (const b of raw) {
        const s = b.toString('utf8')
        let v: WValue
        switch (a.syntax) {
          case 1: v = dntByDn.get(dnKey(s)); break
          case 2: v = /^\d+(\.\d+)+$/.test(s) ? toAttrtyp(s) : (classes.get(s.toLowerCase()) ?? attrOf(s)?.attrtyp); break
          case 8: v = s === 'TRUE' ? 1 : 0; break
          case 9: v = Number(s) | 0; break
          case 11: v = dsTime(s); break
          case 16: v = /^-?\d+$/.test(s) ? BigInt(s) : undefined; break
          case 17: v = sidBytes(s) ?? b; break
          case 10: v = /guid$/i.test(a.name) ? (guidBytes(s) ?? b) : b; break
          case 3: case 4: case 5: case 6: case 12: case 13: v = s; break
          default: v = b
        }
        if (v === undefined) { omitted.add(`${a.name} value "${s.slice(0, 40)}" (cannot be mapped)`); continue }
        const bytes = typeof v === 'string' ? v.length * 2 : Buffer.isBuffer(v) ? v.length : 8
        const separated = bytes >= LONG_VALUE_MIN && raw.length === 1
        if (bytes > MAX_VALUE || (bytes >= LONG_VALUE_MIN && !separated) || size + (separated ? 4 : bytes) > MAX_RECORD) {
          omitted.add(`${a.name} (value of ${bytes} bytes: this writer separates only single large values)`)
          continue
        }
        size += (separated ? 4 : bytes) + 4
        vals.push(v)
      }
      if (!vals.length) continue
      const col = colFor(a)
      // Windows lists objectClass most specific first; ldbsearch prints top first.
      out[col] = a.name === 'objectClass' ? vals.reverse() : a.single ? vals[0] : vals
    }
    const sd = row.rec && sdByDn.get(dnKey(row.rec.dn))
    const sdAttr = attrOf('nTSecurityDescriptor')
    if (sd && sdAttr) {
      const hash = createHash('md5').update(sd).digest()
      let sdRow = sdIdOf.get(hash.toString('hex'))
      if (!sdRow) { sdRow = { sd_id: BigInt(sdRows.length + 1), sd_hash: hash, sd_refcount: 0, sd_value: sd }; sdRows.push(sdRow); sdIdOf.set(hash.toString('hex'), sdRow) }
      sdRow.sd_refcount++
      out[colFor(sdAttr)] = sdRow.sd_id
    }
    dataRows.push(out)
  }
  const fixedCols = [
    { name: 'DNT_col', type: COLTYP.Long }, { name: 'PDNT_col', type: COLTYP.Long }, { name: 'OBJ_col', type: COLTYP.Bit },
    { name: 'RDNtyp_col', type: COLTYP.Long }, { name: 'cnt_col', type: COLTYP.Long },
  ]
  const tables: WTable[] = [
    { name: 'datatable', columns: [...fixedCols, ...[...columns.values()].sort((x, y) => x.name.localeCompare(y.name))], rows: dataRows },
    { name: 'link_table', columns: [{ name: 'link_DNT', type: COLTYP.Long }, { name: 'backlink_DNT', type: COLTYP.Long }, { name: 'link_base', type: COLTYP.Long },
      { name: 'link_deltime', type: COLTYP.Currency }, { name: 'link_data', type: COLTYP.LongBinary }], rows: links },
    { name: 'sd_table', columns: [{ name: 'sd_id', type: COLTYP.Currency }, { name: 'sd_hash', type: COLTYP.Binary }, { name: 'sd_refcount', type: COLTYP.Long },
      { name: 'sd_value', type: COLTYP.LongBinary }], rows: sdRows },
  ]
  writeEseDatabase(file, tables, { pageSize: 8192 })
  const m = new Map<string, number>()
  for (const r of records) m.set(r.dn, dntByDn.get(dnKey(r.dn))!)
  return { file, dntByDn: m, omitted: [...omitted].sort(), objects: records.length, links: links.length }
}
