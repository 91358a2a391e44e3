/** ESE column types (JET_coltyp) and the typed JavaScript values they decode to. */
import { FsError } from '../filesystems/types.ts'

export const COLTYP = {
  Nil: 0, Bit: 1, UnsignedByte: 2, Short: 3, Long: 4, Currency: 5, IEEESingle: 6, IEEEDouble: 7, DateTime: 8,
  Binary: 9, Text: 10, LongBinary: 11, LongText: 12, SLV: 13, UnsignedLong: 14, LongLong: 15, GUID: 16, UnsignedShort: 17,
} as const

export const COLTYP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(COLTYP).map(([k, v]) => [v, k]))

/** Natural size of the fixed-size types (bytes). */
export const FIXED_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 4, 7: 8, 8: 8, 14: 4, 15: 8, 16: 16, 17: 2 }

/** An OLE automation date (JET_coltypDateTime): days since 1899-12-30 as a double. */
export class EseDateTime {
  readonly oleDate: number
  constructor(oleDate: number) { this.oleDate = oleDate }
  /** UTC ISO-8601, or undefined when the value is outside JavaScript's date range. */
  toISOString(): string | undefined {
    const ms = oleToUnixMs(this.oleDate)
    return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined
  }
  toJSON(): string { return this.toISOString() ?? `ole:${this.oleDate}` }
}

/** OLE dates below 0 count the day backwards but the time of day forwards. */
export function oleToUnixMs(ole: number): number {
  const day = Math.trunc(ole)
  const frac = Math.abs(ole - day)
  return Math.round((day + frac - 25569) * 86400000)
}

/** FILETIME (100 ns since 1601-01-01 UTC), as AD and Exchange store times in LongLong/Currency columns. */
export function filetimeToIso(ft: bigint): string | undefined {
  if (ft <= 0n || ft >= 0x7fffffffffffffffn) return undefined
  const ms = Number(ft / 10000n) - 11644473600000
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined
}

export type EseScalar = null | boolean | number | bigint | string | Buffer | EseDateTime
export type EseValue = EseScalar | EseScalar[]

/** GUID in its registry form (first three groups little-endian). */
export function guidString(b: Buffer): string {
  const h = b.toString('hex')
  const le = (s: string) => s.match(/../g)!.reverse().join('')
  return `${le(h.slice(0, 8))}-${le(h.slice(8, 12))}-${le(h.slice(12, 16))}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

const win1252 = new TextDecoder('windows-1252')

/** Text by codepage: 1200 = UTF-16LE; anything else is read as Windows-1252 (a superset of ASCII 20127). */
export function decodeText(b: Buffer, codepage: number): string {
  if (codepage === 1200) {
    // Fixed UTF-16 columns of odd size end in one single-byte pad character (a space).
    const s = b.subarray(0, b.length & ~1).toString('utf16le')
    return b.length & 1 ? s + String.fromCharCode(b[b.length - 1]) : s
  }
  return win1252.decode(b)
}

export function decodeScalar(type: number, b: Buffer, codepage: number, column: string): EseScalar {
  const need = FIXED_SIZE[type]
  if (need !== undefined && b.length < need) {
    throw new FsError('ECORRUPT', `ESE column ${column}: a ${COLTYP_NAMES[type]} value needs ${need} bytes, found ${b.length}`)
  }
  switch (type) {
    case COLTYP.Bit: return b[0] !== 0
    case COLTYP.UnsignedByte: return b[0]
    case COLTYP.Short: return b.readInt16LE(0)
    case COLTYP.Long: return b.readInt32LE(0)
    case COLTYP.Currency: return b.readBigInt64LE(0)
    case COLTYP.IEEESingle: return b.readFloatLE(0)
    case COLTYP.IEEEDouble: return b.readDoubleLE(0)
    case COLTYP.DateTime: return new EseDateTime(b.readDoubleLE(0))
    case COLTYP.UnsignedLong: return b.readUInt32LE(0)
    case COLTYP.LongLong: return b.readBigInt64LE(0)
    case COLTYP.GUID: return guidString(b.subarray(0, 16))
    case COLTYP.UnsignedShort: return b.readUInt16LE(0)
    case COLTYP.Text: case COLTYP.LongText: return decodeText(b, codepage)
    default: return Buffer.from(b)
  }
}
