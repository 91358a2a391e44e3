/**
 * ESE test fixtures: real databases from ../../shared/fixtures/ese (made by Windows' esent.dll and
 * kept by dissect.esedb, go-ese and ese_parser), unpacked once per process into a temp dir, and
 * Debian's esedbexport (libesedb-utils) run once per file as an independent oracle.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { ReadAt } from '../../backend/filesystems/types.ts'

export const FIXTURES = '/work/shared/fixtures/ese'

let dir: string | undefined
export function workDir(): string {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'stillpoint-ese-'))
    process.on('exit', () => rmSync(dir!, { recursive: true, force: true }))
  }
  return dir
}

/** Path of an unpacked copy of a fixture (relative to the fixtures folder; `.gz` is unpacked). */
export function fixture(rel: string): string {
  const name = rel.replace(/[/]/g, '_').replace(/\.gz$/, '')
  const out = join(workDir(), name)
  if (!existsSync(out)) {
    const src = join(FIXTURES, rel)
    if (rel.endsWith('.gz')) writeFileSync(out, gunzipSync(readFileSync(src)))
    else copyFileSync(src, out)
  }
  return out
}

export interface OracleTable { name: string; header: string[]; rows: string[][] }

/** esedbexport -t: one tab-separated file per table, named `<table>.<n>`. */
export function esedbexport(file: string): OracleTable[] {
  const target = `${file}.oracle`
  const exportDir = `${target}.export`
  if (!existsSync(exportDir)) execFileSync('esedbexport', ['-t', target, file], { stdio: 'ignore', timeout: 120_000 })
  return readdirSync(exportDir).map((f) => {
    const lines = readFileSync(join(exportDir, f), 'utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    const [head, ...rest] = lines
    return { name: f.replace(/\.\d+$/, ''), header: head.split('\t'), rows: rest.map((l) => l.split('\t')) }
  })
}

/** ReadAt over an in-memory file with some pages replaced (the fuzz test's mutated copies). */
export function bufferReader(base: Buffer, overlay = new Map<number, Buffer>(), pageSize = 4096): ReadAt & { reads: number } {
  const r = {
    size: base.length,
    reads: 0,
    async readAt(offset: number, length: number) {
      r.reads++
      const end = Math.min(base.length, offset + length)
      if (offset >= end) return Buffer.alloc(0)
      const out = Buffer.from(base.subarray(offset, end))
      for (const [pg, data] of overlay) {
        const s = pg * pageSize, e = s + pageSize
        if (e <= offset || s >= end) continue
        const from = Math.max(s, offset)
        data.copy(out, from - offset, from - s, Math.min(e, end) - s)
      }
      return out
    },
  }
  return r
}

/** Mulberry32: a small seeded PRNG so fuzz failures can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
