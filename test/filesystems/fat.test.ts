/**
 * FAT12/16/32 reader against sleuthkit on images built by dosfstools + mtools (images/fat.sh)
 * and on the forensics-samples vfat image. Needs: dosfstools, mtools, sleuthkit, perl, xz-utils,
 * forensics-samples-vfat.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, copyFileSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { FatVolume } from '../../backend/filesystems/fat/volume.ts'
import { fileReader, fls, pool, prng, sha } from './helpers.ts'
import { FsError, type FsEntry, type ReadAt } from '../../backend/filesystems/types.ts'

const run = promisify(execFile)
const HERE = import.meta.dirname
const SAMPLES = '/usr/share/forensics-samples'

async function ours(vol: FatVolume): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>()
  for await (const { path, entry } of vol.walk()) out.set(path, entry)
  return out
}

/** Listing (path, type, size, inode, mtime to the second) and every file's SHA-256 identical to sleuthkit. */
async function compareWithSleuthkit(image: string, offsetSectors = 0, size?: number): Promise<Map<string, FsEntry>> {
  const r = fileReader(image, offsetSectors * 512, size)
  try {
    const vol = await FatVolume.open(r)
    const mine = await ours(vol)
    const theirs = await fls(image, offsetSectors)
    const fmt = (p: string, t: string, s: number, i: number, m: string) => `${p}\t${t}\t${s}\t${i}\t${m}`
    const t = (m: string) => m
    const a = [...mine].map(([p, e]) => fmt(p, e.type, e.size, e.inode, t((e.mtime ?? '').slice(0, 19).replace('T', ' ')))).sort()
    const b = theirs.map(x => fmt(x.path, x.type, x.size, x.inode, t(x.mtime))).sort()
    const onlyA = a.filter(x => !b.includes(x)), onlyB = b.filter(x => !a.includes(x))
    assert.deepEqual({ onlyOurs: onlyA, onlySleuthkit: onlyB }, { onlyOurs: [], onlySleuthkit: [] }, image)
    // every file's bytes: sleuthkit's tsk_recover writes all allocated files in one run (icat per file is slow)
    const out = mkdtempSync(join(tmpdir(), 'tsk-recover-'))
    try {
      await run('tsk_recover', ['-a', '-o', String(offsetSectors), image, out], { maxBuffer: 1 << 26 })
      const recovered = new Map<string, string>()
      for (const f of readdirSync(out, { recursive: true, withFileTypes: true })) {
        if (!f.isFile()) continue
        const full = join(f.parentPath, f.name)
        recovered.set(full.slice(out.length + 1), createHash('sha256').update(readFileSync(full)).digest('hex'))
      }
      const files = [...mine].filter(([, e]) => e.type === 'file')
      let compared = 0
      await pool(files, 4, async ([p, e]) => {
        const want = recovered.get(p)
        if (want === undefined && e.size === 0) return // tsk_recover skips empty files
        assert.equal(await sha(vol.openStream(e.ref)), want, `content of ${p} (inode ${e.inode})`)
        compared++
      })
      assert.equal(compared, recovered.size, 'tsk_recover wrote files we did not list')
    } finally { rmSync(out, { recursive: true, force: true }) }
    return mine
  } finally { r.close() }
}

let dir = ''
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fat-test-'))
  execFileSync('bash', [join(HERE, 'images/fat.sh'), dir], { stdio: 'ignore' })
})
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

for (const [img, type] of [['fat12.img', 'FAT12'], ['fat16.img', 'FAT16'], ['fat32.img', 'FAT32']] as const) {
  test(`${type}: listing, sizes, inodes, mtimes and contents identical to sleuthkit`, async () => {
    const mine = await compareWithSleuthkit(join(dir, img))
    assert.equal([...mine.keys()].filter(p => p.startsWith('many/')).length, 300)
    for (const p of ['a very long file name that needs several LFN entries to hold it all.data', 'Ünïcödé dïr/日本語のファイル名.txt', 'lower.txt', 'SHORT.TXT', 'MixedCase.Txt',
      'deep/' + Array.from({ length: 16 }, (_, i) => `level ${i + 1}`).join('/') + '/bottom of the tree.txt']) assert.ok(mine.has(p), p)
    const r = fileReader(join(dir, img))
    try {
      const vol = await FatVolume.open(r)
      const st = await vol.state()
      assert.equal(st.type, type)
      assert.equal(st.clean, true)
      assert.equal(st.label, `${type}VOL`)
      // a fragmented chain (written around a deleted file) reads back as the source
      const f = await vol.lookup('/fragmented.bin')
      const src = readFileSync(join(dir, 'tree/fragmented.bin'))
      assert.deepEqual(await vol.read(f.ref, 0, f.size), src)
      assert.deepEqual(await vol.read(f.ref, 99_000, 5000), src.subarray(99_000, 104_000))
      assert.equal((await vol.lookup('ünïcödé DÏR/日本語のファイル名.txt')).size, 3) // case-insensitive like FAT
      await assert.rejects(vol.lookup('nope'), (e: FsError) => e.code === 'ENOENT')
      await assert.rejects(vol.lookup('lower.txt/x'), (e: FsError) => e.code === 'ENOTDIR')
      const shortStat = await vol.stat(f.ref)
      assert.equal(shortStat.size, f.size)
    } finally { r.close() }
  })
}

test('FAT dirty bits: FAT[1] clean-shutdown and hard-error bits, boot sector flag', async () => {
  for (const [img, fat1Off, bootFlag] of [['fat16.img', 2, 0x25], ['fat32.img', 4, 0x41]] as const) {
    const copy = join(dir, 'dirty.img')
    copyFileSync(join(dir, img), copy)
    const b = readFileSync(copy)
    const fatStart = b.readUInt16LE(0x0e) * b.readUInt16LE(0x0b)
    if (fat1Off === 2) b.writeUInt16LE(b.readUInt16LE(fatStart + 2) & ~0xc000, fatStart + 2)
    else b.writeUInt32LE((b.readUInt32LE(fatStart + 4) & ~0x0c000000) >>> 0, fatStart + 4)
    b[bootFlag] |= 1
    writeFileSync(copy, b)
    const r = fileReader(copy)
    try {
      const s = await (await FatVolume.open(r)).state()
      assert.deepEqual([s.clean, s.dirty, s.hardError, s.bootSectorDirty], [false, true, true, true], img)
    } finally { r.close() }
  }
})

test('FAT: a cluster chain that loops ends in ELOOP', async () => {
  const copy = join(dir, 'loop.img')
  copyFileSync(join(dir, 'fat16.img'), copy)
  const r0 = fileReader(copy)
  const vol0 = await FatVolume.open(r0)
  const f = await vol0.lookup('fragmented.bin')
  r0.close()
  const b = readFileSync(copy)
  // the entry's first cluster points back to itself
  const off = (() => { const bps = b.readUInt16LE(0x0b); const first = b.readUInt16LE(0x0e) + b[0x10] * b.readUInt16LE(0x16); return (first + Math.floor((f.inode - 3) / (bps / 32))) * bps + ((f.inode - 3) % (bps / 32)) * 32 })()
  const c = b.readUInt16LE(off + 0x1a)
  const fatStart = b.readUInt16LE(0x0e) * b.readUInt16LE(0x0b)
  b.writeUInt16LE(c, fatStart + 2 * c)
  writeFileSync(copy, b)
  const r = fileReader(copy)
  try {
    const vol = await FatVolume.open(r)
    await assert.rejects(vol.read(f.ref, 0, f.size), (e: FsError) => e.code === 'ELOOP')
  } finally { r.close() }
})

test('FAT: a long name whose checksum does not match its 8.3 entry is ignored (the 8.3 name is used)', async () => {
  const copy = join(dir, 'lfn.img')
  copyFileSync(join(dir, 'fat16.img'), copy)
  const name = 'a very long file name that needs several LFN entries to hold it all.data'
  const r0 = fileReader(copy)
  const vol0 = await FatVolume.open(r0)
  const e = await vol0.lookup(name)
  const short = (await vol0.stat(e.ref)).name
  r0.close()
  assert.match(short, /^[A-Z0-9~]{1,8}\.DAT$/i)
  const b = readFileSync(copy)
  const bps = b.readUInt16LE(0x0b), first = b.readUInt16LE(0x0e) + b[0x10] * b.readUInt16LE(0x16)
  const off = (first + Math.floor((e.inode - 3) / (bps / 32))) * bps + ((e.inode - 3) % (bps / 32)) * 32
  assert.equal(b[off - 32 + 11], 0x0f) // the last LFN entry sits right before its 8.3 entry
  b[off - 32 + 13] ^= 0xff
  writeFileSync(copy, b)
  const r = fileReader(copy)
  try {
    const names = (await (await FatVolume.open(r)).list(2)).map(x => x.name)
    assert.ok(names.includes(short) && !names.includes(name), names.join(', '))
  } finally { r.close() }
})

test('forensics-samples vfat image: identical to sleuthkit', async () => {
  const img = join(dir, 'fs.vfat')
  execFileSync('bash', ['-c', `xz -dc ${SAMPLES}/fs.vfat.xz > ${img}`])
  const mine = await compareWithSleuthkit(img, 2048, 100352 * 512) // an MBR disk, one partition at sector 2048
  assert.ok(mine.size > 10, `${mine.size} entries`)
})

// ---- fuzz -------------------------------------------------------------------------------

async function exercise(vol: FatVolume): Promise<void> {
  const guard = async (p: Promise<unknown>) => { try { await p } catch (e) { if (!(e instanceof FsError)) throw e } }
  let n = 0
  await guard((async () => {
    for await (const { entry } of vol.walk(2, 64)) {
      if (++n > 5000) break
      if (entry.type === 'file') {
        await guard(vol.read(entry.ref, 0, 1 << 20))
        await guard(vol.read(entry.ref, entry.size > 0 ? entry.size - 1 : 0, 10))
        await guard((async () => { let total = 0; for await (const b of vol.openStream(entry.ref)) { total += b.length; if (total > 4 << 20) break } })())
      }
    }
  })())
  await guard(vol.lookup('/dir one/sub/a long name.txt'))
  await guard(vol.state())
  for (const ino of [2, 3, 4, 5, 6, 7, 100, 1000, 99999]) { await guard(vol.list(ino)); await guard(vol.read(ino, 0, 4096)); await guard(vol.stat(ino)) }
}

test('fuzz: 300 mutated copies of a small FAT12 image end with data or FsError, quickly', async () => {
  const base = join(dir, 'small.img')
  const orig = readFileSync(base)
  const probe = fileReader(base)
  await exercise(await FatVolume.open(probe))
  probe.close()
  const hot = probe.reads.filter(([, l]) => l <= 8192)
  const rnd = prng(7)
  const img = join(dir, 'fuzz.img')
  for (let i = 0; i < 300; i++) {
    const m = Buffer.from(orig)
    const k = 1 + Math.floor(rnd() * 12)
    for (let j = 0; j < k; j++) {
      const [o, l] = rnd() < 0.85 ? hot[Math.floor(rnd() * hot.length)] : [0, m.length]
      m[o + Math.floor(rnd() * l)] = rnd() < 0.3 ? 0xff : rnd() < 0.5 ? 0 : Math.floor(rnd() * 256)
    }
    writeFileSync(img, m)
    const r = fileReader(img)
    const t0 = performance.now()
    try {
      let vol: FatVolume | undefined
      try { vol = await FatVolume.open(r) } catch (e) { if (!(e instanceof FsError)) throw e }
      if (vol) await exercise(vol)
    } catch (e) {
      assert.fail(`mutation ${i}: ${(e as Error).stack}`)
    } finally { r.close() }
    const ms = performance.now() - t0
    assert.ok(ms < 3000, `mutation ${i} took ${ms} ms`)
  }
})
