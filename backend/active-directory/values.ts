/**
 * AD attribute values decoded by their syntax, as ntds.dit stores them:
 * DN (2.5.5.1) = the target's DNT; OID (2.5.5.2) = an ATTRTYP; boolean (2.5.5.8) = 0/1;
 * generalized time (2.5.5.11) = seconds since 1601; large integer (2.5.5.16) = 64-bit, FILETIME for
 * the time attributes; SID (2.5.5.17) = binary with its last sub-authority (the RID) big-endian;
 * security descriptor (2.5.5.15) = an id into sd_table.
 */
import { EseDateTime, guidString, type EseScalar } from '../ese/values.ts'
import { filetimeToIso } from '../ese/values.ts'
import type { AdAttribute } from './schema.ts'

export type AdValue = string | number | boolean

/** SID bytes as ntds.dit stores them (RID big-endian) to S-1-…; undefined when not a SID. */
export function sidFromNtds(b: Buffer): string | undefined {
  if (b.length < 8 || b[0] !== 1) return undefined
  const count = b[1]
  if (b.length !== 8 + 4 * count || count > 15) return undefined
  const authority = b.readUIntBE(2, 6)
  const subs: number[] = []
  for (let i = 0; i < count; i++) subs.push(i === count - 1 ? b.readUInt32BE(8 + 4 * i) : b.readUInt32LE(8 + 4 * i))
  return `S-1-${authority}${subs.map((s) => `-${s}`).join('')}`
}

/** S-1-… to the bytes ntds.dit stores (the inverse of sidFromNtds). */
export function sidToNtds(sid: string): Buffer { return sidBytes(sid, 'rid-big-endian') }

/**
 * S-1-… to a binary SID: revision, count, 48-bit authority, then the sub-authorities little-endian —
 * on the wire (LDAP) all of them; ntds.dit stores the last one (the RID) big-endian so that SIDs sort.
 */
export function sidBytes(sid: string, layout: 'wire' | 'rid-big-endian'): Buffer {
  const m = /^S-1-(\d+)((?:-\d+)*)$/i.exec(sid)
  if (!m) throw new RangeError(`"${sid}" is not a SID`)
  const subs = m[2] ? m[2].slice(1).split('-').map(Number) : []
  const b = Buffer.alloc(8 + 4 * subs.length)
  b[0] = 1; b[1] = subs.length
  b.writeUIntBE(Number(m[1]), 2, 6)
  subs.forEach((s, i) => (layout === 'rid-big-endian' && i === subs.length - 1 ? b.writeUInt32BE(s, 8 + 4 * i) : b.writeUInt32LE(s, 8 + 4 * i)))
  return b
}

const TIME_NAMES = new Set([
  'pwdlastset', 'lastlogon', 'lastlogontimestamp', 'accountexpires', 'badpasswordtime', 'lockouttime', 'lastlogoff',
  'creationtime', 'msds-lastsuccessfulinteractivelogontime', 'msds-lastfailedinteractivelogontime', 'msds-userpasswordexpirytimecomputed',
  'msds-deletedobjectlifetime', 'ms-mcs-admpwdexpirationtime', 'mslaps-passwordexpirationtime',
])
const NEVER = 0x7fffffffffffffffn

/** A large integer holding a FILETIME (by name: pwdLastSet, lastLogon, accountExpires…). */
export function isTimeAttribute(name: string): boolean {
  return TIME_NAMES.has(name.toLowerCase())
}

/** Seconds since 1601-01-01 (2.5.5.11 in ntds.dit) to ISO-8601 UTC. */
export function dsTimeToIso(seconds: bigint): string | undefined {
  return filetimeToIso(seconds * 10_000_000n)
}

const asBigint = (v: EseScalar): bigint | undefined =>
  typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(Math.trunc(v)) : Buffer.isBuffer(v) && v.length === 8 ? v.readBigInt64LE(0) : undefined

export interface DecodeContext { dnOf(dnt: number): string | undefined; nameOf(attrtyp: number): string; sdTable: boolean }

export function decodeAdValue(a: AdAttribute, v: EseScalar, ctx: DecodeContext): AdValue | undefined {
  if (v === null) return undefined
  const n = a.syntax.slice(6)
  switch (n) {
    case '1': { // DN: the target's DNT
      const dnt = typeof v === 'number' ? v : Buffer.isBuffer(v) && v.length >= 4 ? v.readInt32LE(0) : undefined
      if (dnt === undefined) break
      return ctx.dnOf(dnt) ?? `<DNT=${dnt}>`
    }
    case '2': return typeof v === 'number' ? ctx.nameOf(v >>> 0) : undefined
    case '8': return typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined
    case '9': return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined
    case '11': {
      const s = asBigint(v)
      if (s === undefined) break
      return dsTimeToIso(s) ?? s.toString()
    }
    case '16': {
      const i = asBigint(v)
      if (i === undefined) break
      if (isTimeAttribute(a.name)) {
        if (i === 0n) return '0 (never)'
        if (i === NEVER) return 'never'
        return filetimeToIso(i) ?? i.toString()
      }
      return i.toString()
    }
    case '17': if (Buffer.isBuffer(v)) return sidFromNtds(v) ?? v.toString('hex'); break
    case '15': {
      const id = asBigint(v)
      return id === undefined ? undefined : `sd_table:${id}`
    }
    case '10': {
      if (!Buffer.isBuffer(v)) break
      if (v.length === 16 && /guid$/i.test(a.name)) return guidString(v)
      return v.toString('hex')
    }
    case '12': case '3': case '4': case '5': case '6': case '13':
      if (typeof v === 'string') return v
      if (Buffer.isBuffer(v)) return n === '12' ? v.toString('utf16le') : v.toString('latin1')
      break
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof EseDateTime) return v.toJSON()
  if (Buffer.isBuffer(v)) return v.toString('hex')
  return undefined
}
