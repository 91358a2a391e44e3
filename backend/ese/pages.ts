/**
 * Page access and B+tree walks over a ReadAt. Every walk is bounded: depth, pages visited (a page is
 * never visited twice in one walk), and each page must belong to the tree (owning object id) being
 * walked, so a hostile or torn file ends in a clear FsError instead of a loop.
 */
import { FsError, type ReadAt } from '../filesystems/types.ts'
import { verifyPage } from './checksum.ts'
import { childOf, parsePage, type EsePage, type PageNode } from './page.ts'

export const MAX_DEPTH = 16
/** Largest single read of prefetch(). */
export const PREFETCH_BYTES = 1 << 20

export interface PageStoreOptions { verifyChecksums: boolean; cachePages: number }

export class PageStore {
  readonly reader: ReadAt
  readonly pageSize: number
  readonly pageCount: number
  readonly largePages: boolean
  readonly options: PageStoreOptions
  /** Pages whose checksum failed (only counted when verification is off, otherwise they throw). */
  readonly badChecksums = new Set<number>()
  private readonly cache = new Map<number, EsePage>()
  /** Raw pages read ahead by prefetch(), taken (and verified, parsed) when first asked for. */
  private readonly ahead = new Map<number, Buffer>()

  constructor(reader: ReadAt, pageSize: number, options: PageStoreOptions) {
    this.reader = reader
    this.pageSize = pageSize
    this.largePages = pageSize >= 16384
    this.pageCount = Math.max(0, Math.floor(reader.size / pageSize) - 2)
    this.options = options
  }

  /** Logical page `pgno` (1-based) lives at byte (pgno + 1) × page size. */
  async page(pgno: number): Promise<EsePage> {
    const hit = this.cache.get(pgno)
    if (hit) { this.cache.delete(pgno); this.cache.set(pgno, hit); return hit }
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > this.pageCount) {
      throw new FsError('ECORRUPT', `ESE page ${pgno} is referenced but the file holds pages 1–${this.pageCount}`)
    }
    let buf = this.ahead.get(pgno)
    if (buf) this.ahead.delete(pgno)
    else buf = await this.reader.readAt((pgno + 1) * this.pageSize, this.pageSize)
    if (buf.length !== this.pageSize) throw new FsError('ECORRUPT', `ESE page ${pgno} is cut short (${buf.length} of ${this.pageSize} bytes)`)
    const sum = verifyPage(buf, pgno, this.largePages)
    if (sum === 'blank') throw new FsError('ECORRUPT', `ESE page ${pgno} is referenced but blank (never written)`)
    if (sum === 'bad') {
      if (this.options.verifyChecksums) {
        throw new FsError('ECORRUPT', `ESE page ${pgno} fails its checksum: the file is damaged there (repair a copy with esentutl /p, or read it with checksums off to see what remains)`)
      }
      this.badChecksums.add(pgno)
    }
    const p = parsePage(buf, pgno, this.largePages)
    this.cache.set(pgno, p)
    if (this.cache.size > this.options.cachePages) this.cache.delete(this.cache.keys().next().value!)
    return p
  }

  /**
   * Reads pages that will be needed soon (a branch page's children during a scan) in few large
   * reads instead of one per page: runs of near pages become one read of at most PREFETCH_BYTES.
   */
  async prefetch(pgnos: number[]): Promise<void> {
    const want = [...new Set(pgnos)].filter((p) => Number.isInteger(p) && p >= 1 && p <= this.pageCount && !this.cache.has(p) && !this.ahead.has(p)).sort((a, b) => a - b)
    const maxSpan = Math.max(1, Math.floor(PREFETCH_BYTES / this.pageSize))
    if (this.ahead.size + want.length > Math.max(this.options.cachePages, maxSpan) * 2) this.ahead.clear()
    for (let i = 0; i < want.length;) {
      let j = i
      while (j + 1 < want.length && want[j + 1] - want[j] <= 4 && want[j + 1] - want[i] < maxSpan) j++
      if (j > i) {
        const first = want[i]
        const buf = await this.reader.readAt((first + 1) * this.pageSize, (want[j] - first + 1) * this.pageSize)
        for (let k = i; k <= j; k++) {
          const off = (want[k] - first) * this.pageSize
          if (off + this.pageSize <= buf.length) this.ahead.set(want[k], buf.subarray(off, off + this.pageSize))
        }
      }
      i = j + 1
    }
  }

  /** Every leaf node of the tree rooted at `root` (owned by `objid`), in key order. */
  async *leaves(root: number, objid: number, what: string): AsyncGenerator<PageNode> {
    for await (const p of this.leafPages(root, objid, what)) yield* p.nodes
  }

  /** Every leaf page of the tree rooted at `root` (owned by `objid`), in key order. */
  async *leafPages(root: number, objid: number, what: string): AsyncGenerator<EsePage> {
    const visited = new Set<number>()
    const stack: { pgno: number; depth: number }[] = [{ pgno: root, depth: 0 }]
    while (stack.length) {
      const { pgno, depth } = stack.pop()!
      const p = await this.visit(pgno, depth, objid, visited, what, depth === 0)
      if (p.isLeaf) {
        yield p
        continue
      }
      const children = p.nodes.map((n) => childOf(n, pgno))
      await this.prefetch(children)
      for (let i = children.length - 1; i >= 0; i--) stack.push({ pgno: children[i], depth: depth + 1 })
    }
  }

  /** Leaf nodes whose key starts with `prefix`, in key order: one descent, then along the leaf chain. */
  async *withPrefix(root: number, objid: number, prefix: Buffer, what: string): AsyncGenerator<PageNode> {
    const visited = new Set<number>()
    let p = await this.visit(root, 0, objid, visited, what, true)
    for (let depth = 1; !p.isLeaf; depth++) {
      if (p.nodes.length === 0) return
      let i = p.nodes.findIndex((n) => Buffer.compare(n.key, prefix) >= 0)
      if (i < 0) i = p.nodes.length - 1
      p = await this.visit(childOf(p.nodes[i], p.pgno), depth, objid, visited, what, false)
    }
    for (;;) {
      for (const n of p.nodes) {
        const c = Buffer.compare(n.key.subarray(0, prefix.length), prefix)
        if (c > 0) return
        if (c === 0) yield n
      }
      if (!p.next) return
      const next = await this.visit(p.next, 0, objid, visited, what, false)
      if (!next.isLeaf) throw new FsError('ECORRUPT', `ESE ${what}: leaf page ${p.pgno} links to non-leaf page ${next.pgno}`)
      p = next
    }
  }

  private async visit(pgno: number, depth: number, objid: number, visited: Set<number>, what: string, root: boolean): Promise<EsePage> {
    if (depth > MAX_DEPTH) throw new FsError('ELIMIT', `ESE ${what}: the tree is deeper than ${MAX_DEPTH} levels at page ${pgno}, which no real database reaches`)
    if (visited.has(pgno)) throw new FsError('ELOOP', `ESE ${what}: page ${pgno} is reached twice (a loop in the tree)`)
    if (visited.size >= this.pageCount) throw new FsError('ELOOP', `ESE ${what}: walked more pages than the file holds`)
    visited.add(pgno)
    const p = await this.page(pgno)
    if (objid && p.objid !== objid) {
      throw new FsError('ECORRUPT', `ESE ${what}: page ${pgno} belongs to object ${p.objid}, not to this tree (object ${objid})`)
    }
    if (root && !p.isRoot) throw new FsError('ECORRUPT', `ESE ${what}: page ${pgno} should be a tree root but is not marked as one`)
    return p
  }
}
