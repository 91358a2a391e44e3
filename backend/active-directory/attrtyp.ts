/**
 * ATTRTYPs and ntds.dit column names. A datatable column is `ATT` + letter + ATTRTYP, the letter being
 * 'a' + N for attributeSyntax 2.5.5.N. The ATTRTYP of an attribute is its msDS-IntId when it has one,
 * else its attributeID as stored (an attributeID is stored already mapped through the prefix table:
 * prefix index << 16 | last arc), per MS-DRSR AttrtypFromSchemaObj.
 */

/** attributeSyntax 2.5.5.N as an ATTRTYP: prefix 2.5.5 is index 8 of the default prefix table. */
export const SYNTAX_BASE = 0x80000

/** The column letter for a syntax, from its ATTRTYP (0x80001…) or its OID text ("2.5.5.1"…). */
export function syntaxLetter(syntax: number | string): string {
  const n = typeof syntax === 'number' ? syntax - SYNTAX_BASE : Number(/^2\.5\.5\.(\d+)$/.exec(syntax)?.[1] ?? NaN)
  if (!Number.isInteger(n) || n < 1 || n > 25) throw new RangeError(`attributeSyntax ${typeof syntax === 'number' ? `0x${syntax.toString(16)}` : syntax} is not 2.5.5.1–2.5.5.25`)
  return String.fromCharCode(0x61 + n)
}

/** msDS-IntId is signed in the database (ATTj = Long); ATTRTYPs are unsigned 32-bit. */
export function attrtypOf(attributeId: number, msDsIntId?: number | null): number {
  const id = msDsIntId !== undefined && msDsIntId !== null && msDsIntId !== 0 ? msDsIntId : attributeId
  return id >>> 0
}

export function columnName(attrtyp: number, syntax: number | string): string {
  return `ATT${syntaxLetter(syntax)}${attrtyp >>> 0}`
}

/** The column name back to its syntax letter and ATTRTYP. */
export function parseColumnName(column: string): { letter: string; attrtyp: number } | undefined {
  const m = /^ATT([a-z])(\d+)$/.exec(column)
  return m ? { letter: m[1], attrtyp: Number(m[2]) } : undefined
}

/**
 * The default prefix table (MS-DRSR 5.16.4). Only prefixes in it have fixed indices; a DC adds others
 * (Exchange, RFC 2307 …) in its prefixMap, so OIDs outside it are mapped by the schema in the file.
 */
export const DEFAULT_PREFIXES: string[] = [
  '2.5.4', '2.5.6', '1.2.840.113556.1.2', '1.2.840.113556.1.3', '2.16.840.1.101.2.2.1', '2.16.840.1.101.2.2.3',
  '2.16.840.1.101.2.1.5', '2.16.840.1.101.2.1.4', '2.5.5', '1.2.840.113556.1.4', '1.2.840.113556.1.5',
  '1.2.840.113556.1.4.260', '1.2.840.113556.1.5.56', '1.2.840.113556.1.4.262', '1.2.840.113556.1.5.57',
  '1.2.840.113556.1.4.263', '1.2.840.113556.1.5.58', '1.2.840.113556.1.5.73', '1.2.840.113556.1.4.305',
  '0.9.2342.19200300.100', '2.16.840.1.113730.3', '0.9.2342.19200300.100.1', '2.16.840.1.113730.3.1',
  '1.2.840.113556.1.5.7000', '2.5.21', '2.5.18', '2.5.20',
]

/** OID → ATTRTYP through the default prefix table, for last arcs below 0x4000 (undefined otherwise). */
export function attrtypFromOid(oid: string): number | undefined {
  const i = oid.lastIndexOf('.')
  const prefix = oid.slice(0, i)
  const last = Number(oid.slice(i + 1))
  const idx = DEFAULT_PREFIXES.indexOf(prefix)
  if (idx < 0 || !Number.isInteger(last) || last >= 0x4000) return undefined
  return ((idx << 16) | last) >>> 0
}

/** ATTRTYP → OID through the default prefix table (the inverse of attrtypFromOid). */
export function oidFromAttrtyp(attrtyp: number): string | undefined {
  const idx = attrtyp >>> 16
  const low = attrtyp & 0xffff
  const prefix = DEFAULT_PREFIXES[idx]
  if (prefix === undefined || attrtyp >= 0x80000000) return undefined
  if (low >= 0x4000) return undefined
  return `${prefix}.${low}`
}

/** ATTRTYPs the AD layer relies on (all in the base schema, so the same on every DC). */
export const A = {
  objectClass: 0, cn: 3, ou: 11, o: 10, c: 6, l: 7, st: 8, street: 9, dc: 1376281, uid: 1376257,
  member: 31, distinguishedName: 49, name: 589825, objectGUID: 589826, objectSid: 589970,
  sAMAccountName: 590045, isDeleted: 131120, isRecycled: 591882, lastKnownParent: 590605,
  msDsLastKnownRdn: 591891, msDsEnabledFeature: 591885, lDAPDisplayName: 131532, attributeId: 131102,
  attributeSyntax: 131104, msDsIntId: 591540, linkId: 131122, isSingleValued: 131105, governsId: 131094,
  searchFlags: 131406, objectCategory: 590606, whenCreated: 131074, whenChanged: 131075,
  displayName: 131085, userPrincipalName: 590480, msDsOptionalFeatureGuid: 591886,
} as const

/** Class ATTRTYPs (governsID through the default prefix table). */
export const CLASS = { top: 65536, attributeSchema: 196622, classSchema: 196621 } as const

/** The RDN attribute names Windows writes in upper case in DNs (RFC 4514 §3 short names). */
export const RDN_SHORT_NAMES: Record<number, string> = {
  [A.cn]: 'CN', [A.ou]: 'OU', [A.o]: 'O', [A.c]: 'C', [A.l]: 'L', [A.st]: 'ST', [A.street]: 'STREET', [A.dc]: 'DC', [A.uid]: 'UID',
}
