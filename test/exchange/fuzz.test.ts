/**
 * Fuzz: 1,000 seeded mutations of the SYNTHETIC 32 KiB-page EDB (bytes flipped in the pages it uses —
 * catalog, table, long-value — and in the header; most pages resealed so the parsers, not just the checksums, meet the
 * damage), each read whole — mailboxes, folders, every message with its attachments — through the
 * isolated reader (worker with a heap limit and a time bound). Every case ends in data or a clear
 * error (an FsError code, or the isolation's ETIMEOUT/EMEMORY), never a crash of the service or a
 * raw TypeError/RangeError.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeEdb } from '../ese-writer/edb.ts'
import { sampleMailboxes } from '../ese-writer/edb-mails.ts'
import { eccXor32, xor32, HEADER_SEED } from '../../backend/ese/checksum.ts'
import { exchangeWorker, IsolatedMailboxDatabase } from '../../backend/exchange/isolated.ts'
import type { ReadAt } from '../../backend/filesystems/types.ts'
import { prng } from '../ese/helpers.ts'

const PAGE = 32768
const dir = mkdtempSync(join(tmpdir(), 'stillpoint-edb-fuzz-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const { mailboxes } = await sampleMailboxes()
writeEdb(join(dir, 'fuzz.edb'), [mailboxes[0]!])
const base = readFileSync(join(dir, 'fuzz.edb'))
const pages = base.length / PAGE - 2
/** Pages the database uses (the writer leaves 5–23 blank, as a fresh database's reserved space): mutations go there. */
const used = Array.from({ length: pages }, (_, i) => i + 1).filter((p) => p >= 4 && base.subarray((p + 1) * PAGE, (p + 2) * PAGE).some((b) => b !== 0))
const worker = exchangeWorker({ timeoutMs: 5_000, maxHeapMb: 256, label: 'reading a fuzzed EDB' })
after(() => worker.close())

/** Reseals a large page's four checksums (or the header's) after a mutation. */
function reseal(b: Buffer, pgno: number): void {
  const p = b.subarray((pgno + 1) * PAGE, (pgno + 2) * PAGE)
  const block = PAGE / 4
  for (const [k, at] of [[1, 40], [2, 48], [3, 56], [0, 0]] as const) {
    const s = k * block
    const { xor, ecc } = eccXor32(p, k === 0 ? 8 : s, s + block, pgno)
    p.writeUInt32LE(xor, at); p.writeUInt32LE(ecc, at + 4)
  }
}

function mutate(seed: number): Buffer {
  const rnd = prng(seed)
  const b = Buffer.from(base)
  const header = rnd() < 0.08
  if (header) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 4); i++) b[Math.floor(rnd() * 700)] = Math.floor(rnd() * 256)
    b.writeUInt32LE(xor32(b, 4, PAGE, HEADER_SEED), 0)
    return b
  }
  const pgno = used[Math.floor(rnd() * used.length)]!
  const at = (pgno + 1) * PAGE
  const n = 1 + Math.floor(rnd() * 6)
  for (let i = 0; i < n; i++) {
    // Mostly where the structure is: header, first values, tag array at the end.
    const r = rnd()
    const off = r < 0.3 ? Math.floor(rnd() * 80) : r < 0.7 ? 80 + Math.floor(rnd() * 2000) : PAGE - 1 - Math.floor(rnd() * 400)
    b[at + off] = rnd() < 0.5 ? b[at + off]! ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256)
  }
  if (rnd() < 0.85) reseal(b, pgno)
  return b
}

const reader = (b: Buffer): ReadAt => ({ size: b.length, async readAt(o, l) { return b.subarray(o, Math.min(b.length, o + l)) } })
const CLEAR = /^(ECORRUPT|ELOOP|ELIMIT|ENOENT|ENOTSUP|ERANGE|ENOTDIR|ETIMEOUT|EMEMORY)$/

test('fuzz: 1,000 mutated EDB files through the isolated reader end in data or a clear error', async (t) => {
  const outcomes = new Map<string, number>()
  let data = 0
  for (let seed = 1; seed <= 1000; seed++) {
    const db = new IsolatedMailboxDatabase(reader(mutate(seed)), { worker })
    try {
      for (const mb of (await db.mailboxes()).items) {
        await db.folders(mb.number)
        for (const s of (await db.search(mb.number)).items) await db.message(mb.number, s.documentId)
      }
      data++
    } catch (e) {
      const err = e as Error & { code?: string }
      assert.ok(err.code && CLEAR.test(err.code), `seed ${seed}: ${err.name} ${err.code ?? ''}: ${err.message}`)
      assert.ok(err.message.length > 20, `seed ${seed}: a message that says what happened (${err.message})`)
      outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1)
    } finally {
      await db.close()
    }
  }
  t.diagnostic(`read whole: ${data}; errors: ${JSON.stringify(Object.fromEntries(outcomes))}; worker starts: ${worker.starts}`)
  // Both kinds happen: many mutations hit only values (still data), many hit structure (clear errors).
  assert.ok(data > 50 && data < 1000, `${data} of 1000 read whole; errors ${JSON.stringify(Object.fromEntries(outcomes))}`)
  assert.ok((outcomes.get('ECORRUPT') ?? 0) > 50, JSON.stringify(Object.fromEntries(outcomes)))
})
