/**
 * One face for every filesystem reader: what file-level restore, the catalog and the app-item
 * readers use. `openFileSystem` recognises a filesystem by its own signature (never by the
 * partition type, which guests get wrong) and wraps the reader.
 */
import { ExfatVolume } from './exfat/volume.ts'
import { Ext4Volume } from './ext4/volume.ts'
import { FatVolume } from './fat/volume.ts'
import { NtfsVolume, formatRef } from './ntfs/volume.ts'
import { XfsVolume } from './xfs/volume.ts'
import { FsError, type FsEntry, type ReadAt } from './types.ts'

export type FsType = 'ntfs' | 'ext' | 'fat' | 'exfat' | 'xfs'

/** What the filesystem says about itself in the restore point: clean, or what a mount would have to repair. */
export interface FsConsistency {
  clean: boolean
  /** One line for an admin, e.g. "NTFS: dirty flag set, $LogFile has unreplayed transactions". */
  summary: string
  /** The reader's own state record (flags, label, sizes). */
  details: Record<string, unknown>
}

export interface FileSystem {
  readonly type: FsType
  root(): Promise<FsEntry>
  stat(ref: string): Promise<FsEntry>
  list(dirRef: string): Promise<FsEntry[]>
  lookup(path: string): Promise<FsEntry>
  /** Bytes of a file (or of a named stream where the filesystem has them); fewer at the end of the file. */
  read(ref: string, offset: number, length: number, stream?: string): Promise<Buffer>
  /** Optional: read() into the caller's buffer (reused across reads); the bytes written, fewer only at the end of the file. */
  readInto?(ref: string, offset: number, out: Uint8Array, stream?: string): Promise<number>
  /** Depth-first walk, directories before their children; paths without a leading slash. */
  walk(dirRef?: string): AsyncGenerator<{ path: string; entry: FsEntry }>
  /** Optional fast path: the entries walk() yields from the root, in any order (NTFS: one sequential $MFT read). */
  scan?(): AsyncGenerator<{ path: string; entry: FsEntry }>
  /** Optional, what a catalog keeps of scan()'s entries, in columns (NTFS: one linear pass over $MFT); at most `limit`. */
  scanTable?(limit: number): Promise<FsTable>
  /**
   * Optional, scanTable() fed by the caller: it reads `extents` of the volume in order (whole units,
   * e.g. NTFS $MFT records) and hands them over; undefined when the metadata is not plainly laid out
   * (scanTable() reads it itself then).
   */
  tableFeed?(): TableFeed | undefined
  label(): Promise<string>
  consistency(): Promise<FsConsistency>
}

/** Entries in columns: entry i is paths[i] (as walk() gives it), types[i], sizes[i], … */
export interface FsTable {
  count: number
  paths: string[]
  /** 0 file, 1 dir, 2 symlink, 3 other. */
  types: Uint8Array
  sizes: Float64Array
  /** Modification time, ms since 1970; NaN when the entry has none. */
  mtimes: Float64Array
  inodes: Float64Array
  /** Stopped at the limit. */
  truncated: boolean
  /** The reference read() and stat() take for entry i. */
  ref(i: number): string
}

/** See FileSystem.tableFeed(). Units are fed in order from unit 0; a fed buffer is changed in place. */
export interface TableFeed {
  /** Bytes per unit. */
  unit: number
  units: number
  /** Volume byte ranges holding units 0.. in order. */
  extents: { offset: number; length: number }[]
  feed(buf: Buffer, firstUnit: number, n: number): Promise<void>
  finish(limit: number): FsTable
}

/** A reader for one filesystem type: a signature test on the first 64 KiB, then open. */
export interface FsProbe {
  type: FsType
  matches(head: Buffer): boolean
  open(reader: ReadAt): Promise<FileSystem>
}

export const PROBE_BYTES = 64 * 1024

const probes: FsProbe[] = []

/** Readers register here (the built-in ones below; XFS from its own folder). */
export function registerFileSystem(p: FsProbe): void {
  if (!probes.some((x) => x.type === p.type)) probes.push(p)
}

/** The filesystem on a volume, or undefined when no reader recognises it. Damaged ones throw FsError. */
export async function openFileSystem(reader: ReadAt): Promise<FileSystem | undefined> {
  const head = await reader.readAt(0, Math.min(PROBE_BYTES, reader.size))
  const p = probes.find((x) => x.matches(head))
  return p ? p.open(reader) : undefined
}

/** The type a volume's first bytes announce, without opening it. */
export function detectFileSystem(head: Buffer): FsType | undefined {
  return probes.find((x) => x.matches(head))?.type
}

const ascii = (b: Buffer, o: number, n: number) => (b.length >= o + n ? b.toString('latin1', o, o + n) : '')

/** The volume is read-only: what its state says is read once (label and consistency both ask). */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined
  return () => (p ??= f())
}

function describe(name: string, clean: boolean, problems: [boolean, string][]): string {
  const found = problems.filter(([on]) => on).map(([, what]) => what)
  return clean && found.length === 0 ? `${name}: clean` : `${name}: ${found.join(', ') || 'not clean'}`
}

registerFileSystem({
  type: 'ntfs',
  matches: (h) => ascii(h, 3, 8) === 'NTFS    ',
  async open(r) {
    const v = await NtfsVolume.open(r)
    const state = once(() => v.state())
    return {
      type: 'ntfs',
      root: () => v.root(),
      stat: (ref) => v.stat(ref),
      list: (ref) => v.list(ref),
      lookup: (p) => v.lookup(p),
      read: (ref, o, n, stream) => v.read(ref, stream, o, n),
      readInto: (ref, o, out, stream) => v.readInto(ref, stream, o, out),
      walk: (ref) => v.walk(ref),
      scan: () => v.scan(),
      async scanTable(limit) {
        const t = await v.scanTable(limit)
        return { ...t, ref: (i: number) => formatRef(t.inodes[i]!, t.seqs[i]!) }
      },
      tableFeed() {
        const layout = v.mftLayout()
        if (!layout) return undefined
        const b = v.tableBuilder()
        return {
          unit: layout.recordSize, units: layout.records, extents: layout.extents, feed: (buf, first, n) => b.feed(buf, first, n),
          finish(limit) { const t = b.finish(limit); return { ...t, ref: (i: number) => formatRef(t.inodes[i]!, t.seqs[i]!) } },
        }
      },
      label: async () => (await state()).label,
      async consistency() {
        const s = await state()
        const clean = !s.dirty && (s.logFile === 'clean' || s.logFile === 'empty')
        return { clean, summary: describe('NTFS', clean, [[s.dirty, 'dirty flag set'], [s.logFile === 'dirty', '$LogFile has unreplayed transactions'], [s.logFile === 'unknown', '$LogFile state unknown']]), details: { ...s } }
      },
    }
  },
})

/** A reader whose read() has no stream argument, and the consistency its state() implies. */
interface PlainReader<S extends { label: string }> {
  root(): Promise<FsEntry>
  stat(ref: string): Promise<FsEntry>
  list(ref: string): Promise<FsEntry[]>
  lookup(path: string): Promise<FsEntry>
  read(ref: string, offset: number, length: number): Promise<Buffer>
  walk(ref?: string): AsyncGenerator<{ path: string; entry: FsEntry }>
  state(): Promise<S>
}

function plain<S extends { label: string }>(type: FsType, v: PlainReader<S>, judge: (s: S) => { name: string; clean: boolean; problems: [boolean, string][] }): FileSystem {
  const state = once(() => v.state())
  return {
    type,
    root: () => v.root(), stat: (ref) => v.stat(ref), list: (ref) => v.list(ref), lookup: (p) => v.lookup(p),
    read: (ref, o, n) => v.read(ref, o, n),
    walk: (ref) => v.walk(ref),
    label: async () => (await state()).label,
    async consistency() {
      const s = await state()
      const j = judge(s)
      return { clean: j.clean, summary: describe(j.name, j.clean, j.problems), details: { ...s } }
    },
  }
}

registerFileSystem({
  type: 'exfat',
  matches: (h) => ascii(h, 3, 8) === 'EXFAT   ',
  open: async (r) => plain('exfat', await ExfatVolume.open(r), (s) => ({
    name: 'exFAT', clean: s.clean,
    problems: [[s.dirty, 'volume dirty (not unmounted cleanly)'], [s.mediaFailure, 'media failures recorded'], [s.truncated, 'volume truncated']],
  })),
})

registerFileSystem({
  type: 'ext',
  matches: (h) => h.length >= 1024 + 58 && h.readUInt16LE(1024 + 56) === 0xef53,
  open: async (r) => plain('ext', await Ext4Volume.open(r), (s) => ({
    name: 'ext', clean: s.clean && !s.needsRecovery && !s.errors,
    problems: [[s.needsRecovery, 'journal needs recovery'], [s.errors, 'errors recorded'], [s.orphanListPresent, 'orphan inodes pending'], [!s.clean && !s.needsRecovery && !s.errors, 'not cleanly unmounted']],
  })),
})

registerFileSystem({
  type: 'fat',
  // FAT has no magic number: a boot signature plus the type string where mkfs puts it.
  matches: (h) => h.length >= 512 && h[510] === 0x55 && h[511] === 0xaa && (ascii(h, 54, 3) === 'FAT' || ascii(h, 82, 5) === 'FAT32'),
  open: async (r) => plain('fat', await FatVolume.open(r), (s) => ({
    name: s.type, clean: s.clean,
    problems: [[s.dirty, 'dirty (not unmounted cleanly)'], [s.hardError, 'hard errors recorded'], [s.bootSectorDirty, 'boot sector dirty flag set']],
  })),
})

registerFileSystem({
  type: 'xfs',
  matches: (h) => ascii(h, 0, 4) === 'XFSB',
  open: async (r) => plain('xfs', await XfsVolume.open(r), (s) => ({
    name: 'XFS', clean: s.clean,
    problems: [[s.log === 'dirty', 'log has unreplayed transactions (not unmounted cleanly: the newest changes may be missing)'], [s.log === 'unknown', 'log state unknown'],
      [s.log === 'external', 'log on an external device (not checked)'], [s.needsRepair, 'needs xfs_repair'], [s.inProgress, 'mkfs did not finish']],
  })),
})

export { FsError }
