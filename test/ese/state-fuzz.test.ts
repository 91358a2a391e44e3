/**
 * Database state and damage. No real dirty ESE file is public, so the dirty case is a copy of a real
 * clean fixture with its header state set to "dirty shutdown" and log generations 0x1a–0x1f (header
 * checksum recomputed) — synthetic, and labelled so. Fuzz: 1,000 seeded page mutations of basic.edb
 * end in data or an FsError, each within a time bound.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { openEseDatabase } from '../../backend/ese/database.ts'
import { HEADER_SEED, eccXor32, xor32 } from '../../backend/ese/checksum.ts'
import { FsError } from '../../backend/filesystems/types.ts'
import { bufferReader, fixture, prng, workDir } from './helpers.ts'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

function sealHeader(b: Buffer, pageSize: number): void { b.writeUInt32LE(xor32(b, 4, pageSize, HEADER_SEED), 0) }

function dirtyCopy(): Buffer {
  const b = Buffer.from(readFileSync(fixture('dissect.esedb/basic.edb.gz')))
  for (const at of [0, 4096]) {
    const h = b.subarray(at, at + 4096)
    h.writeUInt32LE(2, 52)
    h.writeInt32LE(0x1a, 296); h.writeInt32LE(0x1f, 300)
    sealHeader(h, 4096)
  }
  return b
}

test('state: a clean fixture reads as clean; a (synthetic) dirty copy says dirty and which logs it needs, on every answer', async () => {
  const clean = await openEseDatabase(bufferReader(readFileSync(fixture('dissect.esedb/basic.edb.gz'))))
  assert.equal(clean.info().consistency.state, 'clean')
  assert.equal(clean.info().header.state, 'clean-shutdown')
  const dirtyBuf = dirtyCopy()
  const dirty = await openEseDatabase(bufferReader(dirtyBuf))
  const c = dirty.info().consistency
  assert.equal(c.state, 'dirty')
  assert.deepEqual(c.requiredLogs, { min: 0x1a, max: 0x1f })
  assert.match(c.detail, /dirty-shutdown .*without log replay.*26–31/)
  let rows = 0
  for await (const r of dirty.rows('basic')) { rows++; assert.equal(r.values.Id, rows) }
  assert.equal(rows, 2)
  // The CLI says so too: in info, as a warning on stderr, and on every dumped row.
  const path = join(workDir(), 'dirty-basic.edb')
  writeFileSync(path, dirtyBuf)
  const cli = (...a: string[]) => execFileSync(process.execPath, ['backend/cli/main.ts', 'ese', ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const info = JSON.parse(cli('info', path, '--json'))
  assert.equal(info.consistency, 'dirty')
  assert.deepEqual(info.requiredLogs, { min: 26, max: 31 })
  const lines = cli('dump', path, 'basic').trim().split('\n').map((l) => JSON.parse(l))
  assert.equal(lines.length, 2)
  assert.ok(lines.every((l) => l.dirty === true && l.table === 'basic'))
  assert.equal(lines[1].values.Currency, '-1339133913391339')
})

test('header: a damaged primary header falls back to the shadow copy; both damaged is a clear error', async () => {
  const b = Buffer.from(readFileSync(fixture('dissect.esedb/basic.edb.gz')))
  b.writeUInt32LE(0xdeadbeef, 100)
  const db = await openEseDatabase(bufferReader(b))
  assert.deepEqual(db.info().header.checksum, { primary: false, shadow: true, used: 'shadow' })
  b.fill(0, 0, 8192)
  await assert.rejects(openEseDatabase(bufferReader(b)), (e: unknown) => e instanceof FsError && /not an ESE database/.test(e.message))
})

test('checksums: a flipped bit in a table page is detected (XOR and ECC), and can be read past on request', async () => {
  const b = Buffer.from(readFileSync(fixture('dissect.esedb/basic.edb.gz')))
  const root = 31
  b[(root + 1) * 4096 + 2000] ^= 0x10
  const db = await openEseDatabase(bufferReader(b))
  await assert.rejects(async () => { for await (const _ of db.rows('basic')) { /* drain */ } }, (e: unknown) => e instanceof FsError && /page 31 fails its checksum/.test(e.message))
  const lax = await openEseDatabase(bufferReader(b), { verifyChecksums: false })
  for await (const _ of lax.rows('basic')) { /* drain */ }
  assert.deepEqual(lax.info().badChecksumPages, [31])
})

/** Rewrites a mutated page's checksum so the parser (not just the checksum) meets the damage. */
function resealPage(p: Buffer, pgno: number): void {
  if (!(p.readUInt32LE(36) & 0x2000)) { p.writeUInt32LE(xor32(p, 4, p.length, HEADER_SEED), 0); return }
  const { xor, ecc } = eccXor32(p, 8, p.length, pgno)
  p.writeUInt32LE(xor, 0); p.writeUInt32LE(ecc, 4)
}

test('fuzz: 1,000 seeded page mutations of basic.edb end in data or an FsError, each within 2 s', async () => {
  const base = readFileSync(fixture('dissect.esedb/basic.edb.gz'))
  const pages = [1, 2, 3, 4, 5, 24, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38]
  const rnd = prng(0x5eed)
  const outcome = { data: 0, error: 0 }
  const started = Date.now()
  for (let i = 0; i < 1000; i++) {
    const overlay = new Map<number, Buffer>()
    const nPages = 1 + Math.floor(rnd() * 2)
    for (let k = 0; k < nPages; k++) {
      const pg = pages[Math.floor(rnd() * pages.length)]
      const phys = pg + 1
      const p = Buffer.from(overlay.get(phys) ?? base.subarray(phys * 4096, phys * 4096 + 4096))
      const kind = rnd()
      const edits = 1 + Math.floor(rnd() * 8)
      for (let e = 0; e < edits; e++) {
        // Bias towards the structures: the page header, the tag array at the end, then anywhere.
        const at = kind < 0.3 ? Math.floor(rnd() * 40) : kind < 0.6 ? 4096 - 1 - Math.floor(rnd() * 64) : Math.floor(rnd() * 4096)
        p[at] = rnd() < 0.5 ? p[at] ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256)
      }
      if (rnd() < 0.8) resealPage(p, pg)
      overlay.set(phys, p)
    }
    const t0 = Date.now()
    try {
      const db = await openEseDatabase(bufferReader(base, overlay), { verifyChecksums: rnd() < 0.5 })
      for (const t of db.tables()) for await (const r of db.rows(t.name)) void r
      outcome.data++
    } catch (e) {
      if (!(e instanceof FsError)) throw new Error(`mutation ${i}: not an FsError: ${(e as Error).stack}`)
      assert.ok(e.message.length > 10)
      outcome.error++
    }
    assert.ok(Date.now() - t0 < 2000, `mutation ${i} took ${Date.now() - t0} ms`)
  }
  console.log(`fuzz: ${outcome.data} read through, ${outcome.error} clear errors, ${Date.now() - started} ms`)
  assert.ok(outcome.data > 0 && outcome.error > 0)
})
