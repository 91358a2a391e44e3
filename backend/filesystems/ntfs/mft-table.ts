/**
 * The catalog's view of an NTFS volume in one linear pass over $MFT (NtfsVolume.scanTable): for every
 * entry scan() yields, its path, type, size, modification time and record number, kept in columns
 * (typed arrays and one array of paths) instead of an object per entry.
 *
 * Records are read in large pieces; each one is parsed in place from the piece's bytes by
 * `recordFacts`, which understands the common record (resident or non-resident attributes, no
 * attribute list, no reparse point) and says false for anything else — the caller then parses that
 * record the general way (the same code scan() and walk() use), so both agree on every record.
 * `recordFacts` checks everything the general parser checks, so a record it accepts is one the general
 * parser accepts with the same result.
 */

const AT_STANDARD_INFORMATION = 0x10
const AT_ATTRIBUTE_LIST = 0x20
const AT_FILE_NAME = 0x30
const AT_DATA = 0x80
const AT_REPARSE_POINT = 0xc0
const AT_END = 0xffffffff
const MAX_ATTRS_PER_RECORD = 512
const MAX_RESIDENT_VALUE = 1 << 20
const MAX_NAMES = 16
const EPOCH_DIFF_MS = 11644473600000

/** Entry types, numbered as the catalog numbers them (format.ts TYPES). */
export const T_FILE = 0, T_DIR = 1, T_SYMLINK = 2, T_OTHER = 3

/**
 * Milliseconds since 1970 of the FILETIME at buf[off], as `Date.parse` reads the string filetime()
 * makes of it; undefined where filetime() gives none (zero, out of range, past the buffer).
 */
export function filetimeMs(buf: Uint8Array, off: number, end: number): number | undefined {
  if (off + 8 > end) return undefined
  const lo = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x1000000
  const hi = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16)) + buf[off + 7]! * 0x1000000
  if ((hi | lo) === 0) return undefined
  if (hi < 2 ** 30) {
    // hi·2^32 + lo = hi·429·10^7 + (hi·4967296 + lo): exact below 2^53 (as filetime() does).
    const r = hi * 4967296 + lo
    return (hi * 429 + Math.floor(r / 10000000)) * 1000 + Math.floor((r % 10000000) / 10000) - EPOCH_DIFF_MS
  }
  const ft = (BigInt(hi) << 32n) | BigInt(lo)
  const ms = Number(ft / 10000n) - EPOCH_DIFF_MS
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined
  return ms
}

/** What recordFacts found in a record it could parse on its own (one object, refilled for each record). */
export class RecordFacts {
  sequence = 0
  isDirectory = false
  /** Size of the unnamed $DATA (0 for directories and files without one). */
  size = 0
  /** $STANDARD_INFORMATION's modification time, NaN when it has none (the name's time counts then). */
  siMtime = NaN
  /** The resident $FILE_NAME values, in attribute order: where each starts in the piece, its length. */
  nameAt = new Float64Array(MAX_NAMES)
  nameLength = new Uint32Array(MAX_NAMES)
  names = 0
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8)
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000
/** An unsigned 64-bit field when it is below 2^52, else -1. */
const u64 = (b: Uint8Array, o: number) => { const hi = u32(b, o + 4); return hi < 2 ** 20 ? hi * 2 ** 32 + u32(b, o) : -1 }

/**
 * Applies the update-sequence fixups of the record at buf[o, o+size) when every sector checks out
 * (nothing is written otherwise): the checks of applyFixups() in volume.ts. false: a torn or damaged
 * record, which the general parser rejects too.
 */
export function fixupRecord(buf: Uint8Array, o: number, size: number): boolean {
  const usaOff = u16(buf, o + 4), usaCount = u16(buf, o + 6)
  if (usaCount !== size / 512 + 1 || usaOff < 8 || usaOff % 2 !== 0 || usaOff + usaCount * 2 > size) return false
  const a = buf[o + usaOff]!, b = buf[o + usaOff + 1]!
  for (let i = 1; i < usaCount; i++) if (buf[o + i * 512 - 2] !== a || buf[o + i * 512 - 1] !== b) return false
  for (let i = 1; i < usaCount; i++) { buf[o + i * 512 - 2] = buf[o + usaOff + 2 * i]!; buf[o + i * 512 - 1] = buf[o + usaOff + 2 * i + 1]! }
  return true
}

/**
 * Fills `f` with the facts of the (fixed-up, in-use, base) record at buf[o, o+size); false when the
 * general parser must look at it (attribute list, reparse point, anything odd or damaged).
 */
export function recordFacts(buf: Uint8Array, o: number, size: number, f: RecordFacts): boolean {
  const firstAttr = u16(buf, o + 20)
  const used = Math.min(u32(buf, o + 24), size)
  if (firstAttr < 24 || firstAttr >= size) return false
  let siMtime = NaN, siSeen = false
  let size0 = 0, mainSeen = false
  f.names = 0
  let off = firstAttr
  for (let n = 0; ; n++) {
    if (n > MAX_ATTRS_PER_RECORD) return false
    if (off + 4 > used) break
    const type = u32(buf, o + off)
    if (type === AT_END) break
    if (off + 16 > used) return false
    const len = u32(buf, o + off + 4)
    if (len < 16 || len % 8 !== 0 || off + len > used) return false
    if (type === AT_ATTRIBUTE_LIST || type === AT_REPARSE_POINT) return false
    const a = o + off
    const nonResident = buf[a + 8]!, nameLen = buf[a + 9]!, nameOff = u16(buf, a + 10)
    if (nameLen && nameOff + nameLen * 2 > len) return false
    if (nonResident === 0) {
      if (len < 24) return false
      const vlen = u32(buf, a + 16), voff = u16(buf, a + 20)
      if (vlen > MAX_RESIDENT_VALUE || voff + vlen > len) return false
      const v = a + voff
      if (type === AT_STANDARD_INFORMATION && !siSeen) { siSeen = true; siMtime = filetimeMs(buf, v + 8, v + vlen) ?? NaN }
      else if (type === AT_FILE_NAME) {
        // parseFileName() rejects a short one or a name past its value: the general parser skips the record.
        if (vlen < 66 || 66 + buf[v + 64]! * 2 > vlen || f.names >= MAX_NAMES) return false
        f.nameAt[f.names] = v; f.nameLength[f.names++] = vlen
      } else if (type === AT_DATA && nameLen === 0 && !mainSeen) { mainSeen = true; size0 = vlen }
    } else if (nonResident === 1) {
      if (len < 64) return false
      const startVcn = u64(buf, a + 16)
      const allocated = u64(buf, a + 40), dataSize = u64(buf, a + 48), initialized = u64(buf, a + 56)
      if (startVcn < 0 || startVcn > 2 ** 48 || allocated < 0 || dataSize < 0 || initialized < 0) return false
      const runOff = u16(buf, a + 32)
      if (runOff < 64 || runOff > len || u16(buf, a + 34) > 16) return false
      // The runlist as decodeRunlist() checks it (values up to 6 bytes here; longer ones go the general way).
      const lastVcn = ((buf[a + 28]! | (buf[a + 29]! << 8) | (buf[a + 30]! << 16) | (buf[a + 31]! << 24)) * 2 ** 32) + u32(buf, a + 24)
      let p = a + runOff
      const end = a + len
      let vcn = startVcn, lcn = 0, runs = 0
      while (p < end) {
        const h = buf[p]!
        if (h === 0) break
        const lenBytes = h & 0x0f, offBytes = h >> 4
        if (lenBytes === 0 || lenBytes > 6 || offBytes > 6 || p + 1 + lenBytes + offBytes > end) return false
        let runLen = 0
        for (let i = lenBytes - 1; i >= 0; i--) runLen = runLen * 256 + buf[p + 1 + i]!
        if (runLen <= 0) return false
        if (offBytes > 0) {
          let d = 0
          for (let i = offBytes - 1; i >= 0; i--) d = d * 256 + buf[p + 1 + lenBytes + i]!
          if (buf[p + lenBytes + offBytes]! & 0x80) d -= 2 ** (8 * offBytes)
          lcn += d
          if (lcn < 0) return false
        }
        vcn += runLen
        if (vcn > 2 ** 48 || ++runs > 4096) return false
        p += 1 + lenBytes + offBytes
      }
      if (runs > 0 && lastVcn >= startVcn && vcn - 1 !== lastVcn && vcn - 1 < lastVcn) return false
      if (type === AT_DATA && nameLen === 0 && !mainSeen) { mainSeen = true; size0 = dataSize }
    } else return false
    off += len
  }
  f.isDirectory = (u16(buf, o + 22) & 2) !== 0
  f.sequence = u16(buf, o + 16)
  f.size = f.isDirectory ? 0 : size0
  f.siMtime = siMtime
  return true
}

/** The columns scanTable() returns: entry i is (paths[i], types[i], …), in scan()'s order. */
export interface NtfsTable {
  count: number
  paths: string[]
  types: Uint8Array
  sizes: Float64Array
  /** ms since 1970; NaN when the entry has no time. */
  mtimes: Float64Array
  /** MFT record numbers. */
  inodes: Float64Array
  /** Sequence numbers (the reference of entry i is `${inodes[i]}-${seqs[i]}`). */
  seqs: Uint16Array
  /** Stopped at the limit. */
  truncated: boolean
}

/**
 * Collects one link (a name of a record in a folder) per call, then lays out the tree from the root
 * down as scan() does: children in the order they were added, a child whose parent reference is
 * stale (another sequence) left out, a folder's subtree entered only for real directories, at most
 * 256 levels, no folder inside itself.
 */
export class LinkTable {
  #n = 0
  #parent = new Float64Array(1024)
  #parentSeq = new Uint16Array(1024)
  #inode = new Float64Array(1024)
  #seq = new Uint16Array(1024)
  #type = new Uint8Array(1024)
  /** 1: a directory whose subtree is walked. */
  #descend = new Uint8Array(1024)
  #size = new Float64Array(1024)
  #mtime = new Float64Array(1024)
  #name: string[] = []
  /** Sequence number of each record that parsed (-1: none). */
  readonly seqOf: Int32Array

  constructor(records: number) {
    this.seqOf = new Int32Array(records).fill(-1)
  }

  add(parent: number, parentSeq: number, name: string, inode: number, seq: number, type: number, descend: boolean, size: number, mtime: number): void {
    if (this.#n === this.#parent.length) this.#grow()
    const i = this.#n++
    this.#parent[i] = parent; this.#parentSeq[i] = parentSeq; this.#inode[i] = inode; this.#seq[i] = seq
    this.#type[i] = type; this.#descend[i] = descend ? 1 : 0; this.#size[i] = size; this.#mtime[i] = mtime
    this.#name.push(name)
  }

  #grow(): void {
    const g = <T extends Float64Array | Uint16Array | Uint8Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(a.length * 2); b.set(a); return b }
    this.#parent = g(this.#parent); this.#parentSeq = g(this.#parentSeq); this.#inode = g(this.#inode); this.#seq = g(this.#seq)
    this.#type = g(this.#type); this.#descend = g(this.#descend); this.#size = g(this.#size); this.#mtime = g(this.#mtime)
  }

  /** The entries under `root`, paths "/a/b", at most `limit` of them. */
  layout(root: number, limit: number): NtfsTable {
    const n = this.#n, records = this.seqOf.length
    // Links grouped by parent, in the order they came (a counting sort).
    const start = new Uint32Array(records + 1)
    for (let i = 0; i < n; i++) { const p = this.#parent[i]!; if (p < records) start[p + 1]!++ }
    for (let r = 0; r < records; r++) start[r + 1]! += start[r]!
    const fill = start.slice(0, records)
    const byParent = new Uint32Array(n)
    for (let i = 0; i < n; i++) { const p = this.#parent[i]!; if (p < records) byParent[fill[p]!++] = i }
    let cap = Math.max(16, n)
    let out = new Uint32Array(cap)
    const paths: string[] = []
    let count = 0, truncated = false
    const onPath = new Uint8Array(records)
    const down = (dir: number, depth: number, prefix: string): void => {
      if (depth > 256 || onPath[dir]) return
      onPath[dir] = 1
      const seq = this.seqOf[dir]!
      for (let k = start[dir]!, end = start[dir + 1]!; k < end; k++) {
        const c = byParent[k]!
        const ps = this.#parentSeq[c]!
        if (ps !== 0 && ps !== seq) continue
        if (count >= limit) { truncated = true; break }
        const path = `${prefix}/${this.#name[c]}`
        if (count === cap) { const b = new Uint32Array(cap *= 2); b.set(out); out = b }
        out[count++] = c
        paths.push(path)
        if (this.#descend[c]) { const child = this.#inode[c]!; if (child < records) down(child, depth + 1, path) }
        if (truncated) break
      }
      onPath[dir] = 0
    }
    if (root < records) down(root, 0, '')
    const pick = <T extends Float64Array | Uint16Array | Uint8Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(count); for (let i = 0; i < count; i++) b[i] = a[out[i]!]!; return b }
    return { count, paths, types: pick(this.#type), sizes: pick(this.#size), mtimes: pick(this.#mtime), inodes: pick(this.#inode), seqs: pick(this.#seq), truncated }
  }
}
