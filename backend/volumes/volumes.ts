/**
 * Every volume of a restore point's disks, between the disks and their filesystems: whole-disk
 * filesystems, MBR primary/extended/logical and GPT partitions, LVM2 logical volumes (across the
 * VM's disks), and what we cannot open (BitLocker, dynamic disks, thin LVs ...) with a clear
 * `problem`. File-level restore browses these. Guest bytes are parsed bounded; nothing here throws
 * for a hostile table — a disk that cannot be read at all still yields a volume with a problem.
 */
import type { FsType } from '../filesystems/filesystem.ts'
import type { ReadAt } from '../filesystems/types.ts'
import type { DiskLayout, PartitionEntry } from '../model/restore-point.ts'
import { openLvmVolumes, type LvmVolumeInfo } from './lvm/lvm.ts'
import { PARTITION_TABLE_BYTES, readPartitionTable } from './partition-table.ts'
import { readFully, sliceReader } from './reader.ts'
import { classify, CLASSIFY_BYTES, DYNAMIC_DISK_PROBLEM, type VolumeKind } from './signatures.ts'

export type { VolumeKind } from './signatures.ts'

export interface VolumeDisk { key: string; label: string; reader: ReadAt }

export interface Volume {
  /** Stable and URL-safe: "2000" (whole disk), "2000-p1" (partition), "lvm-<vg>-<lv>". */
  id: string
  /** For people: "Hard disk 1, partition 2 (Microsoft basic data)", "LVM vg0/root". */
  name: string
  /** The disk it sits on (an LV: the disk of its first extent). */
  diskKey: string
  diskLabel: string
  /** The partition it is, when it is one. */
  partition?: { index: number; scheme: 'gpt' | 'mbr'; type: string; typeName?: string; name?: string; logical?: boolean }
  /** Bytes from the start of the disk (partitions and whole disks; absent for an LV). */
  start?: number
  size: number
  kind: VolumeKind
  /** The filesystem the probe recognises (kind 'filesystem'). */
  fsType?: FsType
  /** For an LVM logical volume: where it lives. */
  lvm?: LvmVolumeInfo
  reader: ReadAt
  /** Why this volume cannot be browsed, and what to do instead. */
  problem?: string
}

const safeId = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128) || '_'

/** Dynamic disks: MBR type 0x42, GPT LDM metadata/data partitions. */
const LDM_TYPES = new Set(['0x42', '5808c8aa-7e8f-42e0-85d2-e1e90434cfb3', 'af9b60a0-1431-4f62-bc68-3311714a69ad'])
const EXTENDED_TYPES = new Set(['0x05', '0x0f', '0x85'])

async function head(r: ReadAt, n: number): Promise<Buffer> {
  return readFully(r, 0, Math.min(n, r.size))
}

async function describe(reader: ReadAt): Promise<{ kind: VolumeKind; fsType?: FsType; problem?: string }> {
  try {
    return classify(await head(reader, CLASSIFY_BYTES))
  } catch (e) {
    return { kind: 'unknown', problem: `the volume's first sectors could not be read: ${(e as Error).message}` }
  }
}

const MAX_GPT_BYTES = 8 * 1024 * 1024

/** Bytes a GPT's entry array needs from the start of the disk when it reaches past the usual 64 KiB (bounded). */
function gptBytes(first: Buffer): number {
  if (first.length < 1024 || first.toString('latin1', 512, 520) !== 'EFI PART') return 0
  const need = Number(first.readBigUInt64LE(512 + 72)) * 512 + first.readUInt32LE(512 + 80) * first.readUInt32LE(512 + 84)
  return Number.isSafeInteger(need) && need <= MAX_GPT_BYTES ? need : 0
}

async function diskVolumes(disk: VolumeDisk): Promise<Volume[]> {
  const base = { diskKey: disk.key, diskLabel: disk.label }
  const whole = async (problem?: string): Promise<Volume> => {
    const c = await describe(disk.reader)
    const p = problem ?? c.problem
    return { id: safeId(disk.key), name: disk.label, ...base, start: 0, size: disk.reader.size, kind: c.kind, ...(c.fsType ? { fsType: c.fsType } : {}), reader: disk.reader, ...(p ? { problem: p } : {}) }
  }
  let first: Buffer
  try {
    first = await head(disk.reader, Math.max(PARTITION_TABLE_BYTES, CLASSIFY_BYTES))
  } catch (e) {
    return [{ id: safeId(disk.key), name: disk.label, ...base, start: 0, size: disk.reader.size, kind: 'unknown', reader: disk.reader, problem: `the disk's first sectors could not be read: ${(e as Error).message}` }]
  }
  // A filesystem, PV, swap or BitLocker volume on the whole disk: its boot sector may carry 0x55aa
  // and would otherwise be taken for an MBR.
  const c = classify(first)
  if (c.kind !== 'unknown') return [await whole()]

  let table: DiskLayout['partitioning']
  try {
    const need = gptBytes(first)
    if (need > first.length) first = await head(disk.reader, need)
    table = await readPartitionTable(first, disk.reader.size, (o, l) => readFully(disk.reader, o, l))
  } catch (e) {
    table = { scheme: 'unreadable', partitions: [], note: `the partition table could not be read: ${(e as Error).message}` }
  }
  if (table.scheme === 'none') return [await whole()]
  if (table.scheme === 'unreadable') return [await whole(`unreadable partition table: ${table.note ?? 'unknown layout'}`)]
  const scheme = table.scheme
  const out: Volume[] = []
  const seen = new Set<number>()
  for (const p of [...table.partitions].sort((a, b) => a.index - b.index)) {
    if (seen.has(p.index)) continue
    seen.add(p.index)
    out.push(await partitionVolume(disk, scheme, p))
  }
  if (out.length === 0) return [await whole(`${scheme.toUpperCase()} partition table without partitions${table.note ? ` (${table.note})` : ''}`)]
  // What the EBR chain walk stopped on (a loop, a missing signature) belongs to the extended partition.
  const ext = out.find((v) => v.kind === 'extended')
  if (table.note && ext) ext.problem = `${ext.problem}; ${table.note}`
  return out
}

async function partitionVolume(disk: VolumeDisk, scheme: 'gpt' | 'mbr', p: PartitionEntry): Promise<Volume> {
  const reader = sliceReader(disk.reader, p.start, p.length)
  const partition = { index: p.index, scheme, type: p.type, ...(p.typeName ? { typeName: p.typeName } : {}), ...(p.name ? { name: p.name } : {}), ...(p.logical ? { logical: true } : {}) }
  const what = p.name ?? p.typeName ?? p.type
  const v = { id: `${safeId(disk.key)}-p${p.index}`, name: `${disk.label}, partition ${p.index} (${what})`, diskKey: disk.key, diskLabel: disk.label, partition, start: p.start, size: reader.size, reader }
  if (EXTENDED_TYPES.has(p.type) && scheme === 'mbr') return { ...v, kind: 'extended', problem: 'extended partition: a container, its logical partitions are listed on their own' }
  if (LDM_TYPES.has(p.type)) return { ...v, kind: 'dynamic-disk', problem: DYNAMIC_DISK_PROBLEM }
  const c = await describe(reader)
  return { ...v, kind: c.kind, ...(c.fsType ? { fsType: c.fsType } : {}), ...(c.problem ? { problem: c.problem } : {}) }
}

/**
 * Lists the volumes of a restore point's disks (each disk read through its own ReadAt). Never
 * throws for what the disks contain: unreadable or unsupported volumes carry a `problem`.
 */
export async function openVolumes(disks: { key: string; label: string; reader: ReadAt }[]): Promise<Volume[]> {
  const out: Volume[] = []
  for (const d of disks) out.push(...(await diskVolumes(d)))
  const pvs = out.filter((v) => v.kind === 'lvm-pv')
  if (pvs.length > 0) {
    const lvs = await openLvmVolumes(pvs.map((v) => ({ id: v.id, diskKey: v.diskKey, diskLabel: v.diskLabel, reader: v.reader })))
    for (const pv of pvs) {
      const why = lvs.pvProblems.get(pv.id)
      if (why) pv.problem = why
    }
    const taken = new Set(out.map((v) => v.id))
    for (const lv of lvs.volumes) {
      let id = `lvm-${safeId(lv.info.vg)}-${safeId(lv.info.lv)}`
      for (let n = 2; taken.has(id); n++) id = `lvm-${safeId(lv.info.vg)}-${safeId(lv.info.lv)}-${n}`
      taken.add(id)
      const c = lv.problem ? { kind: lv.kind ?? ('unsupported' as VolumeKind), problem: lv.problem } : await describe(lv.reader)
      out.push({
        id, name: `LVM ${lv.info.vg}/${lv.info.lv}`, diskKey: lv.diskKey, diskLabel: lv.diskLabel, size: lv.reader.size,
        kind: c.kind, ...('fsType' in c && c.fsType ? { fsType: c.fsType } : {}), lvm: lv.info, reader: lv.reader, ...(c.problem ? { problem: c.problem } : {}),
      })
    }
  }
  return out
}
