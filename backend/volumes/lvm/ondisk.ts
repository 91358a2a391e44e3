/**
 * LVM2 on-disk structures of a physical volume: the label (LABELONE, in sectors 0–3), the PV header
 * (UUID, size, data and metadata areas), each metadata area's header and the current VG metadata
 * text from its circular buffer. Checksums are LVM's (CRC-32 from 0xf597a6cf, no final xor).
 */
import { FsError, type ReadAt } from '../../filesystems/types.ts'
import { readFully } from '../reader.ts'
import { MAX_CONFIG_BYTES } from './text-config.ts'

const SECTOR = 512
const MDA_HEADER_SIZE = 512
const MDA_MAGIC = ' LVM2 x[5A%r0N*>'
const INITIAL_CRC = 0xf597a6cf
const MAX_AREAS = 16

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

export function lvmCrc(buf: Buffer, initial = INITIAL_CRC): number {
  let crc = initial >>> 0
  for (let i = 0; i < buf.length; i++) crc = (CRC_TABLE[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0
  return crc
}

export interface PvLabel {
  /** 32 characters, without the dashes the metadata text uses. */
  uuid: string
  deviceSize: number
  dataAreas: { offset: number; size: number }[]
  metadataAreas: { offset: number; size: number }[]
}

export function formatUuid(u: string): string {
  return [u.slice(0, 6), u.slice(6, 10), u.slice(10, 14), u.slice(14, 18), u.slice(18, 22), u.slice(22, 26), u.slice(26, 32)].join('-')
}

const num = (b: Buffer, o: number): number => {
  const v = b.readBigUInt64LE(o)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError('ECORRUPT', `LVM: value ${v} at offset ${o} is out of range`)
  return Number(v)
}

/** The PV label and header from the first four sectors (`head` holds at least 2 KiB). */
export function parsePvLabel(head: Buffer): PvLabel {
  for (let s = 0; s < 4; s++) {
    const o = s * SECTOR
    if (head.length < o + SECTOR || head.toString('latin1', o, o + 8) !== 'LABELONE') continue
    const sector = head.subarray(o, o + SECTOR)
    if (sector.readBigUInt64LE(8) !== BigInt(s)) continue
    if (sector.toString('latin1', 24, 32) !== 'LVM2 001') throw new FsError('ENOTSUP', `LVM label of type ${JSON.stringify(sector.toString('latin1', 24, 32))}`)
    if (lvmCrc(sector.subarray(20)) !== sector.readUInt32LE(16)) throw new FsError('ECORRUPT', `LVM label in sector ${s}: checksum mismatch`)
    const h = sector.readUInt32LE(20)
    if (h < 32 || h + 32 + 8 > SECTOR) throw new FsError('ECORRUPT', `LVM label: PV header offset ${h} is outside the label sector`)
    const uuid = sector.toString('latin1', h, h + 32)
    if (!/^[A-Za-z0-9!#]{32}$/.test(uuid)) throw new FsError('ECORRUPT', 'LVM label: the PV UUID is not printable')
    const deviceSize = num(sector, h + 32)
    let p = h + 40
    const areas = (): { offset: number; size: number }[] => {
      const out: { offset: number; size: number }[] = []
      for (;;) {
        if (p + 16 > SECTOR) throw new FsError('ECORRUPT', 'LVM label: area list runs past the label sector')
        const offset = num(sector, p)
        const size = num(sector, p + 8)
        p += 16
        if (offset === 0) return out
        if (out.length >= MAX_AREAS) throw new FsError('ECORRUPT', `LVM label: more than ${MAX_AREAS} areas`)
        out.push({ offset, size })
      }
    }
    const dataAreas = areas()
    const metadataAreas = areas()
    return { uuid, deviceSize, dataAreas, metadataAreas }
  }
  throw new FsError('ECORRUPT', 'no LVM label in the first four sectors')
}

/** The VG metadata text an area points at now (raw_locns[0]), or undefined when the area is empty. */
export async function readMetadataText(pv: ReadAt, area: { offset: number; size: number }, maxLength = MAX_CONFIG_BYTES): Promise<string | undefined> {
  if (area.size < MDA_HEADER_SIZE * 2 || area.offset + area.size > pv.size) throw new FsError('ECORRUPT', `LVM metadata area at ${area.offset} (${area.size} bytes) is outside the PV`)
  const h = await readFully(pv, area.offset, MDA_HEADER_SIZE)
  if (h.length < MDA_HEADER_SIZE) throw new FsError('ECORRUPT', 'LVM metadata area header cut short')
  if (h.toString('latin1', 4, 20) !== MDA_MAGIC) throw new FsError('ECORRUPT', `LVM metadata area at ${area.offset}: wrong magic`)
  if (lvmCrc(h.subarray(4)) !== h.readUInt32LE(0)) throw new FsError('ECORRUPT', `LVM metadata area at ${area.offset}: header checksum mismatch`)
  if (h.readUInt32LE(20) !== 1) throw new FsError('ENOTSUP', `LVM metadata area version ${h.readUInt32LE(20)}`)
  if (num(h, 24) !== area.offset) throw new FsError('ECORRUPT', `LVM metadata area at ${area.offset} says it starts at ${num(h, 24)}`)
  const size = Math.min(num(h, 32), area.size)
  const offset = num(h, 40)
  const length = num(h, 48)
  const checksum = h.readUInt32LE(56)
  const ignored = (h.readUInt32LE(60) & 1) !== 0
  if (offset === 0 || length === 0 || ignored) return undefined
  const ring = size - MDA_HEADER_SIZE
  if (length > maxLength) throw new FsError('ELIMIT', `LVM metadata text of ${length} bytes is more than the ${maxLength} left to read`)
  if (offset < MDA_HEADER_SIZE || offset >= size || length > ring) throw new FsError('ECORRUPT', `LVM metadata text at ${offset} (${length} bytes) is outside its area of ${size} bytes`)
  // Circular buffer: the text may wrap from the end of the area to just after its header.
  const firstPart = Math.min(length, size - offset)
  const a = await readFully(pv, area.offset + offset, firstPart)
  const b = firstPart < length ? await readFully(pv, area.offset + MDA_HEADER_SIZE, length - firstPart) : Buffer.alloc(0)
  const text = b.length ? Buffer.concat([a, b]) : a
  if (text.length !== length) throw new FsError('ECORRUPT', 'LVM metadata text cut short')
  if (lvmCrc(text) !== checksum) throw new FsError('ECORRUPT', `LVM metadata text at ${area.offset + offset}: checksum mismatch`)
  const end = text.indexOf(0)
  return text.toString('utf8', 0, end < 0 ? text.length : end)
}
