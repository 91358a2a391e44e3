/**
 * Read-only, on-demand XFS reader (issue 11: file-level restore straight from the repository).
 * v5 (CRC) filesystems, and v4 where it costs nothing extra. Nothing is read up front beyond the
 * superblock: inode numbers encode their own location (AG, block, slot), so no inode btree walk
 * is needed. Every guest-controlled value is checked and every loop bounded; metadata CRCs are
 * verified (v5) and a mismatch is reported as ECORRUPT.
 *
 * Why not a library: there is no maintained JavaScript XFS reader; libfsxfs only exists as C.
 */
import type { FsEntry, FsEntryType, ReadAt } from '../types.ts'
import { listEntries, lookupInodePath, readInodeFile, streamInodeFile, walkInodes, type InodeFiles } from '../inode-tree.ts'
import { Lru } from '../lru.ts'
import { FsError } from '../types.ts'
import { xfsCrcOk } from './crc32c.ts'

const SB_MAGIC = 0x58465342 // XFSB
const INODE_MAGIC = 0x494e // IN
const BMAP_MAGIC_V4 = 0x424d4150 // BMAP
const BMAP_MAGIC_V5 = 0x424d4133 // BMA3
const DIR_BLOCK_V4 = 0x58443242 // XD2B: single-block directory
const DIR_BLOCK_V5 = 0x58444233 // XDB3
const DIR_DATA_V4 = 0x58443244 // XD2D: data block of a multi-block directory
const DIR_DATA_V5 = 0x58444433 // XDD3
const SYMLINK_MAGIC = 0x58534c4d // XSLM
const LOG_HEADER_MAGIC = 0xfeedbabe

const INCOMPAT_FTYPE = 0x1
const INCOMPAT_SPINODES = 0x2
const INCOMPAT_META_UUID = 0x4
const INCOMPAT_BIGTIME = 0x8
const INCOMPAT_NEEDSREPAIR = 0x10
const INCOMPAT_NREXT64 = 0x20
const INCOMPAT_EXCHRANGE = 0x40
const INCOMPAT_PARENT = 0x80
const INCOMPAT_KNOWN = INCOMPAT_FTYPE | INCOMPAT_SPINODES | INCOMPAT_META_UUID | INCOMPAT_BIGTIME | INCOMPAT_NEEDSREPAIR | INCOMPAT_NREXT64 | INCOMPAT_EXCHRANGE | INCOMPAT_PARENT
const V4_MOREBITS = 0x8000
const V4_DIRV2 = 0x2000
const V4_FEATURES2_FTYPE = 0x200

const FMT_LOCAL = 1
const FMT_EXTENTS = 2
const FMT_BTREE = 3

const DIFLAG_REALTIME = 0x1
const DIFLAG_PREALLOC = 0x2
const DIFLAG_IMMUTABLE = 0x8
const DIFLAG_APPEND = 0x10
const DIFLAG_NODUMP = 0x80
const DIFLAG2_REFLINK = 0x2
const DIFLAG2_BIGTIME = 0x8
const DIFLAG2_NREXT64 = 0x10

const S_IFMT = 0xf000
const S_IFREG = 0x8000
const S_IFDIR = 0x4000
const S_IFLNK = 0xa000

/** Directory data blocks live below this byte offset of the directory; leaf and free blocks above. */
const DIR_LEAF_OFFSET = 2 ** 35
const MAX_EXTENTS = 2_000_000
const MAX_BTREE_DEPTH = 9
const MAX_DIR_ENTRIES = 1_000_000
const MAX_DIR_BYTES = 1 << 30
const MAX_READ = 256 * 1024 * 1024
const MAX_SYMLINK = 1024
const MAX_LOG_RECORD_BBS = (256 * 1024 + 32 * 1024 * 8) / 512
const CACHE_BLOCKS = 1024
const CACHE_MAPS = 64
const CACHE_EXTENTS = 1_000_000
const STREAM_CHUNK = 1024 * 1024

export interface XfsState {
  /** The log ends with an unmount record (or is empty) and nothing asks for repair. */
  clean: boolean
  /** clean: last record is an unmount record; dirty: transactions a mount would replay;
   *  empty: zeroed log; external: the log lives on another device; unknown: head not found. */
  log: 'clean' | 'dirty' | 'empty' | 'external' | 'unknown'
  /** The superblock's NEEDSREPAIR bit (set by xfs_repair while it works, or by an interrupted upgrade). */
  needsRepair: boolean
  /** mkfs did not finish. */
  inProgress: boolean
  version: 4 | 5
  label: string
  uuid: string
  blockSize: number
  blocks: number
  agCount: number
  agBlocks: number
  inodeSize: number
  dirBlockSize: number
  features: string[]
  /** Log-incompatible features in use: set while mounted, cleared on a clean unmount. */
  logIncompat: number
  /** The filesystem is larger than the volume: data beyond the end cannot be read. */
  truncated: boolean
}

interface Inode {
  ino: number
  mode: number
  version: number
  format: number
  uid: number
  gid: number
  nlink: number
  size: number
  nblocks: number
  nextents: number
  flags: number
  flags2: bigint
  fork: Buffer
  atime?: string
  mtime?: string
  ctime?: string
  btime?: string
}

/** One data-fork mapping in filesystem blocks; `unwritten` extents read as zeros. */
interface Extent { off: number; fsb: number; len: number; unwritten: boolean }

function fsErr(code: ConstructorParameters<typeof FsError>[0], msg: string): FsError { return new FsError(code, `xfs: ${msg}`) }


/** 2^n as a number, for shifts wider than JavaScript's 32-bit operators. */
const pow2 = (n: number) => 2 ** n

function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64BE(o)
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
}

/** ISO-8601 UTC with nanoseconds. */
export function isoFromUnix(sec: number, ns = 0): string | undefined {
  const d = new Date(sec * 1000)
  if (!Number.isFinite(d.getTime())) return undefined
  const base = d.toISOString().replace(/\.\d{3}Z$/, '')
  if (ns > 0 && ns < 1e9) return `${base}.${String(ns).padStart(9, '0')}Z`
  return `${base}Z`
}

/** The directory name hash (xfs_da_hashname). */
export function daHash(name: Buffer): number {
  const rol = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0
  let h = 0, i = 0
  for (; name.length - i >= 4; i += 4) h = ((name[i] << 21) ^ (name[i + 1] << 14) ^ (name[i + 2] << 7) ^ name[i + 3] ^ rol(h, 28)) >>> 0
  switch (name.length - i) {
    case 3: return ((name[i] << 14) ^ (name[i + 1] << 7) ^ name[i + 2] ^ rol(h, 21)) >>> 0
    case 2: return ((name[i] << 7) ^ name[i + 1] ^ rol(h, 14)) >>> 0
    case 1: return (name[i] ^ rol(h, 7)) >>> 0
    default: return h
  }
}

function cString(b: Buffer): string {
  const z = b.indexOf(0)
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8')
}

function uuidString(b: Buffer): string {
  return b.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
}

/** A packed 128-bit extent record: flag:1 startoff:54 startblock:52 blockcount:21. */
function parseExtent(b: Buffer, o: number): Extent {
  const hi = b.readBigUInt64BE(o)
  const lo = b.readBigUInt64BE(o + 8)
  return {
    unwritten: (hi >> 63n) === 1n,
    off: Number((hi >> 9n) & ((1n << 54n) - 1n)),
    fsb: Number(((hi & 0x1ffn) << 43n) | (lo >> 21n)),
    len: Number(lo & 0x1fffffn),
  }
}

export class XfsVolume {
  readonly version: 4 | 5
  readonly blockSize: number
  readonly sectorSize: number
  readonly blocks: number
  readonly agBlocks: number
  readonly agCount: number
  readonly agBlkLog: number
  readonly inodeSize: number
  readonly inoPBLog: number
  readonly dirBlockSize: number
  readonly rootIno: number
  readonly hasFtype: boolean
  /** Directory names hashed case-insensitively (mkfs -n version=ci): lookups read every entry. */
  readonly asciiCi: boolean
  readonly incompat: number
  readonly truncated: boolean
  private readonly sb: Buffer
  private readonly reader: ReadAt
  private readonly uuid: Buffer
  private readonly cache = new Lru<number, Buffer>(CACHE_BLOCKS)
  /** Recently used extent maps, bounded by count and by total extents (a walk over many fragmented files cannot pile up memory). */
  private readonly maps = new Map<number, Extent[]>()
  private cachedExtents = 0

  private constructor(reader: ReadAt, sb: Buffer) {
    this.reader = reader
    this.sb = sb
    const versionnum = sb.readUInt16BE(100)
    const v = versionnum & 0xf
    if (v !== 4 && v !== 5) throw fsErr('ENOTSUP', `superblock version ${v} (only 4 and 5 are read)`)
    this.version = v
    this.blockSize = sb.readUInt32BE(4)
    const blockLog = sb[120]
    if (blockLog < 9 || blockLog > 16 || this.blockSize !== 1 << blockLog) throw fsErr('ECORRUPT', `block size ${this.blockSize} (log ${blockLog})`)
    this.sectorSize = sb.readUInt16BE(102)
    if (this.sectorSize < 512 || this.sectorSize > 32768 || (this.sectorSize & (this.sectorSize - 1)) || this.sectorSize > this.blockSize) throw fsErr('ECORRUPT', `sector size ${this.sectorSize}`)
    this.blocks = u64(sb, 8)
    this.agBlocks = sb.readUInt32BE(84)
    this.agCount = sb.readUInt32BE(88)
    this.agBlkLog = sb[124]
    if (this.agBlocks < 16 || this.agBlkLog > 31 || pow2(this.agBlkLog) < this.agBlocks || pow2(this.agBlkLog - 1) >= this.agBlocks) throw fsErr('ECORRUPT', `AG of ${this.agBlocks} blocks (log ${this.agBlkLog})`)
    if (this.agCount < 1 || this.agCount > 1 << 24 || this.blocks > this.agCount * this.agBlocks || this.blocks <= (this.agCount - 1) * this.agBlocks) throw fsErr('ECORRUPT', `${this.agCount} AGs of ${this.agBlocks} blocks do not hold ${this.blocks} blocks`)
    this.inodeSize = sb.readUInt16BE(104)
    const inodeLog = sb[122]
    if (inodeLog < 8 || inodeLog > 11 || this.inodeSize !== 1 << inodeLog || this.inodeSize > this.blockSize) throw fsErr('ECORRUPT', `inode size ${this.inodeSize}`)
    if (v === 5 && this.inodeSize < 512) throw fsErr('ECORRUPT', `v5 inode size ${this.inodeSize}`)
    this.inoPBLog = sb[123]
    if (sb.readUInt16BE(106) !== this.blockSize / this.inodeSize || pow2(this.inoPBLog) !== this.blockSize / this.inodeSize) throw fsErr('ECORRUPT', 'inodes per block do not match block and inode sizes')
    const dirBlkLog = sb[192]
    if (dirBlkLog > 6 || (this.blockSize << dirBlkLog) > 65536) throw fsErr('ECORRUPT', `directory block log ${dirBlkLog}`)
    this.dirBlockSize = this.blockSize << dirBlkLog
    this.incompat = v === 5 ? sb.readUInt32BE(216) : 0
    if (v === 5) {
      const unknown = this.incompat & ~INCOMPAT_KNOWN
      if (unknown) throw fsErr('ENOTSUP', `unknown incompatible features 0x${unknown.toString(16)}`)
      this.hasFtype = (this.incompat & INCOMPAT_FTYPE) !== 0
    } else {
      if (!(versionnum & V4_DIRV2)) throw fsErr('ENOTSUP', 'version 1 directories (pre-2002 XFS)')
      this.hasFtype = (versionnum & V4_MOREBITS) !== 0 && (sb.readUInt32BE(200) & V4_FEATURES2_FTYPE) !== 0
    }
    this.asciiCi = (versionnum & 0x4000) !== 0 // XFS_SB_VERSION_BORGBIT
    this.uuid = Buffer.from(sb.subarray(v === 5 && (this.incompat & INCOMPAT_META_UUID) ? 248 : 32, v === 5 && (this.incompat & INCOMPAT_META_UUID) ? 264 : 48))
    this.rootIno = u64(sb, 56)
    this.truncated = this.blocks * this.blockSize > reader.size
  }

  static async open(reader: ReadAt): Promise<XfsVolume> {
    if (reader.size < 4096) throw fsErr('ECORRUPT', 'volume too small for an XFS superblock')
    const head = await reader.readAt(0, 512)
    if (head.length < 512 || head.readUInt32BE(0) !== SB_MAGIC) throw fsErr('ECORRUPT', 'no XFS superblock magic')
    const sect = head.readUInt16BE(102)
    let sb = Buffer.from(head)
    if (sect > 512 && sect <= 32768 && !(sect & (sect - 1))) {
      sb = Buffer.from(await reader.readAt(0, sect))
      if (sb.length < sect) throw fsErr('ECORRUPT', 'short superblock read')
    }
    if ((sb.readUInt16BE(100) & 0xf) === 5 && !xfsCrcOk(sb, 224)) throw fsErr('ECORRUPT', 'superblock checksum mismatch')
    const v = new XfsVolume(reader, sb)
    // the root must be a directory: catches a damaged root pointer before the first listing
    const root = await v.readInode(v.rootIno)
    if ((root.mode & S_IFMT) !== S_IFDIR) throw fsErr('ECORRUPT', `root inode ${v.rootIno} is not a directory`)
    return v
  }

  // ---- state -------------------------------------------------------------------------------

  async state(): Promise<XfsState> {
    const sb = this.sb
    const features: string[] = []
    if (this.version === 5) {
      features.push('crc')
      const ro = sb.readUInt32BE(212)
      const names: [number, number, string][] = [
        [this.incompat, INCOMPAT_FTYPE, 'ftype'], [this.incompat, INCOMPAT_SPINODES, 'sparse-inodes'], [this.incompat, INCOMPAT_META_UUID, 'meta-uuid'],
        [this.incompat, INCOMPAT_BIGTIME, 'bigtime'], [this.incompat, INCOMPAT_NREXT64, 'nrext64'], [this.incompat, INCOMPAT_EXCHRANGE, 'exchange-range'], [this.incompat, INCOMPAT_PARENT, 'parent-pointers'],
        [ro, 0x1, 'finobt'], [ro, 0x2, 'rmapbt'], [ro, 0x4, 'reflink'], [ro, 0x8, 'inobtcount'],
      ]
      for (const [word, bit, name] of names) if (word & bit) features.push(name)
    } else if (this.hasFtype) features.push('ftype')
    const needsRepair = (this.incompat & INCOMPAT_NEEDSREPAIR) !== 0
    const inProgress = sb[126] !== 0
    const log = await this.logState()
    return {
      clean: (log === 'clean' || log === 'empty') && !needsRepair && !inProgress,
      log, needsRepair, inProgress,
      version: this.version,
      label: cString(sb.subarray(108, 120)),
      uuid: uuidString(sb.subarray(32, 48)),
      blockSize: this.blockSize,
      blocks: this.blocks,
      agCount: this.agCount,
      agBlocks: this.agBlocks,
      inodeSize: this.inodeSize,
      dirBlockSize: this.dirBlockSize,
      features,
      logIncompat: this.version === 5 ? sb.readUInt32BE(220) : 0,
      truncated: this.truncated,
    }
  }

  /**
   * Finds the log head the way log recovery does (the cycle number stamped into every 512-byte
   * block drops by one past the head), then looks at the last record before it: a clean unmount
   * leaves a record holding exactly one operation flagged as the unmount transaction.
   */
  private async logState(): Promise<XfsState['log']> {
    const logStart = u64(this.sb, 48)
    const logBlocks = this.sb.readUInt32BE(96)
    if (logStart === 0) return 'external'
    const bbs = (logBlocks * this.blockSize) / 512
    if (logBlocks < 64 || !Number.isSafeInteger(bbs)) return 'unknown'
    let base: number
    try { base = this.fsbToByte(logStart, logBlocks) } catch { return 'unknown' }
    if (base + bbs * 512 > this.reader.size) return 'unknown'
    const bbCache = new Map<number, Buffer>()
    const bb = async (n: number): Promise<Buffer> => {
      const i = ((n % bbs) + bbs) % bbs
      let b = bbCache.get(i)
      if (!b) { b = await this.readBytes(base + i * 512, 512); if (bbCache.size < 4096) bbCache.set(i, b) }
      return b
    }
    const cycle = async (n: number) => { const b = await bb(n); return b.readUInt32BE(0) === LOG_HEADER_MAGIC ? b.readUInt32BE(4) : b.readUInt32BE(0) }
    const first = await cycle(0)
    if (first === 0) return 'empty'
    const last = await cycle(bbs - 1)
    let head: number
    if (first === last) head = bbs // written through to the end: the head is where the log wraps
    else {
      // the first block carrying the last block's (older) cycle number
      let lo = 0, hi = bbs - 1
      for (let i = 0; i < 64 && hi - lo > 1; i++) {
        const mid = Math.floor((lo + hi) / 2)
        if ((await cycle(mid)) === last) hi = mid; else lo = mid
      }
      head = hi
    }
    for (let back = 1; back <= Math.min(bbs, MAX_LOG_RECORD_BBS); back++) {
      const at = head - back
      const h = await bb(at)
      if (h.readUInt32BE(0) !== LOG_HEADER_MAGIC) continue
      const version = h.readUInt32BE(8)
      const len = h.readUInt32BE(12)
      const ops = h.readUInt32BE(40)
      const hsize = h.readUInt32BE(320)
      const hblks = version & 2 ? Math.max(1, Math.ceil(hsize / 32768)) : 1
      if (hblks > 8 || len > 4 * 1024 * 1024) return 'unknown'
      const end = at + hblks + Math.ceil(len / 512)
      if (((end % bbs) + bbs) % bbs !== head % bbs) return 'dirty' // the head lies beyond this record: a torn write
      if (ops !== 1) return 'dirty'
      const op = await bb(at + hblks)
      return op[9] & 0x20 ? 'clean' : 'dirty' // XLOG_UNMOUNT_TRANS
    }
    return 'unknown'
  }

  // ---- low level ---------------------------------------------------------------------------

  private async readBytes(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.reader.size) throw fsErr('ERANGE', `read at ${offset}+${length} is outside the volume`)
    if (length === 0) return Buffer.alloc(0)
    const b = await this.reader.readAt(offset, length)
    if (b.length < length) throw fsErr('ERANGE', `short read at ${offset}`)
    return b.length === length ? b : b.subarray(0, length)
  }

  /** Byte offset of filesystem block `fsb` ((AG << agblklog) | AG block), checking `count` blocks stay in its AG. */
  private fsbToByte(fsb: number, count = 1): number {
    if (!Number.isSafeInteger(fsb) || fsb < 0) throw fsErr('ERANGE', `block ${fsb}`)
    const ag = Math.floor(fsb / pow2(this.agBlkLog))
    const agb = fsb % pow2(this.agBlkLog)
    if (ag >= this.agCount || agb + count > this.agBlocks || ag * this.agBlocks + agb + count > this.blocks) throw fsErr('ERANGE', `block ${ag}/${agb}${count > 1 ? `+${count}` : ''} is beyond the filesystem`)
    return (ag * this.agBlocks + agb) * this.blockSize
  }

  /** A metadata block, cached. */
  private async block(fsb: number): Promise<Buffer> {
    const hit = this.cache.get(fsb)
    if (hit) return hit
    const b = await this.readBytes(this.fsbToByte(fsb), this.blockSize)
    this.cache.set(fsb, b)
    return b
  }

  /** The filesystem block holding inode `ino`, and the inode's byte offset inside it. */
  private inodeLocation(ino: number): { fsb: number; at: number } {
    if (!Number.isSafeInteger(ino) || ino < 1) throw fsErr('ERANGE', `inode ${ino}`)
    const perAg = pow2(this.agBlkLog + this.inoPBLog)
    const ag = Math.floor(ino / perAg)
    const agb = Math.floor(ino / pow2(this.inoPBLog)) % pow2(this.agBlkLog)
    const slot = ino % pow2(this.inoPBLog)
    if (ag >= this.agCount || agb >= this.agBlocks) throw fsErr('ERANGE', `inode ${ino} lies beyond the filesystem`)
    return { fsb: ag * pow2(this.agBlkLog) + agb, at: slot * this.inodeSize }
  }

  private readonly inodes = new Lru<number, Inode>(256)

  private async readInode(ino: number): Promise<Inode> {
    const hit = this.inodes.get(ino)
    if (hit) return hit
    // whole inode blocks through the cache: listing a directory reads its children's inodes, which sit together
    const loc = this.inodeLocation(ino)
    const raw = (await this.block(loc.fsb)).subarray(loc.at, loc.at + this.inodeSize)
    if (raw.readUInt16BE(0) !== INODE_MAGIC) throw fsErr('ECORRUPT', `inode ${ino}: bad magic (not an allocated inode?)`)
    const version = raw[4]
    if (version < 1 || version > 3 || (version === 3) !== (this.version === 5)) throw fsErr('ECORRUPT', `inode ${ino}: version ${version} on a v${this.version} filesystem`)
    if (version === 3) {
      if (!xfsCrcOk(raw, 100)) throw fsErr('ECORRUPT', `inode ${ino}: checksum mismatch`)
      if (u64(raw, 152) !== ino) throw fsErr('ECORRUPT', `inode ${ino}: records itself as inode ${u64(raw, 152)}`)
      if (!raw.subarray(160, 176).equals(this.uuid)) throw fsErr('ECORRUPT', `inode ${ino}: belongs to another filesystem (UUID)`)
    }
    const core = version === 3 ? 176 : 100
    const mode = raw.readUInt16BE(2)
    const flags = raw.readUInt16BE(90)
    const flags2 = version === 3 ? raw.readBigUInt64BE(120) : 0n
    const nrext64 = (flags2 & BigInt(DIFLAG2_NREXT64)) !== 0n
    const nextents = nrext64 ? u64(raw, 24) : raw.readUInt32BE(76)
    const forkOff = raw[82] * 8
    if (forkOff && core + forkOff > this.inodeSize) throw fsErr('ECORRUPT', `inode ${ino}: attribute fork offset ${forkOff}`)
    const fork = raw.subarray(core, forkOff ? core + forkOff : this.inodeSize)
    const size = u64(raw, 56)
    if (size >= pow2(53) - 1 || size > pow2(63)) throw fsErr('ECORRUPT', `inode ${ino}: absurd size`)
    const bigtime = (flags2 & BigInt(DIFLAG2_BIGTIME)) !== 0n
    const t = (o: number) => {
      if (bigtime) {
        const ns = raw.readBigUInt64BE(o)
        return isoFromUnix(Number(ns / 1_000_000_000n) - 2 ** 31, Number(ns % 1_000_000_000n))
      }
      return isoFromUnix(raw.readInt32BE(o), raw.readUInt32BE(o + 4))
    }
    const inode: Inode = {
      ino, mode, version, format: raw[5], flags, flags2, fork, size, nextents,
      uid: raw.readUInt32BE(8),
      gid: raw.readUInt32BE(12),
      nlink: version === 1 ? raw.readUInt16BE(6) : raw.readUInt32BE(16),
      nblocks: u64(raw, 64),
      atime: t(32), mtime: t(40), ctime: t(48),
      btime: version === 3 ? t(144) : undefined,
    }
    this.inodes.set(ino, inode)
    return inode
  }

  // ---- data fork ---------------------------------------------------------------------------

  /** The data fork's extents, sorted and checked (extents list or bmap B+tree). */
  private async extents(inode: Inode): Promise<Extent[]> {
    const hit = this.maps.get(inode.ino)
    if (hit) { this.maps.delete(inode.ino); this.maps.set(inode.ino, hit); return hit }
    let out: Extent[]
    if (inode.format === FMT_EXTENTS) {
      if (inode.nextents * 16 > inode.fork.length) throw fsErr('ECORRUPT', `inode ${inode.ino}: ${inode.nextents} extents do not fit the fork`)
      out = []
      for (let i = 0; i < inode.nextents; i++) out.push(parseExtent(inode.fork, i * 16))
    } else if (inode.format === FMT_BTREE) {
      out = await this.btreeExtents(inode)
    } else throw fsErr('ECORRUPT', `inode ${inode.ino}: data fork format ${inode.format} has no extents`)
    let end = 0
    for (const e of out) {
      if (e.len === 0 || e.off < end) throw fsErr('ECORRUPT', `inode ${inode.ino}: extents overlap or are out of order at block ${e.off}`)
      end = e.off + e.len
      this.fsbToByte(e.fsb, e.len)
    }
    if (out.length <= CACHE_EXTENTS) {
      this.maps.set(inode.ino, out)
      this.cachedExtents += out.length
      for (const [k, v] of this.maps) {
        if (this.maps.size <= CACHE_MAPS && this.cachedExtents <= CACHE_EXTENTS) break
        this.maps.delete(k)
        this.cachedExtents -= v.length
      }
    }
    return out
  }

  private async btreeExtents(inode: Inode): Promise<Extent[]> {
    const root = inode.fork
    if (root.length < 4) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap root too small`)
    const level = root.readUInt16BE(0)
    const n = root.readUInt16BE(2)
    const maxRoot = Math.floor((root.length - 4) / 16)
    if (level < 1 || level > MAX_BTREE_DEPTH || n < 1 || n > maxRoot) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap root level ${level} with ${n} records`)
    if (inode.nextents > MAX_EXTENTS) throw fsErr('ELIMIT', `inode ${inode.ino} has ${inode.nextents} extents (limit ${MAX_EXTENTS})`)
    const out: Extent[] = []
    const v5 = this.version === 5
    const hdr = v5 ? 72 : 24
    const visited = new Set<number>()
    const walk = async (fsb: number, want: number): Promise<void> => {
      if (visited.has(fsb)) throw fsErr('ELOOP', `inode ${inode.ino}: bmap block ${fsb} reached twice`)
      if (visited.size > MAX_EXTENTS) throw fsErr('ELIMIT', `inode ${inode.ino}: bmap tree too large`)
      visited.add(fsb)
      const b = await this.block(fsb)
      if (b.readUInt32BE(0) !== (v5 ? BMAP_MAGIC_V5 : BMAP_MAGIC_V4)) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap block ${fsb} has a bad magic`)
      if (v5) {
        if (!xfsCrcOk(b, 64)) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap block ${fsb} checksum mismatch`)
        if (u64(b, 56) !== inode.ino) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap block ${fsb} belongs to inode ${u64(b, 56)}`)
      }
      const lvl = b.readUInt16BE(4)
      const recs = b.readUInt16BE(6)
      const max = Math.floor((this.blockSize - hdr) / 16)
      if (lvl !== want || recs < 1 || recs > max) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap block ${fsb} level ${lvl} (expected ${want}) with ${recs} records`)
      if (lvl === 0) {
        for (let i = 0; i < recs; i++) {
          if (out.length >= MAX_EXTENTS || out.length >= inode.nextents) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap tree holds more than its ${inode.nextents} extents`)
          out.push(parseExtent(b, hdr + i * 16))
        }
        return
      }
      const ptrs = hdr + max * 8
      for (let i = 0; i < recs; i++) await walk(u64(b, ptrs + i * 8), lvl - 1)
    }
    for (let i = 0; i < n; i++) await walk(u64(root, 4 + maxRoot * 8 + i * 8), level - 1)
    if (out.length !== inode.nextents) throw fsErr('ECORRUPT', `inode ${inode.ino}: bmap tree holds ${out.length} extents, inode says ${inode.nextents}`)
    return out
  }

  /** Bytes of the data fork (any inode type), zeros for holes and unwritten extents. Not clipped to di_size. */
  private async readFork(inode: Inode, offset: number, n: number): Promise<Buffer> {
    if (inode.format === FMT_LOCAL) {
      const out = Buffer.alloc(n)
      inode.fork.subarray(Math.min(offset, inode.fork.length), Math.min(offset + n, inode.fork.length)).copy(out)
      return out
    }
    if (inode.flags & DIFLAG_REALTIME) throw fsErr('ENOTSUP', `inode ${inode.ino}: data on the realtime device`)
    const exts = await this.extents(inode)
    const out = Buffer.alloc(n)
    const bs = this.blockSize
    const end = offset + n
    // first extent that ends after `offset`
    let lo = 0, hi = exts.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if ((exts[mid].off + exts[mid].len) * bs <= offset) lo = mid + 1; else hi = mid }
    for (let i = lo; i < exts.length; i++) {
      const e = exts[i]
      const eStart = e.off * bs, eEnd = (e.off + e.len) * bs
      if (eStart >= end) break
      if (e.unwritten) continue
      const from = Math.max(offset, eStart), to = Math.min(end, eEnd)
      const data = await this.readBytes(this.fsbToByte(e.fsb, e.len) + (from - eStart), to - from)
      data.copy(out, from - offset)
    }
    return out
  }

  private async readData(inode: Inode, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw fsErr('ERANGE', `bad read range ${offset}+${length}`)
    if (offset >= inode.size || length === 0) return Buffer.alloc(0)
    const n = Math.min(length, inode.size - offset)
    if (n > MAX_READ) throw fsErr('ELIMIT', `read of ${n} bytes exceeds the ${MAX_READ}-byte limit per call`)
    return this.readFork(inode, offset, n)
  }

  // ---- symlinks ----------------------------------------------------------------------------

  private async symlinkTarget(inode: Inode): Promise<string> {
    if (inode.size > MAX_SYMLINK || inode.size < 1) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink of ${inode.size} bytes`)
    if (inode.format === FMT_LOCAL) {
      if (inode.size > inode.fork.length) throw fsErr('ECORRUPT', `inode ${inode.ino}: inline symlink overruns the fork`)
      return inode.fork.subarray(0, inode.size).toString('utf8')
    }
    if (this.version === 4) return (await this.readFork(inode, 0, inode.size)).toString('utf8')
    // v5 remote symlink: every extent is one buffer starting with a header saying which bytes it holds
    const parts: Buffer[] = []
    let got = 0
    const exts = await this.extents(inode)
    for (const e of exts) {
      if (got >= inode.size) break
      if (e.unwritten || e.len * this.blockSize > 65536) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink extent of ${e.len} blocks`)
      const b = await this.readBytes(this.fsbToByte(e.fsb, e.len), e.len * this.blockSize)
      if (b.readUInt32BE(0) !== SYMLINK_MAGIC) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink block has a bad magic`)
      if (!xfsCrcOk(b, 12)) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink block checksum mismatch`)
      const off = b.readUInt32BE(4), bytes = b.readUInt32BE(8)
      if (off !== got || bytes < 1 || 56 + bytes > b.length || got + bytes > inode.size) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink block holds bytes ${off}+${bytes}`)
      if (u64(b, 32) !== inode.ino) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink block belongs to inode ${u64(b, 32)}`)
      parts.push(b.subarray(56, 56 + bytes))
      got += bytes
    }
    if (got !== inode.size) throw fsErr('ECORRUPT', `inode ${inode.ino}: symlink blocks hold ${got} of ${inode.size} bytes`)
    return Buffer.concat(parts).toString('utf8')
  }

  // ---- entries -----------------------------------------------------------------------------

  private parseRef(ref: string | number): number {
    const n = typeof ref === 'number' ? ref : /^\d{1,16}$/.test(ref) ? Number(ref) : NaN
    if (!Number.isSafeInteger(n)) throw fsErr('ENOENT', `not an XFS reference: ${String(ref)}`)
    return n
  }

  private async entry(ino: number, name: string): Promise<FsEntry> {
    const inode = await this.readInode(ino)
    const fmt = inode.mode & S_IFMT
    const type: FsEntryType = fmt === S_IFREG ? 'file' : fmt === S_IFDIR ? 'dir' : fmt === S_IFLNK ? 'symlink' : 'other'
    const attributes: string[] = []
    if (inode.flags & DIFLAG_IMMUTABLE) attributes.push('immutable')
    if (inode.flags & DIFLAG_APPEND) attributes.push('append-only')
    if (inode.flags & DIFLAG_NODUMP) attributes.push('nodump')
    if (inode.flags & DIFLAG_REALTIME) attributes.push('realtime')
    if (inode.flags & DIFLAG_PREALLOC) attributes.push('preallocated')
    if (inode.flags2 & BigInt(DIFLAG2_REFLINK)) attributes.push('reflink')
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

  async root(): Promise<FsEntry> { return this.entry(this.rootIno, '') }

  async stat(ref: string | number): Promise<FsEntry> {
    const ino = this.parseRef(ref)
    return this.entry(ino, ino === this.rootIno ? '' : String(ino))
  }

  /** Link count and allocated blocks, for callers that report them. */
  async inodeInfo(ref: string | number): Promise<{ nlink: number; blocks: number; format: 'local' | 'extents' | 'btree' | 'other'; extents: number }> {
    const i = await this.readInode(this.parseRef(ref))
    return { nlink: i.nlink, blocks: i.nblocks, format: i.format === FMT_LOCAL ? 'local' : i.format === FMT_EXTENTS ? 'extents' : i.format === FMT_BTREE ? 'btree' : 'other', extents: i.nextents }
  }

  /** Directory entries (name, inode), "." and ".." excluded. */
  private async dirents(inode: Inode): Promise<{ name: string; ino: number }[]> {
    if ((inode.mode & S_IFMT) !== S_IFDIR) throw fsErr('ENOTDIR', `inode ${inode.ino} is not a directory`)
    if (inode.format === FMT_LOCAL) return this.shortformDir(inode)
    if (inode.format !== FMT_EXTENTS && inode.format !== FMT_BTREE) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: data fork format ${inode.format}`)
    const exts = await this.extents(inode)
    const fsbPerDirBlk = this.dirBlockSize / this.blockSize
    const leafBlk = DIR_LEAF_OFFSET / this.blockSize
    // the directory blocks that have any mapping below the leaf offset, in order
    const dirBlocks: number[] = []
    for (const e of exts) {
      if (e.off >= leafBlk) break
      const first = Math.floor(e.off / fsbPerDirBlk), last = Math.floor((Math.min(e.off + e.len, leafBlk) - 1) / fsbPerDirBlk)
      for (let d = first; d <= last; d++) {
        if (dirBlocks[dirBlocks.length - 1] === d) continue
        dirBlocks.push(d)
        if (dirBlocks.length * this.dirBlockSize > MAX_DIR_BYTES) throw fsErr('ELIMIT', `directory inode ${inode.ino} is larger than ${MAX_DIR_BYTES} bytes`)
      }
    }
    const out: { name: string; ino: number }[] = []
    const v5 = this.version === 5
    for (const d of dirBlocks) {
      const { b, isBlock } = await this.dirDataBlock(inode, d)
      let end = this.dirBlockSize
      if (isBlock) {
        const count = b.readUInt32BE(end - 8)
        end -= 8 + count * 8
      }
      this.parseDataBlock(inode.ino, b, v5 ? 64 : 16, end, out)
    }
    return out
  }

  /** Directory data block `d` (in directory-block units), magic, checksum and owner checked. */
  private async dirDataBlock(inode: Inode, d: number): Promise<{ b: Buffer; isBlock: boolean }> {
    const v5 = this.version === 5
    const b = await this.readFork(inode, d * this.dirBlockSize, this.dirBlockSize)
    const magic = b.readUInt32BE(0)
    const isBlock = magic === (v5 ? DIR_BLOCK_V5 : DIR_BLOCK_V4)
    if (!isBlock && magic !== (v5 ? DIR_DATA_V5 : DIR_DATA_V4)) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: block ${d} has a bad magic`)
    if (v5) {
      if (!xfsCrcOk(b, 4)) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: block ${d} checksum mismatch`)
      if (u64(b, 40) !== inode.ino) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: block ${d} belongs to inode ${u64(b, 40)}`)
    }
    return { b, isBlock }
  }

  /** A directory hash-tree block (leaf, node) at `dablk` (filesystem-block units), checksum and owner checked. */
  private async dirHashBlock(inode: Inode, dablk: number): Promise<{ b: Buffer; magic: number; count: number; hdr: number }> {
    const v5 = this.version === 5
    const b = await this.readFork(inode, dablk * this.blockSize, this.dirBlockSize)
    const magic = b.readUInt16BE(8)
    if (v5) {
      if (!xfsCrcOk(b, 12)) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: hash block ${dablk} checksum mismatch`)
      if (u64(b, 48) !== inode.ino) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: hash block ${dablk} belongs to inode ${u64(b, 48)}`)
    }
    const hdr = v5 ? 64 : 16
    const count = b.readUInt16BE(hdr - (v5 ? 8 : 4))
    if (hdr + count * 8 > b.length) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: hash block ${dablk} claims ${count} entries`)
    return { b, magic, count, hdr }
  }

  /**
   * Name → inode through the directory's hash index (block tail, leaf, or node tree), without
   * reading every data block. undefined when the index has no match.
   */
  private async hashedLookup(inode: Inode, name: string): Promise<number | undefined> {
    const v5 = this.version === 5
    const raw = Buffer.from(name, 'utf8')
    if (raw.length === 0 || raw.length > 255) return undefined
    const hash = daHash(raw)
    const candidates: number[] = [] // data pointers (directory byte offset / 8)
    const collect = (b: Buffer, from: number, count: number): boolean => {
      // entries are sorted by hash: binary search the first match, then take all equal ones
      let lo = 0, hi = count
      while (lo < hi) { const mid = (lo + hi) >> 1; if (b.readUInt32BE(from + mid * 8) < hash) lo = mid + 1; else hi = mid }
      for (let i = lo; i < count && b.readUInt32BE(from + i * 8) === hash; i++) {
        const addr = b.readUInt32BE(from + i * 8 + 4)
        if (addr !== 0 && candidates.length < 1024) candidates.push(addr)
      }
      return count > 0 && b.readUInt32BE(from + (count - 1) * 8) === hash // equal hashes may go on in the next leaf
    }
    const exts = await this.extents(inode)
    const leafBlk = DIR_LEAF_OFFSET / this.blockSize
    if (!exts.some((e) => e.off + e.len > leafBlk)) {
      // block form: the leaf sits at the end of the single block
      const { b, isBlock } = await this.dirDataBlock(inode, 0)
      if (!isBlock) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: data blocks without a hash index`)
      const count = b.readUInt32BE(b.length - 8)
      const from = b.length - 8 - count * 8
      if (from < (v5 ? 64 : 16)) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: block leaf of ${count} entries`)
      collect(b, from, count)
    } else {
      let dablk = leafBlk
      let blk = await this.dirHashBlock(inode, dablk)
      for (let depth = 0; blk.magic === (v5 ? 0x3ebe : 0xfebe); depth++) { // a node: descend to the first child whose hash reaches ours
        if (depth >= MAX_BTREE_DEPTH || blk.count < 1) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: hash tree node ${dablk} is empty or too deep`)
        let i = 0
        while (i < blk.count - 1 && blk.b.readUInt32BE(blk.hdr + i * 8) < hash) i++
        dablk = blk.b.readUInt32BE(blk.hdr + i * 8 + 4)
        blk = await this.dirHashBlock(inode, dablk)
      }
      const leafMagics = v5 ? [0x3df1, 0x3dff] : [0xd2f1, 0xd2ff]
      for (let hops = 0; ; hops++) {
        if (!leafMagics.includes(blk.magic)) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: hash block ${dablk} has a bad magic`)
        if (!collect(blk.b, blk.hdr, blk.count)) break
        const forw = blk.b.readUInt32BE(0)
        if (forw === 0 || hops >= 64) break
        dablk = forw
        blk = await this.dirHashBlock(inode, dablk)
      }
    }
    for (const addr of candidates) {
      const off = addr * 8
      const { b } = await this.dirDataBlock(inode, Math.floor(off / this.dirBlockSize))
      const at = off % this.dirBlockSize
      if (at + 11 > b.length) continue
      const len = b[at + 8]
      if (at + 9 + len <= b.length && len === raw.length && b.subarray(at + 9, at + 9 + len).equals(raw)) return u64(b, at)
    }
    return undefined
  }

  private parseDataBlock(dirIno: number, b: Buffer, start: number, end: number, out: { name: string; ino: number }[]): void {
    if (end < start) throw fsErr('ECORRUPT', `directory inode ${dirIno}: block leaf overlaps its entries`)
    let p = start
    const ft = this.hasFtype ? 1 : 0
    while (p < end) {
      if (p + 8 > end) throw fsErr('ECORRUPT', `directory inode ${dirIno}: truncated entry at ${p}`)
      if (b.readUInt16BE(p) === 0xffff) {
        const len = b.readUInt16BE(p + 2)
        if (len < 8 || (len & 7) || p + len > end) throw fsErr('ECORRUPT', `directory inode ${dirIno}: free space of ${len} bytes at ${p}`)
        p += len
        continue
      }
      const ino = u64(b, p)
      const nameLen = b[p + 8]
      const rec = (8 + 1 + nameLen + ft + 2 + 7) & ~7
      if (nameLen === 0 || p + rec > end) throw fsErr('ECORRUPT', `directory inode ${dirIno}: entry at ${p} overruns the block`)
      if (b.readUInt16BE(p + rec - 2) !== p) throw fsErr('ECORRUPT', `directory inode ${dirIno}: entry at ${p} has a wrong tag`)
      const raw = b.subarray(p + 9, p + 9 + nameLen)
      const dot = nameLen <= 2 && raw.every((c) => c === 0x2e)
      if (!dot) {
        if (out.length >= MAX_DIR_ENTRIES) throw fsErr('ELIMIT', `directory inode ${dirIno} has more than ${MAX_DIR_ENTRIES} entries`)
        out.push({ name: raw.toString('utf8'), ino })
      }
      p += rec
    }
  }

  private shortformDir(inode: Inode): { name: string; ino: number }[] {
    const f = inode.fork
    const size = inode.size
    if (size < 6 || size > f.length) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: shortform size ${size}`)
    const count = f[0], i8 = f[1]
    const inoLen = i8 ? 8 : 4
    const ft = this.hasFtype ? 1 : 0
    let p = 2 + inoLen
    const out: { name: string; ino: number }[] = []
    for (let i = 0; i < count; i++) {
      if (p + 3 > size) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: shortform entry ${i} overruns the fork`)
      const nameLen = f[p]
      if (nameLen === 0 || p + 3 + nameLen + ft + inoLen > size) throw fsErr('ECORRUPT', `directory inode ${inode.ino}: shortform entry ${i} overruns the fork`)
      const name = f.subarray(p + 3, p + 3 + nameLen).toString('utf8')
      const io = p + 3 + nameLen + ft
      const ino = inoLen === 8 ? u64(f, io) : f.readUInt32BE(io)
      out.push({ name, ino })
      p = io + inoLen
    }
    return out
  }

  async list(dirRef: string | number): Promise<FsEntry[]> {
    const inode = await this.readInode(this.parseRef(dirRef))
    return listEntries(await this.dirents(inode), (ino, name) => this.entry(ino, name))
  }

  async lookup(path: string): Promise<FsEntry> {
    return lookupInodePath(path, await this.root(), async (dir, name) => {
      const dirInode = await this.readInode(dir.inode)
      let ino: number | undefined
      // the hash index first (a few blocks); a damaged or missing index falls back to reading every entry
      if (dirInode.format !== FMT_LOCAL && !this.asciiCi && (dirInode.mode & S_IFMT) === S_IFDIR) {
        try { ino = await this.hashedLookup(dirInode, name) } catch (e) { if (!(e instanceof FsError)) throw e }
      }
      if (ino === undefined) ino = (await this.dirents(dirInode)).find(e => e.name === name)?.ino
      return ino === undefined ? undefined : this.entry(ino, name)
    }, fsErr)
  }

  /** Depth-first walk yielding every entry with its path (directories before their children). */
  walk(dirRef: string | number = this.rootIno, maxDepth = 256, prefix = ''): AsyncGenerator<{ path: string; entry: FsEntry }> {
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
