/** The ESE database file header (page 0, shadow copy on page 1): identity, state, logs needed, page size. */
import { FsError } from '../filesystems/types.ts'
import { HEADER_SEED, xor32 } from './checksum.ts'

export const ESE_MAGIC = 0x89abcdef

export type DbState = 'just-created' | 'dirty-shutdown' | 'clean-shutdown' | 'being-converted' | 'force-detach' | 'unknown'

export interface LogPosition { generation: number; sector: number; offset: number }

export interface EseHeader {
  formatVersion: number
  formatRevision: number
  fileType: 'database' | 'streaming-file' | 'unknown'
  pageSize: number
  state: DbState
  stateCode: number
  /** True when the database was not shut down cleanly: its pages may lack updates that sit only in the logs. */
  dirty: boolean
  databaseTime: bigint
  createdAt?: string
  computerName: string
  consistentPosition: LogPosition
  consistentTime?: string
  attachTime?: string
  detachTime?: string
  /** Log generations that must be replayed to make the database consistent (0–0 when none). */
  requiredLogs: { min: number; max: number }
  lastCommittedLog: number
  osVersion: string
  /** Which header copy was used and whether each one's checksum held. */
  checksum: { primary: boolean; shadow: boolean; used: 'primary' | 'shadow' }
}

const STATES: Record<number, DbState> = { 1: 'just-created', 2: 'dirty-shutdown', 3: 'clean-shutdown', 4: 'being-converted', 5: 'force-detach' }

/** Reads an 8-byte LOGTIME (seconds, minutes, hours, day, month 1–12, years since 1900). */
export function logTime(b: Buffer, at: number): string | undefined {
  const [s, mi, h, d, mo, y] = [b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]]
  if (!d || !mo || mo > 12 || d > 31 || h > 24 || mi > 60 || s > 60) return undefined
  const ms = ((b[at + 6] >> 1) & 0x7f) | (((b[at + 7] >> 1) & 7) << 7)
  const t = Date.UTC(1900 + y, mo - 1, d, h, mi, s, ms > 999 ? 0 : ms)
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined
}

function logPos(b: Buffer, at: number): LogPosition {
  return { offset: b.readUInt16LE(at), sector: b.readUInt16LE(at + 2), generation: b.readInt32LE(at + 4) }
}

function headerChecksumOk(b: Buffer, pageSize: number): boolean {
  const stored = b.readUInt32LE(0)
  // Older engines checksum the first 4 KiB of the header page, newer ones the whole page.
  return stored === xor32(b, 4, Math.min(b.length, pageSize), HEADER_SEED) || stored === xor32(b, 4, Math.min(b.length, 4096), HEADER_SEED)
}

function plausible(b: Buffer): boolean {
  if (b.length < 668 || b.readUInt32LE(4) !== ESE_MAGIC) return false
  const ps = b.readUInt32LE(236)
  return ps === 0 || [4096, 8192, 16384, 32768].includes(ps)
}

/** Parses the header from the first two 4 KiB+ blocks of the file, falling back to the shadow copy. */
export function parseHeader(primary: Buffer, readShadow: (pageSize: number) => Buffer | undefined): EseHeader {
  const primaryPlausible = plausible(primary)
  const pageSize = primaryPlausible ? (primary.readUInt32LE(236) || 4096) : 0
  const primaryOk = primaryPlausible && headerChecksumOk(primary, pageSize)
  let shadow: Buffer | undefined
  let shadowOk = false
  const trySizes = pageSize ? [pageSize] : [4096, 8192, 16384, 32768]
  for (const size of trySizes) {
    const s = readShadow(size)
    if (s && plausible(s) && (s.readUInt32LE(236) || 4096) === size) { shadow = s; shadowOk = headerChecksumOk(s, size); break }
  }
  let b: Buffer
  let used: 'primary' | 'shadow'
  if (primaryOk || (primaryPlausible && !shadowOk)) { b = primary; used = 'primary' } else if (shadow) { b = shadow; used = 'shadow' } else {
    throw new FsError('ECORRUPT', 'not an ESE database: neither header copy (page 0, shadow page 1) has the 0x89abcdef signature and a 4/8/16/32 KiB page size')
  }
  const stateCode = b.readUInt32LE(52)
  const state = STATES[stateCode] ?? 'unknown'
  const fileType = b.readUInt32LE(12)
  const name = b.subarray(36, 52)
  const nul = name.indexOf(0)
  return {
    formatVersion: b.readUInt32LE(8),
    formatRevision: b.readUInt32LE(232),
    fileType: fileType === 0 ? 'database' : fileType === 1 ? 'streaming-file' : 'unknown',
    pageSize: b.readUInt32LE(236) || 4096,
    state, stateCode,
    dirty: state !== 'clean-shutdown',
    databaseTime: b.readBigUInt64LE(16),
    createdAt: logTime(b, 28),
    computerName: name.subarray(0, nul < 0 ? 16 : nul).toString('latin1'),
    consistentPosition: logPos(b, 56),
    consistentTime: logTime(b, 64),
    attachTime: logTime(b, 72),
    detachTime: logTime(b, 88),
    requiredLogs: { min: b.readInt32LE(296), max: b.readInt32LE(300) },
    lastCommittedLog: b.readInt32LE(416),
    osVersion: `${b.readUInt32LE(216)}.${b.readUInt32LE(220)}.${b.readUInt32LE(224)} SP${b.readUInt32LE(228)}`,
    checksum: { primary: primaryOk, shadow: shadowOk, used },
  }
}
