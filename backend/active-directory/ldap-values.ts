/**
 * Values between the backup (as the AD layer decodes them from ntds.dit) and a live DC over LDAP:
 * each backed-up value in its LDAP wire form (generalized time, FILETIME integers, TRUE/FALSE,
 * binary SIDs and GUIDs), a canonical text of either side for comparing, and which attributes an
 * item restore may write at all (never secrets, identity, replication metadata or back links).
 */
import { normalizeDn } from './dn.ts'
import { isSecret } from './secrets.ts'
import { isTimeAttribute, sidBytes, type AdValue } from './values.ts'
import type { AdAttribute } from './schema.ts'

export type LdapValue = string | Buffer

/**
 * Never compared or written by an item restore: identity (kept by reanimation, set by the DC on
 * creation), naming (the DN is restored, not these), deletion state, replication metadata, logon
 * statistics, values the DC computes, and the password (its own option).
 */
const NOT_RESTORED = new Set([
  'objectguid', 'objectsid', 'sidhistory', 'distinguishedname', 'name', 'cn', 'ou', 'dc', 'objectclass', 'objectcategory',
  'instancetype', 'whencreated', 'whenchanged', 'usncreated', 'usnchanged', 'usndsalastobjremoved', 'dscorepropagationdata',
  'replpropertymetadata', 'repluptodatevector', 'repsfrom', 'repsto', 'ntsecuritydescriptor', 'isdeleted', 'isrecycled',
  'lastknownparent', 'msds-lastknownrdn', 'lastlogon', 'lastlogontimestamp', 'lastlogoff', 'logoncount', 'badpwdcount',
  'badpasswordtime', 'lockouttime', 'pwdlastset', 'samaccounttype', 'primarygroupid', 'iscriticalsystemobject', 'systemflags',
  'msds-keyversionnumber', 'admincount', 'grouptype', 'objectversion', 'msds-revealeddsas', 'msds-nccreplcursors',
  'msds-ncreplinboundneighbors', 'msds-ncreploutboundneighbors', 'msds-replattributemetadata', 'msds-replvaluemetadata',
  'showinadvancedviewonly', 'operatorcount', 'msds-supportedencryptiontypes', 'serviceprincipalname', 'dnshostname', 'msds-additionaldnshostname',
])

/** Syntaxes kept out of compare and restore: security descriptors (sd_table), DN-Binary / DN-String, presentation addresses. */
const SKIPPED_SYNTAXES = new Set(['2.5.5.15', '2.5.5.7', '2.5.5.14', '2.5.5.13'])

/** May an item restore compare and write this attribute? (Memberships go through `member`, handled apart.) */
export function isRestorable(a: Pick<AdAttribute, 'name' | 'attrtyp' | 'searchFlags' | 'syntax' | 'linkId'>): boolean {
  if (isSecret(a)) return false
  if (a.linkId !== undefined) return false
  if (SKIPPED_SYNTAXES.has(a.syntax)) return false
  return !NOT_RESTORED.has(a.name.toLowerCase())
}

/** Syntaxes LDAP carries as binary (asked for as Buffers). */
export function isBinarySyntax(syntax: string): boolean {
  return syntax === '2.5.5.10' || syntax === '2.5.5.17' || syntax === '2.5.5.15' || syntax === '2.5.5.7'
}

const FILETIME_EPOCH_MS = 11644473600000n
const NEVER = '9223372036854775807'

/** "2026-12-02T10:18:09.000Z" → "20261202101809.0Z" (AD generalized time). */
export function isoToGeneralizedTime(iso: string): string | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)/.exec(iso)
  return m ? `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6]}.0Z` : undefined
}

/** A FILETIME large integer as the AD layer shows it (ISO, "never", "0 (never)") back to its decimal text. */
export function filetimeText(shown: string): string | undefined {
  if (shown === 'never') return NEVER
  if (shown === '0 (never)') return '0'
  if (/^-?\d+$/.test(shown)) return shown
  const ms = Date.parse(shown)
  if (Number.isNaN(ms)) return undefined
  const sub = /\.(\d{1,7})Z$/.exec(shown)?.[1]
  const hundredNs = sub ? BigInt(sub.padEnd(7, '0')) % 10000n : 0n
  return ((BigInt(ms) + FILETIME_EPOCH_MS) * 10000n + hundredNs).toString()
}

/** "xxxxxxxx-xxxx-…" → the 16 bytes LDAP carries (first three groups little-endian). */
export function guidToBytes(guid: string): Buffer {
  const h = guid.replace(/[{}-]/g, '')
  if (!/^[0-9a-f]{32}$/i.test(h)) throw new RangeError(`"${guid}" is not a GUID`)
  const le = (s: string) => Buffer.from(s, 'hex').reverse()
  return Buffer.concat([le(h.slice(0, 8)), le(h.slice(8, 12)), le(h.slice(12, 16)), Buffer.from(h.slice(16), 'hex')])
}

export function guidFromBytes(b: Buffer): string {
  const le = (x: Buffer) => Buffer.from(x).reverse().toString('hex')
  const h = le(b.subarray(0, 4)) + le(b.subarray(4, 6)) + le(b.subarray(6, 8)) + b.subarray(8, 16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** S-1-… → the binary SID LDAP carries (every sub-authority little-endian). */
export function sidToLdap(sid: string): Buffer { return sidBytes(sid, 'wire') }

export function sidFromLdap(b: Buffer): string | undefined {
  if (b.length < 8 || b[0] !== 1 || b.length !== 8 + 4 * b[1]!) return undefined
  const subs: number[] = []
  for (let i = 0; i < b[1]!; i++) subs.push(b.readUInt32LE(8 + 4 * i))
  return `S-1-${b.readUIntBE(2, 6)}${subs.map((s) => `-${s}`).join('')}`
}

/** A backed-up value (as decoded by the AD layer) in LDAP's wire form; undefined when it cannot be written. */
export function toLdapValue(a: Pick<AdAttribute, 'name' | 'syntax'>, v: AdValue): LdapValue | undefined {
  const s = String(v)
  switch (a.syntax) {
    case '2.5.5.1': return s.startsWith('<DNT=') ? undefined : s
    case '2.5.5.8': return v === true || s.toUpperCase() === 'TRUE' ? 'TRUE' : 'FALSE'
    case '2.5.5.9': return typeof v === 'number' ? String(v | 0) : s
    case '2.5.5.11': return isoToGeneralizedTime(s)
    case '2.5.5.16': return isTimeAttribute(a.name) ? filetimeText(s) : s
    case '2.5.5.17': return /^S-1-/i.test(s) ? sidToLdap(s) : /^[0-9a-f]*$/i.test(s) ? Buffer.from(s, 'hex') : undefined
    case '2.5.5.10':
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s) && /guid$/i.test(a.name)) return guidToBytes(s)
      return /^([0-9a-f]{2})*$/i.test(s) ? Buffer.from(s, 'hex') : undefined
    case '2.5.5.15': case '2.5.5.7': case '2.5.5.14': case '2.5.5.13': return undefined
    default: return s
  }
}

/** Canonical text of a value on either side, for comparing: DNs normalized, binary as hex, SIDs and GUIDs as text. */
export function canonical(a: Pick<AdAttribute, 'name' | 'syntax'>, v: LdapValue): string {
  if (Buffer.isBuffer(v)) {
    if (a.syntax === '2.5.5.17') return sidFromLdap(v) ?? v.toString('hex')
    if (a.syntax === '2.5.5.10' && v.length === 16 && /guid$/i.test(a.name)) return guidFromBytes(v)
    return v.toString('hex')
  }
  if (a.syntax === '2.5.5.1') return normalizeDn(v)
  if (a.syntax === '2.5.5.8') return v.toUpperCase()
  if (a.syntax === '2.5.5.11') return v.replace(/\.\d+Z$/, '.0Z')
  return v
}

/** Human-readable form of an LDAP value for compare results (binary as hex, SIDs and GUIDs as text). */
export function displayValue(a: Pick<AdAttribute, 'name' | 'syntax'>, v: LdapValue): string {
  if (Buffer.isBuffer(v)) return canonical(a, v)
  return v
}
