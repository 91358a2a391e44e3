/**
 * Hostile guests: mutated MBR/EBR chains, GPT headers and entries, LVM labels, metadata-area headers
 * and metadata text (re-checksummed so the parser, not the checksum, meets them). openVolumes must
 * answer within a time bound, and every volume's reader must answer or refuse cleanly.
 * Needs: fdisk, gdisk, lvm2, util-linux (losetup).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ReadAt } from '../../backend/filesystems/types.ts'
import { lvmCrc } from '../../backend/volumes/lvm/ondisk.ts'
import { openVolumes, type Volume } from '../../backend/volumes/volumes.ts'
import { prng, sh } from './helpers.ts'

const LVM_CONFIG = 'global{activation=0} backup{backup=0 archive=0}'
const CASE_MS = 3000
let dir = ''
const img = (n: string) => join(dir, n)
let mbr: Buffer, gpt: Buffer, pvA: Buffer, pvB: Buffer
const ebrs: number[] = []
const loops: string[] = []

function memReader(b: Buffer): ReadAt {
  return { size: b.length, async readAt(o, n) { return b.subarray(Math.min(o, b.length), Math.min(o + n, b.length)) } }
}
/** A disk whose first MiBs (tables, EBRs, PV label, metadata area) are a mutable copy: no whole-disk copy per case. */
function mutable(base: Buffer, mib = 2): { head: Buffer; disk: Buffer } {
  return { head: Buffer.from(base.subarray(0, mib * 1024 * 1024)), disk: base }
}
function overlayReader(m: { head: Buffer; disk: Buffer }): ReadAt {
  const { head, disk } = m
  const HEAD = head.length
  return {
    size: disk.length,
    async readAt(o, n) {
      const end = Math.min(o + n, disk.length)
      if (o >= end) return Buffer.alloc(0)
      if (end <= HEAD) return head.subarray(o, end)
      if (o >= HEAD) return disk.subarray(o, end)
      return Buffer.concat([head.subarray(o), disk.subarray(HEAD, end)])
    },
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'volumes-fuzz-'))
  sh('truncate', ['-s', '16M', img('mbr.img')])
  sh('truncate', ['-s', '8M', img('gpt.img'), img('pva.img'), img('pvb.img')])
  sh('sfdisk', ['-q', img('mbr.img')], 'label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=16384, type=5\nstart=20480, size=2048, type=7\nstart=6144, size=1024, type=c\nstart=10240, size=1024, type=83\nstart=14336, size=1024, type=8e\n')
  sh('sgdisk', ['-n1:2048:+1M', '-t1:0700', '-n2:0:+1M', '-t2:8300', '-c2:root', '-n3:0:+1M', '-t3:8e00', '-n4:0:+1M', '-t4:4200', img('gpt.img')])
  mbr = readFileSync(img('mbr.img'))
  for (let s = 4096; s < 20480; s++) if (mbr.readUInt16LE(s * 512 + 510) === 0xaa55) ebrs.push(s * 512)
  gpt = readFileSync(img('gpt.img'))
  // Two whole-disk PVs: a linear LV in two segments and a striped one over both.
  const vg = `stpfz${process.pid}${randomBytes(2).toString('hex')}`
  try {
    for (const f of ['pva.img', 'pvb.img']) loops.push(sh('losetup', ['-f', '--show', img(f)]).trim())
    const lvm = (cmd: string, args: string[]) => sh(cmd, ['--config', LVM_CONFIG, '--devices', loops.join(','), ...args])
    lvm('pvcreate', ['-y', ...loops])
    lvm('vgcreate', ['-s', '1M', vg, ...loops])
    lvm('lvcreate', ['-an', '-Zn', '-L', '2M', '-n', 'lin', vg, loops[0]!])
    lvm('lvcreate', ['-an', '-Zn', '-i2', '-I16k', '-L', '2M', '-n', 'str', vg, ...loops])
    lvm('lvextend', ['-L', '+1M', `${vg}/lin`, loops[1]!])
  } finally {
    while (loops.length) sh('losetup', ['-d', loops.pop()!])
  }
  pvA = readFileSync(img('pva.img'))
  pvB = readFileSync(img('pvb.img'))
})

after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

/** Where a PV's metadata is: label sector, first metadata area, current text. */
function pvLayout(b: Buffer) {
  const label = [0, 1, 2, 3].find((s) => b.toString('latin1', s * 512, s * 512 + 8) === 'LABELONE')! * 512
  let p = label + b.readUInt32LE(label + 20) + 40
  while (b.readBigUInt64LE(p) !== 0n) p += 16
  p += 16
  const mda = Number(b.readBigUInt64LE(p))
  const mdaSize = Number(b.readBigUInt64LE(p + 8))
  return { label, mda, mdaSize, textOff: Number(b.readBigUInt64LE(mda + 40)), textLen: Number(b.readBigUInt64LE(mda + 48)) }
}

function fixLabelCrc(b: Buffer, label: number) { b.writeUInt32LE(lvmCrc(b.subarray(label + 20, label + 512)), label + 16) }
function fixMdaCrc(b: Buffer, mda: number) { b.writeUInt32LE(lvmCrc(b.subarray(mda + 4, mda + 512)), mda) }

/** Replaces the PV's current metadata text (same place in the ring), with valid checksums. */
function rewriteText(b: Buffer, text: Buffer): void {
  const l = pvLayout(b)
  const room = l.mdaSize - l.textOff
  const t = text.subarray(0, Math.min(text.length, l.mdaSize - 1024))
  t.subarray(0, Math.min(room, t.length)).copy(b, l.mda + l.textOff)
  if (t.length > room) t.subarray(room).copy(b, l.mda + 512)
  b.writeBigUInt64LE(BigInt(t.length), l.mda + 48)
  b.writeUInt32LE(lvmCrc(t), l.mda + 56)
  fixMdaCrc(b, l.mda)
}

const NASTY_NUMBERS = ['0', '-1', '1', '4294967296', '9007199254740993', '1e300', '99999999999999999999999', '3.5', '0x10', '-9e99']
const NASTY_STRINGS = ['"thin"', '"raid1"', '"snapshot"', '"striped"', '""', '"pv9"', '"mirror"', '"thin-pool"', '"\\"', '"VISIBLE"']

function mutateText(text: string, rnd: () => number): string {
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!
  let t = text
  for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
    const at = Math.floor(rnd() * t.length)
    switch (Math.floor(rnd() * 7)) {
      case 0: { // a number becomes hostile
        const nums = [...t.matchAll(/(?<=[=\[, ])-?\d+/g)]
        if (nums.length) { const m = pick(nums); t = t.slice(0, m.index) + pick(NASTY_NUMBERS) + t.slice(m.index + m[0].length) }
        break
      }
      case 1: { // a string value becomes another
        const strs = [...t.matchAll(/"[^"\n]*"/g)]
        if (strs.length) { const m = pick(strs); t = t.slice(0, m.index) + pick(NASTY_STRINGS) + t.slice(m.index + m[0].length) }
        break
      }
      case 2: t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rnd() * 40)); break // a span disappears
      case 3: { const lines = t.split('\n'); const i = Math.floor(rnd() * lines.length); lines.splice(i, 0, lines[i]!); t = lines.join('\n'); break }
      case 4: t = t.slice(0, at) + pick(['{'.repeat(5000), '['.repeat(5000), '}', ']', '=', '"', '#', '\0', 'x = [1,2,', 'segment_count = 10000\n']) + t.slice(at); break
      case 5: t = t.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 256)) + t.slice(at + 1); break
      default: t = t.replace(/stripe_count = \d+/, `stripe_count = ${pick(NASTY_NUMBERS)}`).replace(/extent_size = \d+/, rnd() < 0.5 ? 'extent_size = 1' : `extent_size = ${pick(NASTY_NUMBERS)}`)
    }
  }
  return t
}

async function bounded(name: string, disks: { head: Buffer; disk: Buffer }[]): Promise<Volume[]> {
  const t0 = Date.now()
  let timer: NodeJS.Timeout | undefined
  let vols: Volume[] = []
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${name}: openVolumes took more than ${CASE_MS} ms`)), CASE_MS) })
  try {
    vols = await Promise.race([openVolumes(disks.map((d, i) => ({ key: String(2000 + i), label: `Hard disk ${i + 1}`, reader: overlayReader(d) }))), timeout])
    for (const v of vols) {
      assert.match(v.id, /^[A-Za-z0-9._-]+$/, name)
      assert.ok(Number.isSafeInteger(v.size) && v.size >= 0, `${name}: size ${v.size}`)
      // every reader answers or refuses with a clear error, at the start and the end
      for (const at of [0, Math.max(0, v.size - 4096)]) {
        await Promise.race([v.reader.readAt(at, 4096).catch((e: Error) => assert.ok(e.message.length > 0, name)), timeout])
      }
    }
  } catch (e) {
    // openVolumes promises not to throw for guest bytes: any throw (or a timeout) is a failure.
    assert.fail(`${name}: ${(e as Error).stack ?? e}`)
  } finally { clearTimeout(timer) }
  assert.ok(Date.now() - t0 < CASE_MS, name)
  return vols
}

test('sanity: the unmutated fuzz bases are what the mutations start from', async () => {
  const vols = await openVolumes([{ key: '2000', label: 'a', reader: memReader(pvA) }, { key: '2001', label: 'b', reader: memReader(pvB) }])
  // (the LVs hold no filesystem: "empty", but readable)
  assert.deepEqual(vols.filter((v) => v.lvm).map((v) => [v.lvm!.lv, v.lvm!.layout, v.kind, v.size]), [['lin', 'linear', 'unknown', 3 * 1024 * 1024], ['str', 'striped', 'unknown', 2 * 1024 * 1024]])
  for (const v of vols.filter((x) => x.lvm)) assert.match(v.problem!, /empty/)
  assert.equal(ebrs.length, 3)
  assert.equal((await openVolumes([{ key: '2000', label: 'm', reader: memReader(mbr) }])).length, 6)
  assert.equal((await openVolumes([{ key: '2000', label: 'g', reader: memReader(gpt) }])).length, 4)
})

test('160 mutated MBR/EBR and GPT tables: openVolumes answers in bounded time, readers answer or refuse', async () => {
  const rnd = prng(11)
  for (let n = 0; n < 160; n++) {
    const isGpt = n % 2 === 1
    const m = isGpt ? mutable(gpt) : mutable(mbr, 11), d = m.head
    const flips = 1 + Math.floor(rnd() * 8)
    for (let k = 0; k < flips; k++) {
      // aim at the tables: MBR entries, EBRs, GPT header and entries
      const zones = isGpt ? [[446, 64], [512, 92], [1024, 512]] : [[446, 64], ...ebrs.map((e) => [e + 446, 64])]
      const [base, len] = zones[Math.floor(rnd() * zones.length)]!
      const at = base! + Math.floor(rnd() * len!)
      if (rnd() < 0.3) d.writeUInt32LE(Math.floor(rnd() * 2 ** 32), at - (at % 4))
      else d[at] = Math.floor(rnd() * 256)
    }
    if (isGpt && rnd() < 0.3) { d.writeUInt32LE(1024, 512 + 80); d.writeUInt32LE(128, 512 + 84) } // many entries
    if (!isGpt && rnd() < 0.2) d.writeUInt32LE(0, ebrs[1]! + 462 + 8) // an EBR linking back to the first
    await bounded(`table case ${n}`, [m])
  }
})

test('80 mutated LVM labels and metadata-area headers (half re-checksummed)', async () => {
  const rnd = prng(22)
  for (let n = 0; n < 80; n++) {
    const ma = mutable(pvA), mb = mutable(pvB), a = ma.head
    const l = pvLayout(a)
    for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
      if (rnd() < 0.5) {
        const at = l.label + 8 + Math.floor(rnd() * 120)
        if (rnd() < 0.4) a.writeBigUInt64LE(BigInt(Math.floor(rnd() * 2 ** 53)), Math.min(at, l.label + 504)); else a[at] = Math.floor(rnd() * 256)
      } else {
        const at = l.mda + 20 + Math.floor(rnd() * 44)
        if (rnd() < 0.5) a.writeBigUInt64LE(rnd() < 0.5 ? BigInt(Math.floor(rnd() * 2 ** 53)) : BigInt(Math.floor(rnd() * l.mdaSize)), Math.min(at, l.mda + 56)); else a[at] = Math.floor(rnd() * 256)
      }
    }
    if (rnd() < 0.5) { fixLabelCrc(a, l.label); fixMdaCrc(a, l.mda) }
    await bounded(`label case ${n}`, [ma, mb])
  }
})

test('160 mutated metadata texts (valid checksums) on one or both PVs', async () => {
  const rnd = prng(33)
  const la = pvLayout(pvA)
  const text = pvA.toString('latin1', la.mda + la.textOff, la.mda + la.textOff + la.textLen)
  const seen = { readable: 0, refused: 0, metadataRejected: 0 }
  for (let n = 0; n < 160; n++) {
    const ma = mutable(pvA), mb = mutable(pvB), a = ma.head, b = mb.head
    const t = Buffer.from(mutateText(text, rnd), 'latin1')
    rewriteText(a, t)
    if (rnd() < 0.5) rewriteText(b, t) // else B's older copy competes (same seqno or lower)
    const vols = await bounded(`text case ${n}`, [ma, mb])
    if (vols.some((v) => v.lvm && !/not supported|restore point|LVM metadata/.test(v.problem ?? ''))) seen.readable++
    if (vols.some((v) => v.lvm && /not supported|LVM metadata/.test(v.problem ?? ''))) seen.refused++
    if (vols.some((v) => /metadata cannot be read/.test(v.problem ?? ''))) seen.metadataRejected++
  }
  // the mutations reach every outcome: LVs still read, LVs refused with a reason, metadata rejected
  assert.ok(seen.readable > 10 && seen.refused > 2 && seen.metadataRejected > 10, JSON.stringify(seen))
})
