/**
 * exFAT reader against sleuthkit. exfatprogs formats (images/exfat.sh) but cannot add files and
 * FUSE mounts are not available here, so addFiles() below writes entry sets, FAT chains,
 * contiguous (NoFatChain) streams and the allocation bitmap into a formatted image; fsck.exfat
 * must find that image clean before sleuthkit and this reader are compared on it. Also the
 * forensics-samples exFAT images. Needs: exfatprogs, sleuthkit, xz-utils, forensics-samples-exfat,
 * forensics-samples-multiple.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, copyFileSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ExfatVolume } from '../../backend/filesystems/exfat/volume.ts'
import { fileReader, fls, pool, prng, sha } from './helpers.ts'
import { FsError, type FsEntry, type ReadAt } from '../../backend/filesystems/types.ts'

const run = promisify(execFile)
const HERE = import.meta.dirname
const SAMPLES = '/usr/share/forensics-samples'

async function ours(vol: ExfatVolume): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>()
  for await (const { path, entry } of vol.walk()) out.set(path, entry)
  return out
}

/** Listing (path, type, size, inode, mtime to the second) and every file's SHA-256 identical to sleuthkit. */
async function compareWithSleuthkit(image: string, offsetSectors = 0, size?: number): Promise<Map<string, FsEntry>> {
  const r = fileReader(image, offsetSectors * 512, size)
  try {
    const vol = await ExfatVolume.open(r)
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
      for (const meta of ['$ALLOC_BITMAP', '$UPCASE_TABLE']) recovered.delete(meta) // sleuthkit's metadata pseudo-files
      const files = [...mine].filter(([, e]) => e.type === 'file')
      let compared = 0
      await pool(files, 4, async ([p, e]) => {
        const want = recovered.get(p)
        if (want === undefined && e.size === 0) return // tsk_recover skips empty files
        assert.equal(await sha(vol.openStream(e.ref)), want, `content of ${p} (inode ${e.inode})`)
        compared++
      })
      assert.deepEqual([...recovered.keys()].filter(k => !mine.has(k)), [], 'tsk_recover wrote files we did not list')
      assert.equal(compared, recovered.size)
    } finally { rmSync(out, { recursive: true, force: true }) }
    return mine
  } finally { r.close() }
}

// ---- a minimal exFAT writer for test images ---------------------------------------------

type Spec = { name: string; data?: Buffer; contiguous?: boolean; fragmented?: boolean; validLength?: number; children?: Spec[] }

/** Adds a tree to a freshly formatted exFAT image (in memory). Root must fit its first cluster. */
function addFiles(img: Buffer, tree: Spec[]): void {
  const bps = 1 << img[0x6c], cs = bps << img[0x6d]
  const fatOff = img.readUInt32LE(0x50) * bps, heap = img.readUInt32LE(0x58) * bps, count = img.readUInt32LE(0x5c)
  const rootCl = img.readUInt32LE(0x60)
  const co = (c: number) => heap + (c - 2) * cs
  // the allocation bitmap's location, from its root entry
  let bitmap = -1
  for (let p = co(rootCl); p < co(rootCl) + cs; p += 32) if (img[p] === 0x81) bitmap = co(img.readUInt32LE(p + 20))
  assert.ok(bitmap > 0)
  const used = (c: number) => (img[bitmap + ((c - 2) >> 3)] >> ((c - 2) & 7)) & 1
  const take = (c: number) => { img[bitmap + ((c - 2) >> 3)] |= 1 << ((c - 2) & 7) }
  let cursor = 2
  const alloc = (n: number, how: 'contiguous' | 'fragmented' | 'any'): number[] => {
    const out: number[] = []
    if (how === 'contiguous') {
      for (let s = 2; s + n <= count + 2; s++) { let ok = true; for (let i = 0; i < n; i++) if (used(s + i)) { ok = false; break } if (ok) { for (let i = 0; i < n; i++) { take(s + i); out.push(s + i) } return out } }
      throw new Error('no room')
    }
    for (let c = cursor; out.length < n; c++) {
      if (c >= count + 2) throw new Error('no room')
      if (used(c)) continue
      take(c); out.push(c)
      if (how === 'fragmented') c++ // leave a free cluster between: the chain jumps
      cursor = c + 1
    }
    return out
  }
  const chain = (cl: number[]) => cl.forEach((c, i) => img.writeUInt32LE(i + 1 < cl.length ? cl[i + 1] : 0xffffffff, fatOff + 4 * c))
  const upper = (s: string) => [...s].map(ch => (ch.toUpperCase().length === 1 ? ch.toUpperCase() : ch)).join('')
  const nameHash = (name: string) => { let h = 0; for (const b of Buffer.from(upper(name), 'utf16le')) h = (((h & 1) ? 0x8000 : 0) + (h >>> 1) + b) & 0xffff; return h }
  const ts = ((2021 - 1980) << 25) | (3 << 21) | (4 << 16) | (5 << 11) | (6 << 5) | 4 // 2021-03-04 05:06:08
  const entrySet = (s: Spec, first: number, len: number, contiguous: boolean, valid: number): Buffer => {
    const units = Buffer.from(s.name, 'utf16le')
    const nameLen = units.length / 2, nNames = Math.ceil(nameLen / 15)
    const b = Buffer.alloc(32 * (2 + nNames))
    b[0] = 0x85; b[1] = 1 + nNames; b.writeUInt16LE(s.children ? 0x10 : 0x20, 4)
    b.writeUInt32LE(ts, 8); b.writeUInt32LE(ts, 12); b.writeUInt32LE(ts, 16); b[20] = 150; b[21] = 37; b[22] = 0x80 | 4; b[23] = 0x80 | 4; b[24] = 0x80 | 4
    b[32] = 0xc0; b[33] = 1 | (contiguous ? 2 : 0); b[35] = nameLen; b.writeUInt16LE(nameHash(s.name), 36)
    b.writeBigUInt64LE(BigInt(valid), 40); b.writeUInt32LE(first, 52); b.writeBigUInt64LE(BigInt(len), 56)
    for (let k = 0; k < nNames; k++) { b[64 + 32 * k] = 0xc1; units.copy(b, 64 + 32 * k + 2, 30 * k, Math.min(units.length, 30 * k + 30)) }
    let c = 0
    for (let i = 0; i < b.length; i++) if (i !== 2 && i !== 3) c = (((c & 1) ? 0x8000 : 0) + (c >>> 1) + b[i]) & 0xffff
    b.writeUInt16LE(c, 2)
    return b
  }
  const setSize = (s: Spec) => 32 * (2 + Math.ceil(s.name.length / 15))
  /** Writes a directory's entries into its clusters (offsets in cluster order). */
  const fill = (clusters: number[], start: number, specs: Spec[]) => {
    let pos = start
    for (const s of specs) {
      let first = 0, len = 0, valid = 0
      const contiguous = !!s.contiguous
      if (s.children) {
        const need = Math.max(1, Math.ceil(s.children.reduce((a, k) => a + setSize(k), 0) / cs))
        const cl = alloc(need, contiguous ? 'contiguous' : s.fragmented ? 'fragmented' : 'any')
        if (!contiguous) chain(cl)
        for (const c of cl) img.fill(0, co(c), co(c) + cs)
        first = cl[0]; len = valid = need * cs
        fill(cl, 0, s.children)
      } else if (s.data && s.data.length) {
        const cl = alloc(Math.ceil(s.data.length / cs), contiguous ? 'contiguous' : s.fragmented ? 'fragmented' : 'any')
        if (!contiguous) chain(cl)
        cl.forEach((c, i) => s.data!.copy(img, co(c), i * cs, Math.min(s.data!.length, (i + 1) * cs)))
        first = cl[0]; len = s.data.length; valid = s.validLength ?? len
      }
      const set = entrySet(s, first, len, contiguous, valid)
      for (let i = 0; i < set.length; i += 32) {
        const at = pos + i, cl = clusters[Math.floor(at / cs)]
        assert.ok(cl !== undefined, 'directory full')
        set.copy(img, co(cl) + (at % cs), i, i + 32)
      }
      pos += set.length
    }
  }
  let rootUsed = 0
  for (let p = co(rootCl); p < co(rootCl) + cs && img[p] !== 0; p += 32) rootUsed += 32
  fill([rootCl], rootUsed, tree)
}

function rand(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; b[i] = s >>> 24 }
  return b
}

const many: Spec[] = Array.from({ length: 150 }, (_, i) => ({ name: `file number ${i}.txt`, data: Buffer.from(`${i}\n`) }))
const TREE: Spec[] = [
  { name: 'hello.txt', data: Buffer.from('hello exFAT\n') },
  { name: 'Ünïcödé – naïve.txt', data: Buffer.from('ünïcödé\n') },
  { name: 'a name longer than fifteen characters that needs several name entries.bin', data: rand(5000, 1) },
  { name: 'contiguous.bin', data: rand(20000, 2), contiguous: true },
  { name: 'fragmented.bin', data: rand(30000, 3), fragmented: true },
  { name: 'empty.txt', data: Buffer.alloc(0) },
  { name: 'dir one', children: [
    { name: 'sub (contiguous dir)', contiguous: true, children: [{ name: 'deep.txt', data: Buffer.from('deep\n') }, { name: 'second', children: [{ name: 'third.bin', data: rand(9000, 4), contiguous: true }] }] },
    { name: 'x.txt', data: Buffer.from('x') },
  ] },
  { name: 'many', fragmented: true, children: many },
  { name: '日本語', children: [{ name: 'ファイル.txt', data: Buffer.from('日本語\n') }] },
]

let dir = ''
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'exfat-test-'))
  execFileSync('bash', [join(HERE, 'images/exfat.sh'), dir], { stdio: 'ignore' })
  const img = readFileSync(join(dir, 'exfat.img'))
  addFiles(img, TREE)
  writeFileSync(join(dir, 'exfat.img'), img)
  copyFileSync(join(dir, 'small.img'), join(dir, 'empty.img'))
  const small = readFileSync(join(dir, 'small.img'))
  addFiles(small, [{ name: 'a.txt', data: Buffer.from('a\n') }, { name: 'frag.bin', data: rand(3000, 5), fragmented: true },
    { name: 'c.bin', data: rand(1500, 6), contiguous: true }, { name: 'd', children: [{ name: 'e.txt', data: Buffer.from('e') }, { name: 'f', contiguous: true, children: [{ name: 'g.bin', data: rand(700, 7) }] }] }])
  writeFileSync(join(dir, 'small.img'), small)
})
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

test('exFAT built here: fsck.exfat finds it clean; listing, sizes, inodes, mtimes and contents identical to sleuthkit', async () => {
  const img = join(dir, 'exfat.img')
  execFileSync('fsck.exfat', ['-n', img], { stdio: 'pipe' }) // throws unless clean
  const mine = await compareWithSleuthkit(img)
  assert.equal([...mine.keys()].filter(p => p.startsWith('many/')).length, 150)
  for (const p of ['Ünïcödé – naïve.txt', 'a name longer than fifteen characters that needs several name entries.bin', '日本語/ファイル.txt', 'dir one/sub (contiguous dir)/second/third.bin']) assert.ok(mine.has(p), p)
  assert.ok(mine.get('contiguous.bin')!.attributes?.includes('contiguous'))
  // 2021-03-04 05:06:08 + 370 ms, local time at UTC+01:00 (sleuthkit shows the local time)
  assert.equal(mine.get('hello.txt')!.mtime, '2021-03-04T05:06:08.37+01:00')
  assert.equal(mine.get('hello.txt')!.btime, '2021-03-04T05:06:09.50+01:00')
  const r = fileReader(img)
  try {
    const vol = await ExfatVolume.open(r)
    const st = await vol.state()
    assert.deepEqual([st.clean, st.dirty, st.label], [true, false, 'STILLPOINT'])
    const f = await vol.lookup('/fragmented.bin')
    assert.deepEqual(await vol.read(f.ref, 4000, 10000), rand(30000, 3).subarray(4000, 14000))
    const t = await vol.lookup('DIR ONE/sub (contiguous dir)/second/third.bin')
    assert.deepEqual(await vol.read(t.ref, 0, 100000), rand(9000, 4))
    assert.deepEqual(await vol.stat(t.ref), t)
    await assert.rejects(vol.lookup('nope'), (e: FsError) => e.code === 'ENOENT')
    await assert.rejects(vol.lookup('hello.txt/x'), (e: FsError) => e.code === 'ENOTDIR')
    await assert.rejects(vol.read('12.34.56.0', 0, 1), (e: FsError) => e.code === 'ENOENT' || e.code === 'ERANGE' || e.code === 'ECORRUPT')
  } finally { r.close() }
})

test('exFAT: bytes past ValidDataLength read as zeros; VolumeDirty is reported', async () => {
  const img = readFileSync(join(dir, 'empty.img'))
  addFiles(img, [{ name: 'vdl.bin', data: rand(2000, 8), validLength: 700 }])
  img[0x6a] |= 2
  const p = join(dir, 'vdl.img')
  writeFileSync(p, img)
  const r = fileReader(p)
  try {
    const vol = await ExfatVolume.open(r)
    const e = await vol.lookup('vdl.bin')
    const got = await vol.read(e.ref, 0, 5000)
    assert.equal(got.length, 2000)
    assert.deepEqual(got, Buffer.concat([rand(2000, 8).subarray(0, 700), Buffer.alloc(1300)]))
    const st = await vol.state()
    assert.deepEqual([st.clean, st.dirty], [false, true])
  } finally { r.close() }
})

test('exFAT: a looping FAT chain ends in ELOOP', async () => {
  const img = readFileSync(join(dir, 'exfat.img'))
  const r0 = fileReader(join(dir, 'exfat.img'))
  const vol0 = await ExfatVolume.open(r0)
  const f = await vol0.lookup('fragmented.bin')
  r0.close()
  // find the stream entry of fragmented.bin and point its second cluster back to the first
  const bps = 1 << img[0x6c]
  const at = (Math.floor((f.inode - 3) / (bps / 32)) + img.readUInt32LE(0x58)) * bps + ((f.inode - 3) % (bps / 32)) * 32
  const first = img.readUInt32LE(at + 32 + 20)
  const fatOff = img.readUInt32LE(0x50) * bps
  const second = img.readUInt32LE(fatOff + 4 * first)
  img.writeUInt32LE(first, fatOff + 4 * second)
  const p = join(dir, 'loop.img')
  writeFileSync(p, img)
  const r = fileReader(p)
  try {
    const vol = await ExfatVolume.open(r)
    await assert.rejects(vol.read(f.ref, 0, f.size), (e: FsError) => e.code === 'ELOOP')
  } finally { r.close() }
})

test('forensics-samples exFAT images: identical to sleuthkit', async () => {
  const img = join(dir, 'fs.exfat')
  execFileSync('bash', ['-c', `xz -dc ${SAMPLES}/fs.exfat.xz > ${img}`])
  const mine = await compareWithSleuthkit(img, 2048, 100352 * 512) // an MBR disk, one partition at sector 2048
  assert.ok(mine.size > 10, `${mine.size} entries`)
  // fs.multiple: exFAT partition at sector 309248; its filesystem is larger than the partition
  const multi = join(dir, 'fs.multiple')
  execFileSync('bash', ['-c', `xz -dc ${SAMPLES}/fs.multiple.xz > ${multi}`])
  const m2 = await compareWithSleuthkit(multi, 309248)
  assert.ok(m2.has('test.txt') && m2.has('debian_logo.jpg'))
})

// ---- fuzz -------------------------------------------------------------------------------

async function exercise(vol: ExfatVolume): Promise<void> {
  const guard = async (p: Promise<unknown>) => { try { await p } catch (e) { if (!(e instanceof FsError)) throw e } }
  let n = 0
  const refs: string[] = []
  await guard((async () => {
    for await (const { entry } of vol.walk('2', 64)) {
      if (++n > 5000) break
      refs.push(entry.ref)
      if (entry.type === 'file') {
        await guard(vol.read(entry.ref, 0, 1 << 20))
        await guard(vol.read(entry.ref, entry.size > 0 ? entry.size - 1 : 0, 10))
        await guard((async () => { let total = 0; for await (const b of vol.openStream(entry.ref)) { total += b.length; if (total > 4 << 20) break } })())
      }
    }
  })())
  await guard(vol.lookup('/d/f/g.bin'))
  await guard(vol.state())
  for (const ref of [...refs.slice(0, 20), '2', '3.0.0.0', '99999.5.4096.1']) { await guard(vol.list(ref)); await guard(vol.read(ref, 0, 4096)); await guard(vol.stat(ref)) }
}

test('fuzz: 300 mutated copies of a small exFAT image end with data or FsError, quickly', async () => {
  const base = join(dir, 'small.img')
  const orig = readFileSync(base)
  const probe = fileReader(base)
  await exercise(await ExfatVolume.open(probe))
  probe.close()
  const hot = probe.reads.filter(([, l]) => l <= 8192)
  const rnd = prng(9)
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
      let vol: ExfatVolume | undefined
      try { vol = await ExfatVolume.open(r) } catch (e) { if (!(e instanceof FsError)) throw e }
      if (vol) await exercise(vol)
    } catch (e) {
      assert.fail(`mutation ${i}: ${(e as Error).stack}`)
    } finally { r.close() }
    const ms = performance.now() - t0
    assert.ok(ms < 3000, `mutation ${i} took ${ms} ms`)
  }
})
