/**
 * LVM2 logical volumes from the PVs' on-disk metadata, across every disk of a VM: the newest
 * metadata of each VG (highest seqno over all its PVs' metadata areas), its visible LVs, and a
 * reader per LV for linear and striped segments (what dm-linear/dm-stripe do). Thin, mirror, RAID,
 * cache and COW snapshots are recognised and reported as not supported, with what to do instead.
 */
import { FsError, type ReadAt } from '../../filesystems/types.ts'
import { readFully, refusingReader } from '../reader.ts'
import type { VolumeKind } from '../signatures.ts'
import { formatUuid, parsePvLabel, readMetadataText, type PvLabel } from './ondisk.ts'
import { MAX_CONFIG_BYTES, parseConfig } from './text-config.ts'
import { interpretVg, type Vg, type VgLv, type VgSegment } from './vg.ts'

export interface LvmPvInput { id: string; diskKey: string; diskLabel: string; reader: ReadAt }

export interface LvmVolumeInfo {
  vg: string
  lv: string
  vgUuid: string
  lvUuid: string
  /** "linear", "striped", "thin", "thin-pool", "raid1", "mirror" ... (the segments' types, distinct, joined by "+"). */
  layout: string
  segments: { startExtent: number; extentCount: number; type: string; stripes?: { pv: string; startExtent: number }[]; stripeSize?: number }[]
  extentSize: number
  /** Volume ids of the PVs it uses (those present in the restore point). */
  pvVolumes: string[]
}

export interface LvmVolume { info: LvmVolumeInfo; diskKey: string; diskLabel: string; reader: ReadAt; kind?: VolumeKind; problem?: string }

interface Device { input: LvmPvInput; label: PvLabel }

const MAX_METADATA_TOTAL = 64 * 1024 * 1024

const dashless = (u: string) => u.replace(/-/g, '')

function segmentProblem(type: string): string {
  if (type === 'thin-pool') return 'LVM thin pool: not supported yet; its thin volumes are listed on their own'
  if (type === 'thin') return 'LVM thin volume: not supported yet; restore the disk or the VM'
  if (type === 'mirror' || type.startsWith('raid')) return `LVM ${type} volume (mirror/RAID): not supported yet; restore the disk or the VM`
  if (type === 'cache' || type === 'cache-pool' || type === 'writecache') return `LVM ${type} volume: not supported yet; restore the disk or the VM`
  if (type === 'vdo' || type === 'vdo-pool') return 'LVM VDO volume (deduplicated/compressed): not supported yet; restore the disk or the VM'
  return `LVM segment type "${type.slice(0, 40)}": not supported; restore the disk or the VM`
}

/** Reads LV bytes through its segments' stripes; everything was checked against the PVs at open. */
function lvReader(vg: Vg, segments: VgSegment[], devices: Map<string, { reader: ReadAt; peStart: number; name: string }>): ReadAt {
  const ext = vg.extentBytes
  const last = segments[segments.length - 1]!
  const size = (last.startExtent + last.extentCount) * ext
  const find = (extent: number): VgSegment => {
    let lo = 0, hi = segments.length - 1
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (segments[mid]!.startExtent <= extent) lo = mid; else hi = mid - 1 }
    return segments[lo]!
  }
  return {
    size,
    async readAt(offset: number, length: number) {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new FsError('ERANGE', `read of ${length} bytes at ${offset} is outside the logical volume`)
      const n = Math.max(0, Math.min(length, size - offset))
      const out = Buffer.alloc(n)
      let pos = 0
      while (pos < n) {
        const o = offset + pos
        const seg = find(Math.floor(o / ext))
        const segOff = o - seg.startExtent * ext
        const segLeft = seg.extentCount * ext - segOff
        const stripes = seg.stripes!
        let stripe = stripes[0]!, pvOff: number, piece: number
        if (stripes.length === 1) {
          pvOff = stripe.startExtent * ext + segOff
          piece = Math.min(n - pos, segLeft)
        } else {
          const chunk = seg.stripeSize!
          const ci = Math.floor(segOff / chunk)
          const within = segOff - ci * chunk
          stripe = stripes[ci % stripes.length]!
          pvOff = stripe.startExtent * ext + Math.floor(ci / stripes.length) * chunk + within
          piece = Math.min(n - pos, chunk - within, segLeft)
        }
        const dev = devices.get(stripe.pv)!
        const b = await readFully(dev.reader, dev.peStart + pvOff, piece)
        if (b.length < piece) throw new FsError('ERANGE', `LVM: physical volume ${dev.name} ends before extent ${Math.floor(pvOff / ext)}`)
        b.copy(out, pos)
        pos += piece
      }
      return out
    },
  }
}

/** What stops an LV from being read as linear/striped, or undefined when it can be. */
function checkLv(vg: Vg, lv: VgLv, cowOf: Map<string, string>, devices: Map<string, { reader: ReadAt; peStart: number; name: string }>): { kind: VolumeKind; problem: string } | undefined {
  if (lv.segments.length === 0) return { kind: 'unknown', problem: 'LVM logical volume without segments' }
  const origin = cowOf.get(lv.name)
  if (origin) return { kind: 'unsupported', problem: `LVM snapshot of ${origin} (copy-on-write): not supported yet; browse ${origin} or restore the disk` }
  const other = lv.segments.find((s) => s.type !== 'striped')
  if (other) return { kind: 'unsupported', problem: segmentProblem(other.type) }
  let next = 0
  for (const s of lv.segments) {
    if (s.startExtent !== next) return { kind: 'unknown', problem: `LVM metadata: segments of ${lv.name} leave a gap or overlap at extent ${next}` }
    next = s.startExtent + s.extentCount
    if (!Number.isSafeInteger(next * vg.extentBytes)) return { kind: 'unknown', problem: `LVM metadata: ${lv.name} is too large` }
    const per = s.extentCount / s.stripes!.length
    if (!Number.isInteger(per)) return { kind: 'unknown', problem: `LVM metadata: ${s.extentCount} extents do not split over ${s.stripes!.length} stripes` }
    if (s.stripeSize !== undefined && (per * vg.extentBytes) % s.stripeSize !== 0) return { kind: 'unknown', problem: `LVM metadata: stripes of ${lv.name} are not a whole number of chunks` }
    for (const st of s.stripes!) {
      const pv = vg.pvs.get(st.pv)
      if (!pv) return { kind: 'unknown', problem: `LVM metadata: ${lv.name} uses ${st.pv}, which the volume group does not list` }
      const dev = devices.get(st.pv)
      if (!dev) return { kind: 'unknown', problem: `LVM physical volume ${pv.device ?? st.pv} (${pv.uuid}) is not in this restore point (the disk holding it was not backed up, or its LVM label is damaged); restore the disks or the VM` }
      if (st.startExtent + per > pv.peCount) return { kind: 'unknown', problem: `LVM metadata: ${lv.name} uses extents past the end of ${st.pv}` }
      if (dev.peStart + (st.startExtent + per) * vg.extentBytes > dev.reader.size) return { kind: 'unknown', problem: `LVM physical volume ${dev.name} is shorter than its extents (a truncated disk?)` }
    }
  }
  return undefined
}

export async function openLvmVolumes(pvs: LvmPvInput[]): Promise<{ volumes: LvmVolume[]; pvProblems: Map<string, string> }> {
  const pvProblems = new Map<string, string>()
  const byUuid = new Map<string, Device>()
  const vgs = new Map<string, Vg>()
  const mdaErrors = new Map<string, string>()
  // Metadata text read over all PVs: a real VG's is a few KiB, hostile tables could name many PVs.
  let budget = MAX_METADATA_TOTAL
  for (const input of pvs) {
    let label: PvLabel
    try {
      label = parsePvLabel(await readFully(input.reader, 0, 2048))
    } catch (e) {
      pvProblems.set(input.id, `LVM physical volume whose label cannot be read: ${(e as Error).message}`)
      continue
    }
    if (!byUuid.has(label.uuid)) byUuid.set(label.uuid, { input, label })
    // LVM keeps at most two metadata areas per PV (start and end of the device)
    for (const area of label.metadataAreas.slice(0, 2)) {
      try {
        const text = await readMetadataText(input.reader, area, Math.min(MAX_CONFIG_BYTES, budget))
        if (text === undefined) continue
        budget -= text.length
        const vg = interpretVg(parseConfig(text))
        const had = vgs.get(vg.uuid)
        if (!had || had.seqno < vg.seqno) vgs.set(vg.uuid, vg)
      } catch (e) {
        mdaErrors.set(input.id, (e as Error).message)
      }
    }
  }
  const volumes: LvmVolume[] = []
  const inVg = new Set<string>()
  for (const vg of vgs.values()) {
    const devices = new Map<string, { reader: ReadAt; peStart: number; name: string; input: LvmPvInput }>()
    for (const pv of vg.pvs.values()) {
      const dev = byUuid.get(dashless(pv.uuid))
      if (!dev) continue
      inVg.add(dev.input.id)
      devices.set(pv.key, { reader: dev.input.reader, peStart: pv.peStart, name: `${pv.key} (${dev.input.id})`, input: dev.input })
    }
    const cowOf = new Map<string, string>()
    for (const lv of vg.lvs) for (const s of lv.segments) if (s.type === 'snapshot' && s.refs.cow_store && s.refs.origin) cowOf.set(s.refs.cow_store, s.refs.origin)
    const firstDev = [...devices.values()][0]
    for (const lv of vg.lvs) {
      // A COW store is written without VISIBLE: LVM shows it as the snapshot (its hidden snapshotN LV is the link).
      if (!lv.visible && !cowOf.has(lv.name)) continue
      const segments = [...lv.segments].sort((a, b) => a.startExtent - b.startExtent)
      const used = [...new Set(segments.flatMap((s) => (s.stripes ?? []).map((st) => st.pv)))]
      const usedDevs = used.map((k) => devices.get(k)).filter((d) => d !== undefined)
      const at = usedDevs[0] ?? firstDev
      const layouts = [...new Set(segments.map((s) => (s.type === 'striped' ? (s.stripes!.length > 1 ? 'striped' : 'linear') : s.type)))]
      const info: LvmVolumeInfo = {
        vg: vg.name, lv: lv.name, vgUuid: vg.uuid, lvUuid: lv.uuid, layout: layouts.join('+') || 'empty', extentSize: vg.extentBytes,
        segments: segments.map((s) => ({ startExtent: s.startExtent, extentCount: s.extentCount, type: s.type, ...(s.stripes ? { stripes: s.stripes } : {}), ...(s.stripeSize ? { stripeSize: s.stripeSize } : {}) })),
        pvVolumes: [...new Set(usedDevs.map((d) => d.input.id))],
      }
      const where = { diskKey: at?.input.diskKey ?? '', diskLabel: at?.input.diskLabel ?? '' }
      const lvSize = segments.reduce((t, s) => t + s.extentCount, 0) * vg.extentBytes
      const why = checkLv(vg, { ...lv, segments }, cowOf, devices)
      if (why) volumes.push({ info, ...where, reader: refusingReader(Number.isSafeInteger(lvSize) ? lvSize : 0, why.problem), kind: why.kind, problem: why.problem })
      else volumes.push({ info, ...where, reader: lvReader(vg, segments, devices) })
    }
    for (const d of devices.values()) pvProblems.set(d.input.id, `LVM physical volume of volume group "${vg.name}": its logical volumes are listed on their own`)
  }
  for (const input of pvs) {
    if (pvProblems.has(input.id) || inVg.has(input.id)) continue
    const err = mdaErrors.get(input.id)
    pvProblems.set(input.id, err ? `LVM physical volume whose volume group metadata cannot be read: ${err}` : 'LVM physical volume that no volume group we found uses (its metadata is on a disk not in this restore point, or it is unused)')
  }
  return { volumes, pvProblems }
}

export { formatUuid }
