/** Pieces shared by the FAT12/16/32 and exFAT readers: bounded I/O, caches, cluster chains. */
import type { ReadAt } from '../types.ts'
import { FsError, type FsErrorCode } from '../types.ts'

export function fsErr(fs: string, code: FsErrorCode, msg: string): FsError { return new FsError(code, `${fs}: ${msg}`) }

export { Lru } from '../lru.ts'

/** Reads inside [0, reader.size) only; short reads become ERANGE. */
export async function readExact(fs: string, reader: ReadAt, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > reader.size) throw fsErr(fs, 'ERANGE', `read at ${offset}+${length} is outside the volume (${reader.size} bytes)`)
  if (length === 0) return Buffer.alloc(0)
  const b = await reader.readAt(offset, length)
  if (b.length < length) throw fsErr(fs, 'ERANGE', `short read at ${offset}`)
  return b.length === length ? b : b.subarray(0, length)
}

/** A run of contiguous clusters. */
export interface ClusterRun { start: number; count: number }

/**
 * A file's cluster chain, followed lazily as far as needed. Loops are detected (a run start
 * seen twice: in a cycle the same run boundaries recur), length is bounded by `maxClusters`.
 */
export class Chain {
  readonly runs: ClusterRun[] = []
  /** Cluster index at which each run starts (for binary search). */
  private readonly firstIdx: number[] = []
  private covered = 0
  private next: number
  private done = false
  private readonly starts = new Set<number>()
  private readonly fs: string
  private readonly maxClusters: number
  private readonly fat: (c: number) => Promise<number | null>
  private readonly valid: (c: number) => boolean
  /** fat(c) → next cluster, or null at end of chain; it throws FsError on free/bad entries. */
  constructor(fs: string, first: number, maxClusters: number, valid: (c: number) => boolean, fat: (c: number) => Promise<number | null>) {
    this.fs = fs; this.next = first; this.maxClusters = maxClusters; this.valid = valid; this.fat = fat
  }

  /** Makes sure the chain covers cluster index `idx` (0-based); false if the chain ends before. */
  async ensure(idx: number): Promise<boolean> {
    while (this.covered <= idx && !this.done) {
      let c = this.next
      if (!this.valid(c)) throw fsErr(this.fs, 'ECORRUPT', `cluster chain reaches invalid cluster ${c}`)
      if (this.starts.has(c)) throw fsErr(this.fs, 'ELOOP', `cluster chain loops back to cluster ${c}`)
      this.starts.add(c)
      const run: ClusterRun = { start: c, count: 1 }
      for (;;) {
        if (this.covered + run.count > this.maxClusters) throw fsErr(this.fs, 'ECORRUPT', `cluster chain longer than ${this.maxClusters} clusters`)
        const n = await this.fat(c)
        if (n === null) { this.done = true; break }
        if (n === c + 1 && this.valid(n)) { run.count++; c = n; continue }
        this.next = n
        break
      }
      this.runs.push(run)
      this.firstIdx.push(this.covered)
      this.covered += run.count
    }
    return this.covered > idx
  }

  /** The run holding cluster index idx: {cluster, contiguous clusters from there}. */
  locate(idx: number): { cluster: number; count: number } {
    if (idx < 0 || idx >= this.covered) throw fsErr(this.fs, 'ECORRUPT', `cluster index ${idx} beyond the chain`)
    let lo = 0, hi = this.runs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.firstIdx[mid] <= idx) lo = mid; else hi = mid - 1
    }
    const r = this.runs[lo], base = this.firstIdx[lo]
    return { cluster: r.start + (idx - base), count: r.count - (idx - base) }
  }

  get length(): number { return this.covered }
  get complete(): boolean { return this.done }
}

/** DOS date/time (local time, no zone) → ISO-8601 without an offset; undefined if not a date. */
export function dosTime(date: number, time: number, centis = 0): string | undefined {
  const day = date & 31, month = (date >> 5) & 15, year = 1980 + (date >> 9)
  if (day === 0 || month === 0 || month > 12) return undefined
  const h = time >> 11, m = (time >> 5) & 63
  let s = (time & 31) * 2
  let cs = centis
  if (cs > 199) cs = 0
  s += Math.floor(cs / 100)
  cs %= 100
  if (h > 23 || m > 59 || s > 59) return undefined
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${p(year, 4)}-${p(month)}-${p(day)}T${p(h)}:${p(m)}:${p(s)}${cs ? `.${p(cs)}` : ''}`
}

/** Reads a byte range of a file laid out in clusters (runs from a Chain). */
export async function readClusters(fs: string, reader: ReadAt, chain: Chain, clusterOffset: (c: number) => number, clusterSize: number,
  offset: number, n: number, out: Buffer, outOff = 0): Promise<void> {
  let pos = offset
  const end = offset + n
  while (pos < end) {
    const idx = Math.floor(pos / clusterSize)
    if (!(await chain.ensure(idx))) throw fsErr(fs, 'ECORRUPT', `cluster chain ends before offset ${pos}`)
    const { cluster, count } = chain.locate(idx)
    const within = pos - idx * clusterSize
    const bytes = Math.min(count * clusterSize - within, end - pos)
    const data = await readExact(fs, reader, clusterOffset(cluster) + within, bytes)
    data.copy(out, outOff + (pos - offset))
    pos += bytes
  }
}

// Code page 437, bytes 0x80..0xFF (short 8.3 names are in the OEM code page).
const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

export function cp437(b: Buffer): string {
  let s = ''
  for (const c of b) s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80] ?? '?'
  return s
}

/**
 * Resolves a '/'-separated path from `root` through `children`: an exact name first, else the first
 * case-insensitive match (FAT and exFAT compare names without case); '.' stays, '..' goes up but
 * never above the root. The node of the last part, or ENOENT.
 */
export async function lookupPath<N extends { name: string }>(fs: string, path: string, root: N, children: (dir: N) => Promise<N[]>): Promise<N> {
  const parts = path.split('/').filter(p => p !== '' && p !== '.')
  if (parts.length > 4096) throw fsErr(fs, 'ELIMIT', 'path too deep')
  const stack: N[] = [root]
  for (const part of parts) {
    if (part === '..') { if (stack.length > 1) stack.pop(); continue }
    const kids = await children(stack[stack.length - 1]!)
    const lower = part.toLowerCase()
    const hit = kids.find(k => k.name === part) ?? kids.find(k => k.name.toLowerCase() === lower)
    if (!hit) throw fsErr(fs, 'ENOENT', `no such entry: ${path}`)
    stack.push(hit)
  }
  return stack[stack.length - 1]!
}

export const STREAM_CHUNK = 1024 * 1024
export const MAX_READ = 256 * 1024 * 1024
