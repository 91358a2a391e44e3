/** A volume group from its parsed metadata text: PVs, LVs and their segments, checked and bounded. */
import { FsError } from '../../filesystems/types.ts'
import { isSection, type ConfigSection, type ConfigValue } from './text-config.ts'

const MAX_ITEMS = 10_000

export interface VgPv { key: string; uuid: string; peStart: number; peCount: number; device?: string }
export interface VgSegment {
  startExtent: number
  extentCount: number
  type: string
  stripes?: { pv: string; startExtent: number }[]
  /** Bytes (striped segments with more than one stripe). */
  stripeSize?: number
  /** Other LVs a segment refers to (thin pool, snapshot origin/COW ...), by name. */
  refs: Record<string, string>
}
export interface VgLv { name: string; uuid: string; visible: boolean; segments: VgSegment[] }
export interface Vg { name: string; uuid: string; seqno: number; extentBytes: number; pvs: Map<string, VgPv>; lvs: VgLv[] }

const bad = (what: string): never => { throw new FsError('ECORRUPT', `LVM metadata: ${what}`) }

function int(s: ConfigSection, key: string, where: string, min = 0): number {
  const v = s[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return bad(`${where}: ${key} is missing or not a whole number ≥ ${min}`)
  return v
}
function text(s: ConfigSection, key: string, where: string): string {
  const v = s[key]
  if (typeof v !== 'string') return bad(`${where}: ${key} is missing or not a string`)
  return v
}
const strings = (v: ConfigValue | undefined): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/** The VG section of a metadata text: the top-level section holding physical_volumes. */
export function interpretVg(root: ConfigSection): Vg {
  const entries = Object.entries(root).filter(([, v]) => isSection(v) && isSection(v.physical_volumes))
  if (entries.length !== 1) return bad(`expected one volume group, found ${entries.length}`)
  const [name, vgv] = entries[0]!
  const vg = vgv as ConfigSection
  const uuid = text(vg, 'id', `VG ${name}`)
  const seqno = int(vg, 'seqno', `VG ${name}`)
  const extentSectors = int(vg, 'extent_size', `VG ${name}`, 1)
  if (extentSectors > 2 ** 32) bad(`VG ${name}: extent size of ${extentSectors} sectors`)
  const extentBytes = extentSectors * 512
  const pvs = new Map<string, VgPv>()
  for (const [key, p] of Object.entries(vg.physical_volumes as ConfigSection)) {
    if (!isSection(p)) continue
    if (pvs.size >= MAX_ITEMS) bad(`VG ${name}: too many PVs`)
    const where = `PV ${key}`
    const device = typeof p.device === 'string' ? p.device : undefined
    pvs.set(key, { key, uuid: text(p, 'id', where), peStart: int(p, 'pe_start', where) * 512, peCount: int(p, 'pe_count', where), ...(device ? { device } : {}) })
  }
  const lvs: VgLv[] = []
  const lvSection = vg.logical_volumes
  if (isSection(lvSection)) {
    for (const [lvName, l] of Object.entries(lvSection)) {
      if (!isSection(l)) continue
      if (lvs.length >= MAX_ITEMS) bad(`VG ${name}: too many LVs`)
      const where = `LV ${lvName}`
      const count = int(l, 'segment_count', where)
      if (count > MAX_ITEMS) bad(`${where}: ${count} segments`)
      const segments: VgSegment[] = []
      for (let n = 1; n <= count; n++) {
        const s = l[`segment${n}`]
        if (!isSection(s)) return bad(`${where}: segment${n} is missing`)
        const sw = `${where} segment${n}`
        const type = text(s, 'type', sw)
        const seg: VgSegment = { startExtent: int(s, 'start_extent', sw), extentCount: int(s, 'extent_count', sw, 1), type, refs: {} }
        for (const [k, v] of Object.entries(s)) if (typeof v === 'string' && k !== 'type') seg.refs[k] = v
        if (type === 'striped') {
          const stripeCount = int(s, 'stripe_count', sw, 1)
          const list = s.stripes
          if (!Array.isArray(list) || list.length !== stripeCount * 2) return bad(`${sw}: ${stripeCount} stripes announced, the list does not match`)
          seg.stripes = []
          for (let k = 0; k < stripeCount; k++) {
            const pv = list[2 * k], start = list[2 * k + 1]
            if (typeof pv !== 'string' || typeof start !== 'number' || !Number.isSafeInteger(start) || start < 0) return bad(`${sw}: stripe ${k + 1} is not a PV name and an extent`)
            seg.stripes.push({ pv, startExtent: start })
          }
          if (stripeCount > 1) {
            const sz = int(s, 'stripe_size', sw, 1)
            if (sz * 512 > extentBytes * seg.extentCount) bad(`${sw}: stripe size larger than the segment`)
            seg.stripeSize = sz * 512
          }
        }
        segments.push(seg)
      }
      lvs.push({ name: lvName, uuid: text(l, 'id', where), visible: strings(l.status).includes('VISIBLE'), segments })
    }
  }
  return { name, uuid, seqno, extentBytes, pvs, lvs }
}
