/**
 * Read-only, on-demand FAT12/16/32 reader (issue 11). Reads the boot sector at open and
 * everything else (FAT sectors, directories, data) on demand through a ReadAt.
 *
 * Why not the `fatfs` npm package: callback API over a whole-volume driver with writing,
 * it ignores the NT lower-case flags (HELLO.TXT for hello.txt), has no bounded/loop-safe
 * chain walking, and has not been maintained since 2022.
 *
 * References are TSK-compatible inode numbers: 2 is the root; every other entry is numbered
 * by the position of its 8.3 directory entry ((sector - first root/data sector) × entries per
 * sector + index + 3), so stat/read re-read that entry and need no other state.
 */
import type { FsEntry, ReadAt } from '../types.ts'
import { FsError } from '../types.ts'
import { Chain, Lru, MAX_READ, STREAM_CHUNK, cp437, dosTime, fsErr, lookupPath, readClusters, readExact } from './common.ts'

const ROOT = 2
const ATTR_RO = 0x01, ATTR_HIDDEN = 0x02, ATTR_SYSTEM = 0x04, ATTR_VOLUME = 0x08, ATTR_DIR = 0x10, ATTR_ARCHIVE = 0x20, ATTR_LFN = 0x0f
const MAX_DIR_BYTES = 4 * 1024 * 1024 // 65536 entries of 32 bytes is the FAT limit; allow twice that

export type FatType = 'FAT12' | 'FAT16' | 'FAT32'

export interface FatState {
  type: FatType
  /** No dirty bit set: neither the FAT[1] clean-shutdown bit cleared nor the boot sector's dirty flag. */
  clean: boolean
  /** FAT16/FAT32: FAT[1] ClnShutBit cleared (volume was not unmounted cleanly). */
  dirty: boolean
  /** FAT16/FAT32: FAT[1] HrdErrBit cleared (the driver saw an I/O error). */
  hardError: boolean
  /** Windows NT's flags in the boot sector (offset 0x25 / 0x41): bit 0 dirty, bit 1 surface test. */
  bootSectorDirty: boolean
  label: string
  serial: string
  clusterSize: number
  clusterCount: number
  /** The boot sector describes more sectors than the volume holds. */
  truncated: boolean
}

interface Node {
  inode: number
  name: string
  attr: number
  firstCluster: number
  size: number
  ntFlags: number
  crt?: string
  mtime?: string
  atime?: string
}

const FS = 'fat'
const err = (code: Parameters<typeof fsErr>[1], msg: string): FsError => fsErr(FS, code, msg)

export class FatVolume {
  readonly type: FatType
  readonly bytesPerSector: number
  readonly clusterSize: number
  readonly clusterCount: number
  readonly truncated: boolean
  private readonly reader: ReadAt
  private readonly boot: Buffer
  private readonly fatOffset: number // bytes
  private readonly fatBytes: number
  private readonly rootOffset: number // FAT12/16 fixed root region
  private readonly rootBytes: number
  private readonly rootCluster: number // FAT32
  private readonly dataOffset: number
  private readonly firstDataSect: number // TSK's first "data" sector (root region for FAT12/16)
  private readonly fatCache = new Lru<number, Buffer>(64)
  private readonly chains = new Lru<string, Chain>(64)

  private constructor(reader: ReadAt, b: Buffer) {
    this.reader = reader
    this.boot = b
    const bps = b.readUInt16LE(0x0b)
    const spc = b[0x0d]
    const reserved = b.readUInt16LE(0x0e)
    const nFats = b[0x10]
    const rootEntries = b.readUInt16LE(0x11)
    const tot16 = b.readUInt16LE(0x13)
    const fat16 = b.readUInt16LE(0x16)
    const tot32 = b.readUInt32LE(0x20)
    const fat32 = b.readUInt32LE(0x24)
    if (![512, 1024, 2048, 4096].includes(bps)) throw err('ECORRUPT', `bytes per sector ${bps}`)
    if (spc === 0 || (spc & (spc - 1)) !== 0) throw err('ECORRUPT', `sectors per cluster ${spc}`)
    if (reserved === 0) throw err('ECORRUPT', 'no reserved sectors')
    if (nFats === 0 || nFats > 4) throw err('ECORRUPT', `${nFats} FATs`)
    const fatSz = fat16 || fat32
    const totSec = tot16 || tot32
    if (fatSz === 0 || totSec === 0) throw err('ECORRUPT', 'FAT size or sector count is zero')
    const rootSectors = Math.ceil((rootEntries * 32) / bps)
    const meta = reserved + nFats * fatSz + rootSectors
    if (meta >= totSec) throw err('ECORRUPT', 'metadata larger than the volume')
    const clusters = Math.floor((totSec - meta) / spc)
    this.type = clusters < 4085 ? 'FAT12' : clusters < 65525 ? 'FAT16' : 'FAT32'
    if (this.type === 'FAT32' && (rootEntries !== 0 || fat16 !== 0)) throw err('ECORRUPT', 'FAT32 cluster count with a FAT12/16 root directory')
    if (this.type !== 'FAT32' && rootEntries === 0) throw err('ECORRUPT', 'FAT12/16 without root directory entries')
    this.bytesPerSector = bps
    this.clusterSize = bps * spc
    this.clusterCount = clusters
    const entryBits = this.type === 'FAT12' ? 12 : this.type === 'FAT16' ? 16 : 32
    if (fatSz * bps * 8 < (clusters + 2) * entryBits) throw err('ECORRUPT', 'FAT too small for the cluster count')
    // larger than the image (truncated): opens; reads beyond the end fail with ERANGE
    this.truncated = totSec * bps > reader.size
    let activeFat = 0
    if (this.type === 'FAT32') {
      const ext = b.readUInt16LE(0x28)
      if (ext & 0x80) activeFat = ext & 0x0f
      if (activeFat >= nFats) throw err('ECORRUPT', `active FAT ${activeFat} of ${nFats}`)
      this.rootCluster = b.readUInt32LE(0x2c)
    } else this.rootCluster = 0
    this.fatOffset = (reserved + activeFat * fatSz) * bps
    this.fatBytes = fatSz * bps
    this.rootOffset = (reserved + nFats * fatSz) * bps
    this.rootBytes = rootSectors * bps
    this.dataOffset = meta * bps
    this.firstDataSect = reserved + nFats * fatSz
  }

  static async open(reader: ReadAt): Promise<FatVolume> {
    if (reader.size < 512) throw err('ECORRUPT', 'volume too small for a boot sector')
    const b = Buffer.from(await readExact(FS, reader, 0, 512))
    if (b[0] !== 0xeb && b[0] !== 0xe9) throw err('ECORRUPT', 'no FAT boot sector (jump instruction)')
    return new FatVolume(reader, b)
  }

  // ---- FAT -------------------------------------------------------------------------------

  private validCluster = (c: number): boolean => Number.isInteger(c) && c >= 2 && c < this.clusterCount + 2

  private async fatByte(off: number): Promise<number> {
    if (off >= this.fatBytes) throw err('ECORRUPT', 'FAT entry beyond the FAT')
    const chunk = Math.floor(off / 4096)
    let buf = this.fatCache.get(chunk)
    if (!buf) {
      const start = chunk * 4096
      buf = await readExact(FS, this.reader, this.fatOffset + start, Math.min(4096, this.fatBytes - start))
      this.fatCache.set(chunk, buf)
    }
    return buf[off % 4096]
  }

  private async fatEntry(c: number): Promise<number> {
    if (this.type === 'FAT12') {
      const off = c + (c >> 1)
      const v = (await this.fatByte(off)) | ((await this.fatByte(off + 1)) << 8)
      return c & 1 ? v >> 4 : v & 0xfff
    }
    if (this.type === 'FAT16') return (await this.fatByte(2 * c)) | ((await this.fatByte(2 * c + 1)) << 8)
    const o = 4 * c
    return ((await this.fatByte(o)) | ((await this.fatByte(o + 1)) << 8) | ((await this.fatByte(o + 2)) << 16) | ((await this.fatByte(o + 3)) << 24)) & 0x0fffffff
  }

  private next = async (c: number): Promise<number | null> => {
    const v = await this.fatEntry(c)
    const eoc = this.type === 'FAT12' ? 0xff8 : this.type === 'FAT16' ? 0xfff8 : 0x0ffffff8
    const bad = eoc - 1
    if (v >= eoc) return null
    if (v === bad) throw err('ECORRUPT', `cluster ${c} is followed by a bad-cluster mark`)
    if (v === 0) throw err('ECORRUPT', `cluster ${c} is followed by a free cluster`)
    if (!this.validCluster(v)) throw err('ECORRUPT', `cluster ${c} is followed by invalid cluster ${v}`)
    return v
  }

  private chain(first: number, maxClusters: number): Chain {
    const key = `${first}:${maxClusters}`
    let ch = this.chains.get(key)
    if (!ch) { ch = new Chain(FS, first, maxClusters, this.validCluster, this.next); this.chains.set(key, ch) }
    return ch
  }

  private clusterOffset = (c: number): number => this.dataOffset + (c - 2) * this.clusterSize

  async state(): Promise<FatState> {
    let dirty = false, hardError = false
    if (this.type !== 'FAT12') {
      const v = await this.fatEntry(1)
      if (this.type === 'FAT16') { dirty = (v & 0x8000) === 0; hardError = (v & 0x4000) === 0 } else { dirty = (v & 0x08000000) === 0; hardError = (v & 0x04000000) === 0 }
    }
    const ext = this.type === 'FAT32' ? 0x40 : 0x24
    const flags = this.boot[ext + 1]
    const bootSectorDirty = (flags & 1) !== 0
    const hasExt = this.boot[ext + 2] === 0x29
    return {
      type: this.type,
      clean: !dirty && !hardError && !bootSectorDirty,
      dirty, hardError, bootSectorDirty,
      label: hasExt ? cp437(this.boot.subarray(ext + 7, ext + 18)).trimEnd() : '',
      serial: hasExt ? this.boot.readUInt32LE(ext + 3).toString(16).padStart(8, '0').replace(/^(.{4})/, '$1-').toUpperCase() : '',
      clusterSize: this.clusterSize,
      clusterCount: this.clusterCount,
      truncated: this.truncated,
    }
  }

  // ---- directories -----------------------------------------------------------------------

  private inodeAt(byteOff: number): number {
    const bps = this.bytesPerSector
    return (Math.floor(byteOff / bps) - this.firstDataSect) * (bps / 32) + (byteOff % bps) / 32 + 3
  }

  private offsetOfInode(inode: number): number {
    const per = this.bytesPerSector / 32
    const sect = this.firstDataSect + Math.floor((inode - 3) / per)
    return sect * this.bytesPerSector + ((inode - 3) % per) * 32
  }

  private rootNode(): Node {
    return { inode: ROOT, name: '', attr: ATTR_DIR, firstCluster: this.type === 'FAT32' ? this.rootCluster : 0, size: 0, ntFlags: 0 }
  }

  private shortName(e: Buffer): string {
    const raw = Buffer.from(e.subarray(0, 11))
    if (raw[0] === 0x05) raw[0] = 0xe5
    let base = cp437(raw.subarray(0, 8)).replace(/ +$/, '')
    let ext = cp437(raw.subarray(8, 11)).replace(/ +$/, '')
    if (e[12] & 0x08) base = base.toLowerCase()
    if (e[12] & 0x10) ext = ext.toLowerCase()
    return ext ? `${base}.${ext}` : base
  }

  private node(e: Buffer, inode: number, name: string): Node {
    const hi = this.type === 'FAT32' ? e.readUInt16LE(0x14) : 0
    return {
      inode, name, attr: e[11], ntFlags: e[12],
      firstCluster: (hi << 16) | e.readUInt16LE(0x1a),
      size: e.readUInt32LE(0x1c),
      crt: dosTime(e.readUInt16LE(0x10), e.readUInt16LE(0x0e), e[0x0d]),
      mtime: dosTime(e.readUInt16LE(0x18), e.readUInt16LE(0x16)),
      atime: dosTime(e.readUInt16LE(0x12), 0),
    }
  }

  /** The bytes of a directory with, for each 32-byte slot, its absolute offset on the volume. */
  private async dirData(n: Node): Promise<{ buf: Buffer; offsetOf: (i: number) => number }> {
    if (n.inode === ROOT && this.type !== 'FAT32') {
      const buf = await readExact(FS, this.reader, this.rootOffset, this.rootBytes)
      return { buf, offsetOf: i => this.rootOffset + i }
    }
    if (n.firstCluster === 0) return { buf: Buffer.alloc(0), offsetOf: i => i }
    const maxClusters = Math.max(1, Math.floor(MAX_DIR_BYTES / this.clusterSize))
    const ch = new Chain(FS, n.firstCluster, maxClusters, this.validCluster, this.next)
    let idx = 0
    while (await ch.ensure(idx)) idx = ch.length
    const parts: Buffer[] = []
    for (const r of ch.runs) parts.push(await readExact(FS, this.reader, this.clusterOffset(r.start), r.count * this.clusterSize))
    const runs = ch.runs
    return {
      buf: Buffer.concat(parts),
      offsetOf: (i: number) => {
        let base = 0
        for (const r of runs) {
          const len = r.count * this.clusterSize
          if (i < base + len) return this.clusterOffset(r.start) + (i - base)
          base += len
        }
        return -1
      },
    }
  }

  private async children(dir: Node): Promise<Node[]> {
    if (!(dir.attr & ATTR_DIR)) throw err('ENOTDIR', `${dir.name || '/'} is not a directory`)
    const { buf, offsetOf } = await this.dirData(dir)
    const out: Node[] = []
    let lfn: string[] = []
    let lfnOrd = 0
    let lfnSum = -1
    for (let p = 0; p + 32 <= buf.length; p += 32) {
      const e = buf.subarray(p, p + 32)
      if (e[0] === 0x00) break
      if (e[0] === 0xe5) { lfnOrd = 0; continue }
      if ((e[11] & 0x3f) === ATTR_LFN) {
        const ord = e[0] & 0x3f
        if (e[0] & 0x40) { lfn = []; lfnOrd = ord; lfnSum = e[13] } else if (ord !== lfnOrd - 1 || e[13] !== lfnSum) { lfnOrd = 0; continue } else lfnOrd = ord
        if (ord === 0 || ord > 20) { lfnOrd = 0; continue }
        const units: number[] = []
        for (const [a, b] of [[1, 11], [14, 26], [28, 32]]) for (let i = a; i < b; i += 2) units.push(e.readUInt16LE(i))
        lfn[ord - 1] = String.fromCharCode(...units)
        continue
      }
      const ord = lfnOrd
      lfnOrd = 0
      if (e[11] & ATTR_VOLUME) continue
      let name: string | undefined
      if (ord === 1 && lfnSum === checksum(e)) {
        const s = lfn.join('')
        const z = s.indexOf('\u0000')
        name = z < 0 ? s : s.slice(0, z)
        if (name === '') name = undefined
      }
      name ??= this.shortName(e)
      if (name === '.' || name === '..') continue
      const off = offsetOf(p)
      if (off < 0) throw err('ECORRUPT', 'directory entry outside its chain')
      out.push(this.node(e, this.inodeAt(off), name))
    }
    return out
  }

  private async nodeFor(ref: string | number): Promise<Node> {
    const inode = typeof ref === 'number' ? ref : /^\d{1,15}$/.test(ref) ? Number(ref) : NaN
    if (!Number.isSafeInteger(inode) || inode < ROOT) throw err('ENOENT', `not a FAT reference: ${String(ref)}`)
    if (inode === ROOT) return this.rootNode()
    const off = this.offsetOfInode(inode)
    if (off + 32 > this.reader.size) throw err('ENOENT', `no directory entry ${inode}`)
    const e = await readExact(FS, this.reader, off, 32)
    if (e[0] === 0 || e[0] === 0xe5 || (e[11] & 0x3f) === ATTR_LFN || (e[11] & ATTR_VOLUME)) throw err('ENOENT', `no directory entry ${inode}`)
    return this.node(e, inode, this.shortName(e))
  }

  /** A directory's size: its cluster chain in bytes (the fixed root region on FAT12/16). */
  private async dirSize(n: Node): Promise<number> {
    if (n.inode === ROOT && this.type !== 'FAT32') return this.rootBytes
    if (n.firstCluster === 0) return 0
    const ch = new Chain(FS, n.firstCluster, Math.max(1, Math.floor(MAX_DIR_BYTES / this.clusterSize)), this.validCluster, this.next)
    let idx = 0
    while (await ch.ensure(idx)) idx = ch.length
    return ch.length * this.clusterSize
  }

  private async entry(n: Node): Promise<FsEntry> {
    const isDir = (n.attr & ATTR_DIR) !== 0
    const attributes: string[] = []
    if (n.attr & ATTR_RO) attributes.push('readonly')
    if (n.attr & ATTR_HIDDEN) attributes.push('hidden')
    if (n.attr & ATTR_SYSTEM) attributes.push('system')
    if (n.attr & ATTR_ARCHIVE) attributes.push('archive')
    const e: FsEntry = { ref: String(n.inode), name: n.name, type: isDir ? 'dir' : 'file', size: isDir ? await this.dirSize(n) : n.size, inode: n.inode }
    if (n.mtime) e.mtime = n.mtime
    if (n.atime) e.atime = n.atime
    if (n.crt) e.btime = n.crt
    if (attributes.length) e.attributes = attributes
    return e
  }

  async root(): Promise<FsEntry> { return this.entry(this.rootNode()) }

  /** An entry by reference; its name is the 8.3 name (long names come with list()). */
  async stat(ref: string | number): Promise<FsEntry> { return this.entry(await this.nodeFor(ref)) }

  async list(dirRef: string | number): Promise<FsEntry[]> {
    const out: FsEntry[] = []
    for (const n of await this.children(await this.nodeFor(dirRef))) out.push(await this.entry(n))
    return out
  }

  async lookup(path: string): Promise<FsEntry> {
    return this.entry(await lookupPath(FS, path, this.rootNode(), (dir) => this.children(dir)))
  }

  async *walk(dirRef: string | number = ROOT, maxDepth = 256, prefix = ''): AsyncGenerator<{ path: string; entry: FsEntry }> {
    const seen = new Set<number>()
    const self = this
    async function* rec(dir: Node, depth: number, pfx: string): AsyncGenerator<{ path: string; entry: FsEntry }> {
      if (depth > maxDepth) throw err('ELIMIT', `directory tree deeper than ${maxDepth}`)
      for (const n of await self.children(dir)) {
        const p = pfx ? `${pfx}/${n.name}` : n.name
        yield { path: p, entry: await self.entry(n) }
        if (n.attr & ATTR_DIR) {
          if (n.firstCluster === 0) continue
          if (seen.has(n.firstCluster)) throw err('ELOOP', `directory cluster ${n.firstCluster} reached twice (${p})`)
          seen.add(n.firstCluster)
          yield* rec(n, depth + 1, p)
        }
      }
    }
    const start = await this.nodeFor(dirRef)
    seen.add(start.inode === ROOT ? this.rootCluster : start.firstCluster)
    yield* rec(start, 0, prefix)
  }

  async read(ref: string | number, offset: number, length: number): Promise<Buffer> {
    const n = await this.nodeFor(ref)
    if (n.attr & ATTR_DIR) throw err('ENOTSUP', `${n.name} is a directory`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw err('ERANGE', `bad read range ${offset}+${length}`)
    if (offset >= n.size || length === 0) return Buffer.alloc(0)
    const len = Math.min(length, n.size - offset)
    if (len > MAX_READ) throw err('ELIMIT', `read of ${len} bytes exceeds the ${MAX_READ}-byte limit per call`)
    if (!this.validCluster(n.firstCluster)) throw err('ECORRUPT', `${n.name}: first cluster ${n.firstCluster} is invalid`)
    const ch = this.chain(n.firstCluster, Math.ceil(n.size / this.clusterSize))
    const out = Buffer.alloc(len)
    await readClusters(FS, this.reader, ch, this.clusterOffset, this.clusterSize, offset, len, out)
    return out
  }

  async *openStream(ref: string | number): AsyncGenerator<Buffer> {
    const n = await this.nodeFor(ref)
    if (n.attr & ATTR_DIR) throw err('ENOTSUP', `${n.name} is a directory`)
    for (let off = 0; off < n.size; off += STREAM_CHUNK) yield await this.read(ref, off, STREAM_CHUNK)
  }
}

function checksum(e: Buffer): number {
  let s = 0
  for (let i = 0; i < 11; i++) s = (((s & 1) << 7) + (s >> 1) + e[i]) & 0xff
  return s
}
