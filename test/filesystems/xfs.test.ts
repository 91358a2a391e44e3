/**
 * XFS reader against the Linux kernel (a read-only loop mount of the same image), xfs_db,
 * xfs_logprint and libyal's fsxfsinfo, on images the kernel itself filled (images/xfs.sh).
 * Needs: root, loop devices, xfsprogs, libfsxfs-utils (fsxfsinfo), perl.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, createReadStream, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { XfsVolume, daHash, isoFromUnix } from '../../backend/filesystems/xfs/volume.ts'
import { xfsCrcOk, xfsCrcStamp } from '../../backend/filesystems/xfs/crc32c.ts'
import { detectFileSystem, openFileSystem } from '../../backend/filesystems/filesystem.ts'
import { FsError, type FsEntry, type ReadAt } from '../../backend/filesystems/types.ts'
import { fileReader, pool, prng, sha } from './helpers.ts'

const run = promisify(execFile)
const HERE = import.meta.dirname

let dir = ''
let mnt = '' // xfs.img, mounted read-only by the kernel: the oracle
let mntGeometry = '' // geometry.img, likewise
const mounts: string[] = []
function mountRo(img: string): string {
  const m = mkdtempSync(join(tmpdir(), 'xfs-mnt-'))
  mounts.push(m)
  execFileSync('mount', ['-o', 'loop,ro', img, m])
  return m
}
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xfs-test-'))
  execFileSync('bash', [join(HERE, 'images/xfs.sh'), dir], { stdio: 'ignore' })
  mnt = mountRo(join(dir, 'xfs.img'))
  mntGeometry = mountRo(join(dir, 'geometry.img'))
})
after(() => {
  for (const m of mounts) { try { execFileSync('umount', [m]) } catch { /* not mounted */ } rmSync(m, { recursive: true, force: true }) }
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function open(img: string) {
  const r = fileReader(img)
  return { r, vol: await XfsVolume.open(r) }
}

async function ours(vol: XfsVolume): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>()
  for await (const { path, entry } of vol.walk()) out.set(path, entry)
  return out
}

function nsIso(ns: bigint): string | undefined {
  let s = ns / 1_000_000_000n, r = ns % 1_000_000_000n
  if (r < 0n) { r += 1_000_000_000n; s -= 1n }
  return isoFromUnix(Number(s), Number(r))
}

interface KernelRow { type: string; size: number; ino: number; mode: number; uid: number; gid: number; nlink: number; mtime?: string; ctime?: string; atime?: string; btime?: string; target?: string }

/** The kernel's view of a mounted tree (lstat, nanosecond times). */
function kernelTree(root: string): Map<string, KernelRow> {
  const m = new Map<string, KernelRow>()
  for (const f of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const full = join(f.parentPath, f.name)
    const st = lstatSync(full, { bigint: true })
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other'
    m.set(full.slice(root.length + 1), {
      type, size: type === 'other' ? 0 : Number(st.size), ino: Number(st.ino), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), nlink: Number(st.nlink),
      mtime: nsIso(st.mtimeNs), ctime: nsIso(st.ctimeNs), atime: nsIso(st.atimeNs), btime: st.birthtimeNs > 0n ? nsIso(st.birthtimeNs) : undefined,
      target: type === 'symlink' ? readlinkSync(full, 'utf8') : undefined,
    })
  }
  return m
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path).on('data', (b) => h.update(b)).on('end', () => resolve(h.digest('hex'))).on('error', reject)
  })
}

/** `fsxfsinfo -H`: the hierarchy as libyal's independent reader sees it (paths without the leading slash). */
async function fsxfsHierarchy(img: string): Promise<string[]> {
  const { stdout } = await run('fsxfsinfo', ['-H', img], { maxBuffer: 1 << 26 })
  const lines = stdout.split('\n')
  const start = lines.indexOf('File system hierarchy:')
  assert.ok(start >= 0, 'fsxfsinfo printed a hierarchy')
  return lines.slice(start + 1).filter((l) => l.startsWith('/') && l !== '/').map((l) => l.slice(1)).sort()
}

/** xfs_db's word on one inode's core fields. */
async function xfsDbCore(img: string, path: string, fields: string[]): Promise<Record<string, string>> {
  const { stdout } = await run('xfs_db', ['-r', '-c', `path ${path}`, '-c', `p ${fields.join(' ')}`, img])
  return Object.fromEntries([...stdout.matchAll(/^(\S+) = (.*)$/gm)].map((m) => [m[1], m[2]]))
}

/** Listing (path, type, size, inode, mode, owner, ns times, link target), link counts and every file's bytes identical to the kernel's. */
async function compareWithKernel(vol: XfsVolume, mountpoint: string): Promise<Map<string, FsEntry>> {
  const mine = await ours(vol)
  const kernel = kernelTree(mountpoint)
  const row = (p: string, k: KernelRow) => JSON.stringify([p, k.type, k.size, k.ino, k.mode, k.uid, k.gid, k.mtime, k.ctime, k.atime, k.btime, k.target])
  const a: string[] = [], b: string[] = []
  for (const [p, e] of mine) a.push(row(p, { type: e.type, size: e.size, ino: e.inode, mode: e.mode!, uid: e.uid!, gid: e.gid!, nlink: 0, mtime: e.mtime, ctime: e.ctime, atime: e.atime, btime: e.btime, target: e.linkTarget }))
  for (const [p, k] of kernel) b.push(row(p, k))
  const setB = new Set(b), setA = new Set(a)
  assert.deepEqual({ onlyOurs: a.filter((x) => !setB.has(x)).slice(0, 10), onlyKernel: b.filter((x) => !setA.has(x)).slice(0, 10) }, { onlyOurs: [], onlyKernel: [] })
  assert.equal(mine.size, kernel.size)
  const files = [...mine].filter(([, e]) => e.type === 'file')
  await pool(files, 2, async ([p, e]) => {
    assert.equal((await vol.inodeInfo(e.ref)).nlink, kernel.get(p)!.nlink, `link count of ${p}`)
    if (e.size === 0) return
    assert.equal(await sha(vol.openStream(e.ref)), await hashFile(join(mountpoint, p)), `content of ${p}`)
  })
  return mine
}

test('xfs v5: listing, types, sizes, inodes, modes, owners, ns times, links and every file\'s bytes identical to the kernel\'s read-only mount', async () => {
  const img = join(dir, 'xfs.img')
  const { r, vol } = await open(img)
  try {
    const mine = await compareWithKernel(vol, mnt)
    assert.ok(mine.size > 6500, `${mine.size} entries`)
    // what the image was built to contain, so the comparison covers every on-disk format
    assert.equal(mine.get('hardlink-a.txt')!.inode, mine.get('sub/hardlink-c.txt')!.inode)
    assert.equal(mine.get('short-symlink')!.linkTarget, 'size_1.bin')
    assert.ok(mine.get('big-clone.bin')!.attributes?.includes('reflink'), 'big-clone.bin shares extents with big.bin')
    assert.ok(mine.get('long-symlink')!.linkTarget!.length > 700)
    assert.equal(mine.get('size_1.bin')!.mtime, '2001-02-03T04:05:06.123456789Z')
    assert.equal(mine.get('size_335.bin')!.mtime, '2400-06-07T08:09:10.500000000Z')
    assert.equal(mine.get('size_336.bin')!.mtime, '1960-01-01T00:00:01Z')
    assert.deepEqual([mine.get('size_1.bin')!.uid, mine.get('size_1.bin')!.gid, mine.get('size_1.bin')!.mode! & 0o7777], [1234, 5678, 0o4751])
    assert.equal([...mine.keys()].filter((p) => p.startsWith('big-dir/')).length, 6001)
    assert.ok(mine.has('deep/' + Array.from({ length: 40 }, (_, i) => `level${i + 1}`).join('/') + '/bottom.txt'))
    assert.ok(mine.has('日本語 ディレクトリ/ファイル.txt') && mine.has('naïve café.txt') && mine.has('😀 emoji.bin'))
    const formats: [string, string, (n: number, size: number) => boolean][] = [
      ['/dir-short', 'local', () => true], ['/dir-block', 'extents', (_n, s) => s === 4096], ['/dir-leaf', 'extents', (n, s) => s > 4096 && n > 1],
      ['/big-dir', 'btree', () => true], ['/fragmented.bin', 'btree', (n) => n === 1500], ['/short-symlink', 'local', () => true], ['/long-symlink', 'extents', () => true],
    ]
    for (const [p, fmt, ok] of formats) {
      const db = await xfsDbCore(img, p, ['core.format', 'core.nextents', 'core.size'])
      assert.match(db['core.format'], new RegExp(`\\(${fmt}\\)`), `${p} per xfs_db`)
      const info = await vol.inodeInfo((await vol.lookup(p)).ref)
      assert.equal(info.format, fmt, p)
      assert.equal(info.extents, Number(db['core.nextents']), p)
      assert.ok(ok(info.extents, Number(db['core.size'])), `${p} has the intended shape`)
    }
    // extended attributes share the inode with these data forks (the fork boundary moved)
    for (const p of ['/dir-short', '/fragmented.bin', '/short-symlink', '/big-dir']) assert.notEqual((await xfsDbCore(img, p, ['core.forkoff']))['core.forkoff'], '0', `${p} has an attribute fork`)
  } finally { r.close() }
})

test('xfs with 1 KiB blocks and 8 KiB directory blocks (multi-block directory blocks and symlink buffers): identical to the kernel\'s mount', async () => {
  const img = join(dir, 'geometry.img')
  const { r, vol } = await open(img)
  try {
    const mine = await compareWithKernel(vol, mntGeometry)
    assert.equal(mine.get('longest-symlink')!.linkTarget, 'z'.repeat(1000))
    assert.equal([...mine.keys()].filter((p) => p.startsWith('many/')).length, 1500)
    const s = await vol.state()
    assert.deepEqual([s.blockSize, s.dirBlockSize, s.clean, s.features.includes('nrext64')], [1024, 8192, true, true])
    assert.equal((await vol.inodeInfo((await vol.lookup('fragmented.bin')).ref)).format, 'btree')
    const { stdout } = await run('xfs_db', ['-r', '-c', 'path /longest-symlink', '-c', 'bmap', img])
    assert.match(stdout, /count 2 flag 0/, 'the 1000-byte target spans two blocks of one extent')
    assert.deepEqual(await vol.read((await vol.lookup('prealloc.bin')).ref, 3070, 4), Buffer.from([0x61, 0x61, 0, 0]))
  } finally { r.close() }
})

test('xfs: hierarchy identical to libyal fsxfsinfo; inode cores identical to xfs_db', async () => {
  const img = join(dir, 'xfs.img')
  const { r, vol } = await open(img)
  try {
    const mine = await ours(vol)
    assert.deepEqual([...mine.keys()].sort(), await fsxfsHierarchy(img))
    // xfs_db on a sample of inodes (one process per inode is slow: everything outside big-dir)
    const sample = [...mine].filter(([p]) => !p.startsWith('big-dir/') && !p.startsWith('dir-leaf/')).slice(0, 120)
    const args = ['-r']
    for (const [, e] of sample) args.push('-c', `inode ${e.inode}`, '-c', 'p core.mode core.uid core.gid core.size core.nlinkv2 v3.inumber')
    const { stdout } = await run('xfs_db', [...args, img], { maxBuffer: 1 << 24 })
    const blocks = stdout.split(/^core\.mode = /m).slice(1)
    assert.equal(blocks.length, sample.length)
    for (let i = 0; i < sample.length; i++) {
      const [p, e] = sample[i]
      const f = Object.fromEntries([...('core.mode = ' + blocks[i]).matchAll(/^(\S+) = (\S+)/gm)].map((m) => [m[1], m[2]]))
      assert.deepEqual([parseInt(f['core.mode'], 8), Number(f['core.uid']), Number(f['core.gid']), Number(f['core.size']), Number(f['core.nlinkv2']), Number(f['v3.inumber'])],
        [e.mode, e.uid, e.gid, e.type === 'other' ? 0 : e.size, (await vol.inodeInfo(e.ref)).nlink, e.inode], p)
    }
  } finally { r.close() }
})

test('xfs: unwritten (preallocated) extents read as zeros, holes as zeros, lookups through every directory format', async () => {
  const img = join(dir, 'xfs.img')
  const { r, vol } = await open(img)
  try {
    const { stdout } = await run('xfs_db', ['-r', '-c', 'path /prealloc.bin', '-c', 'bmap', img])
    assert.match(stdout, /flag 1/, 'prealloc.bin really has unwritten extents')
    const pre = await vol.lookup('prealloc.bin')
    assert.equal(pre.size, 2162688)
    assert.deepEqual(await vol.read(pre.ref, 0, 65536), Buffer.alloc(65536, 0x61))
    assert.deepEqual(await vol.read(pre.ref, 65536, 4096), Buffer.alloc(4096))
    assert.deepEqual(await vol.read(pre.ref, 512 * 1024 - 2, 4100), Buffer.concat([Buffer.alloc(2), Buffer.alloc(4096, 0x62), Buffer.alloc(2)]))
    assert.deepEqual(await vol.read(pre.ref, 2162688 - 10, 100), Buffer.alloc(10))
    const keep = await vol.lookup('prealloc-keep.bin')
    assert.equal((await vol.read(keep.ref, 0, 1 << 20)).length, 8192)
    const sparse = await vol.lookup('/sparse.bin')
    assert.deepEqual(await vol.read(sparse.ref, 0, 5), Buffer.from('start'))
    assert.deepEqual(await vol.read(sparse.ref, 83886077, 100), Buffer.from('end'))
    assert.deepEqual(await vol.read(sparse.ref, 1000, 4096), Buffer.alloc(4096))
    const frag = await vol.lookup('fragmented.bin')
    const want = readFileSync(join(mnt, 'fragmented.bin'))
    assert.deepEqual(await vol.read(frag.ref, 4000, 10000), want.subarray(4000, 14000))
    assert.deepEqual(await vol.read(frag.ref, 1499 * 8192 - 5, 8192), want.subarray(1499 * 8192 - 5))
    assert.equal((await vol.lookup('big-dir/entry-00097-with-a-long-name-to-fill-directory-blocks')).size, 2)
    assert.equal((await vol.lookup('big-dir/entry-05917-with-a-long-name-to-fill-directory-blocks')).size, 4)
    assert.equal((await vol.lookup('dir-leaf/a-somewhat-longer-file-name-399')).size, 0)
    assert.equal((await vol.lookup('dir-block/entry-60')).type, 'file')
    assert.equal((await vol.lookup('dir-short/s2')).size, 2)
    assert.equal((await vol.lookup('sub/../日本語 ディレクトリ/ファイル.txt')).size, 6)
    assert.equal((await vol.lookup('a-fifo')).type, 'other')
    await assert.rejects(vol.lookup('big-dir/nope'), (e: FsError) => e.code === 'ENOENT')
    await assert.rejects(vol.lookup('size_1.bin/x'), (e: FsError) => e.code === 'ENOTDIR')
    await assert.rejects(vol.list((await vol.lookup('size_1.bin')).ref), (e: FsError) => e.code === 'ENOTDIR')
    await assert.rejects(vol.read((await vol.lookup('sub')).ref, 0, 1), (e: FsError) => e.code === 'ENOTSUP')
    await assert.rejects(vol.stat('not-a-ref'), (e: FsError) => e.code === 'ENOENT')
    assert.deepEqual(await vol.read((await vol.lookup('long-symlink')).ref, 0, 5), Buffer.from('xxxxx'))
  } finally { r.close() }
})

test('xfs lookup goes through the hash index (block, leaf, node/B+tree directories; hash identical to xfs_db) and finds the entries listed', async () => {
  const names = ['abc', 'a', 'ab', 'abcd', 'entry-00097-with-a-long-name-to-fill-directory-blocks', 'ファイル.txt', '😀emoji.bin', 'naïve-café.txt']
  const { stdout } = await run('xfs_db', ['-r', ...names.flatMap((n) => ['-c', `hash ${n}`]), join(dir, 'small.img')])
  assert.deepEqual(stdout.trim().split('\n').map(Number), names.map((n) => daHash(Buffer.from(n))))
  for (const [img, dirs] of [['xfs.img', ['big-dir', 'dir-leaf', 'dir-block', 'dir-short', '']], ['geometry.img', ['many', 'few']], ['v4.img', ['many', 'dir']]] as const) {
    const { r, vol } = await open(join(dir, img))
    try {
      for (const d of dirs) {
        const listing = await vol.list(d ? (await vol.lookup(d)).ref : (await vol.root()).ref)
        for (const e of listing.filter((_, i) => i % 3 === 0)) assert.equal((await vol.lookup(`${d}/${e.name}`)).inode, e.inode, `${img}: ${d}/${e.name}`)
        await assert.rejects(vol.lookup(`${d}/no-such-name`), (x: FsError) => x.code === 'ENOENT')
      }
    } finally { r.close() }
  }
  // one name in the 6000-entry B+tree directory costs a handful of block reads, not the whole directory
  const r = fileReader(join(dir, 'xfs.img'))
  try {
    const vol = await XfsVolume.open(r)
    await vol.lookup('big-dir')
    const before = r.reads.length
    assert.equal((await vol.lookup('big-dir/entry-04321-with-a-long-name-to-fill-directory-blocks')).size, 0)
    assert.ok(r.reads.length - before < 12, `${r.reads.length - before} reads`)
  } finally { r.close() }
})

/** `xfs_logprint -t` prints the log state the kernel's recovery code would find. */
async function logprintState(img: string): Promise<string> {
  const { stdout } = await run('xfs_logprint', ['-t', img], { maxBuffer: 1 << 26 })
  return /state: <(\w+)>/.exec(stdout)![1]
}

test('xfs consistency: clean and dirty logs agree with xfs_logprint; NEEDSREPAIR is reported; registered behind the XFSB probe', async () => {
  for (const [name, clean] of [['xfs.img', true], ['small.img', true], ['v4.img', true], ['wrapped-clean.img', true], ['dirty.img', false], ['wrapped-dirty.img', false]] as const) {
    const img = join(dir, name)
    assert.equal(await logprintState(img), clean ? 'CLEAN' : 'DIRTY', `${name} per xfs_logprint`)
    const r = fileReader(img)
    try {
      assert.equal(detectFileSystem(await r.readAt(0, 65536)), 'xfs')
      const fs = (await openFileSystem(r))!
      assert.equal(fs.type, 'xfs')
      const c = await fs.consistency()
      assert.equal(c.clean, clean, `${name}: ${c.summary}`)
      assert.equal(c.details.log, clean ? 'clean' : 'dirty', name)
      if (!clean) {
        assert.match(c.summary, /log has unreplayed transactions/)
        // the log is not replayed: what we list is what lies on disk, as xfs_db sees it without recovery
        const db = (await run('xfs_db', ['-r', '-c', 'ls /', img])).stdout.split('\n').map((l) => /^\d+\s+\d+\s+\S+\s+\S+\s+\d+ (.*) \(good\)$/.exec(l)?.[1]).filter((n) => n && n !== '.' && n !== '..')
        assert.deepEqual((await fs.list((await fs.root()).ref)).map((e) => e.name).sort(), db.sort(), `${name}: root as xfs_db lists it`)
      }
      if (name === 'xfs.img') { assert.equal(await fs.label(), 'stillpoint'); assert.equal(c.summary, 'XFS: clean') }
      if (name.startsWith('wrapped')) { // the log really went round: blocks of cycle 2 before the head
        const { stdout } = await run('xfs_logprint', ['-d', img], { maxBuffer: 1 << 26 })
        assert.match(stdout, /HEADER Cycle 2 /, `${name}: log in its second cycle`)
      }
    } finally { r.close() }
  }
  const img = join(dir, 'needsrepair.img')
  copyFileSync(join(dir, 'small.img'), img)
  const inc = Number((await run('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p features_incompat', img])).stdout.split('=')[1])
  await run('xfs_db', ['-x', '-c', 'sb 0', '-c', `write features_incompat ${inc | 0x10}`, img])
  const r = fileReader(img)
  try {
    const c = await (await openFileSystem(r))!.consistency()
    assert.equal(c.clean, false); assert.equal(c.details.needsRepair, true); assert.match(c.summary, /needs xfs_repair/)
  } finally { r.close() }
})

test('xfs v4 (no CRCs, no ftype in directory entries, written by mkfs.xfs -p): listing and bytes identical to the source tree and to fsxfsinfo', async () => {
  const img = join(dir, 'v4.img')
  const src = join(dir, 'v4-tree')
  const { r, vol } = await open(img)
  try {
    assert.equal((await vol.state()).version, 4)
    assert.equal(vol.hasFtype, false)
    const mine = await ours(vol)
    assert.deepEqual([...mine.keys()].sort(), await fsxfsHierarchy(img))
    const want = new Map<string, string>()
    for (const f of readdirSync(src, { recursive: true, withFileTypes: true })) want.set(join(f.parentPath, f.name).slice(src.length + 1), f.isSymbolicLink() ? 'symlink' : f.isDirectory() ? 'dir' : 'file')
    assert.deepEqual(new Map([...mine].map(([p, e]) => [p, e.type])), want)
    for (const [p, e] of mine) {
      if (e.type === 'file') assert.equal(await sha(vol.openStream(e.ref)), createHash('sha256').update(readFileSync(join(src, p))).digest('hex'), p)
      if (e.type === 'symlink') assert.equal(e.linkTarget, readlinkSync(join(src, p), 'utf8'))
    }
    assert.equal(mine.get('many')!.size > 4096, true, 'many/ is a multi-block directory')
  } finally { r.close() }
})

test('xfs: a damaged inode checksum is ECORRUPT (as for xfs_db); a directory linked into its own subtree ends the walk with ELOOP', async () => {
  const bad = join(dir, 'badcrc.img')
  copyFileSync(join(dir, 'small.img'), bad)
  await run('xfs_db', ['-x', '-c', 'path /a/hello.txt', '-c', 'write -c core.uid 99', bad])
  const db = await run('xfs_db', ['-r', '-c', 'path /a/hello.txt', '-c', 'p core.uid', bad]).catch((e) => e)
  assert.match(String(db.stderr) + String(db.stdout), /CRC error/)
  let { r, vol } = await open(bad)
  try {
    await assert.rejects(vol.lookup('a/hello.txt'), (e: FsError) => e.code === 'ECORRUPT' && /checksum/.test(e.message))
    assert.equal((await vol.lookup('a/b/data.bin')).size, 20000)
  } finally { r.close() }
  const loop = join(dir, 'loop.img')
  copyFileSync(join(dir, 'small.img'), loop)
  const a = (await xfsDbCore(loop, '/a', ['v3.inumber']))['v3.inumber']
  await run('xfs_db', ['-x', '-c', 'path /a', '-c', `write u3.sfdir3.list[0].inumber.i4 ${a}`, loop]);
  ({ r, vol } = await open(loop))
  try {
    await assert.rejects((async () => { for await (const _ of vol.walk()) { /* drain */ } })(), (e: FsError) => e.code === 'ELOOP')
    assert.equal((await vol.lookup('a/b/b/b/hello.txt')).size, 6) // lookups stay bounded by the path
  } finally { r.close() }
})

// ---- fuzz -------------------------------------------------------------------------------

/** A reader over an image with some bytes replaced (the image itself stays untouched). */
function overlay(base: ReadAt, patch: Map<number, number>): ReadAt {
  return {
    size: base.size,
    async readAt(offset, length) {
      const b = Buffer.from(await base.readAt(offset, length))
      for (const [at, v] of patch) if (at >= offset && at < offset + b.length) b[at - offset] = v
      return b
    },
  }
}

/** Every call on a mutated image ends with data or an FsError, within a time bound. */
async function exercise(vol: XfsVolume): Promise<boolean> {
  const guard = async (p: Promise<unknown>) => { try { await p; return true } catch (e) { if (!(e instanceof FsError)) throw e; return false } }
  let n = 0
  const walked = await guard((async () => {
    for await (const { entry } of vol.walk(undefined, 64)) {
      if (++n > 5000) break
      if (entry.type === 'file' || entry.type === 'symlink') {
        await guard(vol.read(entry.ref, 0, 1 << 20))
        await guard(vol.read(entry.ref, entry.size > 0 ? entry.size - 1 : 0, 10))
        await guard((async () => { let total = 0; for await (const b of vol.openStream(entry.ref)) { total += b.length; if (total > 4 << 20) break } })())
      }
    }
  })())
  for (const p of ['/a/b/data.bin', '/l', '/leaf/a-longer-name-for-a-leaf-directory-250', '/blk/e7', '/long-link']) await guard(vol.lookup(p))
  await guard(vol.state())
  for (const ino of [1, 128, 131, 132, 133, 1 << 20, 2 ** 40]) { await guard(vol.list(ino)); await guard(vol.read(ino, 0, 4096)); await guard(vol.stat(ino)) }
  return walked
}

/** The checksummed structures in a metadata read ([start, length, CRC offset]), so a mutation can be re-stamped and reach the parser. */
function checksummed(b: Buffer, offset: number): [number, number, number][] {
  if (b.length < 512) return []
  const m = b.readUInt32BE(0)
  if (offset === 0 && m === 0x58465342) return [[0, 512, 224]] // superblock: one sector
  if (b.readUInt16BE(0) === 0x494e) { // an inode block: one CRC per inode
    const out: [number, number, number][] = []
    for (let o = 0; o + 512 <= b.length; o += 512) if (b.readUInt16BE(o) === 0x494e) out.push([o, 512, 100])
    return out
  }
  if (m === 0x58444233 || m === 0x58444433) return [[0, b.length, 4]]
  if (m === 0x424d4133) return [[0, b.length, 64]]
  if (m === 0x58534c4d) return [[0, b.length, 12]]
  if ([0x3df1, 0x3dff, 0x3ebe].includes(b.readUInt16BE(8))) return [[0, b.length, 12]] // directory leaf / node blocks
  return []
}

test('fuzz: 300 mutated copies of a v5 image (superblock, inodes, directory data and hash blocks, bmap, symlink and log blocks; half with re-stamped CRCs) end with data or FsError, quickly', async () => {
  const img = join(dir, 'small.img')
  const base = fileReader(img)
  try {
    const probe = fileReader(img)
    await exercise(await XfsVolume.open(probe))
    await (await XfsVolume.open(probe)).state()
    probe.close()
    const hot = [...new Map(probe.reads.filter(([, l]) => l <= 4096).map(([o, l]) => [`${o}:${l}`, [o, l] as [number, number]])).values()]
    assert.ok(hot.length > 20, `${hot.length} metadata reads`)
    const rnd = prng(20261202)
    let opened = 0, walked = 0
    for (let i = 0; i < 300; i++) {
      const patch = new Map<number, number>()
      const k = 1 + Math.floor(rnd() * 8)
      const touched: [number, number][] = []
      for (let j = 0; j < k; j++) {
        const [o, l] = hot[Math.floor(rnd() * hot.length)]
        // mostly the headers of 512-byte structures (inode cores, block headers), sometimes anywhere
        const at = o + (l >= 512 && rnd() < 0.6 ? 512 * Math.floor(rnd() * (l / 512)) + Math.floor(rnd() * 256) : Math.floor(rnd() * l))
        patch.set(at, rnd() < 0.3 ? 0xff : rnd() < 0.5 ? 0 : Math.floor(rnd() * 256))
        touched.push([o, l])
      }
      if (rnd() < 0.5) {
        for (const [o, l] of touched) {
          const b = await overlay(base, patch).readAt(o, l)
          for (const [from, len, at] of checksummed(b, o)) {
            const region = b.subarray(from, from + len)
            xfsCrcStamp(region, at)
            assert.ok(xfsCrcOk(region, at))
            for (let x = 0; x < 4; x++) patch.set(o + from + at + x, region[at + x])
          }
        }
      }
      const r = overlay(base, patch)
      const t0 = performance.now()
      try {
        let vol: XfsVolume | undefined
        try { vol = await XfsVolume.open(r); opened++ } catch (e) { if (!(e instanceof FsError)) throw e }
        if (vol && await exercise(vol)) walked++
      } catch (e) {
        assert.fail(`mutation ${i}: ${(e as Error).stack}`)
      }
      const ms = performance.now() - t0
      assert.ok(ms < 3000, `mutation ${i} took ${ms} ms`)
    }
    // the mutations reach past open(): most images open, a good share still walk fully
    assert.ok(opened > 100 && walked > 40, `${opened} opened, ${walked} walked`)
  } finally { base.close() }
})
