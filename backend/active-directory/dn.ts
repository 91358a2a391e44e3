/**
 * Distinguished names from the parent chain: an ntds.dit stores no DN, only each object's RDN
 * (ATTm589825), its RDN attribute (RDNtyp_col) and its parent's DNT (PDNT_col). The chain ends at
 * $ROOT_OBJECT$ (DNT 2, PDNT 0). Pure functions over those four values.
 */
import { FsError } from '../filesystems/types.ts'
import { RDN_SHORT_NAMES } from './attrtyp.ts'

export interface DnRow { dnt: number; pdnt: number; rdn: string; rdnType: number }

export const ROOT_DNT = 2

/** An attribute value escaped for a DN (RFC 4514 §2.4; control characters as \XX, as Windows writes them). */
export function escapeRdnValue(v: string): string {
  let out = ''
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]
    const code = ch.charCodeAt(0)
    if ('"+,;<>\\'.includes(ch)) out += `\\${ch}`
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`
    else if ((i === 0 && (ch === ' ' || ch === '#')) || (i === v.length - 1 && ch === ' ')) out += `\\${ch}`
    else out += ch
  }
  return out
}

/** Undo escapeRdnValue (and any RFC 4514 escape) for parsing user-given DNs. */
export function unescapeRdnValue(v: string): string {
  return v.replace(/\\([0-9a-fA-F]{2}|.)/g, (_m, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e))
}

/** Split a DN into its RDNs at unescaped commas. */
export function splitDn(dn: string): string[] {
  const parts: string[] = []
  let cur = ''
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]
    if (ch === '\\' && i + 1 < dn.length) { cur += ch + dn[++i]; continue }
    if (ch === ',') { parts.push(cur.trim()); cur = ''; continue }
    cur += ch
  }
  if (cur.trim() || parts.length) parts.push(cur.trim())
  return parts.filter((p) => p !== '')
}

/** Canonical form for comparing DNs: attribute names upper case, values unescaped and case-folded. */
export function normalizeDn(dn: string): string {
  return splitDn(dn).map((r) => {
    const eq = r.indexOf('=')
    if (eq < 0) return r.toLowerCase()
    return `${r.slice(0, eq).trim().toUpperCase()}=${unescapeRdnValue(r.slice(eq + 1).trim()).toLowerCase()}`
  }).join(',')
}

/** One object's RDN as it appears in its DN (CN=…, OU=…, DC=…). */
export function rdnString(r: DnRow, typeName: (attrtyp: number) => string | undefined = () => undefined): string {
  const t = RDN_SHORT_NAMES[r.rdnType] ?? typeName(r.rdnType) ?? `${r.rdnType}`
  return `${t}=${escapeRdnValue(r.rdn)}`
}

export interface DnBuilder {
  /** The DN of an object, '' for the root object, undefined when the DNT is unknown. */
  dn(dnt: number): string | undefined
}

/**
 * DNs for every row. `typeName` turns an RDNtyp ATTRTYP into its name (schema lDAPDisplayName);
 * the short names (CN, OU, DC …) come out upper case as Windows writes them. Loops and over-deep
 * chains (damaged or hostile data) give a clear error rather than hanging.
 */
export function dnBuilder(rows: Iterable<DnRow>, typeName: (attrtyp: number) => string | undefined = () => undefined, maxDepth = 256): DnBuilder {
  const byDnt = new Map<number, DnRow>()
  for (const r of rows) byDnt.set(r.dnt, r)
  const cache = new Map<number, string>()
  const rdnOf = (r: DnRow) => rdnString(r, typeName)
  return {
    dn(dnt) {
      const hit = cache.get(dnt)
      if (hit !== undefined) return hit
      if (!byDnt.has(dnt)) return undefined
      const chain: DnRow[] = []
      let cur = byDnt.get(dnt)
      let base = ''
      while (cur) {
        const known = cache.get(cur.dnt)
        if (known !== undefined) { base = known; break }
        if (cur.dnt === ROOT_DNT || cur.pdnt === 0 || cur.pdnt === cur.dnt) break
        chain.push(cur)
        if (chain.length > maxDepth) throw new FsError('ECORRUPT', `ntds.dit: the parent chain of DNT ${dnt} is deeper than ${maxDepth} (a loop in PDNT_col?)`)
        const parent = byDnt.get(cur.pdnt)
        if (!parent) throw new FsError('ECORRUPT', `ntds.dit: DNT ${cur.dnt} has parent DNT ${cur.pdnt}, which is not in datatable`)
        cur = parent
      }
      for (let i = chain.length - 1; i >= 0; i--) {
        base = base ? `${rdnOf(chain[i])},${base}` : rdnOf(chain[i])
        cache.set(chain[i].dnt, base)
      }
      if (!chain.length) cache.set(dnt, base)
      return base
    },
  }
}
