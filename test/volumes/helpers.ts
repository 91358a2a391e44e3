/**
 * Shared by the volumes tests: run a tool, hash a reader or a byte range of an image (dd), and list
 * a volume's filesystem the way sleuthkit's `fls` lists the same bytes.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { openFileSystem } from '../../backend/filesystems/filesystem.ts'
import type { ReadAt } from '../../backend/filesystems/types.ts'
import { fls } from '../filesystems/helpers.ts'

export { fileReader, prng } from '../filesystems/helpers.ts'

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 26, ...(input !== undefined ? { input } : {}) })
}

export async function readerSha(r: ReadAt): Promise<string> {
  const h = createHash('sha256')
  const step = 4 << 20
  for (let o = 0; o < r.size; o += step) h.update(await r.readAt(o, Math.min(step, r.size - o)))
  return h.digest('hex')
}

/** sha256 of `count` sectors at `skip` of an image, read by dd. */
export function ddSha(image: string, skipSectors: number, countSectors: number): string {
  const bytes = execFileSync('dd', [`if=${image}`, 'bs=512', `skip=${skipSectors}`, `count=${countSectors}`, 'status=none'], { maxBuffer: 1 << 30 })
  return createHash('sha256').update(bytes).digest('hex')
}

/** Our listing of the volume's filesystem: "path\ttype\tsize" (size for files only), sorted. */
export async function ourListing(r: ReadAt): Promise<string[]> {
  const fs = await openFileSystem(r)
  if (!fs) throw new Error('no filesystem recognised')
  const out: string[] = []
  // (the NTFS reader's walk gives paths with a leading slash)
  for await (const { path, entry } of fs.walk()) out.push(`${path.replace(/^\/+/, '')}\t${entry.type}\t${entry.type === 'file' ? entry.size : ''}`)
  return out.sort()
}

/** sleuthkit's listing of the filesystem at `offsetSectors` of `image`, in the same form. */
export async function flsListing(image: string, offsetSectors = 0): Promise<string[]> {
  // fls also lists NTFS named streams as "file:stream": a walk lists files only.
  return (await fls(image, offsetSectors)).filter((x) => !/:[^/]*$/.test(x.path)).map((x) => `${x.path}\t${x.type}\t${x.type === 'file' ? x.size : ''}`).sort()
}

/** `mmls` rows that are partitions (not the tables, not unallocated space; extended containers, which mmls files under Meta, are kept). */
export function mmlsPartitions(image: string): { slot: string; start: number; length: number; description: string }[] {
  const rows: { slot: string; start: number; length: number; description: string }[] = []
  for (const line of sh('mmls', [image]).split('\n')) {
    const m = /^\d+:\s+(\d{3}(?::\d{3})?|Meta(?=.*Extended \(0x))\s+(\d+)\s+(\d+)\s+(\d+)\s*(.*)$/.exec(line)
    if (m) rows.push({ slot: m[1]!, start: Number(m[2]), length: Number(m[4]), description: m[5]!.trim() })
  }
  return rows
}
