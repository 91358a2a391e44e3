/**
 * One ESE page: a 40-byte header (80 bytes on 16/32 KiB pages, which add three checksums and the
 * page number), values growing from the header and 4-byte tags growing back from the page end.
 * Tag 0 is the page's external header (root: space info; others: the common key prefix); tags 1..n
 * are nodes: [prefix length][suffix length][suffix][data]. Branch data starts with the child page.
 */
import { FsError } from '../filesystems/types.ts'

export const PAGE_ROOT = 0x1
export const PAGE_LEAF = 0x2
export const PAGE_PARENT_OF_LEAF = 0x4
export const PAGE_EMPTY = 0x8
export const PAGE_SPACE_TREE = 0x20
export const PAGE_INDEX = 0x40
export const PAGE_LONG_VALUE = 0x80
export const PAGE_NEW_RECORD_FORMAT = 0x800

export const NODE_VERSION = 0x1
export const NODE_DELETED = 0x2
export const NODE_COMPRESSED = 0x4

export interface PageNode { key: Buffer; data: Buffer; flags: number }

export interface EsePage {
  pgno: number
  prev: number
  next: number
  objid: number
  flags: number
  dbtime: bigint
  tagCount: number
  isRoot: boolean
  isLeaf: boolean
  /** Tag 0: the root header on root pages, the common key prefix elsewhere. */
  external: Buffer
  nodes: PageNode[]
}

export function parsePage(buf: Buffer, pgno: number, largePages: boolean): EsePage {
  const ps = buf.length
  const headerSize = largePages ? 80 : 40
  const flags = buf.readUInt32LE(36)
  const tagCount = buf.readUInt16LE(34) & 0x0fff
  const bad = (why: string) => new FsError('ECORRUPT', `ESE page ${pgno} is damaged: ${why}`)
  if (largePages) {
    const stored = buf.readUInt32LE(64)
    if (stored !== 0 && stored !== pgno) throw bad(`its header says it is page ${stored}`)
  }
  if (tagCount * 4 + headerSize > ps) throw bad(`${tagCount} tags do not fit in a ${ps}-byte page`)
  const dataEnd = ps - tagCount * 4
  const mask = largePages ? 0x7fff : 0x1fff
  const tags: { off: number; size: number; flags: number }[] = []
  for (let i = 0; i < tagCount; i++) {
    const at = ps - 4 * (i + 1)
    const cb = buf.readUInt16LE(at), ib = buf.readUInt16LE(at + 2)
    const size = cb & mask, off = ib & mask
    if (headerSize + off + size > dataEnd) throw bad(`tag ${i} (offset ${off}, size ${size}) runs into the tag array`)
    let tflags = largePages ? 0 : ib >> 13
    if (largePages && size >= 2 && i > 0) tflags = buf[headerSize + off + 1] >> 5
    tags.push({ off: headerSize + off, size, flags: tflags })
  }
  const isRoot = (flags & PAGE_ROOT) !== 0
  const isLeaf = (flags & PAGE_LEAF) !== 0
  const external = tagCount > 0 ? buf.subarray(tags[0].off, tags[0].off + tags[0].size) : Buffer.alloc(0)
  const nodes: PageNode[] = []
  for (let i = 1; i < tags.length; i++) {
    const t = tags[i]
    const v = buf.subarray(t.off, t.off + t.size)
    let p = 0
    let prefix = 0
    if (t.flags & NODE_COMPRESSED) {
      if (v.length < 2) throw bad(`node ${i} is too short for its key prefix length`)
      prefix = v.readUInt16LE(0) & 0x1fff; p = 2
      if (prefix > external.length) throw bad(`node ${i} shares ${prefix} key bytes but the page's common key has ${external.length}`)
    }
    if (v.length < p + 2) throw bad(`node ${i} is too short for its key length`)
    const suffixLen = v.readUInt16LE(p) & 0x1fff; p += 2
    if (p + suffixLen > v.length) throw bad(`node ${i} key (${suffixLen} bytes) runs past the node (${v.length} bytes)`)
    const key = prefix ? Buffer.concat([external.subarray(0, prefix), v.subarray(p, p + suffixLen)]) : v.subarray(p, p + suffixLen)
    nodes.push({ key, data: v.subarray(p + suffixLen), flags: t.flags })
  }
  return {
    pgno, flags, tagCount, isRoot, isLeaf, external, nodes,
    prev: buf.readUInt32LE(16), next: buf.readUInt32LE(20), objid: buf.readUInt32LE(24), dbtime: buf.readBigUInt64LE(8),
  }
}

/** The child page of a branch node (its data's first 4 bytes). */
export function childOf(node: PageNode, pgno: number): number {
  if (node.data.length < 4) throw new FsError('ECORRUPT', `ESE page ${pgno} is damaged: a branch node has no child page number`)
  return node.data.readUInt32LE(0)
}
