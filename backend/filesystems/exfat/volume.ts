/**
 * Read-only, on-demand exFAT reader (issue 11). No npm package reads exFAT. Reads the boot
 * sector at open; the FAT, directories and data on demand through a ReadAt.
 *
 * References: "2" is the root; any other entry is `<inode>.<parent cluster>.<parent length>.<parent
 * NoFatChain>` where the inode is TSK-compatible (position of the File directory entry: (sector -
 * cluster heap start) × entries per sector + index + 3). An entry is found again by listing its
 * parent directory, so every value used comes from the image, never from the reference.
 */
import type { FsEntry, ReadAt } from '../types.ts'
import { FsError } from '../types.ts'
import { Chain, Lru, MAX_READ, STREAM_CHUNK, dosTime, fsErr, lookupPath, readClusters, readExact } from '../fat/common.ts'

const FS = 'exfat'
const err = (code: Parameters<typeof fsErr>[1], msg: string): FsError => fsErr(FS, code, msg)
const ROOT = 2
const ATTR_RO = 0x01, ATTR_HIDDEN = 0x02, ATTR_SYSTEM = 0x04, ATTR_DIR = 0x10, ATTR_ARCHIVE = 0x20
const MAX_DIR_BYTES = 64 * 1024 * 1024
const T_FILE = 0x85, T_STREAM = 0xc0, T_NAME = 0xc1, T_LABEL = 0x83

export interface ExfatState {
  /** VolumeFlags.VolumeDirty clear and no media failure recorded. */
  clean: boolean
  /** VolumeFlags bit 1: the volume was not unmounted cleanly. */
  dirty: boolean
  /** VolumeFlags bit 2: the driver saw media failures. */
  mediaFailure: boolean
  activeFat: number
  label: string
  serial: string
  revision: string
  clusterSize: number
  clusterCount: number
  /** The boot sector describes more sectors than the volume holds. */
  truncated: boolean
}

interface Stream { firstCluster: number; length: number; validLength: number; noFatChain: boolean }

interface Node extends Stream {
  ref: string
  inode: number
  name: string
  attr: number
  crt?: string
  mtime?: string
  atime?: string
  checksumOk: boolean
}

/** exFAT timestamp + 10 ms units + UTC offset → ISO-8601 local time, with its offset when recorded. */
export function exfatTime(ts: number, tenMs: number, utcOffset: number): string | undefined {
  const local = dosTime(ts >>> 16, ts & 0xffff, tenMs)
  if (!local || !(utcOffset & 0x80)) return local
  let q = utcOffset & 0x7f
  if (q & 0x40) q -= 0x80
  const m = Math.abs(q) * 15
  return `${local}${q < 0 ? '-' : '+'}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
}

function setChecksum(b: Buffer): number {
  let c = 0
  for (let i = 0; i < b.length; i++) {
    if (i === 2 || i === 3) continue
    c = (((c & 1) ? 0x8000 : 0) + (c >>> 1) + b[i]) & 0xffff
  }
  return c
}

export class ExfatVolume {
  readonly bytesPerSector: number
  readonly clusterSize: number
  readonly clusterCount: number
  readonly truncated: boolean
  private readonly reader: ReadAt
  private readonly boot: Buffer
  private readonly fatOffset: number
  private readonly fatBytes: number
  private readonly heapOffset: number
  private readonly heapSector: number
  private readonly rootCluster: number
  private readonly fatCache = new Lru<number, Buffer>(64)
  private readonly nodes = new Lru<string, Node>(4096)
  private readonly chains = new Lru<string, Chain>(64)

  private constructor(reader: ReadAt, b: Buffer) {
    this.reader = reader
    this.boot = b
    const bpsShift = b[0x6c], spcShift = b[0x6d], nFats = b[0x6e]
    if (bpsShift < 9 || bpsShift > 12) throw err('ECORRUPT', `BytesPerSectorShift ${bpsShift}`)
    if (spcShift > 25 - bpsShift) throw err('ECORRUPT', `SectorsPerClusterShift ${spcShift}`)
    if (nFats !== 1 && nFats !== 2) throw err('ECORRUPT', `NumberOfFats ${nFats}`)
    this.bytesPerSector = 1 << bpsShift
    this.clusterSize = this.bytesPerSector << spcShift
    const volLen = Number(b.readBigUInt64LE(0x48))
    const fatOff = b.readUInt32LE(0x50), fatLen = b.readUInt32LE(0x54)
    const heapOff = b.readUInt32LE(0x58)
    this.clusterCount = b.readUInt32LE(0x5c)
    this.rootCluster = b.readUInt32LE(0x60)
    const flags = b.readUInt16LE(0x6a)
    if (fatOff < 24 || fatLen === 0 || heapOff < fatOff + fatLen * nFats) throw err('ECORRUPT', 'FAT / cluster heap layout')
    if (!Number.isSafeInteger(volLen) || volLen > 2 ** 40) throw err('ECORRUPT', `VolumeLength ${volLen}`)
    // larger than the image (truncated): opens; reads beyond the end fail with ERANGE
    this.truncated = volLen * this.bytesPerSector > reader.size
    if (this.clusterCount === 0 || heapOff + this.clusterCount * (1 << spcShift) > volLen) throw err('ECORRUPT', `ClusterCount ${this.clusterCount}`)
    if (fatLen * this.bytesPerSector < (this.clusterCount + 2) * 4) throw err('ECORRUPT', 'FAT too small for the cluster count')
    const active = nFats === 2 ? flags & 1 : 0
    this.fatOffset = (fatOff + active * fatLen) * this.bytesPerSector
    this.fatBytes = fatLen * this.bytesPerSector
    this.heapSector = heapOff
    this.heapOffset = heapOff * this.bytesPerSector
    if (!this.validCluster(this.rootCluster)) throw err('ECORRUPT', `root directory cluster ${this.rootCluster}`)
  }

  static async open(reader: ReadAt): Promise<ExfatVolume> {
    if (reader.size < 512) throw err('ECORRUPT', 'volume too small for a boot sector')
    const b = Buffer.from(await readExact(FS, reader, 0, 512))
    if (b.toString('latin1', 3, 11) !== 'EXFAT   ') throw err('ECORRUPT', 'no exFAT boot sector')
    return new ExfatVolume(reader, b)
  }

  // ---- FAT -------------------------------------------------------------------------------

  private validCluster = (c: number): boolean => Number.isInteger(c) && c >= 2 && c < this.clusterCount + 2

  private async fatEntry(c: number): Promise<number> {
    const off = c * 4
    if (off + 4 > this.fatBytes) throw err('ECORRUPT', 'FAT entry beyond the FAT')
    const chunk = Math.floor(off / 4096)
    let buf = this.fatCache.get(chunk)
    if (!buf) {
      const start = chunk * 4096
      buf = await readExact(FS, this.reader, this.fatOffset + start, Math.min(4096, this.fatBytes - start))
      this.fatCache.set(chunk, buf)
    }
    return buf.readUInt32LE(off % 4096)
  }

  private next = async (c: number): Promise<number | null> => {
    const v = await this.fatEntry(c)
    if (v === 0xffffffff) return null
    if (v === 0xfffffff7) throw err('ECORRUPT', `cluster ${c} is followed by a bad-cluster mark`)
    if (!this.validCluster(v)) throw err('ECORRUPT', `cluster ${c} is followed by invalid cluster ${v}`)
    return v
  }

  private clusterOffset = (c: number): number => this.heapOffset + (c - 2) * this.clusterSize

  /** Cluster runs of a stream; `length` 0 with a FAT chain means "to the end of the chain" (root). */
  private async runs(s: Stream, maxBytes: number): Promise<Chain> {
    const need = s.length > 0 ? Math.ceil(s.length / this.clusterSize) : Math.max(1, Math.floor(maxBytes / this.clusterSize))
    if (s.noFatChain) {
      if (!this.validCluster(s.firstCluster) || !this.validCluster(s.firstCluster + need - 1)) throw err('ERANGE', `contiguous stream ${s.firstCluster}+${need} clusters is beyond the cluster heap`)
      const ch = new Chain(FS, s.firstCluster, need, this.validCluster, async c => (c + 1 < s.firstCluster + need ? c + 1 : null))
      return ch
    }
    const key = `${s.firstCluster}:${need}`
    let ch = this.chains.get(key)
    if (!ch) { ch = new Chain(FS, s.firstCluster, need, this.validCluster, this.next); this.chains.set(key, ch) }
    return ch
  }

  // ---- directories -----------------------------------------------------------------------

  private rootStream(): Stream { return { firstCluster: this.rootCluster, length: 0, validLength: 0, noFatChain: false } }

  private rootNode(): Node {
    return { ...this.rootStream(), ref: String(ROOT), inode: ROOT, name: '', attr: ATTR_DIR, checksumOk: true }
  }

  /** A directory's bytes and, for each offset in them, the absolute offset on the volume. */
  private async dirData(s: Stream): Promise<{ buf: Buffer; offsetOf: (i: number) => number }> {
    if (s.length > MAX_DIR_BYTES) throw err('ELIMIT', `directory of ${s.length} bytes`)
    // length 0 means "the whole FAT chain" for the root directory only
    if (s.firstCluster === 0 || (s.length === 0 && (s.firstCluster !== this.rootCluster || s.noFatChain))) return { buf: Buffer.alloc(0), offsetOf: i => i }
    const ch = await this.runs(s, MAX_DIR_BYTES)
    let idx = 0
    while (await ch.ensure(idx)) idx = ch.length
    const total = s.length > 0 ? Math.min(s.length, ch.length * this.clusterSize) : ch.length * this.clusterSize
    const buf = Buffer.alloc(total)
    await readClusters(FS, this.reader, ch, this.clusterOffset, this.clusterSize, 0, total, buf)
    const runs = ch.runs
    return {
      buf,
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

  private async children(dir: Node): Promise<{ nodes: Node[]; label: string }> {
    if (!(dir.attr & ATTR_DIR)) throw err('ENOTDIR', `${dir.name || '/'} is not a directory`)
    const { buf, offsetOf } = await this.dirData(dir)
    const parentKey = `${dir.firstCluster}.${dir.length}.${dir.noFatChain ? 1 : 0}`
    const nodes: Node[] = []
    let label = ''
    const bps = this.bytesPerSector
    for (let p = 0; p + 32 <= buf.length; p += 32) {
      const t = buf[p]
      if (t === 0) break
      if (!(t & 0x80)) continue
      if (t === T_LABEL) { const n = Math.min(buf[p + 1], 11); label = buf.toString('utf16le', p + 2, p + 2 + 2 * n); continue }
      if (t !== T_FILE) continue
      const sc = buf[p + 1]
      if (sc < 2 || sc > 18 || p + 32 * (sc + 1) > buf.length) continue // not a complete entry set
      const set = buf.subarray(p, p + 32 * (sc + 1))
      const st = set.subarray(32, 64)
      if (st[0] !== T_STREAM) continue
      const nameLen = st[3]
      let name = ''
      for (let k = 2; k <= sc && name.length < nameLen; k++) {
        const ne = set.subarray(32 * k, 32 * k + 32)
        if (ne[0] !== T_NAME) break
        name += ne.toString('utf16le', 2, 32)
      }
      name = name.slice(0, nameLen)
      if (name.length !== nameLen || nameLen === 0) { p += 32 * sc; continue }
      const attr = set.readUInt16LE(4)
      const validLength = Number(st.readBigUInt64LE(8))
      const length = Number(st.readBigUInt64LE(24))
      const abs = offsetOf(p)
      if (abs < 0) throw err('ECORRUPT', 'directory entry outside its chain')
      const inode = (Math.floor(abs / bps) - this.heapSector) * (bps / 32) + (abs % bps) / 32 + 3
      const node: Node = {
        ref: `${inode}.${parentKey}`, inode, name, attr,
        firstCluster: st.readUInt32LE(20), length: Number.isSafeInteger(length) ? length : -1,
        validLength: Number.isSafeInteger(validLength) ? validLength : -1, noFatChain: (st[1] & 2) !== 0,
        crt: exfatTime(set.readUInt32LE(8), set[20], set[22]),
        mtime: exfatTime(set.readUInt32LE(12), set[21], set[23]),
        atime: exfatTime(set.readUInt32LE(16), 0, set[24]),
        checksumOk: setChecksum(set) === set.readUInt16LE(2),
      }
      nodes.push(node)
      this.nodes.set(node.ref, node)
      p += 32 * sc
    }
    return { nodes, label }
  }

  private async nodeFor(ref: string | number): Promise<Node> {
    const s = String(ref)
    if (s === String(ROOT)) return this.rootNode()
    const hit = this.nodes.get(s)
    if (hit) return hit
    const m = /^(\d{1,15})\.(\d{1,10})\.(\d{1,15})\.([01])$/.exec(s)
    if (!m) throw err('ENOENT', `not an exFAT reference: ${s}`)
    const parent: Node = { ...this.rootNode(), ref: '', inode: 0, firstCluster: Number(m[2]), length: Number(m[3]), validLength: Number(m[3]), noFatChain: m[4] === '1' }
    const { nodes } = await this.children(parent)
    const n = nodes.find(x => x.ref === s)
    if (!n) throw err('ENOENT', `no entry ${s}`)
    return n
  }

  private entry(n: Node): FsEntry {
    const isDir = (n.attr & ATTR_DIR) !== 0
    const attributes: string[] = []
    if (n.attr & ATTR_RO) attributes.push('readonly')
    if (n.attr & ATTR_HIDDEN) attributes.push('hidden')
    if (n.attr & ATTR_SYSTEM) attributes.push('system')
    if (n.attr & ATTR_ARCHIVE) attributes.push('archive')
    if (n.noFatChain) attributes.push('contiguous')
    if (!n.checksumOk) attributes.push('checksum-mismatch')
    const e: FsEntry = { ref: n.ref, name: n.name, type: isDir ? 'dir' : 'file', size: Math.max(0, n.length), inode: n.inode }
    if (n.mtime) e.mtime = n.mtime
    if (n.atime) e.atime = n.atime
    if (n.crt) e.btime = n.crt
    if (attributes.length) e.attributes = attributes
    return e
  }

  async state(): Promise<ExfatState> {
    const flags = this.boot.readUInt16LE(0x6a)
    let label = ''
    try { label = (await this.children(this.rootNode())).label } catch (e) { if (!(e instanceof FsError)) throw e }
    const rev = this.boot.readUInt16LE(0x68)
    return {
      clean: (flags & 6) === 0,
      dirty: (flags & 2) !== 0,
      mediaFailure: (flags & 4) !== 0,
      activeFat: this.boot[0x6e] === 2 ? flags & 1 : 0,
      label,
      serial: this.boot.readUInt32LE(0x64).toString(16).padStart(8, '0').replace(/^(.{4})/, '$1-'),
      revision: `${rev >> 8}.${String(rev & 0xff).padStart(2, '0')}`,
      clusterSize: this.clusterSize,
      clusterCount: this.clusterCount,
      truncated: this.truncated,
    }
  }

  async root(): Promise<FsEntry> { return this.entry(this.rootNode()) }

  async stat(ref: string | number): Promise<FsEntry> { return this.entry(await this.nodeFor(ref)) }

  async list(dirRef: string | number): Promise<FsEntry[]> {
    return (await this.children(await this.nodeFor(dirRef))).nodes.map(n => this.entry(n))
  }

  async lookup(path: string): Promise<FsEntry> {
    return this.entry(await lookupPath(FS, path, this.rootNode(), async (dir) => (await this.children(dir)).nodes))
  }

  async *walk(dirRef: string | number = ROOT, maxDepth = 256, prefix = ''): AsyncGenerator<{ path: string; entry: FsEntry }> {
    const seen = new Set<number>()
    const self = this
    async function* rec(dir: Node, depth: number, pfx: string): AsyncGenerator<{ path: string; entry: FsEntry }> {
      if (depth > maxDepth) throw err('ELIMIT', `directory tree deeper than ${maxDepth}`)
      for (const n of (await self.children(dir)).nodes) {
        const p = pfx ? `${pfx}/${n.name}` : n.name
        yield { path: p, entry: self.entry(n) }
        if (n.attr & ATTR_DIR) {
          if (n.firstCluster === 0 || n.length <= 0) continue
          if (seen.has(n.firstCluster)) throw err('ELOOP', `directory cluster ${n.firstCluster} reached twice (${p})`)
          seen.add(n.firstCluster)
          yield* rec(n, depth + 1, p)
        }
      }
    }
    const start = await this.nodeFor(dirRef)
    seen.add(start.firstCluster)
    yield* rec(start, 0, prefix)
  }

  async read(ref: string | number, offset: number, length: number): Promise<Buffer> {
    const n = await this.nodeFor(ref)
    if (n.attr & ATTR_DIR) throw err('ENOTSUP', `${n.name} is a directory`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw err('ERANGE', `bad read range ${offset}+${length}`)
    if (n.length < 0 || n.validLength < 0 || n.length > this.clusterCount * this.clusterSize) throw err('ECORRUPT', `${n.name}: data length ${n.length} larger than the volume`)
    if (offset >= n.length || length === 0) return Buffer.alloc(0)
    const len = Math.min(length, n.length - offset)
    if (len > MAX_READ) throw err('ELIMIT', `read of ${len} bytes exceeds the ${MAX_READ}-byte limit per call`)
    const out = Buffer.alloc(len)
    // bytes past ValidDataLength read as zeros
    const valid = Math.min(n.validLength, n.length)
    const dataEnd = Math.min(offset + len, valid)
    if (dataEnd > offset) {
      const ch = await this.runs(n, 0)
      await readClusters(FS, this.reader, ch, this.clusterOffset, this.clusterSize, offset, dataEnd - offset, out)
    }
    return out
  }

  async *openStream(ref: string | number): AsyncGenerator<Buffer> {
    const n = await this.nodeFor(ref)
    if (n.attr & ATTR_DIR) throw err('ENOTSUP', `${n.name} is a directory`)
    for (let off = 0; off < n.length; off += STREAM_CHUNK) yield await this.read(ref, off, STREAM_CHUNK)
  }
}
