/** LVM2 logical volumes from the PVs' on-disk metadata (linear and striped segments). */
import type { ReadAt } from '../../filesystems/types.ts'
import type { VolumeKind } from '../signatures.ts'

export interface LvmPvInput { id: string; diskKey: string; diskLabel: string; reader: ReadAt }

export interface LvmVolumeInfo {
  vg: string
  lv: string
  vgUuid: string
  lvUuid: string
  /** "linear", "striped", "thin", "thin-pool", "raid1", "mirror" ... (the segments' types, distinct). */
  layout: string
  segments: { startExtent: number; extentCount: number; type: string; stripes?: { pv: string; startExtent: number }[]; stripeSize?: number }[]
  /** Volume ids of the PVs it uses. */
  pvVolumes: string[]
}

export interface LvmVolume { info: LvmVolumeInfo; diskKey: string; diskLabel: string; reader: ReadAt; kind?: VolumeKind; problem?: string }

export async function openLvmVolumes(pvs: LvmPvInput[]): Promise<{ volumes: LvmVolume[]; pvProblems: Map<string, string> }> {
  return { volumes: [], pvProblems: new Map(pvs.map((p) => [p.id, 'LVM physical volume: logical volumes are not read yet'])) }
}
