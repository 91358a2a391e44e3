/**
 * Fuzz: seeded mutations of a SYNTHETIC ntds.dit-shaped database (test-only ESE writer, filled from a
 * real Samba AD DC provisioned offline (the cached template of test/helpers/samba-dc.ts), cut down to the domain partition and the schema
 * objects it uses so each case is quick), each read through the isolated AD reader the service uses
 * (worker with a heap limit and a time bound per call): open, naming contexts, a listing, a search,
 * objects with all their attributes, the Recycle Bin state. Bytes are flipped in the pages the file uses
 * (catalog, datatable, link_table, long values) and in the header; most pages are resealed so the
 * parsers, not just the checksums, meet the damage. Every case ends in data or a clear error (an FsError
 * code, or the isolation's ETIMEOUT/EMEMORY), never a raw TypeError/RangeError, and the same worker
 * still reads the undamaged file afterwards.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dumpSamba, writeNtdsFromLdif } from '../ese-writer/ntds-from-samba.ts'
import { sambaTemplate } from '../helpers/samba-dc.ts'
import { first, text, type LdifRecord } from '../ese-writer/ldif.ts'
import { eccXor32, xor32, HEADER_SEED } from '../../backend/ese/checksum.ts'
import { activeDirectoryWorker, openIsolatedActiveDirectory } from '../../backend/active-directory/isolated.ts'
import type { ReadAt } from '../../backend/filesystems/types.ts'
import { prng } from '../ese/helpers.ts'

const CASES = 600
const dir = mkdtempSync(join(tmpdir(), 'stillpoint-ad-fuzz-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const worker = activeDirectoryWorker({ timeoutMs: 5_000, maxHeapMb: 256, label: 'reading a fuzzed ntds.dit' })
after(() => worker.close())

let base: Buffer
let PAGE = 8192
let used: number[] = []

/** The domain partition (not Configuration, not the DNS zones) and the schema objects its values use. */
function domainOnly(records: LdifRecord[]): LdifRecord[] {
  const lower = (s: string) => s.toLowerCase()
  const domain = records.filter((r) => !/(^|,)(CN=Configuration|DC=DomainDnsZones|DC=ForestDnsZones),/i.test(r.dn))
  const attrs = records.filter((r) => text(r, 'objectClass').includes('attributeSchema'))
  const classes = records.filter((r) => text(r, 'objectClass').includes('classSchema'))
  const usedAttrs = new Set<string>()
  const use = (rs: LdifRecord[]) => { for (const r of rs) for (const k of r.attrs.keys()) usedAttrs.add(lower(k)) }
  use(domain)
  let keptAttrs: LdifRecord[] = []
  for (let round = 0; round < 3; round++) {
    keptAttrs = attrs.filter((r) => usedAttrs.has(lower(first(r, 'lDAPDisplayName')!)) || ['name', 'cn', 'ou', 'dc'].includes(lower(first(r, 'lDAPDisplayName')!)))
    use(keptAttrs)
  }
  const usedClasses = new Set([...domain, ...keptAttrs].flatMap((r) => text(r, 'objectClass').map(lower)))
  return [...domain, ...keptAttrs, ...classes.filter((r) => usedClasses.has(lower(first(r, 'lDAPDisplayName')!)))]
}

before(() => {
  // The provisioned DC the live-DC tests also use (cached per machine), copied: a fresh provision takes minutes on a busy machine.
  cpSync(sambaTemplate(), join(dir, 'dc'), { recursive: true })
  const records = domainOnly(dumpSamba(join(dir, 'dc')).records)
  const built = writeNtdsFromLdif(records, join(dir, 'ntds.dit'))
  base = readFileSync(built.file)
  PAGE = base.readUInt32LE(236)
  const pages = base.length / PAGE - 2
  used = Array.from({ length: pages }, (_, i) => i + 1).filter((p) => p >= 4 && base.subarray((p + 1) * PAGE, (p + 2) * PAGE).some((b) => b !== 0))
  process.stderr.write(`ad fuzz: ${records.length} records, ${built.objects} objects, ${(base.length / 1024).toFixed(0)} KiB, ${used.length} pages in use\n`)
})

/** Reseals a page's checksum the way its (possibly mutated) flags say it is kept. */
function reseal(b: Buffer, pgno: number): void {
  const p = b.subarray((pgno + 1) * PAGE, (pgno + 2) * PAGE)
  if (p.readUInt32LE(36) & 0x2000) {
    const { xor, ecc } = eccXor32(p, 8, PAGE, pgno)
    p.writeUInt32LE(xor, 0); p.writeUInt32LE(ecc, 4)
  } else p.writeUInt32LE(xor32(p, 4, PAGE, HEADER_SEED), 0)
}

function mutate(seed: number): Buffer {
  const rnd = prng(seed)
  const b = Buffer.from(base)
  if (rnd() < 0.06) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 4); i++) b[Math.floor(rnd() * 700)] = Math.floor(rnd() * 256)
    b.writeUInt32LE(xor32(b, 4, PAGE, HEADER_SEED), 0)
    return b
  }
  const pgno = used[Math.floor(rnd() * used.length)]!
  const at = (pgno + 1) * PAGE
  const n = 1 + Math.floor(rnd() * 6)
  for (let i = 0; i < n; i++) {
    // Mostly where the structure is: page header, record headers near the start, the tag array at the end.
    const r = rnd()
    const off = r < 0.3 ? Math.floor(rnd() * 40) : r < 0.7 ? 40 + Math.floor(rnd() * 2000) : PAGE - 1 - Math.floor(rnd() * 400)
    b[at + off] = rnd() < 0.5 ? b[at + off]! ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256)
  }
  if (rnd() < 0.85) reseal(b, pgno)
  return b
}

const reader = (b: Buffer): ReadAt => ({ size: b.length, async readAt(o, l) { return b.subarray(o, Math.min(b.length, o + l)) } })
const CLEAR = /^(ECORRUPT|ELOOP|ELIMIT|ENOENT|ENOTSUP|ERANGE|ETIMEOUT|EMEMORY)$/

/** Everything a user does in the wizard, on one file. */
async function readAll(b: Buffer): Promise<void> {
  const ad = await openIsolatedActiveDirectory(reader(b), { worker })
  try {
    const roots = (await ad.roots()).result
    for (const r of roots.slice(0, 2)) {
      for (const c of (await ad.children(r.dn, { includeDeleted: true })).result.slice(0, 5)) await ad.get(c.dnt)
      await ad.get(r.dn)
    }
    for (const s of (await ad.search({ text: 'admin', includeDeleted: true, limit: 5 })).result) await ad.get(s.objectGUID ?? s.dnt)
    await ad.search({ attribute: { name: 'description', value: '*' }, limit: 5 })
    await ad.recycleBin()
  } finally {
    await ad.close()
  }
}

test(`fuzz: ${CASES} mutated ntds.dit files through the isolated AD reader end in data or a clear error`, async (t) => {
  const outcomes = new Map<string, number>()
  let data = 0
  for (let seed = 1; seed <= CASES; seed++) {
    try {
      await readAll(mutate(seed))
      data++
    } catch (e) {
      const err = e as Error & { code?: string }
      assert.ok(err.code && CLEAR.test(err.code), `seed ${seed}: ${err.name} ${err.code ?? ''}: ${err.message}`)
      assert.ok(err.message.length > 20, `seed ${seed}: a message that says what happened (${err.message})`)
      outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1)
    }
  }
  t.diagnostic(`read whole: ${data}; errors: ${JSON.stringify(Object.fromEntries(outcomes))}; worker starts: ${worker.starts}`)
  // Both kinds happen: many mutations hit only values (still data), many hit structure (clear errors).
  assert.ok(data > 20 && data < CASES, `${data} of ${CASES} read whole; errors ${JSON.stringify(Object.fromEntries(outcomes))}`)
  assert.ok((outcomes.get('ECORRUPT') ?? 0) > 20, JSON.stringify(Object.fromEntries(outcomes)))
  // The worker (restarted after any case that ran over its bounds) still reads the undamaged file.
  const ad = await openIsolatedActiveDirectory(reader(base), { worker })
  try { assert.ok((await ad.roots()).result.length > 0) } finally { await ad.close() }
})

test('a cycle in the page tree gives a clear error, not a hang', async () => {
  // Branch pages whose first child is the page itself.
  const b = Buffer.from(base)
  let looped = 0
  for (const p of used) {
    const at = (p + 1) * PAGE
    const flags = b.readUInt32LE(at + 36)
    if (!(flags & 0x2) && (flags & 0x4) && b.readUInt16LE(at + 34) > 1) {
      // A parent-of-leaf page: make its first child its own page number (a cycle in the tree).
      const tags = b.readUInt16LE(at + 34) & 0xfff
      const tag1 = at + PAGE - 8
      const off = b.readUInt16LE(tag1 + 2) & 0x1fff
      const node = at + 40 + off
      const prefix = b.readUInt16LE(tag1 + 2) & 0x8000 ? 2 : 0
      const keyLen = b.readUInt16LE(node + prefix) & 0x1fff
      if (tags > 1 && node + prefix + 2 + keyLen + 4 <= at + PAGE) { b.writeUInt32LE(p, node + prefix + 2 + keyLen); reseal(b, p); looped++ }
    }
  }
  assert.ok(looped > 0, 'the file has branch pages to damage')
  // The worker's time bound (5 s a call) is the last resort; the walk itself finds the loop.
  await assert.rejects(readAll(b), (e: Error & { code?: string }) => {
    assert.match(e.code ?? '', /^(ELOOP|ECORRUPT)$/, e.message)
    return true
  })
})
