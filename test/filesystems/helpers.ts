/**
 * Shared by the filesystem reader tests: a positional reader over an image file, sleuthkit's
 * recursive listing (the oracle), hashing, a small concurrency pool and a seeded PRNG for fuzzing.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { promisify } from 'node:util'
import type { ReadAt } from '../../backend/filesystems/types.ts'

const run = promisify(execFile)

export function fileReader(path: string, base = 0, size?: number): ReadAt & { close(): void; reads: [number, number][] } {
  const fd = openSync(path, 'r')
  const total = size ?? fstatSync(fd).size - base
  const reads: [number, number][] = []
  return {
    size: total,
    reads,
    async readAt(offset: number, length: number) {
      reads.push([offset, length])
      const b = Buffer.alloc(Math.max(0, Math.min(length, total - offset)))
      let got = 0
      while (got < b.length) { const n = readSync(fd, b, got, b.length - got, base + offset + got); if (n <= 0) break; got += n }
      return b.subarray(0, got)
    },
    close() { closeSync(fd) },
  }
}

export interface FlsRow { path: string; type: string; inode: number; size: number; mtime: string }

/** `fls -r -p -l`: allocated entries only, without TSK's virtual files. */
export async function fls(image: string, offsetSectors = 0): Promise<FlsRow[]> {
  const { stdout } = await run('fls', ['-r', '-p', '-l', '-z', 'UTC', '-o', String(offsetSectors), image], { maxBuffer: 1 << 28 })
  const rows: FlsRow[] = []
  for (const line of stdout.split('\n')) {
    const m = /^(\S)\/(\S) (\*\s)?(\d+)(?:-\d+-\d+)?(?:\(realloc\))?:\t([^\t]*)\t([^\t]*)\t[^\t]*\t[^\t]*\t[^\t]*\t(\d+)/.exec(line)
    // TSK's virtual entries: orphan folder, FAT volume label, exFAT allocation bitmap and up-case table.
    if (!m || m[3] || m[2] === 'V' || m[2] === 'v' || m[5].startsWith('$OrphanFiles') || m[5].endsWith('(Volume Label Entry)') || m[5] === '$ALLOC_BITMAP' || m[5] === '$UPCASE_TABLE') continue
    const t = m[2] === 'r' ? 'file' : m[2] === 'd' ? 'dir' : m[2] === 'l' ? 'symlink' : 'other'
    rows.push({ path: m[5], type: t, inode: Number(m[4]), size: Number(m[7]), mtime: m[6].replace(' (UTC)', '') })
  }
  return rows
}

export async function sha(it: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256')
  for await (const b of it) h.update(b)
  return h.digest('hex')
}

export async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await fn(items[i++]) }))
}

export function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296 }
}
