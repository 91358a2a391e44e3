/**
 * What the inode-numbered readers (ext2/3/4, XFS) share above their own on-disk formats: listing a
 * directory's entries and walking a tree, with the same bounds and the same answers to damage.
 */
import { FsError, type FsEntry, type FsErrorCode } from './types.ts'

/**
 * A directory's entries. One whose inode cannot be read is listed with its name, type 'other' and
 * the reason in `error`: a single damaged file does not hide the rest of its folder.
 */
export async function listEntries(dirents: { name: string; ino: number }[], entry: (ino: number, name: string) => Promise<FsEntry>): Promise<FsEntry[]> {
  const out: FsEntry[] = []
  for (const d of dirents) {
    try {
      out.push(await entry(d.ino, d.name))
    } catch (e) {
      if (!(e instanceof FsError)) throw e
      out.push({ ref: String(d.ino), name: d.name, type: 'other', size: 0, inode: d.ino, error: e.message })
    }
  }
  return out
}

/**
 * Depth-first walk yielding every entry with its path (directories before their children). A
 * directory reached twice is a loop (ELOOP); deeper than `maxDepth` is ELIMIT.
 */
export async function* walkInodes(list: (ref: string | number) => Promise<FsEntry[]>, start: { ref: string | number; ino: number },
  maxDepth: number, prefix: string): AsyncGenerator<{ path: string; entry: FsEntry }> {
  const seen = new Set<number>([start.ino])
  async function* rec(ref: string | number, depth: number, pfx: string): AsyncGenerator<{ path: string; entry: FsEntry }> {
    if (depth > maxDepth) throw new FsError('ELIMIT', `directory tree deeper than ${maxDepth}`)
    for (const e of await list(ref)) {
      const p = pfx ? `${pfx}/${e.name}` : e.name
      yield { path: p, entry: e }
      if (e.type === 'dir') {
        if (seen.has(e.inode)) throw new FsError('ELOOP', `directory inode ${e.inode} reached twice (${p})`)
        seen.add(e.inode)
        yield* rec(e.ref, depth + 1, p)
      }
    }
  }
  yield* rec(start.ref, 0, prefix)
}

const S_IFMT = 0xf000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFLNK = 0xa000

/** What reading a file needs from an inode-numbered reader. */
export interface InodeFiles<I extends { ino: number; mode: number; size: number }> {
  symlinkTarget(inode: I): Promise<string>
  readData(inode: I, offset: number, length: number): Promise<Buffer>
  fsErr(code: FsErrorCode, msg: string): FsError
}

/** A file's bytes: a directory is refused, a symlink reads as its target, devices and FIFOs as nothing. */
export async function readInodeFile<I extends { ino: number; mode: number; size: number }>(inode: I, offset: number, length: number, f: InodeFiles<I>): Promise<Buffer> {
  const fmt = inode.mode & S_IFMT
  if (fmt === S_IFDIR) throw f.fsErr('ENOTSUP', `inode ${inode.ino} is a directory`)
  if (fmt !== S_IFREG && fmt !== S_IFLNK) return Buffer.alloc(0)
  if (fmt === S_IFLNK) {
    const t = Buffer.from(await f.symlinkTarget(inode), 'utf8')
    return t.subarray(Math.min(offset, t.length), Math.min(offset + length, t.length))
  }
  return f.readData(inode, offset, length)
}

/** A file's bytes in pieces of `chunk` (a symlink's target, at most `maxSymlink` bytes, in one). */
export async function* streamInodeFile<I extends { ino: number; mode: number; size: number }>(inode: I, chunk: number, maxSymlink: number, f: InodeFiles<I>): AsyncGenerator<Buffer> {
  if ((inode.mode & S_IFMT) === S_IFDIR) throw f.fsErr('ENOTSUP', `inode ${inode.ino} is a directory`)
  if ((inode.mode & S_IFMT) !== S_IFREG) { const b = await readInodeFile(inode, 0, maxSymlink, f); if (b.length) yield b; return }
  for (let off = 0; off < inode.size; off += chunk) yield await f.readData(inode, off, chunk)
}

/**
 * Resolves a slash-separated path from the root ('.' skipped, '..' up, never above the root);
 * `child` finds one name in a directory entry (undefined: no such entry).
 */
export async function lookupInodePath(path: string, root: FsEntry, child: (dir: FsEntry, name: string) => Promise<FsEntry | undefined>,
  fsErr: (code: FsErrorCode, msg: string) => FsError): Promise<FsEntry> {
  const parts = path.split('/').filter(p => p !== '' && p !== '.')
  if (parts.length > 4096) throw fsErr('ELIMIT', 'path too deep')
  const stack: FsEntry[] = [root]
  for (const part of parts) {
    const cur = stack[stack.length - 1]!
    if (part === '..') { if (stack.length > 1) stack.pop(); continue }
    if (cur.type !== 'dir') throw fsErr('ENOTDIR', `${cur.name || '/'} is not a directory`)
    const hit = await child(cur, part)
    if (!hit) throw fsErr('ENOENT', `no such entry: ${path}`)
    stack.push(hit)
  }
  return stack[stack.length - 1]!
}
