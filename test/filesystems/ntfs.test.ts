/**
 * NTFS reader (issue 11) against real peers: images made by mkntfs + ntfs-3g (FUSE), listings
 * and bytes compared with sleuthkit (fls/icat), the Debian forensics-samples-ntfs image, and a
 * seeded fuzz run over mutated metadata.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { availableParallelism } from 'node:os'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, existsSync, openSync, readSync, fstatSync, closeSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NtfsVolume, type NtfsEntry } from '../../backend/filesystems/ntfs/index.ts'
import { filetime } from '../../backend/filesystems/ntfs/volume.ts'
import { filetimeMs } from '../../backend/filesystems/ntfs/mft-table.ts'
import { FsError, type ReadAt } from '../../backend/filesystems/types.ts'

const here = dirname(fileURLToPath(import.meta.url))
const script = join(here, 'images', 'ntfs.sh')
const SAMPLE = '/usr/share/forensics-samples/fs.ntfs.xz'

/** A ReadAt over a file region (a partition inside a disk image), counting what it reads. */
function fileReader(path: string, base = 0): ReadAt & { bytes: number; calls: number; close(): void } {
  const fd = openSync(path, 'r')
  const size = fstatSync(fd).size - base
  const r = {
    size, bytes: 0, calls: 0,
    async readAt(offset: number, length: number): Promise<Buffer> {
      r.bytes += length; r.calls++
      const b = Buffer.alloc(length)
      const n = readSync(fd, b, 0, length, base + offset)
      return b.subarray(0, n)
    },
    close() { closeSync(fd) },
  }
  return r
}

interface Item { kind: 'd' | 'r'; size?: number; addr?: string; mtime?: string; crtime?: string }

/** `fls -r -p -l` → path (stream as path:name) → item; allocated entries only. */
function flsListing(img: string, offsetSectors: number): Map<string, Item> {
  const out = execFileSync('fls', ['-o', String(offsetSectors), '-r', '-p', '-l', img], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 64 << 20 }).toString('utf8')
  const m = new Map<string, Item>()
  for (const line of out.split('\n')) {
    if (!line) continue
    if (/^\S\/\S \* /.test(line) || line.startsWith('V/V')) continue // deleted / orphan / virtual
    const g = /^(.)\/(.) ()(\d+)-(\d+)-(\d+):\t(.*)$/.exec(line)
    if (!g) assert.fail(`unparsed fls line ${line}`)
    const cols = g[7]!.split('\t')
    const path = cols[0]!
    if (path.startsWith('$OrphanFiles') || path.includes('/.:')) continue
    const type = Number(g[5])
    const base = path.slice(path.lastIndexOf('/') + 1)
    const isStream = base.includes(':')
    if (type === 144) { if (!isStream && g[2] === 'd') m.set(path, { kind: 'd' }); continue }
    if (type !== 128) continue
    m.set(path, {
      kind: isStream ? 'r' : (g[2] as 'd' | 'r'), size: Number(cols[5]), addr: `${g[4]}-${g[5]}-${g[6]}`,
      mtime: cols[1], crtime: cols[4],
    })
  }
  return m
}

function flsTime(iso: string | undefined): string | undefined {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} (UTC)` : undefined
}

async function sha(vol: NtfsVolume, ref: string, stream?: string): Promise<string> {
  const h = createHash('sha256')
  for await (const b of vol.openStream(ref, stream)) h.update(b)
  return h.digest('hex')
}

/** Our listing in the same shape as flsListing, plus the refs to read streams back. */
async function ourListing(vol: NtfsVolume): Promise<{ items: Map<string, Item>; refs: Map<string, { ref: string; stream?: string }>; entries: Map<string, NtfsEntry> }> {
  const items = new Map<string, Item>(), refs = new Map<string, { ref: string; stream?: string }>(), entries = new Map<string, NtfsEntry>()
  for await (const { path, entry } of vol.walk()) {
    const p = path.slice(1)
    entries.set(p, entry)
    assert.ok(!entry.error, `${p}: ${entry.error}`)
    if (entry.isDirectory) items.set(p, { kind: 'd' })
    else {
      if (entry.hasData) {
        assert.equal(await vol.streamSize(entry.ref), entry.size)
        items.set(p, { kind: 'r', size: entry.size, mtime: flsTime(entry.mtime), crtime: flsTime(entry.btime) })
        refs.set(p, { ref: entry.ref })
      }
    }
    for (const s of entry.streams ?? []) {
      items.set(`${p}:${s.name}`, { kind: 'r', size: s.size })
      refs.set(`${p}:${s.name}`, { ref: entry.ref, stream: s.name })
    }
  }
  return { items, refs, entries }
}

/** Full comparison with sleuthkit: paths, kinds, sizes, times, and every stream's SHA-256. */
async function compareWithSleuthkit(img: string, offsetSectors: number): Promise<{ files: number; bytes: number }> {
  const reader = fileReader(img, offsetSectors * 512)
  try {
    const vol = await NtfsVolume.open(reader)
    const ours = await ourListing(vol)
    const theirs = flsListing(img, offsetSectors)
    assert.deepEqual([...ours.items.keys()].sort(), [...theirs.keys()].sort(), 'same paths as fls')
    // icat costs ~0.2 s per call whatever the file (it loads the volume), so run them in parallel.
    const run = promisify(execFile)
    const addrs = [...new Set([...theirs].filter(([p, t]) => t.kind === 'r' && p !== '$BadClus:$Bad').map(([, t]) => t.addr!))]
    const icat = new Map<string, string>()
    let next = 0
    await Promise.all(Array.from({ length: Math.min(16, availableParallelism()) }, async () => {
      while (next < addrs.length) {
        const a = addrs[next++]!
        const { stdout } = await run('icat', ['-o', String(offsetSectors), img, a], { encoding: 'buffer', maxBuffer: 256 << 20 })
        icat.set(a, createHash('sha256').update(stdout).digest('hex'))
      }
    }))
    let files = 0, bytes = 0
    for (const [path, t] of theirs) {
      const o = ours.items.get(path)!
      assert.equal(o.kind, t.kind, `${path}: kind`)
      if (t.kind === 'd') continue
      assert.equal(o.size, t.size, `${path}: size`)
      // TSK shows odd times for some metafiles ($MFT in 2076), so times are compared for user files only.
      if (o.mtime !== undefined && !path.startsWith('$')) { assert.equal(o.mtime, t.mtime, `${path}: mtime`); assert.equal(o.crtime, t.crtime, `${path}: crtime`) }
      if (path === '$BadClus:$Bad') continue // volume-sized sparse stream: size checked, bytes not worth hashing
      const r = ours.refs.get(path)!
      assert.equal(await sha(vol, r.ref, r.stream), icat.get(t.addr!), `${path}: bytes differ from icat ${t.addr}`)
      files++; bytes += t.size!
    }
    return { files, bytes }
  } finally { reader.close() }
}

/** scan()'s entries as a catalog keeps them, in its order, next to scanTable()'s columns (or each one's error code). */
async function scanAndTable(vol: NtfsVolume): Promise<{ scanned: unknown; tabled: unknown }> {
  const code = (t: string) => (t === 'file' ? 0 : t === 'dir' ? 1 : t === 'symlink' ? 2 : 3)
  const time = (ms: number) => (Number.isFinite(ms) ? ms : null)
  let scanned: unknown, tabled: unknown
  try {
    const rows: unknown[] = []
    for await (const { path, entry } of vol.scan()) rows.push([path, code(entry.type), entry.size, time(entry.mtime ? Date.parse(entry.mtime) : NaN), entry.inode, entry.ref])
    scanned = rows
  } catch (e) { if (!(e instanceof FsError)) throw e; scanned = e.code }
  try {
    const t = await vol.scanTable()
    tabled = t.paths.map((p, i) => [p, t.types[i], t.sizes[i], time(t.mtimes[i]!), t.inodes[i], `${t.inodes[i]}-${t.seqs[i]}`])
  } catch (e) { if (!(e instanceof FsError)) throw e; tabled = e.code }
  return { scanned, tabled }
}

/** Every entry walk() and scan() yield, by path (scan's order differs). */
async function walkAndScan(img: string, sector: number): Promise<{ walked: Map<string, string>; scanned: Map<string, string> }> {
  const reader = fileReader(img, sector * 512)
  try {
    const vol = await NtfsVolume.open(reader)
    const walked = new Map<string, string>(), scanned = new Map<string, string>()
    for await (const { path, entry } of vol.walk()) walked.set(path, JSON.stringify(entry))
    for await (const { path, entry } of vol.scan()) {
      assert.ok(!scanned.has(path), `scan yields ${path} twice`)
      scanned.set(path, JSON.stringify(entry))
    }
    return { walked: new Map([...walked].sort()), scanned: new Map([...scanned].sort()) }
  } finally { reader.close() }
}

let dir = ''
let full = ''
let small = ''

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntfs-test-'))
  full = join(dir, 'full.img'); small = join(dir, 'small.img')
  execFileSync('bash', [script, full, 'full'], { stdio: ['ignore', 'ignore', 'inherit'] })
  execFileSync('bash', [script, small, 'small'], { stdio: ['ignore', 'ignore', 'inherit'] })
})
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

describe('NTFS reader vs sleuthkit on an mkntfs + ntfs-3g image', () => {
  it('lists the same tree (paths, kinds, sizes, times) and reads the same bytes as fls/icat', async () => {
    const r = await compareWithSleuthkit(full, 0)
    assert.ok(r.files > 150, `compared ${r.files} streams`)
    assert.ok(r.bytes > 8 << 20, `compared ${r.bytes} bytes`)
  })

  it('decodes names, links, streams, reparse points, compression, sparseness and volume state', async () => {
    const reader = fileReader(full)
    try {
      const vol = await NtfsVolume.open(reader)
      const root = await vol.root()
      assert.equal(root.type, 'dir')
      assert.equal(root.ref, '5-5')
      const uni = new Set((await vol.list((await vol.lookup('/unicode')).ref)).map(e => e.name))
      for (const n of ['日本語のファイル.txt', '中文目录', 'emoji 😀🎉.bin', 'cafe\u0301 combining.txt', 'naïve ÅÄÖ.txt', 'x'.repeat(255), 'link-from-elsewhere.txt']) assert.ok(uni.has(n), n)
      assert.equal((await vol.lookup('unicode/中文目录/한국어.txt')).size, 'Korean inside CJK dir\n'.length)
      // Case-insensitive fallback, backslashes, errors.
      assert.equal((await vol.lookup('\\LINKS\\Original.TXT')).name, 'original.txt')
      await assert.rejects(vol.lookup('/links/nope'), (e: unknown) => e instanceof FsError && e.code === 'ENOENT')
      await assert.rejects(vol.lookup('/tiny.txt/x'), (e: unknown) => e instanceof FsError && e.code === 'ENOTDIR')
      await assert.rejects(vol.read('5', undefined, 0, 10), (e: unknown) => e instanceof FsError && e.code === 'ENOTSUP')
      // Hard links: same ref under several names; the many-link file needs an $ATTRIBUTE_LIST.
      const orig = await vol.lookup('/links/original.txt')
      assert.equal((await vol.lookup('/links/second name.txt')).ref, orig.ref)
      assert.equal((await vol.lookup('/unicode/link-from-elsewhere.txt')).ref, orig.ref)
      assert.equal(orig.linkCount, 3)
      const popular = (await vol.list((await vol.lookup('/links')).ref)).filter(e => e.name.startsWith('popular'))
      assert.equal(popular.length, 31)
      assert.equal(new Set(popular.map(e => e.ref)).size, 1)
      assert.equal((await vol.read(popular[0]!.ref, undefined, 0, 100)).toString(), 'many names\n'.repeat(100).slice(0, 100))
      // Alternate data streams.
      const ads = await vol.lookup('/ads.txt')
      assert.deepEqual(ads.streams!.map(s => [s.name, s.size]).sort(), [['Zone.Identifier', 26], ['big stream', 20000]])
      assert.equal((await vol.read(ads.ref, 'Zone.Identifier', 0, 100)).toString(), '[ZoneTransfer]\r\nZoneId=3\r\n')
      await assert.rejects(vol.read(ads.ref, 'missing', 0, 1), (e: unknown) => e instanceof FsError && e.code === 'ENOENT')
      assert.deepEqual((await vol.lookup('/dir-with-ads')).streams, [{ name: 'onadir', size: 21 }])
      // Reparse points.
      const abs = await vol.lookup('/reparse/symlink-abs')
      assert.equal(abs.type, 'symlink'); assert.equal(abs.reparseKind, 'symlink'); assert.equal(abs.linkTarget, 'C:\\Windows\\notepad.exe')
      assert.equal((await vol.lookup('/reparse/symlink-rel')).linkTarget, '..\\ads.txt')
      const j = await vol.lookup('/reparse/junction')
      assert.equal(j.type, 'symlink'); assert.equal(j.reparseKind, 'junction'); assert.equal(j.linkTarget, 'C:\\Users\\Public'); assert.ok(j.isDirectory)
      const other = await vol.lookup('/reparse/other-tag')
      assert.equal(other.type, 'reparse'); assert.equal(other.reparseTag, 0x1234); assert.equal(other.linkTarget, undefined)
      assert.ok(other.attributes!.includes('reparse'))
      assert.equal((await vol.lookup('/reparse/interix-link')).type, 'file') // ntfs-3g's Interix symlink is a plain file to Windows
      // Compression and sparseness.
      const text = await vol.lookup('/compressed/text.txt')
      assert.ok(text.attributes!.includes('compressed'))
      assert.ok(text.allocatedSize < text.size / 2, `compressed: ${text.allocatedSize} allocated for ${text.size}`)
      const line = 'line 12345: the quick brown fox jumps over the lazy dog\n'
      const at = text.size > 0 ? (await vol.read(text.ref, undefined, 0, text.size)).indexOf(line) : -1
      assert.ok(at > 0)
      assert.equal((await vol.read(text.ref, undefined, at, line.length)).toString(), line) // unaligned read inside a unit
      const sparse = await vol.lookup('/sparse.bin')
      assert.ok(sparse.attributes!.includes('sparse'))
      assert.ok(sparse.allocatedSize < 1 << 20, `sparse allocated ${sparse.allocatedSize}`)
      assert.equal((await vol.read(sparse.ref, undefined, sparse.size - 5, 100)).toString(), 'tail!')
      assert.ok((await vol.read(sparse.ref, undefined, 500000, 4096)).every(b => b === 0))
      // Times and attributes.
      assert.match(text.mtime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/)
      assert.ok(text.btime && text.atime && text.ctime)
      // Volume state.
      const st = await vol.state()
      assert.equal(st.dirty, false)
      assert.equal(st.label, 'stillpoint-test')
      assert.equal(st.version, '3.1')
      assert.equal(st.logFile, 'empty') // ntfs-3g resets $LogFile on unmount
    } finally { reader.close() }
  })

  it('reads on demand: opening and listing the root touches a few KiB, not the volume or the MFT', async () => {
    const reader = fileReader(full)
    try {
      const vol = await NtfsVolume.open(reader)
      await vol.list('5')
      assert.ok(reader.bytes < 256 << 10, `read ${reader.bytes} bytes for open + list root`)
      const before = reader.bytes
      const big = await vol.lookup('/large.bin')
      const chunk = await vol.read(big.ref, undefined, 2_000_000, 10)
      assert.equal(chunk.length, 10)
      assert.ok(reader.bytes - before < 128 << 10, `lookup + 10-byte read cost ${reader.bytes - before} bytes`)
    } finally { reader.close() }
  })

  it('scan() yields exactly the entries walk() yields (paths, refs, sizes, times, links), reading $MFT in order', async () => {
    for (const img of [full, small]) {
      const { walked, scanned } = await walkAndScan(img, 0)
      assert.ok(walked.size > 100, `${walked.size} entries walked`)
      assert.deepEqual(scanned, walked, img)
    }
  })

  it('scanTable() gives what a catalog keeps of every scan() entry (path, type, size, time, record), in order, also through readInto', async () => {
    for (const img of [full, small]) {
      const reader = fileReader(img)
      try {
        const plain = await scanAndTable(await NtfsVolume.open(reader))
        assert.ok(Array.isArray(plain.tabled) && plain.tabled.length > 100, `${img}: ${JSON.stringify(plain.tabled).slice(0, 200)}`)
        assert.deepEqual(plain.tabled, plain.scanned, img)
        // A reader that reads into the caller's buffer (a restore point's disk image does): the same.
        const into: ReadAt = { size: reader.size, readAt: (o, n) => reader.readAt(o, n), async readInto(o, out) { const b = await reader.readAt(o, out.length); out.set(b); return b.length } }
        assert.deepEqual((await scanAndTable(await NtfsVolume.open(into))).tabled, plain.scanned, `${img} through readInto`)
      } finally { reader.close() }
    }
  })

  it('filetimeMs() is Date.parse of filetime() on 200,000 values (clustered, random, 1601, far future, zero)', () => {
    let seed = 7
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed }
    const b = Buffer.alloc(8)
    const check = (lo: number, hi: number) => {
      b.writeUInt32LE(lo >>> 0, 0); b.writeUInt32LE(hi >>> 0, 4)
      const s = filetime(b, 0)
      assert.equal(filetimeMs(b, 0, 8), s === undefined ? undefined : Date.parse(s), `${hi}:${lo} ${s}`)
    }
    for (let i = 0; i < 100_000; i++) check(rnd(), 0x01d0_0000 + (rnd() % 0x0010_0000)) // 2015..2030
    for (let i = 0; i < 100_000; i++) check(rnd(), rnd())
    for (const [lo, hi] of [[0, 0], [1, 0], [0, 2 ** 30 - 1], [0xffffffff, 2 ** 30 - 1], [0, 2 ** 30], [0, 0x7fffffff], [0xffffffff, 0xffffffff]]) check(lo!, hi!)
    assert.equal(filetimeMs(b, 4, 8), undefined, 'past the buffer')
  })

  it('reports a dirty $Volume and a dirty/clean $LogFile restart area', async () => {
    const img = join(dir, 'state.img')
    writeFileSync(img, readFileSync(small))
    const reader = fileReader(img)
    const vol = await NtfsVolume.open(reader)
    const volRec = await locateRecord(reader, vol, 3)
    const logRec = await locateLogFile(vol)
    reader.close()
    const buf = readFileSync(img)
    // $VOLUME_INFORMATION flags |= VOLUME_IS_DIRTY
    const vi = findAttr(buf, volRec, 0x70)
    buf.writeUInt16LE(buf.readUInt16LE(vi + 10) | 1, vi + 10)
    // A $LogFile restart page (RSTR, fixups) whose restart area has a client in use → dirty.
    writeRestartPage(buf, logRec, false)
    writeFileSync(img, buf)
    const r2 = fileReader(img)
    let st = await (await NtfsVolume.open(r2)).state()
    r2.close()
    assert.equal(st.dirty, true)
    assert.equal(st.logFile, 'dirty')
    writeRestartPage(buf, logRec, true)
    writeFileSync(img, buf)
    const r3 = fileReader(img)
    st = await (await NtfsVolume.open(r3)).state()
    r3.close()
    assert.equal(st.logFile, 'clean')
  })
})

describe('NTFS reader vs sleuthkit with other cluster sizes', () => {
  for (const cluster of [512, 8192]) {
    it(`${cluster}-byte clusters (index VCNs in ${cluster < 4096 ? 'clusters' : '512-byte units'})`, async () => {
      const img = join(dir, `c${cluster}.img`)
      execFileSync('bash', [script, img, 'small'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NTFS_CLUSTER: String(cluster) } })
      const reader = fileReader(img)
      const vol = await NtfsVolume.open(reader)
      reader.close()
      assert.equal(vol.clusterSize, cluster)
      const r = await compareWithSleuthkit(img, 0)
      assert.ok(r.files > 60, `compared ${r.files} streams`)
    })
  }
})

/** Byte offset of MFT record n in the image (records of the small image are in $MFT's first run). */
async function locateRecord(reader: ReadAt, vol: NtfsVolume, n: number): Promise<number> {
  const boot = await reader.readAt(0, 512)
  return Number(boot.readBigUInt64LE(48)) * vol.clusterSize + n * vol.recordSize
}
async function locateLogFile(vol: NtfsVolume): Promise<number> {
  const rec = await vol.record(2)
  const data = rec.attrs.find(a => a.type === 0x80 && a.name === '')!
  return data.runs[0]!.lcn * vol.clusterSize
}
function findAttr(buf: Buffer, rec: number, type: number): number {
  let off = rec + buf.readUInt16LE(rec + 20)
  while (buf.readUInt32LE(off) !== type) off += buf.readUInt32LE(off + 4)
  return off + buf.readUInt16LE(off + 20)
}
function writeRestartPage(buf: Buffer, at: number, clean: boolean): void {
  const page = Buffer.alloc(4096)
  page.write('RSTR', 0, 'latin1')
  page.writeUInt16LE(0x1e, 4); page.writeUInt16LE(9, 6) // USA at 0x1e, 8 sectors + 1
  page.writeUInt32LE(4096, 16); page.writeUInt32LE(4096, 20) // system / log page size
  page.writeUInt16LE(0x30, 24); page.writeInt16LE(1, 26); page.writeInt16LE(1, 28)
  page.writeBigUInt64LE(0x12345n, 0x30) // current LSN
  page.writeUInt16LE(1, 0x38) // log clients
  page.writeUInt16LE(0xffff, 0x3a) // free list
  page.writeUInt16LE(clean ? 0xffff : 0, 0x3c) // in-use list
  page.writeUInt16LE(0, 0x3e) // flags
  const usn = 7
  page.writeUInt16LE(usn, 0x1e)
  for (let i = 1; i <= 8; i++) { page.writeUInt16LE(page.readUInt16LE(i * 512 - 2), 0x1e + i * 2); page.writeUInt16LE(usn, i * 512 - 2) }
  page.copy(buf, at)
  buf.fill(0xff, at + 4096, at + 8192) // no second restart page
}

describe('NTFS reader vs sleuthkit on the Debian forensics-samples-ntfs image', () => {
  it('lists and reads fs.ntfs (MBR disk, NTFS at sector 2048) exactly like fls/icat', async (t) => {
    assert.ok(existsSync(SAMPLE), `${SAMPLE} missing: apt-get install forensics-samples-ntfs`)
    const img = join(dir, 'fs.ntfs')
    execFileSync('sh', ['-c', `xz -dc "${SAMPLE}" > "${img}"`])
    const r = await compareWithSleuthkit(img, 2048)
    assert.ok(r.files >= 25, `compared ${r.files} streams`)
    const { walked, scanned } = await walkAndScan(img, 2048)
    assert.deepEqual(scanned, walked, 'scan() = walk() on the sample')
    const reader = fileReader(img, 2048 * 512)
    try {
      const s = await scanAndTable(await NtfsVolume.open(reader))
      assert.deepEqual(s.tabled, s.scanned, 'scanTable() = scan() on the sample')
    } finally { reader.close() }
    t.diagnostic(`forensics sample: ${r.files} streams, ${r.bytes} bytes identical`)
  })
})

describe('NTFS reader fuzz', () => {
  it('300 seeded mutations of a small image: every call ends with data or an FsError, quickly', async (t) => {
    const base = readFileSync(small)
    // Trace which byte ranges a clean walk reads, to aim mutations at metadata.
    // (MFT records, index nodes, boot sector, $LogFile restart page: reads of 512..4096 bytes).
    const ranges: [number, number][] = []
    const trace: ReadAt = { size: base.length, async readAt(o, l) { if (l >= 512 && l <= 4096) ranges.push([o, l]); return Buffer.from(base.subarray(o, o + l)) } }
    const clean = await exercise(trace)
    assert.equal(clean.error, undefined, 'the unmutated image reads cleanly')
    assert.ok(ranges.length > 20)
    let seed = 0x5eed1
    const rnd = () => { seed = (seed + 0x6d2b79f5) | 0; let x = seed; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296 }
    const codes = new Map<string, number>()
    let ok = 0, slowest = 0
    for (let i = 0; i < 300; i++) {
      const patches = new Map<number, number>()
      const nmut = 1 + Math.floor(rnd() * 16)
      for (let k = 0; k < nmut; k++) {
        const [o, l] = ranges[Math.floor(rnd() * ranges.length)]!
        const pos = o + Math.floor(rnd() * l)
        const kind = rnd()
        const old = patches.get(pos) ?? base[pos]!
        patches.set(pos, kind < 0.4 ? Math.floor(rnd() * 256) : kind < 0.6 ? 0xff : kind < 0.8 ? 0 : old ^ (1 << Math.floor(rnd() * 8)))
      }
      let bytesRead = 0
      const reader: ReadAt = {
        size: base.length,
        async readAt(o, l) {
          bytesRead += l
          const b = Buffer.from(base.subarray(o, o + l))
          for (const [p, v] of patches) if (p >= o && p < o + l) b[p - o] = v
          return b
        },
      }
      const t0 = performance.now()
      const res = await exercise(reader)
      const ms = performance.now() - t0
      slowest = Math.max(slowest, ms)
      assert.ok(ms < 5000, `mutation ${i} took ${ms} ms`)
      assert.ok(bytesRead < 64 << 20, `mutation ${i} read ${bytesRead} bytes`)
      if (res.error) codes.set(res.error, (codes.get(res.error) ?? 0) + 1)
      else ok++
    }
    t.diagnostic(`fuzz: ${ok} clean, errors ${JSON.stringify(Object.fromEntries(codes))}, slowest ${slowest.toFixed(0)} ms`)
    assert.ok(ok > 0 && codes.size > 0, 'the mutations both break and spare the image')
  })
})

/** Opens, walks and reads a bounded prefix of every stream; returns the first FsError code (non-FsError throws). */
async function exercise(reader: ReadAt): Promise<{ error?: string }> {
  let first: string | undefined
  const note = (e: unknown) => {
    if (!(e instanceof FsError)) throw new Error(`non-FsError escaped: ${e instanceof Error ? e.stack : String(e)}`)
    assert.ok(['ECORRUPT', 'ELOOP', 'ERANGE', 'ENOTSUP', 'ENOENT', 'ENOTDIR', 'ELIMIT'].includes(e.code))
    first ??= e.code
    if (process.env.NTFS_FUZZ_DEBUG) console.error(e)
  }
  let vol: NtfsVolume
  try { vol = await NtfsVolume.open(reader) } catch (e) { note(e); return { error: first } }
  try { await vol.state() } catch (e) { note(e) }
  // The catalog's linear pass decides on damaged records exactly as scan() does.
  const s = await scanAndTable(vol)
  assert.deepEqual(s.tabled, s.scanned, 'scanTable() = scan() on a mutated image')
  try { await vol.lookup('/unicode/日本語のファイル.txt') } catch (e) { note(e) }
  let n = 0
  try {
    for await (const { entry } of vol.walk('5', 40)) {
      if (++n > 2000) break
      if (entry.isDirectory) continue
      for (const s of [undefined, ...(entry.streams ?? []).map(x => x.name)]) {
        if (s === undefined && !entry.hasData) continue // e.g. $Secure: named streams only
        try {
          let got = 0
          for await (const b of vol.openStream(entry.ref, s)) { got += b.length; if (got >= 64 << 10) break }
        } catch (e) { note(e) }
      }
    }
  } catch (e) { note(e) }
  return { error: first }
}
