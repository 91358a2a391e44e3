/**
 * What the inode-numbered readers (ext2/3/4, XFS) share above their own on-disk formats: listing a
 * directory's entries and walking a tree, with the same bounds and the same answers to damage.
 */
import { FsError, type FsEntry } from './types.ts'

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
