/**
 * ext2/3/4 reader against sleuthkit on images built by e2fsprogs (images/ext4.sh) and on the
 * forensics-samples images. Needs: e2fsprogs, sleuthkit, perl, xz-utils, forensics-samples-ext2,
 * forensics-samples-ext4, forensics-samples-multiple.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, copyFileSync, existsSync, fstatSync, mkdtempSync, openSync, mkdirSync, readFileSync, readSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ext4Volume } from '../../backend/filesystems/ext4/volume.ts'
import { fileReader, fls, pool, prng, sha } from './helpers.ts'
import { FsError, type FsEntry, type ReadAt } from '../../backend/filesystems/types.ts'

const run = promisify(execFile)
const HERE = import.meta.dirname
const SAMPLES = '/usr/share/forensics-samples'

async function ours(vol: Ext4Volume): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>()
  for await (const { path, entry } of vol.walk()) out.set(path, entry)
  return out
}

function hashTree(root: string): Map<string, string> {
  const m = new Map<string, string>()
  if (!existsSync(root)) return m
  for (const f of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue
    const full = join(f.parentPath, f.name)
    m.set(full.slice(root.length + 1), createHash('sha256').update(readFileSync(full)).digest('hex'))
  }
  return m
}


/** Listing (path, type, size, inode, mtime to the second) and every file's SHA-256 identical to sleuthkit. */
async function compareWithSleuthkit(image: string, offsetSectors = 0, size?: number): Promise<Map<string, FsEntry>> {
  const r = fileReader(image, offsetSectors * 512, size)
  try {
    const vol = await Ext4Volume.open(r)
    const mine = await ours(vol)
    const theirs = await fls(image, offsetSectors)
    const fmt = (p: string, t: string, s: number, i: number, m: string) => `${p}\t${t}\t${s}\t${i}\t${m}`
    // sleuthkit reads the 32-bit seconds as unsigned and ignores the epoch bits: compare 1970..2038 only
    const t = (m: string) => (m >= '1970' && m < '2038' ? m : '-')
    const a = [...mine].map(([p, e]) => fmt(p, e.type, e.size, e.inode, t((e.mtime ?? '').slice(0, 19).replace('T', ' ')))).sort()
    const b = theirs.map(x => fmt(x.path, x.type, x.size, x.inode, t(x.mtime))).sort()
    const onlyA = a.filter(x => !b.includes(x)), onlyB = b.filter(x => !a.includes(x))
    assert.deepEqual({ onlyOurs: onlyA, onlySleuthkit: onlyB }, { onlyOurs: [], onlySleuthkit: [] }, image)
    // every file's bytes: sleuthkit's tsk_recover writes all allocated files in one run (icat per file is slow).
    // TSK 4.11 cannot read files whose extent tree has index blocks ("No filler entry") and recovers
    // symlinks as files of blanks: those are checked against e2fsprogs' debugfs rdump instead.
    const out = mkdtempSync(join(tmpdir(), 'tsk-recover-'))
    try {
      const rec = await run('tsk_recover', ['-a', '-o', String(offsetSectors), image, join(out, 'tsk')], { maxBuffer: 1 << 26 }).catch(e => e)
      const failed = new Set([...String(rec.stdout ?? '').concat(String(rec.stderr ?? '')).matchAll(/Error writing file: \S*?\/tsk\/+(.*)$/gm)].map(m => m[1]))
      const recovered = hashTree(join(out, 'tsk'))
      let debugfsTree: Map<string, string> | undefined
      const viaDebugfs = async () => {
        if (debugfsTree) return debugfsTree
        let img = image
        if (offsetSectors) { img = join(out, 'part.img'); await run('dd', [`if=${image}`, `of=${img}`, 'bs=512', `skip=${offsetSectors}`, `count=${Math.ceil((size ?? 0) / 512)}`, 'status=none']) }
        mkdirSync(join(out, 'debugfs'))
        await run('debugfs', ['-R', `rdump / ${join(out, 'debugfs')}`, img])
        return (debugfsTree = hashTree(join(out, 'debugfs')))
      }
      let compared = 0, fromDebugfs = 0
      for (const [p, e] of mine) {
        if (e.type === 'symlink') {
          await viaDebugfs()
          assert.equal(readlinkSync(join(out, 'debugfs', p), 'utf8'), e.linkTarget, `target of ${p}`)
          if (recovered.has(p)) compared++
          continue
        }
        if (e.type !== 'file') continue
        const got = await sha(vol.openStream(e.ref))
        if (failed.has(p)) { assert.equal(got, (await viaDebugfs()).get(p), `content of ${p} (inode ${e.inode}) per debugfs`); fromDebugfs++; compared++; continue }
        const want = recovered.get(p)
        if (want === undefined && e.size === 0) continue // tsk_recover skips empty files
        assert.equal(got, want, `content of ${p} (inode ${e.inode})`)
        compared++
      }
      assert.equal(compared, recovered.size, 'tsk_recover wrote files we did not list')
      assert.ok(fromDebugfs <= 2, `${fromDebugfs} files sleuthkit could not read`)
    } finally { rmSync(out, { recursive: true, force: true }) }
    return mine
  } finally { r.close() }
}

let dir = ''
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ext4-test-'))
  execFileSync('bash', [join(HERE, 'images/ext4.sh'), dir], { stdio: 'ignore' })
})
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

test('ext4 (4 KiB blocks): listing, sizes, inodes, mtimes and contents identical to sleuthkit', async () => {
  const mine = await compareWithSleuthkit(join(dir, 'ext4.img'))
  assert.equal([...mine.keys()].filter(p => p.startsWith('big-dir/')).length, 2100)
  assert.ok(mine.get('big-dir')!.attributes?.includes('htree'), 'big-dir is an htree directory')
  assert.ok(mine.has('deep/' + Array.from({ length: 24 }, (_, i) => `level${i + 1}`).join('/') + '/bottom.txt'))
  assert.equal(mine.get('hardlink-a.txt')!.inode, mine.get('hardlink-b.txt')!.inode)
  assert.equal(mine.get('fast-symlink')!.linkTarget, 'size_1.bin')
  assert.ok(mine.get('slow-symlink')!.linkTarget!.length > 60)
  assert.equal(mine.get('size_1.bin')!.mtime, '2001-02-03T04:05:06.123456789Z')
  assert.equal(mine.get('size_59.bin')!.mtime, '2100-06-07T08:09:10.500000000Z')
  assert.equal(mine.get('size_60.bin')!.mtime, '1960-01-01T00:00:01Z')
  assert.ok(mine.has('日本語 ディレクトリ/ファイル.txt') && mine.has('naïve café.txt') && mine.has('😀 emoji.bin'))
  // the fragmented file really has an extent tree (index blocks), the sparse one really has holes
  const stat = execFileSync('debugfs', ['-R', 'stat /fragmented.bin', join(dir, 'ext4.img')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  assert.match(stat, /\(ETB0\)/)
  const r = fileReader(join(dir, 'ext4.img'))
  try {
    const vol = await Ext4Volume.open(r)
    const sparse = await vol.lookup('/sparse.bin')
    assert.equal(sparse.size, 83886080)
    assert.deepEqual(await vol.read(sparse.ref, 0, 5), Buffer.from('start'))
    assert.deepEqual(await vol.read(sparse.ref, 83886077, 100), Buffer.from('end'))
    assert.deepEqual(await vol.read(sparse.ref, 1000, 4096), Buffer.alloc(4096))
    const src = readFileSync(join(dir, 'tree/fragmented.bin'))
    const frag = await vol.lookup('fragmented.bin')
    assert.deepEqual(await vol.read(frag.ref, 4000, 10000), src.subarray(4000, 14000))
    assert.equal((await vol.lookup('big-dir/f1999')).size, 5)
    await assert.rejects(vol.lookup('big-dir/nope'), (e: FsError) => e.code === 'ENOENT')
    await assert.rejects(vol.lookup('size_1.bin/x'), (e: FsError) => e.code === 'ENOTDIR')
    assert.deepEqual(await vol.state(), { ...(await vol.state()), clean: true, needsRecovery: false, orphanListPresent: false, errors: false, hasJournal: true })
  } finally { r.close() }
})

test('ext4 (1 KiB blocks, 64bit, meta_bg): identical to sleuthkit', async () => {
  await compareWithSleuthkit(join(dir, 'ext4-1k.img'))
})

test('ext2 (indirect blocks up to triple-indirect, 128-byte inodes): identical to sleuthkit', async () => {
  const mine = await compareWithSleuthkit(join(dir, 'ext2.img'))
  assert.equal(mine.get('size_1.bin')!.mtime, '2001-02-03T04:05:06Z')
  const r = fileReader(join(dir, 'ext2.img'))
  try {
    const vol = await Ext4Volume.open(r)
    const s = await vol.lookup('sparse.bin')
    assert.deepEqual(await vol.read(s.ref, 83886077, 3), Buffer.from('end')) // block 81919 > 12+256+65536: triple indirect
    assert.equal((await vol.state()).hasJournal, false)
  } finally { r.close() }
})

test('ext3: identical to sleuthkit', async () => {
  await compareWithSleuthkit(join(dir, 'ext3.img'))
})

test('ext4 inline_data: files and directories stored in the inode, identical to sleuthkit', async () => {
  const mine = await compareWithSleuthkit(join(dir, 'ext4-inline.img'))
  for (const p of ['tiny.txt', 'fits-in-iblock.bin', 'uses-xattr.bin', 'small-dir', 'small-dir/sub']) assert.ok(mine.get(p)!.attributes?.includes('inline-data'), p)
  assert.ok(!mine.get('too-big.bin')!.attributes?.includes('inline-data'))
  const r = fileReader(join(dir, 'ext4-inline.img'))
  try {
    const vol = await Ext4Volume.open(r)
    const e = await vol.lookup('uses-xattr.bin')
    assert.deepEqual(await vol.read(e.ref, 0, 1000), readFileSync(join(dir, 'inline-tree/uses-xattr.bin')))
  } finally { r.close() }
})

test('ext4 state: needs_recovery, orphan list and errors are reported', async () => {
  const img = join(dir, 'state.img')
  copyFileSync(join(dir, 'small.img'), img)
  execFileSync('debugfs', ['-w', '-R', 'feature needs_recovery', img], { stdio: 'ignore' })
  execFileSync('debugfs', ['-w', '-R', 'ssv last_orphan 12', img], { stdio: 'ignore' })
  execFileSync('debugfs', ['-w', '-R', 'ssv state 2', img], { stdio: 'ignore' })
  const r = fileReader(img)
  try {
    const s = await (await Ext4Volume.open(r)).state()
    assert.equal(s.clean, false); assert.equal(s.needsRecovery, true); assert.equal(s.orphanListPresent, true); assert.equal(s.errors, true)
  } finally { r.close() }
})

test('ext4: a directory linked into its own subtree ends the walk with ELOOP', async () => {
  const img = join(dir, 'loop.img')
  copyFileSync(join(dir, 'small.img'), img)
  execFileSync('debugfs', ['-w', '-R', 'ln /a /a/b/back-to-a', img], { stdio: 'ignore' })
  const r = fileReader(img)
  try {
    const vol = await Ext4Volume.open(r)
    await assert.rejects((async () => { for await (const _ of vol.walk()) { /* drain */ } })(), (e: FsError) => e.code === 'ELOOP')
    assert.equal((await vol.lookup('a/b/back-to-a/b/back-to-a/hello.txt')).size, 6) // lookups stay bounded by the path
  } finally { r.close() }
})

test('forensics-samples ext2 and ext4 images: identical to sleuthkit', async () => {
  for (const t of ['ext2', 'ext4']) {
    const img = join(dir, `fs.${t}`)
    execFileSync('bash', ['-c', `xz -dc ${SAMPLES}/fs.${t}.xz > ${img}`])
    const mine = await compareWithSleuthkit(img, 2048, 100352 * 512) // an MBR disk, one partition at sector 2048
    assert.ok(mine.size > 10, `${t}: ${mine.size} entries`)
  }
  // fs.multiple: an MBR disk; the ext4 partition starts at sector 227328 and its filesystem is
  // larger than the partition (sleuthkit reads on into the next one: so do we, for the comparison)
  const img = join(dir, 'fs.multiple')
  execFileSync('bash', ['-c', `xz -dc ${SAMPLES}/fs.multiple.xz > ${img}`])
  const mine = await compareWithSleuthkit(img, 227328)
  assert.ok(mine.has('test.txt') && mine.has('debian_logo.jpg'))
  const r = fileReader(img, 227328 * 512, (309248 - 227328) * 512)
  try { assert.equal((await (await Ext4Volume.open(r)).state()).truncated, true) } finally { r.close() }
})

// ---- fuzz -------------------------------------------------------------------------------

/** Every call on a mutated image ends with data or an FsError, within a time bound. */
async function exercise(vol: Ext4Volume): Promise<void> {
  const guard = async (p: Promise<unknown>) => { try { await p } catch (e) { if (!(e instanceof FsError)) throw e } }
  let n = 0
  await guard((async () => {
    for await (const { entry } of vol.walk(2, 64)) {
      if (++n > 5000) break
      if (entry.type === 'file' || entry.type === 'symlink') {
        await guard(vol.read(entry.ref, 0, 1 << 20))
        await guard(vol.read(entry.ref, entry.size > 0 ? entry.size - 1 : 0, 10))
        await guard((async () => { let total = 0; for await (const b of vol.openStream(entry.ref)) { total += b.length; if (total > 4 << 20) break } })())
      }
    }
  })())
  await guard(vol.lookup('/a/b/data.bin'))
  await guard(vol.lookup('/l'))
  await guard(vol.state())
  for (const ino of [1, 2, 11, 12, 13, 14, 15, 63, 64, 65, 99999]) { await guard(vol.list(ino)); await guard(vol.read(ino, 0, 4096)); await guard(vol.stat(ino)) }
}

for (const base of ['small.img', 'small2.img']) {
  test(`fuzz: 300 mutated copies of ${base} end with data or FsError, quickly`, async () => {
    const orig = readFileSync(join(dir, base))
    // the metadata this reader touches on the good image: mutations go there most of the time
    const probe = fileReader(join(dir, base))
    await exercise(await Ext4Volume.open(probe))
    probe.close()
    const hot = probe.reads.filter(([, l]) => l <= 4096)
    const rnd = prng(base === 'small.img' ? 42 : 43)
    const img = join(dir, 'fuzz.img')
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(orig)
      const k = 1 + Math.floor(rnd() * 12)
      for (let j = 0; j < k; j++) {
        const [o, l] = rnd() < 0.85 ? hot[Math.floor(rnd() * hot.length)] : [0, m.length]
        const at = o + Math.floor(rnd() * l)
        m[at] = rnd() < 0.3 ? 0xff : rnd() < 0.5 ? 0 : Math.floor(rnd() * 256)
      }
      writeFileSync(img, m)
      const r = fileReader(img)
      const t0 = performance.now()
      try {
        let vol: Ext4Volume | undefined
        try { vol = await Ext4Volume.open(r) } catch (e) { if (!(e instanceof FsError)) throw e }
        if (vol) await exercise(vol)
      } catch (e) {
        assert.fail(`mutation ${i} of ${base}: ${(e as Error).stack}`)
      } finally { r.close() }
      const ms = performance.now() - t0
      assert.ok(ms < 3000, `mutation ${i} of ${base} took ${ms} ms`)
    }
    assert.ok(existsSync(img))
  })
}
