/** A ReadAt over a local file (the CLI and tests; the service reads through restore points instead). */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import type { ReadAt } from '../filesystems/types.ts'

export function openFileReader(path: string): ReadAt & { close(): void } {
  const fd = openSync(path, 'r')
  const size = fstatSync(fd).size
  return {
    size,
    async readAt(offset: number, length: number) {
      const b = Buffer.alloc(Math.max(0, Math.min(length, size - offset)))
      let got = 0
      while (got < b.length) { const n = readSync(fd, b, got, b.length - got, offset + got); if (n <= 0) break; got += n }
      return b.subarray(0, got)
    },
    close() { closeSync(fd) },
  }
}
