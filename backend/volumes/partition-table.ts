// Partition tables from a disk's first sectors: GPT (protective MBR + header at LBA 1 + entries) or
// MBR with extended/logical partitions. Pure and bounded: guest-controlled bytes give a clear
// "unreadable" answer, never an exception or a loop. Item restore starts here; backups record it in
// the restore point's disk layout.
import type { DiskLayout, PartitionEntry } from '../model/restore-point.ts';

const SECTOR = 512;
/** Bytes a caller should read from the start of the disk for readPartitionTable (GPT entries included). */
export const PARTITION_TABLE_BYTES = 64 * 1024;
const MAX_LOGICAL = 128;

const GPT_TYPES: Record<string, string> = {
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b': 'EFI system',
  'e3c9e316-0b5c-4db8-817d-f92df00215ae': 'Microsoft reserved',
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7': 'Microsoft basic data',
  'de94bba4-06d1-4d40-a16a-bfd50179d6ac': 'Windows recovery',
  '5808c8aa-7e8f-42e0-85d2-e1e90434cfb3': 'Windows LDM metadata (dynamic disk)',
  'af9b60a0-1431-4f62-bc68-3311714a69ad': 'Windows LDM data (dynamic disk)',
  '0fc63daf-8483-4772-8e79-3d69d8477de4': 'Linux filesystem',
  'e6d6d379-f507-44c2-a23c-238f2a3df928': 'Linux LVM',
  '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f': 'Linux swap',
  '21686148-6449-6e6f-744e-656564454649': 'BIOS boot',
  'a19d880f-05fc-4d3b-a006-743f0f84911e': 'Linux RAID',
};
const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12', 0x04: 'FAT16 (<32 MiB)', 0x06: 'FAT16', 0x07: 'NTFS/exFAT', 0x0b: 'FAT32', 0x0c: 'FAT32 (LBA)', 0x0e: 'FAT16 (LBA)',
  0x05: 'Extended', 0x0f: 'Extended (LBA)', 0x82: 'Linux swap', 0x83: 'Linux', 0x85: 'Linux extended', 0x8e: 'Linux LVM',
  0xa5: 'FreeBSD', 0xee: 'GPT protective', 0x42: 'Windows dynamic disk', 0xfd: 'Linux RAID', 0x27: 'Windows recovery',
};

function guid(b: Buffer, o: number): string {
  const h = (s: number, e: number) => b.subarray(o + s, o + e).toString('hex');
  const le = (s: number, n: number) => Buffer.from(b.subarray(o + s, o + s + n)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${h(8, 10)}-${h(10, 16)}`;
}

/**
 * Reads the partition table from the disk's first bytes (PARTITION_TABLE_BYTES is enough for a
 * standard GPT); `readAt` fetches more only for MBR logical partitions (EBR chains).
 */
export async function readPartitionTable(head: Buffer, capacity: number, readAt?: (offset: number, length: number) => Promise<Buffer>): Promise<DiskLayout['partitioning']> {
  if (head.length < SECTOR || head.readUInt16LE(510) !== 0xaa55) return { scheme: 'none', partitions: [], note: 'no partition table (a whole-disk file system, or an empty disk)' };
  const primaries = [0, 1, 2, 3].map((i) => head.subarray(446 + 16 * i, 462 + 16 * i));
  if (primaries.some((p) => p[4] === 0xee)) return gpt(head, capacity);
  return mbr(primaries, capacity, readAt);
}

function gpt(head: Buffer, capacity: number): DiskLayout['partitioning'] {
  const h = head.subarray(SECTOR, 2 * SECTOR);
  if (h.length < 92 || h.toString('latin1', 0, 8) !== 'EFI PART') return { scheme: 'unreadable', partitions: [], note: 'protective MBR without a GPT header at LBA 1' };
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const size = h.readUInt32LE(84);
  if (size < 128 || size > 4096 || count > 1024) return { scheme: 'unreadable', partitions: [], note: `GPT header with ${count} entries of ${size} bytes` };
  const partitions: PartitionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = entriesLba * SECTOR + i * size;
    if (o + size > head.length) return { scheme: 'gpt', partitions, diskGuid: guid(h, 56), note: 'partition entries beyond the first 64 KiB were not read' };
    const type = guid(head, o);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const first = Number(head.readBigUInt64LE(o + 32));
    const last = Number(head.readBigUInt64LE(o + 40));
    if (last < first || first * SECTOR >= capacity) continue;
    const name = head.toString('utf16le', o + 56, o + 128).replace(/\0.*$/s, '');
    partitions.push({
      index: i + 1, start: first * SECTOR, length: (Math.min(last + 1, Math.ceil(capacity / SECTOR)) - first) * SECTOR, type,
      ...(GPT_TYPES[type] ? { typeName: GPT_TYPES[type] } : {}), ...(name ? { name } : {}),
    });
  }
  return { scheme: 'gpt', partitions, diskGuid: guid(h, 56) };
}

async function mbr(primaries: Buffer[], capacity: number, readAt?: (offset: number, length: number) => Promise<Buffer>): Promise<DiskLayout['partitioning']> {
  const partitions: PartitionEntry[] = [];
  const entry = (e: Buffer, base: number, index: number, logical: boolean): PartitionEntry | undefined => {
    const type = e[4]!;
    const start = (base + e.readUInt32LE(8)) * SECTOR;
    const length = e.readUInt32LE(12) * SECTOR;
    if (type === 0 || length === 0 || start >= capacity) return undefined;
    const hex = `0x${type.toString(16).padStart(2, '0')}`;
    return { index, start, length: Math.min(length, capacity - start), type: hex, ...(MBR_TYPES[type] ? { typeName: MBR_TYPES[type] } : {}), ...(logical ? { logical: true } : {}) };
  };
  let note: string | undefined;
  for (const [i, e] of primaries.entries()) {
    const p = entry(e, 0, i + 1, false);
    if (!p) continue;
    partitions.push(p);
    if (![0x05, 0x0f, 0x85].includes(e[4]!)) continue;
    if (!readAt) { note = 'logical partitions were not read'; continue; }
    // EBR chain: each EBR holds one logical partition (relative to the EBR) and a link (relative to the extended partition).
    const extStart = p.start / SECTOR;
    let ebr = extStart;
    const seen = new Set<number>();
    for (let n = 5; n < 5 + MAX_LOGICAL; n++) {
      if (seen.has(ebr) || ebr * SECTOR >= capacity) { note = 'the chain of logical partitions loops or leaves the disk'; break; }
      seen.add(ebr);
      const b = await readAt(ebr * SECTOR, SECTOR);
      if (b.length < SECTOR || b.readUInt16LE(510) !== 0xaa55) { note = `no boot signature in the logical partition table at sector ${ebr}`; break; }
      const l = entry(b.subarray(446, 462), ebr, n, true);
      if (l) partitions.push(l);
      const link = b.subarray(462, 478);
      if (link[4] === 0 || link.readUInt32LE(8) === 0) break;
      ebr = extStart + link.readUInt32LE(8);
    }
  }
  return { scheme: 'mbr', partitions, ...(note ? { note } : {}) };
}
