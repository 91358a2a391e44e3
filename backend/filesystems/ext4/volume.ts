/**
 * Read-only, on-demand ext2/ext3/ext4 reader (issue 11: file-level restore straight from
 * the repository). Everything is read lazily through a ReadAt; nothing is read up front
 * beyond the superblock. All guest-controlled values are checked: bad values surface as
 * FsError, every loop is bounded.
 *
 * Why not the `ext2fs` npm package (libext2fs as WASM): it cannot promise FsError-only
 * failures and bounded work on a corrupt image (C asserts/abort inside WASM), and it hides
 * inode-level facts we report (nanosecond times, inline data, state). The format is small
 * enough to read directly.
 */
import type { FsEntry, FsEntryType, ReadAt } from '../types.ts'
import { listEntries, lookupInodePath, readInodeFile, streamInodeFile, walkInodes, type InodeFiles } from '../inode-tree.ts'
import { FsError } from '../types.ts'

const SB_OFFSET = 1024
const EXT4_MAGIC = 0xef53
const ROOT_INO = 2

// feature bits
const COMPAT_HAS_JOURNAL = 0x4
const COMPAT_ORPHAN_FILE = 0x1000
const INCOMPAT_COMPRESSION = 0x1
const INCOMPAT_FILETYPE = 0x2
const INCOMPAT_RECOVER = 0x4
const INCOMPAT_JOURNAL_DEV = 0x8
const INCOMPAT_META_BG = 0x10
const INCOMPAT_64BIT = 0x80
const INCOMPAT_DIRDATA = 0x1000
const INCOMPAT_ENCRYPT = 0x10000
const RO_COMPAT_SPARSE_SUPER = 0x1
const RO_COMPAT_ORPHAN_PRESENT = 0x10000

// inode flags
const FL_IMMUTABLE = 0x10
const FL_APPEND = 0x20
const FL_NODUMP = 0x40
const FL_ENCRYPT = 0x800
const FL_INDEX = 0x1000
const FL_EXTENTS = 0x80000
const FL_INLINE_DATA = 0x10000000

const S_IFMT = 0xf000
const S_IFREG = 0x8000
const S_IFDIR = 0x4000
const S_IFLNK = 0xa000

const EXTENT_MAGIC = 0xf30a
const MAX_EXTENT_DEPTH = 5
const MAX_DIR_ENTRIES = 1_000_000
const MAX_DIR_BYTES = 1 << 30
const MAX_READ = 256 * 1024 * 1024
const MAX_SYMLINK = 65536
const CACHE_BLOCKS = 1024
const STREAM_CHUNK = 1024 * 1024

export interface Ext4State {
  /** Cleanly unmounted and no journal replay pending. */
  clean: boolean
  /** The journal holds transactions that were not replayed (INCOMPAT_RECOVER). */
  needsRecovery: boolean
  /** The superblock records errors (s_state & EXT4_ERROR_FS). */
  errors: boolean
  /** Inodes that were unlinked while open and not yet freed (orphan list or orphan file). */
  orphanListPresent: boolean
  hasJournal: boolean
  label: string
  uuid: string
  blockSize: number
  blocksCount: number
  inodesCount: number
  /** The filesystem is larger than the volume: data beyond the end cannot be read. */
  truncated: boolean
}

interface Inode {
  ino: number
  mode: number
  uid: number
  gid: number
  size: number
  flags: number
  blocks512: number
  fileAcl: number
  links: number
  iblock: Buffer
  raw: Buffer
  atime?: string
  ctime?: string
  mtime?: string
  btime?: string
}

interface Run { pblk: number | null; count: number }

function fsErr(code: ConstructorParameters<typeof FsError>[0], msg: string): FsError { return new FsError(code, `ext4: ${msg}`) }

/** ISO-8601 UTC with nanoseconds (ext4 stores seconds + nanoseconds). */
export function isoFromUnix(sec: number, ns = 0): string | undefined {
  const d = new Date(sec * 1000)
  if (!Number.isFinite(d.getTime())) return undefined
  const base = d.toISOString().replace(/\.\d{3}Z$/, '')
  if (ns > 0 && ns < 1e9) return `${base}.${String(ns).padStart(9, '0')}Z`
  return `${base}Z`
}

class BlockCache {
  private map = new Map<number, Buffer>()
  private readonly cap: number
  constructor(cap: number) { this.cap = cap }
  get(k: number): Buffer | undefined {
    const v = this.map.get(k)
    if (v) { this.map.delete(k); this.map.set(k, v) }
    return v
  }
  set(k: number, v: Buffer): void {
    this.map.set(k, v)
    if (this.map.size > this.cap) this.map.delete(this.map.keys().next().value as number)
  }
}

export class Ext4Volume {
  readonly blockSize: number
  readonly blocksCount: number
  readonly inodesCount: number
  readonly inodesPerGroup: number
  readonly blocksPerGroup: number
  readonly firstDataBlock: number
  readonly inodeSize: number
  readonly descSize: number
  readonly groupCount: number
  readonly compat: number
  readonly incompat: number
  readonly roCompat: number
  /** The superblock describes more blocks than the volume holds. */
  readonly truncated: boolean
  private readonly sb: Buffer
  private readonly cache = new BlockCache(CACHE_BLOCKS)
  private readonly reader: ReadAt

  private constructor(reader: ReadAt, sb: Buffer) {
    this.reader = reader
    this.sb = sb
    const logBs = sb.readUInt32LE(0x18)
    if (logBs > 6) throw fsErr('ECORRUPT', `block size 2^${10 + logBs} is not valid`)
    this.blockSize = 1024 << logBs
    this.compat = sb.readUInt32LE(0x5c)
    this.incompat = sb.readUInt32LE(0x60)
    this.roCompat = sb.readUInt32LE(0x64)
    const is64 = (this.incompat & INCOMPAT_64BIT) !== 0
    this.blocksCount = sb.readUInt32LE(0x4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0)
    this.inodesCount = sb.readUInt32LE(0x0)
    this.firstDataBlock = sb.readUInt32LE(0x14)
    this.blocksPerGroup = sb.readUInt32LE(0x20)
    this.inodesPerGroup = sb.readUInt32LE(0x28)
    const rev = sb.readUInt32LE(0x4c)
    this.inodeSize = rev === 0 ? 128 : sb.readUInt16LE(0x58)
    this.descSize = is64 ? sb.readUInt16LE(0xfe) : 32
    if (this.blocksPerGroup === 0 || this.blocksPerGroup > 8 * this.blockSize) throw fsErr('ECORRUPT', `blocks per group ${this.blocksPerGroup}`)
    if (this.inodesPerGroup === 0 || this.inodesPerGroup > 8 * this.blockSize) throw fsErr('ECORRUPT', `inodes per group ${this.inodesPerGroup}`)
    if (this.inodeSize < 128 || this.inodeSize > this.blockSize || (this.inodeSize & (this.inodeSize - 1)) !== 0) throw fsErr('ECORRUPT', `inode size ${this.inodeSize}`)
    if (is64 && (this.descSize < 32 || this.descSize > 1024 || (this.descSize & (this.descSize - 1)) !== 0)) throw fsErr('ECORRUPT', `group descriptor size ${this.descSize}`)
    if (this.firstDataBlock >= this.blocksCount || this.firstDataBlock > 1) throw fsErr('ECORRUPT', `first data block ${this.firstDataBlock}`)
    // a filesystem larger than its volume (truncated image or partition) still opens: what lies
    // inside reads normally, anything beyond the end fails with ERANGE (see state().truncated)
    this.truncated = this.blocksCount * this.blockSize > reader.size
    this.groupCount = Math.ceil((this.blocksCount - this.firstDataBlock) / this.blocksPerGroup)
    if (this.inodesCount > this.groupCount * this.inodesPerGroup || this.inodesCount < ROOT_INO) throw fsErr('ECORRUPT', `inode count ${this.inodesCount}`)
    const unsupported = this.incompat & (INCOMPAT_COMPRESSION | INCOMPAT_JOURNAL_DEV | INCOMPAT_DIRDATA)
    if (unsupported) throw fsErr('ENOTSUP', `unsupported incompatible features 0x${unsupported.toString(16)}`)
  }

  static async open(reader: ReadAt): Promise<Ext4Volume> {
    if (reader.size < SB_OFFSET + 1024) throw fsErr('ECORRUPT', 'volume too small for an ext superblock')
    const sb = await reader.readAt(SB_OFFSET, 1024)
    if (sb.length < 1024) throw fsErr('ECORRUPT', 'short superblock read')
    if (sb.readUInt16LE(0x38) !== EXT4_MAGIC) throw fsErr('ECORRUPT', 'no ext2/3/4 superblock magic')
    return new Ext4Volume(reader, Buffer.from(sb))
  }

  async state(): Promise<Ext4State> {
    const s = this.sb.readUInt16LE(0x3a)
    const needsRecovery = (this.incompat & INCOMPAT_RECOVER) !== 0
    const orphan = this.sb.readUInt32LE(0xe8) !== 0 || ((this.compat & COMPAT_ORPHAN_FILE) !== 0 && (this.roCompat & RO_COMPAT_ORPHAN_PRESENT) !== 0)
    const uuid = this.sb.subarray(0x68, 0x78).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
    return {
      clean: (s & 1) !== 0 && (s & 2) === 0 && !needsRecovery,
      needsRecovery,
      errors: (s & 2) !== 0,
      orphanListPresent: orphan,
      hasJournal: (this.compat & COMPAT_HAS_JOURNAL) !== 0,
      label: cString(this.sb.subarray(0x78, 0x88)),
      uuid,
      blockSize: this.blockSize,
      blocksCount: this.blocksCount,
      inodesCount: this.inodesCount,
      truncated: this.truncated,
    }
  }

  // ---- low level -------------------------------------------------------------------------

  private async readBytes(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.reader.size) throw fsErr('ERANGE', `read at ${offset}+${length} is outside the volume`)
    if (length === 0) return Buffer.alloc(0)
    const b = await this.reader.readAt(offset, length)
    if (b.length < length) throw fsErr('ERANGE', `short read at ${offset}`)
    return b.length === length ? b : b.subarray(0, length)
  }

  private checkBlock(b: number, count = 1, what = 'block'): void {
    if (!Number.isSafeInteger(b) || b < 0 || b + count > this.blocksCount) throw fsErr('ERANGE', `${what} ${b}${count > 1 ? `+${count}` : ''} is beyond the filesystem (${this.blocksCount} blocks)`)
  }

  /** A metadata block, cached. */
  private async block(b: number, what = 'block'): Promise<Buffer> {
    this.checkBlock(b, 1, what)
    const hit = this.cache.get(b)
    if (hit) return hit
    const buf = await this.readBytes(b * this.blockSize, this.blockSize)
    this.cache.set(b, buf)
    return buf
  }

  private hasSuper(g: number): boolean {
    if (!(this.roCompat & RO_COMPAT_SPARSE_SUPER)) return true
    if (g <= 1) return true
    for (const base of [3, 5, 7]) { let n = base; while (n < g) n *= base; if (n === g) return true }
    return false
  }

  private async groupDesc(g: number): Promise<Buffer> {
    if (g < 0 || g >= this.groupCount) throw fsErr('ERANGE', `group ${g} out of range`)
    const perBlock = Math.floor(this.blockSize / this.descSize)
    const descBlock = Math.floor(g / perBlock)
    let blk: number
    const firstMetaBg = this.sb.readUInt32LE(0x104)
    if ((this.incompat & INCOMPAT_META_BG) && descBlock >= firstMetaBg) {
      const first = descBlock * perBlock
      blk = this.firstDataBlock + first * this.blocksPerGroup + (this.hasSuper(first) ? 1 : 0)
    } else {
      blk = this.firstDataBlock + 1 + descBlock
    }
    const b = await this.block(blk, 'group descriptor block')
    const off = (g % perBlock) * this.descSize
    return b.subarray(off, off + this.descSize)
  }

  private async readInode(ino: number): Promise<Inode> {
    if (!Number.isSafeInteger(ino) || ino < 1 || ino > this.inodesCount) throw fsErr('ERANGE', `inode ${ino} out of range (1..${this.inodesCount})`)
    const g = Math.floor((ino - 1) / this.inodesPerGroup)
    const idx = (ino - 1) % this.inodesPerGroup
    const d = await this.groupDesc(g)
    const table = d.readUInt32LE(0x8) + (this.descSize >= 64 ? d.readUInt32LE(0x28) * 2 ** 32 : 0)
    const byteOff = idx * this.inodeSize
    const blk = table + Math.floor(byteOff / this.blockSize)
    const b = await this.block(blk, `inode table block (inode ${ino})`)
    const o = byteOff % this.blockSize
    const raw = b.subarray(o, o + this.inodeSize)
    const mode = raw.readUInt16LE(0)
    const flags = raw.readUInt32LE(0x20)
    const sizeHi = raw.readUInt32LE(0x6c)
    const size = raw.readUInt32LE(0x4) + sizeHi * 2 ** 32
    if (!Number.isSafeInteger(size) || size > 2 ** 32 * this.blockSize) throw fsErr('ECORRUPT', `inode ${ino}: absurd size ${size}`)
    const extra = this.inodeSize > 128 ? raw.readUInt16LE(0x80) : 0
    const has = (end: number) => extra >= 4 && 128 + extra >= end && end <= raw.length
    const t = (off: number, extraOff: number | null) => {
      let sec = raw.readInt32LE(off)
      let ns = 0
      if (extraOff !== null && has(extraOff + 4)) {
        const x = raw.readUInt32LE(extraOff)
        sec += (x & 3) * 2 ** 32
        ns = x >>> 2
      }
      return isoFromUnix(sec, ns)
    }
    return {
      ino, mode, flags, size,
      uid: raw.readUInt16LE(0x2) | (raw.readUInt16LE(0x78) << 16),
      gid: raw.readUInt16LE(0x18) | (raw.readUInt16LE(0x7a) << 16),
      links: raw.readUInt16LE(0x1a),
      blocks512: raw.readUInt32LE(0x1c) + raw.readUInt16LE(0x74) * 2 ** 32,
      fileAcl: raw.readUInt32LE(0x68) + raw.readUInt16LE(0x76) * 2 ** 32,
      iblock: raw.subarray(0x28, 0x28 + 60),
      raw,
      atime: t(0x8, 0x8c),
      ctime: t(0xc, 0x84),
      mtime: t(0x10, 0x88),
      btime: has(0x94) ? t(0x90, 0x94) : undefined,
    }
  }

  /** In-inode extended attribute `system.data` (the tail of inline data). */
  private inlineEa(inode: Inode): Buffer {
    const raw = inode.raw
    if (raw.length <= 128) return Buffer.alloc(0)
    const extra = raw.readUInt16LE(0x80)
    const start = 128 + extra
    if (extra < 4 || start + 4 > raw.length || (extra & 3)) return Buffer.alloc(0)
    if (raw.readUInt32LE(start) !== 0xea020000) return Buffer.alloc(0)
    const first = start + 4
    let p = first
    for (let i = 0; i < 1024 && p + 16 <= raw.length; i++) {
      if (raw.readUInt32LE(p) === 0) break
      const nameLen = raw[p]
      const nameIndex = raw[p + 1]
      const valOff = raw.readUInt16LE(p + 2)
      const valInum = raw.readUInt32LE(p + 4)
      const valSize = raw.readUInt32LE(p + 8)
      if (p + 16 + nameLen > raw.length) throw fsErr('ECORRUPT', `inode ${inode.ino}: xattr entry overruns the inode`)
      const name = raw.subarray(p + 16, p + 16 + nameLen).toString('latin1')
      if (nameIndex === 7 && name === 'data') {
        if (valInum !== 0) throw fsErr('ENOTSUP', `inode ${inode.ino}: inline data stored in an EA inode`)
        if (valSize === 0) return Buffer.alloc(0)
        if (first + valOff + valSize > raw.length) throw fsErr('ECORRUPT', `inode ${inode.ino}: inline data xattr overruns the inode`)
        return raw.subarray(first + valOff, first + valOff + valSize)
      }
      p += (16 + nameLen + 3) & ~3
    }
    return Buffer.alloc(0)
  }

  // ---- block mapping ---------------------------------------------------------------------

  private async mapExtent(inode: Inode, lblk: number): Promise<Run> {
    let node: Buffer = inode.iblock
    let upper = Infinity
    let expectDepth = -1
    for (let level = 0; level <= MAX_EXTENT_DEPTH; level++) {
      if (node.readUInt16LE(0) !== EXTENT_MAGIC) throw fsErr('ECORRUPT', `inode ${inode.ino}: bad extent header magic`)
      const entries = node.readUInt16LE(2)
      const max = node.readUInt16LE(4)
      const depth = node.readUInt16LE(6)
      if (entries > max || 12 + max * 12 > node.length) throw fsErr('ECORRUPT', `inode ${inode.ino}: extent node claims ${entries}/${max} entries`)
      if (depth > MAX_EXTENT_DEPTH || (expectDepth >= 0 && depth !== expectDepth)) throw fsErr('ECORRUPT', `inode ${inode.ino}: extent tree depth ${depth} is inconsistent`)
      // last entry whose first logical block <= lblk (binary search; entries are sorted)
      let lo = 0, hi = entries - 1, found = -1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (node.readUInt32LE(12 + mid * 12) <= lblk) { found = mid; lo = mid + 1 } else hi = mid - 1
      }
      const nextStart = (i: number) => (i + 1 < entries ? node.readUInt32LE(12 + (i + 1) * 12) : upper)
      if (depth === 0) {
        if (found >= 0) {
          const e = 12 + found * 12
          const first = node.readUInt32LE(e)
          let len = node.readUInt16LE(e + 4)
          const uninit = len > 32768
          if (uninit) len -= 32768
          const start = node.readUInt16LE(e + 6) * 2 ** 32 + node.readUInt32LE(e + 8)
          if (lblk < first + len) {
            const count = first + len - lblk
            if (uninit) return { pblk: null, count }
            this.checkBlock(start, len, `inode ${inode.ino}: extent`)
            return { pblk: start + (lblk - first), count }
          }
        }
        const next = found >= 0 ? nextStart(found) : (entries > 0 ? node.readUInt32LE(12) : upper)
        return { pblk: null, count: Math.max(1, next - lblk) }
      }
      if (found < 0) {
        const next = entries > 0 ? node.readUInt32LE(12) : upper
        return { pblk: null, count: Math.max(1, next - lblk) }
      }
      const e = 12 + found * 12
      upper = Math.min(upper, nextStart(found))
      const child = node.readUInt32LE(e + 4) + node.readUInt16LE(e + 8) * 2 ** 32
      node = await this.block(child, `inode ${inode.ino}: extent index block`)
      expectDepth = depth - 1
    }
    throw fsErr('ECORRUPT', `inode ${inode.ino}: extent tree too deep`)
  }

  private async mapIndirect(inode: Inode, lblk: number): Promise<Run> {
    const ppb = this.blockSize / 4
    const ib = inode.iblock
    const scan = (arr: Buffer, idx: number, limit: number): Run => {
      const p = arr.readUInt32LE(idx * 4)
      let n = 1
      if (p === 0) { while (idx + n < limit && arr.readUInt32LE((idx + n) * 4) === 0) n++; return { pblk: null, count: n } }
      while (idx + n < limit && arr.readUInt32LE((idx + n) * 4) === p + n) n++
      this.checkBlock(p, n, `inode ${inode.ino}: data block`)
      return { pblk: p, count: n }
    }
    if (lblk < 12) return scan(ib, lblk, 12)
    let l = lblk - 12
    // levels: single (ppb), double (ppb^2), triple (ppb^3)
    let span = ppb
    for (let level = 1; level <= 3; level++) {
      if (l < span) {
        let ptr = ib.readUInt32LE((11 + level) * 4)
        let sub = span
        for (let d = level; d >= 1; d--) {
          if (ptr === 0) {
            // a hole as wide as this subtree, from l to the subtree's end
            return { pblk: null, count: sub - (l % sub) }
          }
          const arr = await this.block(ptr, `inode ${inode.ino}: indirect block`)
          sub = sub / ppb
          const idx = Math.floor(l / sub) % ppb
          if (d === 1) return scan(arr, idx, ppb)
          ptr = arr.readUInt32LE(idx * 4)
        }
      }
      l -= span
      span *= ppb
    }
    throw fsErr('ECORRUPT', `inode ${inode.ino}: logical block ${lblk} beyond the indirect map`)
  }

  private map(inode: Inode, lblk: number): Promise<Run> {
    return (inode.flags & FL_EXTENTS) ? this.mapExtent(inode, lblk) : this.mapIndirect(inode, lblk)
  }

  /** Bytes of an inode's data (any type), zero-filled for holes and unwritten extents. */
  private async readData(inode: Inode, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw fsErr('ERANGE', `bad read range ${offset}+${length}`)
    if (offset >= inode.size || length === 0) return Buffer.alloc(0)
    const n = Math.min(length, inode.size - offset)
    if (n > MAX_READ) throw fsErr('ELIMIT', `read of ${n} bytes exceeds the ${MAX_READ}-byte limit per call`)
    if (inode.flags & FL_INLINE_DATA) {
      const all = Buffer.concat([inode.iblock, this.inlineEa(inode)])
      const out = Buffer.alloc(n)
      all.subarray(offset, offset + n).copy(out)
      return out
    }
    const out = Buffer.alloc(n)
    const bs = this.blockSize
    let pos = offset
    const end = offset + n
    while (pos < end) {
      const lblk = Math.floor(pos / bs)
      const within = pos - lblk * bs
      const run = await this.map(inode, lblk)
      const bytes = Math.min(run.count * bs - within, end - pos)
      if (run.pblk !== null) {
        const data = await this.readBytes(run.pblk * bs + within, bytes)
        data.copy(out, pos - offset)
      }
      pos += bytes
    }
    return out
  }

  // ---- entries ---------------------------------------------------------------------------

  private parseRef(ref: string | number): number {
    const n = typeof ref === 'number' ? ref : /^\d{1,15}$/.test(ref) ? Number(ref) : NaN
    if (!Number.isSafeInteger(n)) throw fsErr('ENOENT', `not an ext4 reference: ${String(ref)}`)
    return n
  }

  private async symlinkTarget(inode: Inode): Promise<string> {
    if (inode.size > MAX_SYMLINK) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink of ${inode.size} bytes`)
    const eaBlocks = inode.fileAcl ? this.blockSize / 512 : 0
    let b: Buffer
    if (!(inode.flags & (FL_INLINE_DATA | FL_EXTENTS)) && inode.size < 60 && inode.blocks512 - eaBlocks <= 0) b = inode.iblock.subarray(0, inode.size)
    else b = await this.readData(inode, 0, inode.size)
    return b.toString('utf8')
  }

  private async entry(ino: number, name: string): Promise<FsEntry> {
    const inode = await this.readInode(ino)
    const fmt = inode.mode & S_IFMT
    const type: FsEntryType = fmt === S_IFREG ? 'file' : fmt === S_IFDIR ? 'dir' : fmt === S_IFLNK ? 'symlink' : 'other'
    const attributes: string[] = []
    if (inode.flags & FL_IMMUTABLE) attributes.push('immutable')
    if (inode.flags & FL_APPEND) attributes.push('append-only')
    if (inode.flags & FL_NODUMP) attributes.push('nodump')
    if (inode.flags & FL_ENCRYPT) attributes.push('encrypted')
    if (inode.flags & FL_INLINE_DATA) attributes.push('inline-data')
    if (type === 'dir' && (inode.flags & FL_INDEX)) attributes.push('htree')
    const e: FsEntry = {
      ref: String(ino), name, type,
      size: type === 'file' || type === 'symlink' || type === 'dir' ? inode.size : 0,
      mtime: inode.mtime, ctime: inode.ctime, atime: inode.atime,
      mode: inode.mode, uid: inode.uid, gid: inode.gid, inode: ino,
    }
    if (inode.btime) e.btime = inode.btime
    if (attributes.length) e.attributes = attributes
    if (type === 'symlink') e.linkTarget = await this.symlinkTarget(inode)
    return e
  }

  async root(): Promise<FsEntry> { return this.entry(ROOT_INO, '') }

  async stat(ref: string | number): Promise<FsEntry> {
    const ino = this.parseRef(ref)
    return this.entry(ino, ino === ROOT_INO ? '' : String(ino))
  }

  /** Raw directory entries (name, inode), "." and ".." excluded. */
  private async dirents(inode: Inode): Promise<{ name: string; ino: number }[]> {
    if ((inode.mode & S_IFMT) !== S_IFDIR) throw fsErr('ENOTDIR', `inode ${inode.ino} is not a directory`)
    if (inode.size > MAX_DIR_BYTES) throw fsErr('ELIMIT', `directory inode ${inode.ino} of ${inode.size} bytes`)
    const out: { name: string; ino: number }[] = []
    const hasType = (this.incompat & INCOMPAT_FILETYPE) !== 0
    const parse = (buf: Buffer) => {
      let p = 0
      while (p + 8 <= buf.length) {
        const ino = buf.readUInt32LE(p)
        let rec = buf.readUInt16LE(p + 4)
        if (this.blockSize >= 65536) rec = rec === 65535 || rec === 0 ? 65536 : (rec & 65532) | ((rec & 3) << 16)
        const nameLen = hasType ? buf[p + 6] : buf.readUInt16LE(p + 6)
        if (rec < 8 || (rec & 3) || p + rec > buf.length) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: bad record length ${rec} at ${p}`)
        if (ino !== 0 && nameLen > 0) {
          if (8 + nameLen > rec) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: name overruns its record`)
          const name = buf.subarray(p + 8, p + 8 + nameLen).toString('utf8')
          if (name !== '.' && name !== '..') {
            if (out.length >= MAX_DIR_ENTRIES) throw fsErr('ELIMIT', `directory inode ${inode.ino} has more than ${MAX_DIR_ENTRIES} entries`)
            out.push({ name, ino })
          }
        }
        p += rec
      }
    }
    if (inode.flags & FL_INLINE_DATA) {
      parse(inode.iblock.subarray(4, 60))
      const ea = this.inlineEa(inode)
      if (ea.length) parse(ea)
      return out
    }
    const bs = this.blockSize
    const chunkBlocks = Math.max(1, Math.floor(STREAM_CHUNK / bs))
    const blocks = Math.ceil(inode.size / bs)
    for (let b = 0; b < blocks; b += chunkBlocks) {
      const buf = await this.readData(inode, b * bs, chunkBlocks * bs)
      for (let o = 0; o < buf.length; o += bs) parse(buf.subarray(o, Math.min(o + bs, buf.length)))
    }
    return out
  }

  async list(dirRef: string | number): Promise<FsEntry[]> {
    const inode = await this.readInode(this.parseRef(dirRef))
    return listEntries(await this.dirents(inode), (ino, name) => this.entry(ino, name))
  }

  async lookup(path: string): Promise<FsEntry> {
    return lookupInodePath(path, await this.root(), async (dir, name) => {
      const hit = (await this.dirents(await this.readInode(dir.inode))).find(e => e.name === name)
      return hit && this.entry(hit.ino, hit.name)
    }, fsErr)
  }

  /** Depth-first walk yielding every entry with its path (directories before their children). */
  walk(dirRef: string | number = ROOT_INO, maxDepth = 256, prefix = ''): AsyncGenerator<{ path: string; entry: FsEntry }> {
    return walkInodes((ref) => this.list(ref), { ref: dirRef, ino: this.parseRef(dirRef) }, maxDepth, prefix)
  }

  async read(ref: string | number, offset: number, length: number): Promise<Buffer> {
    return readInodeFile(await this.readInode(this.parseRef(ref)), offset, length, this.files)
  }

  async *openStream(ref: string | number): AsyncGenerator<Buffer> {
    yield* streamInodeFile(await this.readInode(this.parseRef(ref)), STREAM_CHUNK, MAX_SYMLINK, this.files)
  }

  private readonly files: InodeFiles<Inode> = {
    symlinkTarget: (inode) => this.symlinkTarget(inode),
    readData: (inode, offset, length) => this.readData(inode, offset, length),
    fsErr,
  }
}

function cString(b: Buffer): string {
  const z = b.indexOf(0)
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8')
}
