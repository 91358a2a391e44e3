/**
 * Read-only, on-demand NTFS reader (issue 11: file-level restore straight from the repository).
 *
 * Everything is read lazily through a `ReadAt` (a partition of a restore point's disk image):
 * the boot sector, single MFT records (by number, through the $MFT runlist), index nodes of the
 * directories being listed, and the clusters of the stream being read. Nothing is read whole.
 *
 * All bytes are guest-controlled. Every loop is bounded (attributes per record, runs per
 * runlist, attribute-list entries, index nodes per directory, lookup depth), and every
 * inconsistency surfaces as an `FsError` with a code.
 *
 * Format reference: libyal libfsntfs "New Technologies File System (NTFS)" documentation.
 */
import { FsError, type FsEntry, type FsEntryType, type ReadAt } from '../types.ts'
import { lznt1Decompress } from './lznt1.ts'
import { filetimeMs, fixupRecord, LinkTable, RecordFacts, recordFacts, T_DIR, T_FILE, T_OTHER, T_SYMLINK, type NtfsTable } from './mft-table.ts'

// Limits (generous for real volumes, small enough to stop hostile ones).
const MAX_ATTRS_PER_RECORD = 512
const MAX_RUNS = 1 << 20
const MAX_ATTR_LIST_BYTES = 4 << 20
const MAX_ATTR_LIST_RECORDS = 4096
const MAX_INDEX_NODES = 1 << 16
const MAX_INDEX_DEPTH = 64
const MAX_DIR_ENTRIES = 1 << 20
const MAX_PATH_DEPTH = 512
const MAX_READ = 64 << 20
const MAX_RESIDENT_VALUE = 1 << 20
const MAX_STREAM_SIZE = 2 ** 52
const RECORD_CACHE = 2048
const CHUNK = 1 << 20

const AT_STANDARD_INFORMATION = 0x10
const AT_ATTRIBUTE_LIST = 0x20
const AT_FILE_NAME = 0x30
const AT_VOLUME_NAME = 0x60
const AT_VOLUME_INFORMATION = 0x70
const AT_DATA = 0x80
const AT_INDEX_ROOT = 0x90
const AT_INDEX_ALLOCATION = 0xa0
const AT_BITMAP = 0xb0
const AT_REPARSE_POINT = 0xc0
const AT_END = 0xffffffff

export const MFT_ROOT = 5

export const REPARSE_SYMLINK = 0xa000000c
export const REPARSE_MOUNT_POINT = 0xa0000003

const FILE_ATTRIBUTE_NAMES: [number, string][] = [
  [0x1, 'readonly'], [0x2, 'hidden'], [0x4, 'system'], [0x10, 'directory'], [0x20, 'archive'],
  [0x40, 'device'], [0x80, 'normal'], [0x100, 'temporary'], [0x200, 'sparse'], [0x400, 'reparse'],
  [0x800, 'compressed'], [0x1000, 'offline'], [0x2000, 'not-indexed'], [0x4000, 'encrypted'],
]

export interface Run { vcn: number; lcn: number; len: number } // lcn -1 = sparse

/** One attribute (non-resident fragments of the same attribute merged). */
export interface Attr {
  type: number
  name: string
  flags: number
  id: number
  resident: boolean
  value?: Buffer // resident only
  runs: Run[]
  dataSize: number
  allocatedSize: number
  initializedSize: number
  /** Clusters actually allocated (bytes) for compressed/sparse attributes, else allocatedSize. */
  totalAllocated: number
  compressionUnit: number // log2 clusters, 0 = none
}

interface FileNameKey {
  parent: bigint
  created?: string; modified?: string; mftModified?: string; accessed?: string
  allocatedSize: number; dataSize: number; flags: number; reparseTag: number
  namespace: number; name: string
}

export interface MftRecord {
  number: number
  sequence: number
  flags: number // 1 in use, 2 directory
  linkCount: number
  attrs: Attr[]
}

export interface NtfsEntry extends FsEntry {
  allocatedSize: number
  /** MFT-modified time (ISO), also exposed as ctime. */
  mftModified?: string
  reparseTag?: number
  reparseKind?: 'symlink' | 'junction' | 'other'
  isDirectory: boolean
  /** Has an unnamed $DATA stream (false for directories and index-only metafiles like $Extend/$ObjId). */
  hasData: boolean
  linkCount: number
  /** Per-entry problem (e.g. the child's MFT record is damaged); the rest comes from the index key. */
  error?: string
}

export interface NtfsState {
  /** $VOLUME_INFORMATION dirty flag. */
  dirty: boolean
  /** $LogFile restart area: clean (no client in use / volume-is-clean flag), dirty, empty (never used), unknown. */
  logFile: 'clean' | 'dirty' | 'empty' | 'unknown'
  version: string
  label: string
  volumeFlags: number
  clusterSize: number
  totalBytes: number
}

export function formatRef(mft: number, seq: number): string { return `${mft}-${seq}` }

export function parseRef(ref: string | number): { mft: number; seq: number } {
  if (typeof ref === 'number') return { mft: ref, seq: 0 }
  const m = /^(\d+)(?:-(\d+))?$/.exec(ref)
  if (!m) throw new FsError('ENOENT', `bad NTFS reference ${JSON.stringify(ref)}`)
  const mft = Number(m[1]); const seq = m[2] === undefined ? 0 : Number(m[2])
  if (!Number.isSafeInteger(mft) || mft >= 2 ** 48 || seq > 0xffff) throw new FsError('ENOENT', `bad NTFS reference ${ref}`)
  return { mft, seq }
}

function corrupt(msg: string): never { throw new FsError('ECORRUPT', msg) }

/** Safety net: a Buffer bounds error from parsing guest bytes becomes ECORRUPT (reader I/O errors pass through). */
function guestError(e: unknown): unknown {
  if (e instanceof RangeError && /ERR_OUT_OF_RANGE|ERR_BUFFER_OUT_OF_BOUNDS/.test(String((e as { code?: string }).code))) {
    return new FsError('ECORRUPT', `malformed structure: ${e.message}`)
  }
  return e
}
async function guarded<T>(p: Promise<T>): Promise<T> {
  try { return await p } catch (e) { throw guestError(e) }
}

const isoSeconds = new Map<number, string>()

export function filetime(buf: Buffer, off: number): string | undefined {
  if (off + 8 > buf.length) return undefined
  const lo = buf.readUInt32LE(off), hi = buf.readUInt32LE(off + 4)
  if (hi < 2 ** 30 && (hi | lo) !== 0) {
    // Without BigInt (a catalog scan converts hundreds of thousands): hi·2^32 = hi·429·10^7 + hi·4967296,
    // and hi·4967296 + lo stays below 2^53 while hi < 2^30 (dates before the year 16000).
    const r = hi * 4967296 + lo
    const frac = r % 10000000
    const secs = hi * 429 + Math.floor(r / 10000000)
    const ms = secs * 1000 + Math.floor(frac / 10000) - 11644473600000
    if (Math.abs(ms) > 8.64e15) return undefined
    // Files written together share their seconds: the date part is formatted once per second seen.
    let head = isoSeconds.get(secs)
    if (head === undefined) {
      if (isoSeconds.size >= 4096) isoSeconds.clear()
      head = new Date(secs * 1000 - 11644473600000).toISOString().slice(0, -5)
      isoSeconds.set(secs, head)
    }
    return `${head}.${String(frac).padStart(7, '0')}Z`
  }
  const ft = buf.readBigUInt64LE(off)
  if (ft === 0n) return undefined
  const ms = Number(ft / 10000n) - 11644473600000
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined
  const d = new Date(ms)
  if (Number.isNaN(d.getTime())) return undefined
  // Keep the 100 ns precision: ISO with 7 fractional digits.
  const frac = (ft % 10000000n).toString().padStart(7, '0')
  return d.toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`)
}

function u48(buf: Buffer, off: number): number { return buf.readUIntLE(off, 6) }

function isPow2(n: number): boolean { return n > 0 && (n & (n - 1)) === 0 }

/** Applies the update-sequence fixups of a multi-sector record in place. */
export function applyFixups(buf: Buffer, what: string): void {
  const usaOff = buf.readUInt16LE(4)
  const usaCount = buf.readUInt16LE(6)
  const sectors = buf.length / 512
  if (usaCount !== sectors + 1 || usaOff < 8 || usaOff % 2 !== 0 || usaOff + usaCount * 2 > buf.length) {
    corrupt(`${what}: bad update sequence array (offset ${usaOff}, count ${usaCount})`)
  }
  const usn = buf.readUInt16LE(usaOff)
  for (let i = 1; i < usaCount; i++) {
    const pos = i * 512 - 2
    if (buf.readUInt16LE(pos) !== usn) corrupt(`${what}: update sequence mismatch in sector ${i - 1} (torn write)`)
    buf.writeUInt16LE(buf.readUInt16LE(usaOff + i * 2), pos)
  }
}

/** Decodes a mapping-pairs array into runs. */
export function decodeRunlist(buf: Buffer, off: number, end: number, startVcn: number, lastVcn: number): Run[] {
  const runs: Run[] = []
  let vcn = startVcn
  let lcn = 0
  while (off < end) {
    const h = buf[off]!
    if (h === 0) break
    const lenBytes = h & 0x0f
    const offBytes = h >> 4
    if (lenBytes === 0 || lenBytes > 8 || offBytes > 8) corrupt(`runlist: bad header byte 0x${h.toString(16)}`)
    if (off + 1 + lenBytes + offBytes > end) corrupt('runlist: runs past the attribute')
    const len = readIntLE(buf, off + 1, lenBytes, false)
    if (len <= 0 || !Number.isSafeInteger(len)) corrupt('runlist: bad run length')
    let runLcn = -1
    if (offBytes > 0) {
      const delta = readIntLE(buf, off + 1 + lenBytes, offBytes, true)
      lcn += delta
      if (!Number.isSafeInteger(lcn) || lcn < 0) corrupt('runlist: negative or huge LCN')
      runLcn = lcn
    }
    runs.push({ vcn, lcn: runLcn, len })
    vcn += len
    if (!Number.isSafeInteger(vcn) || vcn > 2 ** 48) corrupt('runlist: VCN overflow')
    if (runs.length > MAX_RUNS) throw new FsError('ELIMIT', 'runlist: too many runs')
    off += 1 + lenBytes + offBytes
  }
  if (runs.length > 0 && lastVcn >= startVcn && vcn - 1 !== lastVcn && vcn - 1 < lastVcn) {
    corrupt(`runlist: covers VCN ${startVcn}..${vcn - 1}, header says ..${lastVcn}`)
  }
  return runs
}

function readIntLE(buf: Buffer, off: number, n: number, signed: boolean): number {
  let v = 0n
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[off + i]!)
  if (signed && n > 0 && (buf[off + n - 1]! & 0x80)) v -= 1n << BigInt(n * 8)
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) corrupt('runlist: value out of range')
  return Number(v)
}

function utf16(buf: Buffer, off: number, chars: number): string {
  if (off + chars * 2 > buf.length) corrupt('name runs past its buffer')
  return buf.toString('utf16le', off, off + chars * 2)
}

function parseFileName(v: Buffer): FileNameKey {
  if (v.length < 66) corrupt('$FILE_NAME too short')
  const nameLen = v[64]!
  return {
    parent: v.readBigUInt64LE(0),
    created: filetime(v, 8), modified: filetime(v, 16), mftModified: filetime(v, 24), accessed: filetime(v, 32),
    allocatedSize: Number(v.readBigUInt64LE(40)), dataSize: Number(v.readBigUInt64LE(48)),
    flags: v.readUInt32LE(56), reparseTag: v.readUInt32LE(60),
    namespace: v[65]!, name: utf16(v, 66, nameLen),
  }
}

/** Decodes a symlink / mount-point reparse buffer to its target (print name, else substitute name). */
export function decodeReparse(data: Buffer): { tag: number; kind: 'symlink' | 'junction' | 'other'; target?: string; relative?: boolean } {
  if (data.length < 8) corrupt('reparse point too short')
  const tag = data.readUInt32LE(0)
  const kind = tag === REPARSE_SYMLINK ? 'symlink' : tag === REPARSE_MOUNT_POINT ? 'junction' : 'other'
  if (kind === 'other') return { tag, kind }
  const body = 8
  const pathBase = body + (kind === 'symlink' ? 12 : 8)
  if (data.length < pathBase) corrupt('reparse point body too short')
  const subOff = data.readUInt16LE(body), subLen = data.readUInt16LE(body + 2)
  const prnOff = data.readUInt16LE(body + 4), prnLen = data.readUInt16LE(body + 6)
  const flags = kind === 'symlink' ? data.readUInt32LE(body + 8) : 0
  const take = (o: number, l: number) => {
    const s = pathBase + o
    if (l % 2 !== 0 || s + l > data.length) corrupt('reparse point path out of range')
    return data.toString('utf16le', s, s + l)
  }
  let target = prnLen > 0 ? take(prnOff, prnLen) : take(subOff, subLen)
  if (!target) target = take(subOff, subLen)
  if (target.startsWith('\\??\\')) target = target.slice(4)
  return { tag, kind, target, relative: kind === 'symlink' ? (flags & 1) === 1 : false }
}

export class NtfsVolume {
  readonly reader: ReadAt
  readonly bytesPerSector: number
  readonly clusterSize: number
  readonly totalClusters: number
  readonly recordSize: number
  readonly indexRecordSize: number
  readonly serial: string
  private mftRuns: Run[] = []
  private mftSize = 0
  private cache = new Map<number, MftRecord>()

  private constructor(reader: ReadAt, boot: Buffer) {
    this.reader = reader
    if (boot.toString('latin1', 3, 11) !== 'NTFS    ') corrupt('not an NTFS boot sector (OEM id)')
    const bps = boot.readUInt16LE(11)
    if (!isPow2(bps) || bps < 256 || bps > 4096) corrupt(`bad bytes per sector ${bps}`)
    const spcRaw = boot[13]!
    const spc = spcRaw > 0x80 ? 2 ** (256 - spcRaw) : spcRaw
    if (!isPow2(spc) || spc * bps > 2 << 20) corrupt(`bad sectors per cluster ${spcRaw}`)
    this.bytesPerSector = bps
    this.clusterSize = bps * spc
    const totalSectors = Number(boot.readBigUInt64LE(40))
    if (!Number.isSafeInteger(totalSectors) || totalSectors <= 0) corrupt('bad total sectors')
    this.totalClusters = Math.floor(totalSectors / spc)
    const sizeField = (raw: number, what: string) => {
      const v = raw > 127 ? raw - 256 : raw
      const size = v < 0 ? 2 ** -v : v * this.clusterSize
      if (!isPow2(size) || size < 512 || size > 65536) corrupt(`bad ${what} size`)
      return size
    }
    this.recordSize = sizeField(boot[64]!, 'MFT record')
    this.indexRecordSize = sizeField(boot[68]!, 'index record')
    this.serial = boot.readBigUInt64LE(72).toString(16).padStart(16, '0')
  }

  static async open(reader: ReadAt): Promise<NtfsVolume> {
    if (reader.size < 4096) corrupt('partition too small for NTFS')
    const boot = await reader.readAt(0, 512)
    if (boot.length < 512) corrupt('short read of the boot sector')
    const vol = new NtfsVolume(reader, boot)
    await guarded(vol.loadMft(Number(boot.readBigUInt64LE(48))))
    return vol
  }

  // ---------------------------------------------------------------- raw access

  private async readBytes(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.reader.size) {
      throw new FsError('ERANGE', `read ${offset}+${length} beyond the partition (${this.reader.size} bytes)`)
    }
    const b = await this.reader.readAt(offset, length)
    if (b.length !== length) throw new FsError('ERANGE', `short read at ${offset}`)
    return b
  }

  private async loadMft(mftLcn: number): Promise<void> {
    if (!Number.isSafeInteger(mftLcn) || mftLcn <= 0 || mftLcn >= this.totalClusters) corrupt('$MFT location out of range')
    const raw = await this.readBytes(mftLcn * this.clusterSize, this.recordSize)
    const rec = this.parseRecord(raw, 0)
    // Bootstrap: $MFT's own unnamed $DATA, first from the base record...
    const base = rec.attrs.filter(a => a.type === AT_DATA && a.name === '' && !a.resident)
    if (base.length === 0) corrupt('$MFT has no non-resident $DATA')
    const first = base.find(a => a.runs.length > 0 && a.runs[0]!.vcn === 0) ?? corrupt('$MFT $DATA does not start at VCN 0')
    this.mftRuns = first.runs
    this.mftSize = first.dataSize
    // ...then, if $MFT has an attribute list, from its extension records (reachable through the first extent).
    if (rec.attrs.some(a => a.type === AT_ATTRIBUTE_LIST)) {
      const full = await this.attributes(rec)
      const d = full.find(a => a.type === AT_DATA && a.name === '')
      if (d && !d.resident) { this.mftRuns = d.runs; this.mftSize = d.dataSize }
    }
    if (this.mftSize < this.recordSize * 16) corrupt('$MFT too small')
    this.cache.clear()
  }

  /** Where [offset, offset+length) of a stream starts on the volume if one allocated run holds it all. */
  private singleRunByte(runs: Run[], offset: number, length: number): number | undefined {
    const cs = this.clusterSize
    const vcn = Math.floor(offset / cs)
    let i = findRun(runs, vcn)
    while (i < runs.length && runs[i]!.vcn + runs[i]!.len <= vcn) i++
    const run = runs[i]
    if (!run || run.vcn > vcn || run.lcn < 0 || (run.vcn + run.len) * cs < offset + length) return undefined
    if (run.lcn + run.len > this.totalClusters) throw new FsError('ERANGE', `run at LCN ${run.lcn}+${run.len} beyond the volume (${this.totalClusters} clusters)`)
    return (run.lcn + (vcn - run.vcn)) * cs + (offset % cs)
  }

  /** Maps and reads [offset, offset+length) of a non-resident, uncompressed attribute. */
  private async readRuns(runs: Run[], offset: number, length: number, out: Buffer, outOff: number): Promise<void> {
    const cs = this.clusterSize
    let pos = offset
    const end = offset + length
    let i = findRun(runs, Math.floor(pos / cs))
    while (pos < end) {
      const vcn = Math.floor(pos / cs)
      while (i < runs.length && runs[i]!.vcn + runs[i]!.len <= vcn) i++
      const run = runs[i]
      if (!run || run.vcn > vcn) {
        // Unmapped VCN: beyond the runlist. Treated as corruption (the size says it should exist).
        throw new FsError('ECORRUPT', `VCN ${vcn} is not mapped by the runlist`)
      }
      const runEndByte = (run.vcn + run.len) * cs
      const n = Math.min(end, runEndByte) - pos
      if (run.lcn >= 0) {
        const lcn = run.lcn + (vcn - run.vcn)
        if (run.lcn + run.len > this.totalClusters) throw new FsError('ERANGE', `run at LCN ${run.lcn}+${run.len} beyond the volume (${this.totalClusters} clusters)`)
        const b = await this.readBytes(lcn * cs + (pos % cs), n)
        b.copy(out, outOff + (pos - offset))
      } else {
        out.fill(0, outOff + (pos - offset), outOff + (pos - offset) + n)
      }
      pos += n
    }
  }

  // ---------------------------------------------------------------- MFT records

  /** Parses a record (its fixups applied here unless `fixedUp`). */
  private parseRecord(buf: Buffer, number: number, fixedUp = false): MftRecord {
    if (buf.toString('latin1', 0, 4) !== 'FILE') {
      if (buf.toString('latin1', 0, 4) === 'BAAD') corrupt(`MFT record ${number} marked BAAD`)
      corrupt(`MFT record ${number}: bad signature`)
    }
    if (!fixedUp) applyFixups(buf, `MFT record ${number}`)
    const sequence = buf.readUInt16LE(16)
    const linkCount = buf.readUInt16LE(18)
    const firstAttr = buf.readUInt16LE(20)
    const flags = buf.readUInt16LE(22)
    const used = Math.min(buf.readUInt32LE(24), buf.length)
    const attrs: Attr[] = []
    let off = firstAttr
    if (off < 24 || off >= buf.length) corrupt(`MFT record ${number}: bad first attribute offset`)
    for (let n = 0; ; n++) {
      if (n > MAX_ATTRS_PER_RECORD) throw new FsError('ELIMIT', `MFT record ${number}: too many attributes`)
      if (off + 4 > used) break // tolerate a missing end marker at the used size
      const type = buf.readUInt32LE(off)
      if (type === AT_END) break
      if (off + 16 > used) corrupt(`MFT record ${number}: attribute header past the used size`)
      const len = buf.readUInt32LE(off + 4)
      if (len < 16 || len % 8 !== 0 || off + len > used) corrupt(`MFT record ${number}: bad attribute length ${len}`)
      attrs.push(parseAttr(buf.subarray(off, off + len), number))
      off += len
    }
    return { number, sequence, flags, linkCount, attrs }
  }

  async record(mft: number, seq = 0): Promise<MftRecord> {
    if (!Number.isSafeInteger(mft) || mft < 0) throw new FsError('ENOENT', `bad MFT number ${mft}`)
    let rec = this.cache.get(mft)
    if (!rec) {
      const off = mft * this.recordSize
      if (off + this.recordSize > this.mftSize) throw new FsError('ENOENT', `MFT record ${mft} beyond $MFT (${this.mftSize} bytes)`)
      const buf = Buffer.alloc(this.recordSize)
      await this.readRuns(this.mftRuns, off, this.recordSize, buf, 0)
      rec = this.parseRecord(buf, mft)
      this.cache.set(mft, rec)
      if (this.cache.size > RECORD_CACHE) this.cache.delete(this.cache.keys().next().value!)
    }
    if ((rec.flags & 1) === 0) throw new FsError('ENOENT', `MFT record ${mft} is not in use`)
    if (seq !== 0 && rec.sequence !== seq) throw new FsError('ENOENT', `MFT record ${mft}: sequence ${rec.sequence}, reference expects ${seq} (stale)`)
    return rec
  }

  /** All attributes of a file, following $ATTRIBUTE_LIST and merging non-resident fragments. */
  async attributes(rec: MftRecord): Promise<Attr[]> {
    const listAttr = rec.attrs.find(a => a.type === AT_ATTRIBUTE_LIST)
    if (!listAttr) return rec.attrs
    const list = await this.attrValue(listAttr, MAX_ATTR_LIST_BYTES)
    const wanted = new Set<number>()
    for (let off = 0, n = 0; off + 26 <= list.length; n++) {
      if (n > 65536) throw new FsError('ELIMIT', 'attribute list too long')
      const recLen = list.readUInt16LE(off + 4)
      if (recLen < 26 || off + recLen > list.length) corrupt(`MFT record ${rec.number}: bad attribute list entry length`)
      const ref = u48(list, off + 16)
      if (ref !== rec.number) wanted.add(ref)
      off += recLen
    }
    if (wanted.size > MAX_ATTR_LIST_RECORDS) throw new FsError('ELIMIT', 'attribute list names too many records')
    const all: Attr[] = rec.attrs.filter(a => a.type !== AT_ATTRIBUTE_LIST || true)
    for (const ext of wanted) {
      const off = ext * this.recordSize
      if (off + this.recordSize > this.mftSize && this.mftRuns.length === 0) corrupt('extension record unreachable')
      let er: MftRecord
      try { er = await this.record(ext) } catch (e) {
        if (e instanceof FsError && e.code === 'ENOENT') corrupt(`MFT record ${rec.number}: extension record ${ext} missing`)
        throw e
      }
      all.push(...er.attrs)
    }
    return mergeFragments(all)
  }

  /** The whole value of a (small) attribute. */
  private async attrValue(a: Attr, max: number): Promise<Buffer> {
    if (a.resident) return a.value!
    if (a.dataSize > max) throw new FsError('ELIMIT', `attribute 0x${a.type.toString(16)} too large (${a.dataSize} bytes)`)
    return this.readAttr(a, 0, a.dataSize)
  }

  /** Reads [offset, offset+length) of an attribute's value (clamped to its size). */
  async readAttr(a: Attr, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new FsError('ERANGE', 'bad offset/length')
    if (a.resident) {
      const v = a.value!
      return Buffer.from(v.subarray(Math.min(offset, v.length), Math.min(offset + length, v.length)))
    }
    if (a.flags & 0x4000) throw new FsError('ENOTSUP', 'encrypted (EFS) attribute')
    if (a.dataSize > MAX_STREAM_SIZE) corrupt(`absurd stream size ${a.dataSize}`)
    const end = Math.min(a.dataSize, offset + length)
    if (offset >= end) return Buffer.alloc(0)
    if (end - offset > MAX_READ) throw new FsError('ELIMIT', `read of ${end - offset} bytes exceeds ${MAX_READ}`)
    const initEnd = Math.min(end, a.initializedSize)
    if (!((a.flags & 0x00ff) !== 0 && a.compressionUnit > 0) && initEnd === end) {
      // The whole range in one allocated run (large files mostly are): the reader's buffer as is, no copy.
      const at = this.singleRunByte(a.runs, offset, end - offset)
      if (at !== undefined) return this.readBytes(at, end - offset)
    }
    const out = Buffer.alloc(end - offset)
    if ((a.flags & 0x00ff) !== 0 && a.compressionUnit > 0) {
      await this.readCompressed(a, offset, end, out)
    } else if (initEnd > offset) {
      await this.readRuns(a.runs, offset, initEnd - offset, out, 0)
    }
    if (initEnd < end) out.fill(0, Math.max(0, initEnd - offset)) // past the initialized size reads as zeros
    return out
  }

  private async readCompressed(a: Attr, offset: number, end: number, out: Buffer): Promise<void> {
    const cs = this.clusterSize
    const unitClusters = 2 ** a.compressionUnit
    const unitBytes = unitClusters * cs
    if (a.compressionUnit > 8 || unitBytes > 4 << 20) throw new FsError('ENOTSUP', `compression unit of ${unitClusters} clusters`)
    for (let u = Math.floor(offset / unitBytes); u * unitBytes < end; u++) {
      const uStart = u * unitBytes
      const unit = await this.readUnit(a, u * unitClusters, unitClusters)
      const from = Math.max(offset, uStart), to = Math.min(end, uStart + unitBytes)
      unit.copy(out, from - offset, from - uStart, to - uStart)
    }
  }

  /** One compression unit: all clusters allocated → stored; all sparse → zeros; else LZNT1. */
  private async readUnit(a: Attr, vcn0: number, n: number): Promise<Buffer> {
    const cs = this.clusterSize
    let allocated = 0
    let i = findRun(a.runs, vcn0)
    for (let v = vcn0; v < vcn0 + n;) {
      while (i < a.runs.length && a.runs[i]!.vcn + a.runs[i]!.len <= v) i++
      const r = a.runs[i]
      if (!r || r.vcn > v) break // unmapped tail: treat as sparse
      const take = Math.min(r.vcn + r.len, vcn0 + n) - v
      if (r.lcn >= 0) allocated += take
      v += take
    }
    const unit = Buffer.alloc(n * cs)
    if (allocated === 0) return unit
    if (allocated === n) { await this.readRuns(a.runs, vcn0 * cs, n * cs, unit, 0); return unit }
    const comp = Buffer.alloc(allocated * cs)
    await this.readRuns(a.runs, vcn0 * cs, allocated * cs, comp, 0)
    lznt1Decompress(comp, unit)
    return unit
  }

  // ---------------------------------------------------------------- files

  private async fileAttrs(ref: string | number): Promise<{ rec: MftRecord; attrs: Attr[] }> {
    const { mft, seq } = parseRef(ref)
    const rec = await this.record(mft, seq)
    return { rec, attrs: await this.attributes(rec) }
  }

  private async entryFor(rec: MftRecord, attrs: Attr[], key?: FileNameKey): Promise<NtfsEntry> {
    const si = attrs.find(a => a.type === AT_STANDARD_INFORMATION && a.resident)
    const siv = si?.value
    const fns = attrs.filter(a => a.type === AT_FILE_NAME && a.resident).map(a => parseFileName(a.value!))
    const name = key?.name ?? bestName(fns)?.name ?? ''
    const isDirectory = (rec.flags & 2) !== 0
    const data = attrs.filter(a => a.type === AT_DATA)
    const main = data.find(a => a.name === '')
    const fileAttributes = siv && siv.length >= 36 ? siv.readUInt32LE(32) : (key?.flags ?? 0)
    const attributes = FILE_ATTRIBUTE_NAMES.filter(([bit]) => (fileAttributes & bit) !== 0).map(([, n]) => n)
    if (isDirectory && !attributes.includes('directory')) attributes.push('directory')
    let type: FsEntryType = isDirectory ? 'dir' : 'file'
    let linkTarget: string | undefined, reparseTag: number | undefined, reparseKind: NtfsEntry['reparseKind']
    const rp = attrs.find(a => a.type === AT_REPARSE_POINT)
    if (rp) {
      const d = decodeReparse(await this.attrValue(rp, 65536))
      reparseTag = d.tag; reparseKind = d.kind; linkTarget = d.target
      type = d.kind === 'other' ? 'reparse' : 'symlink'
      if (!attributes.includes('reparse')) attributes.push('reparse')
    }
    const sizeOf = (a: Attr) => a.resident ? a.value!.length : a.dataSize
    const allocOf = (a: Attr) => a.resident ? 0 : a.totalAllocated
    const streams = data.filter(a => a.name !== '').map(a => ({ name: a.name, size: sizeOf(a) }))
    const created = filetime(siv ?? Buffer.alloc(0), 0) ?? key?.created
    const modified = filetime(siv ?? Buffer.alloc(0), 8) ?? key?.modified
    const mftModified = filetime(siv ?? Buffer.alloc(0), 16) ?? key?.mftModified
    const accessed = filetime(siv ?? Buffer.alloc(0), 24) ?? key?.accessed
    const e: NtfsEntry = {
      ref: formatRef(rec.number, rec.sequence), inode: rec.number, name, type,
      size: isDirectory || !main ? 0 : sizeOf(main),
      allocatedSize: isDirectory || !main ? 0 : allocOf(main),
      btime: created, mtime: modified, ctime: mftModified, atime: accessed, mftModified,
      attributes, streams, isDirectory, hasData: main !== undefined, linkCount: rec.linkCount,
    }
    if (linkTarget !== undefined) e.linkTarget = linkTarget
    if (reparseTag !== undefined) { e.reparseTag = reparseTag; e.reparseKind = reparseKind }
    return e
  }

  async root(): Promise<NtfsEntry> { return this.stat(MFT_ROOT) }

  stat(ref: string | number): Promise<NtfsEntry> { return guarded(this.statImpl(ref)) }

  private async statImpl(ref: string | number): Promise<NtfsEntry> {
    const { rec, attrs } = await this.fileAttrs(ref)
    const e = await this.entryFor(rec, attrs)
    if (rec.number === MFT_ROOT) e.name = ''
    return e
  }

  /** Lists a directory: one entry per name (hard links appear under each name), DOS 8.3 duplicates dropped. */
  list(dirRef: string | number): Promise<NtfsEntry[]> { return guarded(this.listImpl(dirRef)) }

  private async listImpl(dirRef: string | number): Promise<NtfsEntry[]> {
    const { rec, attrs } = await this.fileAttrs(dirRef)
    const keys = await this.indexEntries(rec, attrs)
    const out: NtfsEntry[] = []
    const seen = new Set<string>()
    for (const k of keys) {
      const mft = Number(k.ref & 0xffffffffffffn), seq = Number(k.ref >> 48n)
      if (mft === rec.number) continue // "." in the root
      if (k.fn.namespace === 2) continue // DOS-only alias of a Win32 name
      const id = `${mft}/${k.fn.name}`
      if (seen.has(id)) continue
      seen.add(id)
      try {
        const child = await this.record(mft, seq)
        const cattrs = await this.attributes(child)
        out.push(await this.entryFor(child, cattrs, k.fn))
      } catch (e) {
        if (!(e instanceof FsError)) throw e
        out.push({
          ref: formatRef(mft, seq), inode: mft, name: k.fn.name, type: 'other', size: k.fn.dataSize,
          allocatedSize: k.fn.allocatedSize, btime: k.fn.created, mtime: k.fn.modified, ctime: k.fn.mftModified,
          atime: k.fn.accessed, attributes: [], streams: [], isDirectory: (k.fn.flags & 0x10000000) !== 0, hasData: false, linkCount: 0,
          error: `${e.code}: ${e.message}`,
        })
      }
    }
    return out
  }

  /** All keys of the $I30 index: root node plus every reachable $INDEX_ALLOCATION node (bounded). */
  private async indexEntries(rec: MftRecord, attrs: Attr[]): Promise<{ ref: bigint; fn: FileNameKey }[]> {
    const root = attrs.find(a => a.type === AT_INDEX_ROOT && a.name === '$I30')
    if (!root) {
      if ((rec.flags & 2) === 0) throw new FsError('ENOTDIR', `MFT record ${rec.number} is not a directory`)
      corrupt(`directory ${rec.number} has no $I30 index root`)
    }
    if (!root.resident) corrupt('$INDEX_ROOT is non-resident')
    const rv = root.value!
    if (rv.length < 32) corrupt('$INDEX_ROOT too short')
    const alloc = attrs.find(a => a.type === AT_INDEX_ALLOCATION && a.name === '$I30')
    const bitmapAttr = attrs.find(a => a.type === AT_BITMAP && a.name === '$I30')
    const irs = rv.readUInt32LE(8)
    const indexRecordSize = irs >= 512 && irs <= 65536 && isPow2(irs) ? irs : this.indexRecordSize
    const bitmap = bitmapAttr ? await this.attrValue(bitmapAttr, 1 << 20) : undefined
    const out: { ref: bigint; fn: FileNameKey }[] = []
    const visited = new Set<number>()
    let nodes = 0
    const walk = async (node: Buffer, hdr: number, depth: number): Promise<void> => {
      if (depth > MAX_INDEX_DEPTH) throw new FsError('ELOOP', 'index tree too deep')
      if (++nodes > MAX_INDEX_NODES) throw new FsError('ELIMIT', 'index has too many nodes')
      if (hdr + 16 > node.length) corrupt('index node header out of range')
      const first = hdr + node.readUInt32LE(hdr)
      const total = Math.min(hdr + node.readUInt32LE(hdr + 4), node.length)
      let off = first
      for (;;) {
        if (off + 16 > total) corrupt('index entry past the node')
        const len = node.readUInt16LE(off + 8)
        const keyLen = node.readUInt16LE(off + 10)
        const flags = node.readUInt16LE(off + 12)
        if (len < 16 || off + len > total || 16 + keyLen > len) corrupt('bad index entry length')
        if (flags & 1) {
          if (len < 24) corrupt('index entry too short for a subnode')
          const vcn = Number(node.readBigUInt64LE(off + len - 8))
          await sub(vcn, depth + 1)
        }
        if (flags & 2) break
        if (keyLen >= 66) {
          out.push({ ref: node.readBigUInt64LE(off), fn: parseFileName(node.subarray(off + 16, off + 16 + keyLen)) })
          if (out.length > MAX_DIR_ENTRIES) throw new FsError('ELIMIT', 'directory has too many entries')
        }
        off += len
      }
    }
    const sub = async (vcn: number, depth: number): Promise<void> => {
      if (!alloc) corrupt('index subnode without $INDEX_ALLOCATION')
      if (!Number.isSafeInteger(vcn) || vcn < 0) corrupt('bad index VCN')
      const byteOff = indexRecordSize >= this.clusterSize ? vcn * this.clusterSize : vcn * 512
      const nodeNo = Math.floor(byteOff / indexRecordSize)
      if (visited.has(nodeNo)) throw new FsError('ELOOP', `index node ${vcn} visited twice`)
      visited.add(nodeNo)
      if (bitmap && (nodeNo >> 3 >= bitmap.length || (bitmap[nodeNo >> 3]! & (1 << (nodeNo & 7))) === 0)) {
        corrupt(`index node ${nodeNo} referenced but free in $BITMAP`)
      }
      if (byteOff + indexRecordSize > (alloc.resident ? alloc.value!.length : alloc.dataSize)) corrupt('index VCN beyond $INDEX_ALLOCATION')
      const buf = await this.readAttr(alloc, byteOff, indexRecordSize)
      if (buf.toString('latin1', 0, 4) !== 'INDX') corrupt(`index node ${vcn}: bad signature`)
      applyFixups(buf, `index node ${vcn}`)
      await walk(buf, 24, depth)
    }
    await walk(rv, 16, 0)
    return out
  }

  /** Resolves a path ("/a/b" or "\\a\\b") from the root; case-sensitive match first, then case-insensitive. */
  lookup(path: string): Promise<NtfsEntry> { return guarded(this.lookupImpl(path)) }

  private async lookupImpl(path: string): Promise<NtfsEntry> {
    const parts = path.split(/[\\/]+/).filter(p => p !== '' && p !== '.')
    if (parts.length > MAX_PATH_DEPTH) throw new FsError('ELIMIT', 'path too deep')
    let cur = await this.root()
    for (const part of parts) {
      if (!cur.isDirectory) throw new FsError('ENOTDIR', `${cur.name} is not a directory`)
      const entries = await this.list(cur.ref)
      const hit = entries.find(e => e.name === part) ?? entries.find(e => e.name.toUpperCase() === part.toUpperCase())
      if (!hit) throw new FsError('ENOENT', `${part}: no such file or directory`)
      cur = hit
    }
    return cur
  }

  /** Recursive walk with depth bound and cycle detection (directories reachable twice → ELOOP). */
  async *walk(dirRef: string | number = MFT_ROOT, maxDepth = 256, prefix = ''): AsyncGenerator<{ path: string; entry: NtfsEntry }> {
    const onPath = new Set<number>()
    const self = this
    async function* rec(ref: string | number, depth: number, pfx: string): AsyncGenerator<{ path: string; entry: NtfsEntry }> {
      if (depth > maxDepth) throw new FsError('ELIMIT', `directory depth exceeds ${maxDepth}`)
      const mft = parseRef(ref).mft
      if (onPath.has(mft)) throw new FsError('ELOOP', `directory ${mft} contains itself`)
      onPath.add(mft)
      for (const e of await self.list(ref)) {
        const path = `${pfx}/${e.name}`
        yield { path, entry: e }
        if (e.isDirectory && e.type === 'dir' && !e.error) yield* rec(e.ref, depth + 1, path)
      }
      onPath.delete(mft)
    }
    yield* rec(dirRef, 0, prefix)
  }

  /**
   * Every entry walk() yields (same paths and entries, another order), from one sequential read of
   * $MFT instead of a directory-index walk with a record read per file: records are read in large
   * pieces, names and parents come from their $FILE_NAME attributes (DOS-only names dropped, each
   * hard link under its own name), and paths are built from the root down, so files whose parent is
   * gone or stale (not reachable by a walk) are left out as the walk leaves them out. A record that
   * does not parse is skipped (the walk would list it, as an error, only if an index named it).
   */
  async *scan(): AsyncGenerator<{ path: string; entry: NtfsEntry }> {
    const seqOf = new Map<number, number>()
    const children = new Map<number, { parentSeq: number; entry: NtfsEntry }[]>()
    for await (const { buf, first, n } of this.mftPieces()) {
      const rs = this.recordSize
      for (let k = 0; k < n; k++) {
        const raw = buf.subarray(k * rs, (k + 1) * rs)
        if (!isBaseInUse(raw)) continue
        const number = first + k
        const r = await this.linksOf(raw, number, false)
        if (!r) continue
        seqOf.set(number, r.sequence)
        for (const l of r.links) (children.get(l.parent) ?? children.set(l.parent, []).get(l.parent)!).push(l)
      }
    }
    const onPath = new Set<number>()
    function* down(dir: number, depth: number, pfx: string): Generator<{ path: string; entry: NtfsEntry }> {
      if (depth > 256 || onPath.has(dir)) return
      onPath.add(dir)
      for (const c of children.get(dir) ?? []) {
        if (c.parentSeq !== 0 && c.parentSeq !== seqOf.get(dir)) continue // a stale parent reference
        const path = `${pfx}/${c.entry.name}`
        yield { path, entry: c.entry }
        if (c.entry.isDirectory && c.entry.type === 'dir') yield* down(c.entry.inode, depth + 1, path)
      }
      onPath.delete(dir)
    }
    yield* down(MFT_ROOT, 0, '')
  }

  /**
   * What a catalog keeps of every entry scan() yields (path, type, size, modification time, record
   * number; same entries, same order), from one linear pass over $MFT read in large pieces: common
   * records are parsed in place (mft-table.ts), only odd ones (attribute lists, reparse points,
   * damage) the general way, one record at a time. At most `limit` entries.
   */
  async scanTable(limit = Number.MAX_SAFE_INTEGER): Promise<NtfsTable> {
    const t = this.tableBuilder()
    for await (const { buf, first, n } of this.mftPieces(16 << 20)) await t.feed(buf, first, n)
    return t.finish(limit)
  }

  /**
   * Where $MFT's records lie on the volume, in order (what scanTable() reads), so a caller can read
   * them and feed tableBuilder(); undefined when $MFT is not plainly laid out inside the volume
   * (sparse or overlapping runs, more runs than a real volume has): scanTable() reads it then.
   */
  mftLayout(): { recordSize: number; records: number; extents: { offset: number; length: number }[] } | undefined {
    const rs = this.recordSize, cs = this.clusterSize
    const records = Math.floor(this.mftSize / rs)
    const end = records * rs
    if (end > this.reader.size) return undefined
    const extents: { offset: number; length: number }[] = []
    let pos = 0
    for (const r of this.mftRuns) {
      if (pos >= end) break
      if (r.vcn * cs !== pos || r.lcn < 0 || r.lcn + r.len > this.totalClusters || extents.length >= 65536) return undefined
      const length = Math.min(r.len * cs, end - pos)
      extents.push({ offset: r.lcn * cs, length })
      pos += length
    }
    return pos === end ? { recordSize: rs, records, extents } : undefined
  }

  /** scanTable()'s pass, fed piece by piece: whole records, in order from record 0 (pieces are changed in place). */
  tableBuilder(): { feed(buf: Buffer, first: number, n: number): Promise<void>; finish(limit?: number): NtfsTable } {
    const rs = this.recordSize
    const links = new LinkTable(Math.floor(this.mftSize / rs))
    const seqOf = links.seqOf
    const f = new RecordFacts()
    const typeCode = (e: NtfsEntry) => (e.type === 'file' ? T_FILE : e.type === 'dir' ? T_DIR : e.type === 'symlink' ? T_SYMLINK : T_OTHER)
    let next = 0
    const feed = async (buf: Buffer, first: number, n: number): Promise<void> => {
      if (first !== next || n < 0 || buf.length < n * rs || first + n > seqOf.length) throw new FsError('ERANGE', `MFT records ${first}+${n} fed out of order (next is ${next})`)
      next = first + n
    for (let k = 0, o = 0; k < n; k++, o += rs) {
      // 'FILE', in use, a base record (extension records are read through their base's attribute list).
      if (buf[o] !== 0x46 || buf[o + 1] !== 0x49 || buf[o + 2] !== 0x4c || buf[o + 3] !== 0x45 || (buf[o + 22]! & 1) === 0) continue
      if ((buf[o + 32]! | buf[o + 33]! | buf[o + 34]! | buf[o + 35]! | buf[o + 36]! | buf[o + 37]!) !== 0) continue
      const number = first + k
      if (!fixupRecord(buf, o, rs)) continue // torn: the general parser rejects it too
      if (!recordFacts(buf, o, rs, f)) {
        const r = await this.linksOf(buf.subarray(o, o + rs), number, true)
        if (!r) continue
        seqOf[number] = r.sequence
        for (const l of r.links) {
          const e = l.entry
          const mtime = e.mtime ? Date.parse(e.mtime) : NaN
          links.add(l.parent, l.parentSeq, e.name, number, r.sequence, typeCode(e), e.isDirectory && e.type === 'dir', e.size, mtime)
        }
        continue
      }
      seqOf[number] = f.sequence
      for (let i = 0; i < f.names; i++) {
        const v = f.nameAt[i]!
        if (buf[v + 65] === 2) continue // DOS-only alias of a Win32 name
        const parent = (buf[v]! | (buf[v + 1]! << 8) | (buf[v + 2]! << 16)) + buf[v + 3]! * 0x1000000 + (buf[v + 4]! | (buf[v + 5]! << 8)) * 2 ** 32
        if (parent === number) continue // the root's own name
        const chars = buf[v + 64]!
        let dup = false
        for (let j = 0; j < i && !dup; j++) {
          const w = f.nameAt[j]!
          dup = buf[w + 65] !== 2 && buf[w + 64] === chars && buf.compare(buf, v, v + 6, w, w + 6) === 0 && buf.compare(buf, v + 66, v + 66 + chars * 2, w + 66, w + 66 + chars * 2) === 0
        }
        if (dup) continue
        const name = buf.toString('utf16le', v + 66, v + 66 + chars * 2)
        const mtime = f.siMtime === f.siMtime ? f.siMtime : filetimeMs(buf, v + 16, v + f.nameLength[i]!) ?? NaN
        links.add(parent, buf[v + 6]! | (buf[v + 7]! << 8), name, number, f.sequence, f.isDirectory ? T_DIR : T_FILE, f.isDirectory, f.size, mtime)
      }
    }
    }
    return { feed, finish: (limit = Number.MAX_SAFE_INTEGER) => links.layout(MFT_ROOT, limit) }
  }

  /**
   * $MFT in pieces of about `bytes`, read in order: each piece's records, the first one's number. The
   * piece's buffer is reused for the next one when the reader can read into it (new memory for every
   * piece costs page faults that show as much as the copying).
   */
  private async *mftPieces(bytes = 4 << 20): AsyncGenerator<{ buf: Buffer; first: number; n: number }> {
    const rs = this.recordSize
    const total = Math.floor(this.mftSize / rs)
    const perRead = Math.max(1, Math.floor(bytes / rs))
    const readInto = this.reader.readInto?.bind(this.reader)
    const reused = readInto ? Buffer.allocUnsafeSlow(Math.min(total, perRead) * rs) : undefined
    for (let first = 0; first < total; first += perRead) {
      const n = Math.min(perRead, total - first)
      const at = this.singleRunByte(this.mftRuns, first * rs, n * rs)
      let buf: Buffer
      if (at !== undefined && reused && readInto) {
        // One allocated run holds most pieces: read straight into the reused buffer.
        buf = reused.subarray(0, n * rs)
        if (at + n * rs > this.reader.size || await guarded(readInto(at, buf)) !== n * rs) throw new FsError('ERANGE', `short read of $MFT at ${at}`)
      } else if (at !== undefined) buf = await guarded(this.readBytes(at, n * rs))
      else { buf = reused ? reused.subarray(0, n * rs) : Buffer.allocUnsafe(n * rs); await guarded(this.readRuns(this.mftRuns, first * rs, n * rs, buf, 0)) }
      yield { buf, first, n }
    }
  }

  /**
   * The names a base record gives its file (one per folder and name: DOS-only names and the root's
   * own name left out), each with the entry it lists, parsed the general way; undefined when the
   * record does not parse (a walk lists it, as an error, only if an index names it).
   */
  private async linksOf(raw: Buffer, number: number, fixedUp: boolean): Promise<{ sequence: number; links: { parent: number; parentSeq: number; entry: NtfsEntry }[] } | undefined> {
    let rec: MftRecord
    try { rec = this.parseRecord(raw, number, fixedUp) } catch (e) { if (e instanceof FsError) return undefined; throw guestError(e) }
    const links: { parent: number; parentSeq: number; entry: NtfsEntry }[] = []
    try {
      const attrs = rec.attrs.some(a => a.type === AT_ATTRIBUTE_LIST) ? await guarded(this.attributes(rec)) : rec.attrs
      const seen = new Set<string>()
      for (const a of attrs) {
        if (a.type !== AT_FILE_NAME || !a.resident) continue
        const fn = parseFileName(a.value!)
        if (fn.namespace === 2) continue
        const parent = Number(fn.parent & 0xffffffffffffn)
        if (parent === number) continue // the root's own name
        const key = `${parent}/${fn.name}`
        if (seen.has(key)) continue
        seen.add(key)
        links.push({ parent, parentSeq: Number(fn.parent >> 48n), entry: await guarded(this.entryFor(rec, attrs, fn)) })
      }
    } catch (e) {
      if (!(e instanceof FsError)) throw e
    }
    return { sequence: rec.sequence, links }
  }

  private async dataAttr(ref: string | number, stream?: string): Promise<Attr> {
    const { rec, attrs } = await this.fileAttrs(ref)
    const name = stream ?? ''
    const a = attrs.find(x => x.type === AT_DATA && x.name === name)
    if (!a) {
      if ((rec.flags & 2) !== 0 && name === '') throw new FsError('ENOTSUP', 'a directory has no unnamed data stream')
      throw new FsError('ENOENT', `no data stream ${JSON.stringify(name)} in MFT record ${rec.number}`)
    }
    return a
  }

  /** Reads [offset, offset+length) of a file's data stream (unnamed by default); short at end of stream. */
  read(ref: string | number, stream: string | undefined, offset: number, length: number): Promise<Buffer> { return guarded(this.readImpl(ref, stream, offset, length)) }

  private async readImpl(ref: string | number, stream: string | undefined, offset: number, length: number): Promise<Buffer> {
    const a = await this.dataAttr(ref, stream)
    return this.readAttr(a, offset, length)
  }

  /**
   * Bytes of a file into the caller's buffer (reused by a download: no new memory per read); the count
   * written, fewer only at the end of the file. A range in one plain allocated run is read straight
   * into `out`; anything else (resident, compressed, sparse, past the initialized size) through read().
   */
  readInto(ref: string | number, stream: string | undefined, offset: number, out: Uint8Array): Promise<number> { return guarded(this.readIntoImpl(ref, stream, offset, out)) }

  private async readIntoImpl(ref: string | number, stream: string | undefined, offset: number, out: Uint8Array): Promise<number> {
    const a = await this.dataAttr(ref, stream)
    if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError('ERANGE', 'bad offset/length')
    const end = Math.min(a.dataSize, offset + out.length)
    const plain = !a.resident && !(a.flags & 0x4000) && !((a.flags & 0x00ff) !== 0 && a.compressionUnit > 0)
    if (plain && this.reader.readInto && a.dataSize <= MAX_STREAM_SIZE && offset < end && end <= a.initializedSize) {
      const at = this.singleRunByte(a.runs, offset, end - offset)
      if (at !== undefined) {
        if (at + (end - offset) > this.reader.size) throw new FsError('ERANGE', `read ${at}+${end - offset} beyond the partition (${this.reader.size} bytes)`)
        const n = await this.reader.readInto(at, out.subarray(0, end - offset))
        if (n !== end - offset) throw new FsError('ERANGE', `short read at ${at}`)
        return n
      }
    }
    const b = await this.readAttr(a, offset, out.length)
    out.set(b)
    return b.length
  }

  /** The size of a data stream. */
  streamSize(ref: string | number, stream?: string): Promise<number> { return guarded(this.streamSizeImpl(ref, stream)) }

  private async streamSizeImpl(ref: string | number, stream?: string): Promise<number> {
    const a = await this.dataAttr(ref, stream)
    return a.resident ? a.value!.length : a.dataSize
  }

  /** Streams a file's data in chunks of up to 1 MiB. */
  async *openStream(ref: string | number, stream?: string): AsyncGenerator<Buffer> {
    const a = await guarded(this.dataAttr(ref, stream))
    const size = a.resident ? a.value!.length : a.dataSize
    if (size > MAX_STREAM_SIZE) corrupt(`absurd stream size ${size}`)
    const step = a.compressionUnit > 0 && !a.resident ? Math.max(CHUNK, 2 ** a.compressionUnit * this.clusterSize) : CHUNK
    for (let off = 0; off < size; off += step) yield await guarded(this.readAttr(a, off, Math.min(step, size - off)))
  }

  /** Volume consistency as seen in the image: $Volume dirty flag and the $LogFile restart area. */
  state(): Promise<NtfsState> { return guarded(this.stateImpl()) }

  private async stateImpl(): Promise<NtfsState> {
    const { attrs } = await this.fileAttrs(3)
    const vi = attrs.find(a => a.type === AT_VOLUME_INFORMATION && a.resident)
    if (!vi || vi.value!.length < 12) corrupt('$Volume has no $VOLUME_INFORMATION')
    const v = vi.value!
    const flags = v.readUInt16LE(10)
    const vn = attrs.find(a => a.type === AT_VOLUME_NAME && a.resident)
    const label = vn ? vn.value!.toString('utf16le') : ''
    return {
      dirty: (flags & 1) !== 0, logFile: await this.logFileState(), version: `${v[8]}.${v[9]}`, label,
      volumeFlags: flags, clusterSize: this.clusterSize, totalBytes: this.totalClusters * this.clusterSize,
    }
  }

  private async logFileState(): Promise<NtfsState['logFile']> {
    let a: Attr
    try { a = await this.dataAttr(2) } catch (e) { if (e instanceof FsError) return 'unknown'; throw e }
    const head = await this.readAttr(a, 0, 4096)
    if (head.length < 512) return 'unknown'
    if (head.subarray(0, 512).every(b => b === 0xff)) return 'empty'
    const pages: { lsn: bigint; clean: boolean }[] = []
    const first = await this.restartPage(a, 0)
    if (first) {
      pages.push(first.info)
      const second = await this.restartPage(a, first.pageSize)
      if (second) pages.push(second.info)
    }
    if (pages.length === 0) return 'unknown'
    pages.sort((x, y) => (x.lsn < y.lsn ? 1 : x.lsn > y.lsn ? -1 : 0))
    return pages[0]!.clean ? 'clean' : 'dirty'
  }

  private async restartPage(a: Attr, off: number): Promise<{ pageSize: number; info: { lsn: bigint; clean: boolean } } | undefined> {
    const hdr = await this.readAttr(a, off, 512)
    if (hdr.length < 512) return undefined
    const magic = hdr.toString('latin1', 0, 4)
    if (magic !== 'RSTR' && magic !== 'CHKD') return undefined
    const pageSize = hdr.readUInt32LE(16)
    if (!isPow2(pageSize) || pageSize < 512 || pageSize > 65536) return undefined
    const page = await this.readAttr(a, off, pageSize)
    if (page.length < pageSize) return undefined
    try { applyFixups(page, '$LogFile restart page') } catch { return undefined }
    const ra = page.readUInt16LE(24)
    if (ra + 16 > page.length) return undefined
    const lsn = page.readBigUInt64LE(ra)
    const inUse = page.readUInt16LE(ra + 12)
    const flags = page.readUInt16LE(ra + 14)
    return { pageSize, info: { lsn, clean: inUse === 0xffff || (flags & 2) !== 0 } }
  }
}

/** 'FILE', in use, a base record (extension records are read through their base's attribute list). */
function isBaseInUse(raw: Buffer): boolean {
  return raw.toString('latin1', 0, 4) === 'FILE' && (raw.readUInt16LE(22) & 1) !== 0 && raw.readUIntLE(32, 6) === 0
}

function bestName(fns: FileNameKey[]): FileNameKey | undefined {
  // Prefer Win32 (1) or Win32&DOS (3), then POSIX (0), DOS (2) last.
  const rank = (n: number) => (n === 1 || n === 3 ? 0 : n === 0 ? 1 : 2)
  return [...fns].sort((a, b) => rank(a.namespace) - rank(b.namespace))[0]
}

function findRun(runs: Run[], vcn: number): number {
  let lo = 0, hi = runs.length - 1, ans = 0
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (runs[mid]!.vcn <= vcn) { ans = mid; lo = mid + 1 } else hi = mid - 1
  }
  return ans
}

function parseAttr(a: Buffer, rec: number): Attr {
  const type = a.readUInt32LE(0)
  const nonResident = a[8]!
  const nameLen = a[9]!
  const nameOff = a.readUInt16LE(10)
  const flags = a.readUInt16LE(12)
  const id = a.readUInt16LE(14)
  const name = nameLen ? utf16(a, nameOff, nameLen) : ''
  if (nonResident === 0) {
    if (a.length < 24) corrupt(`MFT record ${rec}: resident attribute header too short`)
    const vlen = a.readUInt32LE(16)
    const voff = a.readUInt16LE(20)
    if (vlen > MAX_RESIDENT_VALUE || voff + vlen > a.length) corrupt(`MFT record ${rec}: resident value out of range`)
    const value = Buffer.from(a.subarray(voff, voff + vlen))
    return { type, name, flags, id, resident: true, value, runs: [], dataSize: vlen, allocatedSize: vlen, initializedSize: vlen, totalAllocated: vlen, compressionUnit: 0 }
  }
  if (nonResident !== 1) corrupt(`MFT record ${rec}: bad non-resident flag`)
  if (a.length < 64) corrupt(`MFT record ${rec}: non-resident attribute header too short`)
  const startVcn = Number(a.readBigUInt64LE(16))
  const lastVcn = Number(a.readBigInt64LE(24))
  const runOff = a.readUInt16LE(32)
  const compressionUnit = a.readUInt16LE(34)
  const allocatedSize = Number(a.readBigUInt64LE(40))
  const dataSize = Number(a.readBigUInt64LE(48))
  const initializedSize = Number(a.readBigUInt64LE(56))
  if (!Number.isSafeInteger(startVcn) || startVcn > 2 ** 48) corrupt(`MFT record ${rec}: bad start VCN`)
  if (![allocatedSize, dataSize, initializedSize].every(n => Number.isSafeInteger(n) && n >= 0 && n <= MAX_STREAM_SIZE)) {
    corrupt(`MFT record ${rec}: absurd attribute sizes`)
  }
  if (runOff < 64 || runOff > a.length) corrupt(`MFT record ${rec}: runlist offset out of range`)
  if (compressionUnit > 16) corrupt(`MFT record ${rec}: bad compression unit`)
  const runs = decodeRunlist(a, runOff, a.length, startVcn, lastVcn)
  const totalAllocated = (flags & 0x80ff) !== 0 && runOff >= 72 ? Number(a.readBigUInt64LE(64)) : allocatedSize
  return { type, name, flags, id, resident: false, runs, dataSize, allocatedSize, initializedSize, totalAllocated, compressionUnit, startVcn } as Attr & { startVcn: number }
}

/** Merges the non-resident fragments of one attribute (several extents listed in $ATTRIBUTE_LIST). */
function mergeFragments(attrs: Attr[]): Attr[] {
  const out: Attr[] = []
  const byKey = new Map<string, (Attr & { startVcn?: number })[]>()
  for (const a of attrs) {
    if (a.resident) { out.push(a); continue }
    const k = `${a.type}:${a.name}`
    const list = byKey.get(k)
    if (list) list.push(a)
    else { byKey.set(k, [a]); out.push(a) }
  }
  for (const [k, frags] of byKey) {
    if (frags.length === 1) continue
    frags.sort((x, y) => (x.startVcn ?? 0) - (y.startVcn ?? 0))
    const first = frags[0]!
    if ((first.startVcn ?? 0) !== 0) corrupt(`attribute ${k}: no fragment at VCN 0`)
    const runs: Run[] = []
    for (const f of frags) {
      for (const r of f.runs) {
        runs.push(r)
        if (runs.length > MAX_RUNS) throw new FsError('ELIMIT', 'too many runs')
      }
    }
    for (let i = 1; i < runs.length; i++) if (runs[i]!.vcn < runs[i - 1]!.vcn + runs[i - 1]!.len) corrupt(`attribute ${k}: overlapping fragments`)
    const idx = out.indexOf(first)
    out[idx] = { ...first, runs }
  }
  return out
}
