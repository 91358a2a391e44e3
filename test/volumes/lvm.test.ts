/**
 * LVM2 logical volumes read from the PVs' own metadata, on PVs made by the real tools
 * (pvcreate/vgcreate/lvcreate on loop devices: two partitions of one disk and a whole second disk).
 * This kernel has no device-mapper, so LVs cannot be activated: LVM runs with activation disabled,
 * and the oracle for an LV's bytes is LVM's own extent map (`lvs` seg_pe_ranges, `pvs` pe_start):
 * a filesystem image is written through that map (dm-linear / dm-stripe placement) and the LV we
 * read must hash like the image and list like `fls` on it. Thin volumes are made by vgcfgrestore.
 * Needs: lvm2, util-linux (losetup), gdisk, e2fsprogs, dosfstools, mtools, sleuthkit.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openVolumes, type Volume } from '../../backend/volumes/volumes.ts'
import { lvmCrc } from '../../backend/volumes/lvm/ondisk.ts'
import { fileReader, flsListing, ourListing, readerSha, sh } from './helpers.ts'

const MiB = 1024 * 1024
const LVM_CONFIG = 'global{activation=0} backup{backup=0 archive=0}'
let dir = ''
const vg = `stp${process.pid}${randomBytes(3).toString('hex')}`
const loops: string[] = []
const img = (n: string) => join(dir, n)
let lvsReport: { lv_name: string; seg_start_pe: string; seg_size_pe: string; stripes: string; stripe_size: string; seg_pe_ranges: string; segtype: string }[] = []
let volumes: Volume[] = []

function lvm(cmd: string, args: string[]): string {
  return sh(cmd, ['--config', LVM_CONFIG, '--devices', loops.join(','), ...args])
}
function attach(image: string, offset = 0, size?: number): string {
  const dev = sh('losetup', ['-f', '--show', '-o', String(offset), ...(size ? ['--sizelimit', String(size)] : []), image]).trim()
  loops.push(dev)
  return dev
}
function detachAll(): void {
  try { if (loops.length) lvm('vgchange', ['-an', vg]) } catch { /* the VG may not exist yet */ }
  while (loops.length) { const l = loops.pop()!; try { sh('losetup', ['-d', l]) } catch { /* already gone */ } }
}

/** Writes `image` into LV `lv` where LVM's report says its extents are (dm-linear / dm-stripe placement). */
function writeThroughLvm(lv: string, image: string, where: Map<string, { file: string; base: number }>, peStart: Map<string, number>, extent: number): void {
  const data = readFileSync(image)
  const fds = new Map<string, number>()
  try {
    for (const seg of lvsReport.filter((r) => r.lv_name === lv)) {
      const segStart = Number(seg.seg_start_pe) * extent, segLen = Number(seg.seg_size_pe) * extent
      const stripes = seg.seg_pe_ranges.split(' ').map((r) => { const m = /^(.*):(\d+)-(\d+)$/.exec(r)!; return { dev: m[1]!, first: Number(m[2]) } })
      const chunk = stripes.length > 1 ? Number(seg.stripe_size) : segLen
      for (let off = 0; off < segLen && segStart + off < data.length; off += chunk) {
        const ci = off / chunk
        const s = stripes[ci % stripes.length]!
        const pvOff = peStart.get(s.dev)! + s.first * extent + Math.floor(ci / stripes.length) * chunk
        const w = where.get(s.dev)!
        if (!fds.has(w.file)) fds.set(w.file, openSync(w.file, 'r+'))
        writeSync(fds.get(w.file)!, data, segStart + off, Math.min(chunk, data.length - segStart - off), w.base + pvOff)
      }
    }
  } finally { for (const fd of fds.values()) closeSync(fd) }
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')
const byId = (id: string) => volumes.find((v) => v.id === id)!

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'volumes-lvm-'))
  try {
    const tree = img('tree')
    mkdirSync(join(tree, 'etc'), { recursive: true })
    writeFileSync(join(tree, 'etc', 'hostname'), 'lvm-guest\n')
    writeFileSync(join(tree, 'big.bin'), randomBytes(3 * MiB))
    sh('mkfs.ext4', ['-q', '-F', '-d', tree, img('ext4.img'), '20M'])
    sh('mkfs.fat', ['-C', img('fat.img'), String(16 * 1024)])
    sh('mcopy', ['-s', '-i', img('fat.img'), join(tree, 'etc'), join(tree, 'big.bin'), '::/'])

    // Disk A (key 2000): GPT with two LVM partitions; disk B (2001): a whole-disk PV.
    sh('truncate', ['-s', '64M', img('a.img'), img('b.img')])
    sh('sgdisk', ['-n1:2048:+20M', '-t1:8e00', '-n2:0:0', '-t2:8e00', img('a.img')])
    const p2Sectors = Number(/^\s*2\s+(\d+)\s+(\d+)/m.exec(sh('sgdisk', ['-p', img('a.img')]))!.slice(1, 3).reduce((a, b) => String(Number(b) - Number(a) + 1)))
    const a1 = attach(img('a.img'), MiB, 20 * MiB)
    const a2 = attach(img('a.img'), 21 * MiB, p2Sectors * 512)
    const b = attach(img('b.img'))
    const where = new Map([[a1, { file: img('a.img'), base: MiB }], [a2, { file: img('a.img'), base: 21 * MiB }], [b, { file: img('b.img'), base: 0 }]])

    lvm('pvcreate', ['-y', a1, a2])
    lvm('pvcreate', ['-y', '--pvmetadatacopies', '2', b]) // disk B also keeps a copy at its end
    lvm('vgcreate', ['-s', '1M', vg, a1, a2, b])
    lvm('lvcreate', ['-an', '-Zn', '-L', '12M', '-n', 'lin', vg, a2])
    lvm('lvextend', ['-L', '+8M', `${vg}/lin`, a1]) // a second segment, on the other partition
    lvm('lvcreate', ['-an', '-Zn', '-i2', '-I64k', '-L', '16M', '-n', 'str', vg, a2, b])
    lvm('lvcreate', ['-an', '-Zn', '-L', '4M', '-n', 'tmeta', vg, b])
    lvm('lvcreate', ['-an', '-Zn', '-L', '8M', '-n', 'tdata', vg, b])

    // A thin pool and a thin volume: lvcreate needs device-mapper for them, so the VG's metadata is
    // rewritten by vgcfgrestore, the way LVM itself records a pool over tmeta/tdata.
    lvm('vgcfgbackup', ['-f', img('vg.txt'), vg])
    let meta = readFileSync(img('vg.txt'), 'utf8')
    meta = meta.replace(/\n\t\t(tmeta|tdata) \{\n(\t\t\tid = "[^"]*"\n)\t\t\tstatus = \["READ", "WRITE", "VISIBLE"\]/g, '\n\t\tpool_$1 {\n$2\t\t\tstatus = ["READ", "WRITE"]')
    assert.match(meta, /pool_tdata \{/)
    const lvId = (n: number) => `thinLV-0000-0000-0000-0000-0000-00000${n}`
    const thin = `
		pool {
			id = "${lvId(1)}"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 8
				type = "thin-pool"
				metadata = "pool_tmeta"
				pool = "pool_tdata"
				transaction_id = 1
				chunk_size = 128
				discards = "passdown"
				zero_new_blocks = 1
			}
		}
		thinvol {
			id = "${lvId(2)}"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 32
				type = "thin"
				thin_pool = "pool"
				transaction_id = 0
				device_id = 1
			}
		}
`
    // and a raid1 LV over two images, and a COW snapshot of lin (LVM cannot create those here either)
    assert.match(meta, new RegExp(`pv2 \\{\\n\\t+id = "[^"]+"\\n\\t+device = "${b}"`))
    const linear = (name: string, pv: string, start: number, count: number, status: string) => `
		${name} {
			id = "${lvId(name.length)}${name.length}"
			status = [${status}]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = ${count}
				type = "striped"
				stripe_count = 1
				stripes = [ "${pv}", ${start} ]
			}
		}
`.replace(/(id = ")[^"]*(")/, `$1${`${name.replace(/_/g, '')}xxxxxx`.slice(0, 6)}-0000-0000-0000-0000-0000-0000${String(start).padStart(2, '0')}$2`)
    const raidAndSnapshot = `
		r {
			id = "${lvId(3)}"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 4
				type = "raid1"
				device_count = 2
				region_size = 1024
				raids = [ "r_rmeta_0", "r_rimage_0", "r_rmeta_1", "r_rimage_1" ]
			}
		}
		snapshot0 {
			id = "${lvId(4)}"
			status = ["READ"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "snapshot"
				chunk_size = 8
				origin = "lin"
				cow_store = "snap"
			}
		}
` + linear('r_rmeta_0', 'pv2', 30, 1, '"READ", "WRITE"') + linear('r_rimage_0', 'pv2', 31, 4, '"READ", "WRITE"') + linear('r_rmeta_1', 'pv1', 25, 1, '"READ", "WRITE"')
      + linear('r_rimage_1', 'pv1', 26, 4, '"READ", "WRITE"') + linear('snap', 'pv2', 40, 2, '"READ", "WRITE", "VISIBLE"')
    const end = meta.lastIndexOf('\t}\n\n}')
    writeFileSync(img('vg-thin.txt'), meta.slice(0, end) + thin + raidAndSnapshot + meta.slice(end))
    lvm('vgcfgrestore', ['--force', '-f', img('vg-thin.txt'), vg])

    lvsReport = JSON.parse(lvm('lvs', ['-a', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,segtype,seg_start_pe,seg_size_pe,stripes,stripe_size,seg_pe_ranges', vg])).report[0].lv
    const pvsReport: { pv_name: string; pe_start: string }[] = JSON.parse(lvm('pvs', ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_name,pe_start'])).report[0].pv
    const extent = Number(JSON.parse(lvm('vgs', ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_extent_size', vg])).report[0].vg[0].vg_extent_size)
    const peStart = new Map(pvsReport.map((p) => [p.pv_name, Number(p.pe_start)]))
    writeThroughLvm('lin', img('ext4.img'), where, peStart, extent)
    writeThroughLvm('str', img('fat.img'), where, peStart, extent)
  } finally {
    detachAll()
  }
})

after(() => {
  detachAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const disks = () => [{ key: '2000', label: 'Hard disk 1', reader: fileReader(img('a.img')) }, { key: '2001', label: 'Hard disk 2', reader: fileReader(img('b.img')) }]

test('LVs across two disks listed like lvs reports them; the PVs (two partitions, a whole disk) say where their LVs are', async () => {
  volumes = await openVolumes(disks())
  assert.deepEqual(volumes.map((v) => [v.id, v.kind]), [
    ['2000-p1', 'lvm-pv'], ['2000-p2', 'lvm-pv'], ['2001', 'lvm-pv'],
    [`lvm-${vg}-lin`, 'filesystem'], [`lvm-${vg}-str`, 'filesystem'], [`lvm-${vg}-pool`, 'unsupported'], [`lvm-${vg}-thinvol`, 'unsupported'],
    [`lvm-${vg}-r`, 'unsupported'], [`lvm-${vg}-snap`, 'unsupported'],
  ])
  for (const pv of volumes.slice(0, 3)) assert.match(pv.problem!, new RegExp(`volume group "${vg}"`))
  const visible = new Set(['lin', 'str', 'pool', 'thinvol', 'r', 'snap'])
  const fromLvs = lvsReport.filter((r) => visible.has(r.lv_name)).map((r) => `${r.lv_name} ${r.segtype} ${r.seg_start_pe}+${r.seg_size_pe}${/^(linear|striped)$/.test(r.segtype) ? ` x${r.stripes} ${r.stripes === '1' ? 0 : r.stripe_size}` : ''}`).sort()
  const ours = volumes.filter((v) => v.lvm).flatMap((v) => v.lvm!.segments.map((s) => `${v.lvm!.lv} ${s.type === 'striped' && s.stripes!.length === 1 ? 'linear' : s.type} ${s.startExtent}+${s.extentCount}${s.stripes ? ` x${s.stripes.length} ${s.stripeSize ?? 0}` : ''}`)).sort()
  assert.deepEqual(ours, fromLvs)
  assert.deepEqual(byId(`lvm-${vg}-lin`).lvm!.pvVolumes.sort(), ['2000-p1', '2000-p2'])
  assert.deepEqual(byId(`lvm-${vg}-str`).lvm!.pvVolumes.sort(), ['2000-p2', '2001'])
  assert.equal(byId(`lvm-${vg}-lin`).lvm!.layout, 'linear')
  assert.equal(byId(`lvm-${vg}-str`).lvm!.layout, 'striped')
  for (const v of volumes) assert.match(v.id, /^[A-Za-z0-9._-]+$/)
})

test('linear LV in two segments on two partitions: bytes of the ext4 written through LVM\'s map, lists like fls', async () => {
  const lv = byId(`lvm-${vg}-lin`)
  assert.equal(lv.size, 20 * MiB)
  assert.equal(lv.fsType, 'ext')
  assert.equal(await readerSha(lv.reader), sha(img('ext4.img')))
  assert.deepEqual(await ourListing(lv.reader), await flsListing(img('ext4.img')))
})

test('striped LV (-i2 -I64k) across two disks: bytes of the FAT written through LVM\'s map, lists like fls', async () => {
  const lv = byId(`lvm-${vg}-str`)
  assert.equal(lv.size, 16 * MiB)
  assert.equal(lv.fsType, 'fat')
  assert.equal(await readerSha(lv.reader), sha(img('fat.img')))
  assert.deepEqual(await ourListing(lv.reader), await flsListing(img('fat.img')))
  // a read straddling stripe chunks and both disks
  const whole = readFileSync(img('fat.img'))
  assert.deepEqual(await lv.reader.readAt(64 * 1024 - 100, 300_000), whole.subarray(64 * 1024 - 100, 64 * 1024 - 100 + 300_000))
})

test('thin pool and thin volume: listed, "not supported yet", reads refused with that reason', async () => {
  const pool = byId(`lvm-${vg}-pool`), thin = byId(`lvm-${vg}-thinvol`)
  assert.match(pool.problem!, /LVM thin pool: not supported yet/)
  assert.match(thin.problem!, /LVM thin volume: not supported yet/)
  assert.equal(thin.size, 32 * MiB)
  await assert.rejects(thin.reader.readAt(0, 512), /thin volume: not supported yet/)
  assert.ok(!volumes.some((v) => /pool_t(meta|data)/.test(v.id)), 'hidden LVs are not listed')
})

test('raid1 LV and COW snapshot: listed with "not supported yet", their hidden images are not', async () => {
  assert.match(byId(`lvm-${vg}-r`).problem!, /LVM raid1 volume \(mirror\/RAID\): not supported yet; restore the disk or the VM/)
  assert.match(byId(`lvm-${vg}-snap`).problem!, /LVM snapshot of lin \(copy-on-write\): not supported yet/)
  assert.ok(!volumes.some((v) => /rimage|rmeta|snapshot0/.test(v.id)))
  await assert.rejects(byId(`lvm-${vg}-r`).reader.readAt(0, 512), /not supported yet/)
})

test('a disk missing from the restore point: the LV that needs it says so, the others still read', async () => {
  const vols = await openVolumes(disks().slice(0, 1))
  const str = vols.find((v) => v.id === `lvm-${vg}-str`)!
  assert.match(str.problem!, /is not in this restore point/)
  await assert.rejects(str.reader.readAt(0, 512))
  const lin = vols.find((v) => v.id === `lvm-${vg}-lin`)!
  assert.equal(lin.problem, undefined)
  assert.equal(await readerSha(lin.reader), sha(img('ext4.img')))
})

test('metadata text wrapped around the end of the circular metadata area is read (LVM reads the same PV)', async () => {
  // Copy disk B (whole-disk PV, its own copies of the VG metadata), wipe the copy at its end and move
  // the first copy's text so it straddles the end of the ring; the mda header is rewritten with LVM's checksum.
  const copy = img('b-wrapped.img')
  writeFileSync(copy, readFileSync(img('b.img')))
  const fd = openSync(copy, 'r+')
  try {
    const label = Buffer.alloc(512); readSync(fd, label, 0, 512, 512)
    const pvh = 32
    // data areas then metadata areas, each list ending with zeros
    let p = pvh + 40
    while (label.readBigUInt64LE(p) !== 0n) p += 16
    p += 16
    const mdaStart = Number(label.readBigUInt64LE(p)), mdaSize = Number(label.readBigUInt64LE(p + 8))
    const mda2 = Number(label.readBigUInt64LE(p + 16))
    assert.ok(mda2 > mdaStart, 'disk B has a second metadata area')
    writeSync(fd, Buffer.alloc(512), 0, 512, mda2) // only the wrapped copy remains
    const h = Buffer.alloc(512); readSync(fd, h, 0, 512, mdaStart)
    const off = Number(h.readBigUInt64LE(40)), len = Number(h.readBigUInt64LE(48))
    const text = Buffer.alloc(len); readSync(fd, text, 0, len, mdaStart + off)
    const newOff = mdaSize - 700
    writeSync(fd, text, 0, 700, mdaStart + newOff)
    writeSync(fd, text, 700, len - 700, mdaStart + 512)
    h.writeBigUInt64LE(BigInt(newOff), 40)
    h.writeUInt32LE(lvmCrc(h.subarray(4)), 0)
    writeSync(fd, h, 0, 512, mdaStart)
  } finally { closeSync(fd) }
  const l = sh('losetup', ['-f', '--show', '-r', copy]).trim()
  loops.push(l)
  let lvmSees: string
  try { lvmSees = sh('pvs', ['--config', LVM_CONFIG, '--devices', l, '--noheadings', '-o', 'vg_name', l]).trim() } finally { detachAll() }
  assert.equal(lvmSees, vg, 'LVM itself reads the wrapped metadata')
  const vols = await openVolumes([{ key: '2001', label: 'Hard disk 2', reader: fileReader(copy) }])
  assert.ok(vols.some((v) => v.id === `lvm-${vg}-thinvol`), JSON.stringify(vols.map((v) => [v.id, v.problem])))
})

test('the metadata copy at the end of a PV is used when the first one is wiped (LVM agrees)', async () => {
  const copy = img('b-first-wiped.img')
  const b = readFileSync(img('b.img'))
  let p = 512 + 32 + 40
  while (b.readBigUInt64LE(p) !== 0n) p += 16
  b.fill(0, Number(b.readBigUInt64LE(p + 16)), Number(b.readBigUInt64LE(p + 16)) + 512)
  writeFileSync(copy, b)
  const l = sh('losetup', ['-f', '--show', '-r', copy]).trim()
  loops.push(l)
  let lvmSees: string
  try { lvmSees = sh('pvs', ['--config', LVM_CONFIG, '--devices', l, '--noheadings', '-o', 'vg_name', l]).trim() } finally { detachAll() }
  assert.equal(lvmSees, vg)
  const vols = await openVolumes([{ key: '2001', label: 'Hard disk 2', reader: fileReader(copy) }])
  assert.ok(vols.some((v) => v.id === `lvm-${vg}-thinvol`), JSON.stringify(vols.map((v) => [v.id, v.problem])))
})
