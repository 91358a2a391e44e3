/**
 * What a volume holds, from its own first bytes (never from the partition type, which guests get
 * wrong): a filesystem the probes know, or a container/encryption/swap we name with what to do.
 */
import { detectFileSystem, type FsType } from '../filesystems/filesystem.ts'

export type VolumeKind =
  | 'filesystem' | 'lvm-pv' | 'extended' | 'dynamic-disk' | 'bitlocker' | 'luks' | 'md-raid' | 'swap' | 'unsupported' | 'unknown'

export interface Classification { kind: VolumeKind; fsType?: FsType; problem?: string }

export const BITLOCKER_PROBLEM = 'BitLocker-encrypted volume: unlock it in the guest, or restore the whole VM'
export const DYNAMIC_DISK_PROBLEM = 'Windows dynamic disk (LDM): not supported yet; restore the disk or the VM'

// BitLocker identifier in the volume header (Windows 7+ at 0xa0; BitLocker To Go, FAT-looking, at 0x1a8).
const BITLOCKER_GUID = Buffer.from('3bd66749292ed84a8399f6a339e3d001', 'hex')

const ZEROES = Buffer.alloc(64 * 1024 + 4096)

const ascii = (b: Buffer, o: number, n: number) => (b.length >= o + n ? b.toString('latin1', o, o + n) : '')

export function isBitLocker(h: Buffer): boolean {
  if (ascii(h, 3, 8) === '-FVE-FS-') return true
  return (h.length >= 0xb0 && h.subarray(0xa0, 0xb0).equals(BITLOCKER_GUID)) || (h.length >= 0x1b8 && h.subarray(0x1a8, 0x1b8).equals(BITLOCKER_GUID))
}

/** LVM2 PV label: "LABELONE" in one of the first four sectors, naming itself, with type "LVM2 001". */
export function lvmLabelSector(h: Buffer): number | undefined {
  for (let s = 0; s < 4; s++) {
    const o = s * 512
    if (ascii(h, o, 8) === 'LABELONE' && ascii(h, o + 24, 8) === 'LVM2 001' && h.readBigUInt64LE(o + 8) === BigInt(s)) return s
  }
  return undefined
}

function isSwap(h: Buffer): boolean {
  for (const page of [4096, 8192, 16384, 65536]) {
    const sig = ascii(h, page - 10, 10)
    if (sig === 'SWAPSPACE2' || sig === 'SWAP-SPACE') return true
  }
  return false
}

/** Linux md superblock 1.1 (offset 0) or 1.2 (offset 4 KiB). */
function isMdRaid(h: Buffer): boolean {
  return [0, 4096].some((o) => h.length >= o + 4 && h.readUInt32LE(o) === 0xa92b4efc)
}

/** Bytes classify wants: the filesystem probes' 64 KiB and btrfs's superblock just after them. */
export const CLASSIFY_BYTES = ZEROES.length

/** `head` is the volume's first CLASSIFY_BYTES (or fewer for a small volume). */
export function classify(head: Buffer): Classification {
  if (isBitLocker(head)) return { kind: 'bitlocker', problem: BITLOCKER_PROBLEM }
  if (lvmLabelSector(head) !== undefined) return { kind: 'lvm-pv' }
  if (ascii(head, 0, 6) === 'LUKS\xba\xbe') return { kind: 'luks', problem: 'LUKS-encrypted volume: not supported; restore the disk or the VM' }
  const fsType = detectFileSystem(head)
  if (fsType) return { kind: 'filesystem', fsType }
  if (isSwap(head)) return { kind: 'swap', problem: 'swap space: holds no files' }
  if (isMdRaid(head)) return { kind: 'md-raid', problem: 'Linux software RAID (md) member: not supported yet; restore the disk or the VM' }
  const known = ascii(head, 0, 4) === 'XFSB' ? 'XFS' : ascii(head, 0x10040, 8) === '_BHRfS_M' ? 'btrfs' : ascii(head, 3, 4) === 'ReFS' ? 'ReFS' : undefined
  if (known) return { kind: 'unsupported', problem: `${known} filesystem: no reader for it yet; restore the disk or the VM` }
  if (head.length > 0 && head.equals(ZEROES.subarray(0, head.length))) return { kind: 'unknown', problem: 'empty: the first sectors are all zero (an unformatted or wiped volume)' }
  return { kind: 'unknown', problem: 'no filesystem we recognise' }
}
