/**
 * openVolumes on disks built by the real tools: GPT (sgdisk) and MBR with extended + logical
 * partitions (sfdisk), whole-disk filesystems, and what we refuse with a clear problem (BitLocker,
 * dynamic disks, swap). Oracles: mmls for the layout, dd for each partition's bytes, fls -o for each
 * filesystem's listing. Needs: gdisk, fdisk, e2fsprogs, dosfstools, mtools, sleuthkit, forensics-samples-multiple.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openVolumes, type Volume } from '../../backend/volumes/volumes.ts'
import { ddSha, fileReader, flsListing, mmlsPartitions, ourListing, readerSha, sh } from './helpers.ts'

const MiB = 1024 * 1024
let dir = ''
const img = (n: string) => join(dir, n)

function ext4Image(path: string, mib: number, tree: string): void {
  sh('mkfs.ext4', ['-q', '-F', '-d', tree, path, `${mib}M`])
}
function fatImage(path: string, mib: number, tree: string): void {
  sh('mkfs.fat', ['-C', path, String(mib * 1024)])
  sh('mcopy', ['-s', '-i', path, join(tree, 'docs'), join(tree, 'hello.txt'), '::/'])
}
/** A volume header as BitLocker writes it (Windows 7+): "-FVE-FS-" OEM id, BitLocker GUID at 0xa0. */
function bitlockerImage(path: string, mib: number): void {
  const b = Buffer.alloc(mib * MiB)
  Buffer.from([0xeb, 0x58, 0x90]).copy(b, 0)
  b.write('-FVE-FS-', 3, 'latin1')
  b.writeUInt16LE(512, 11); b[13] = 8; b[21] = 0xf8
  Buffer.from('3bd66749292ed84a8399f6a339e3d001', 'hex').copy(b, 0xa0)
  b.writeBigUInt64LE(0x2100000n, 0xb0); b.writeBigUInt64LE(0x4100000n, 0xb8); b.writeBigUInt64LE(0x6100000n, 0xc0)
  b.writeUInt16LE(0xaa55, 510)
  writeFileSync(path, b)
}
function place(disk: string, part: string, startSector: number): void {
  sh('dd', [`if=${part}`, `of=${disk}`, 'bs=512', `seek=${startSector}`, 'conv=notrunc', 'status=none'])
}
function disk(key: string, path: string) { return { key, label: `Hard disk ${Number(key) - 1999}`, reader: fileReader(path) } }

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'volumes-parts-'))
  const tree = img('tree')
  mkdirSync(join(tree, 'docs', 'deep'), { recursive: true })
  writeFileSync(join(tree, 'hello.txt'), 'hello from a partition\n')
  writeFileSync(join(tree, 'docs', 'report.bin'), Buffer.alloc(300_000, 7))
  writeFileSync(join(tree, 'docs', 'deep', 'note.txt'), 'deep\n')
  ext4Image(img('ext4-16.img'), 16, tree)
  ext4Image(img('ext4-8.img'), 8, tree)
  fatImage(img('fat-16.img'), 16, tree)
  fatImage(img('fat-12.img'), 12, tree)
  bitlockerImage(img('bitlocker.img'), 4)
  sh('bash', ['-c', `truncate -s 4M ${img('swap.img')} && mkswap -q ${img('swap.img')}`])

  // GPT: FAT (basic data), ext4 (Linux), swap, BitLocker, LDM metadata + data.
  sh('truncate', ['-s', '64M', img('gpt.img')])
  sh('sgdisk', ['-n1:2048:+16M', '-t1:0700', '-c1:data', '-n2:0:+16M', '-t2:8300', '-c2:root', '-n3:0:+4M', '-t3:8200', '-n4:0:+4M', '-t4:0700', '-c4:secret',
    '-n5:0:+2M', '-t5:4201', '-n6:0:+4M', '-t6:4200', img('gpt.img')])
  place(img('gpt.img'), img('fat-16.img'), 2048)
  place(img('gpt.img'), img('ext4-16.img'), 2048 + 32768)
  place(img('gpt.img'), img('swap.img'), 2048 + 65536)
  place(img('gpt.img'), img('bitlocker.img'), 2048 + 65536 + 8192)

  // MBR: ext4 primary, extended holding FAT + ext4 + BitLocker logicals, a dynamic-disk (0x42) primary.
  sh('truncate', ['-s', '64M', img('mbr.img')])
  sh('sfdisk', ['-q', img('mbr.img')], [
    'label: dos',
    'start=2048, size=32768, type=83',
    'start=34816, size=65536, type=5',
    'start=100352, size=8192, type=42',
    'start=36864, size=24576, type=c',
    'start=63488, size=16384, type=83',
    'start=81920, size=8192, type=7',
  ].join('\n') + '\n')
  place(img('mbr.img'), img('ext4-16.img'), 2048)
  place(img('mbr.img'), img('fat-12.img'), 36864)
  place(img('mbr.img'), img('ext4-8.img'), 63488)
  place(img('mbr.img'), img('bitlocker.img'), 81920)

  sh('bash', ['-c', `xz -dc /usr/share/forensics-samples/fs.multiple.xz > ${img('multiple.img')}`])
})

after(() => { if (dir) rmSync(dir, { recursive: true, force: true }) })

/** Layout like mmls (the extended links inside the extended partition are mmls's view of the EBR chain: we list the container once). */
function assertLayoutLikeMmls(image: string, vols: Volume[]): void {
  const rows = mmlsPartitions(image)
  const ext = rows.filter((r) => r.slot === 'Meta')
  const theirs = rows
    .filter((r) => r.slot !== 'Meta' || !ext.some((o) => o !== r && o.start <= r.start && o.start + o.length >= r.start + r.length))
    .map((r) => `${r.start}+${r.length} ${/\((0x[0-9a-f]{2})\)$/.exec(r.description)?.[1] ?? r.description}`)
  // mmls describes an MBR partition by its type byte, a GPT partition by its name
  const ours = vols.map((v) => `${v.start! / 512}+${v.size / 512} ${v.partition!.scheme === 'mbr' ? v.partition!.type : v.partition!.name ?? ''}`)
  assert.ok(theirs.length > 0, `mmls found no partitions in ${image}`)
  assert.deepEqual(ours.sort(), theirs.sort())
}

async function assertBytesAndListing(image: string, v: Volume, ntfs = false, bytes = true): Promise<void> {
  if (bytes) assert.equal(await readerSha(v.reader), ddSha(image, v.start! / 512, v.size / 512), `${v.id}: bytes differ from dd`)
  if (v.kind !== 'filesystem') return
  const drop = (l: string[]) => (ntfs ? l.filter((x) => !x.split('/').some((c) => c.startsWith('$'))) : l)
  assert.deepEqual(drop(await ourListing(v.reader)), drop(await flsListing(image, v.start! / 512)), `${v.id}: listing differs from fls -o`)
}

test('GPT disk: partitions like mmls, bytes like dd, filesystems like fls -o; swap, BitLocker and LDM named with their problem', async () => {
  const vols = await openVolumes([disk('2000', img('gpt.img'))])
  assert.deepEqual(vols.map((v) => [v.id, v.kind, v.fsType ?? '', v.partition?.name ?? '']), [
    ['2000-p1', 'filesystem', 'fat', 'data'],
    ['2000-p2', 'filesystem', 'ext', 'root'],
    ['2000-p3', 'swap', '', ''],
    ['2000-p4', 'bitlocker', '', 'secret'],
    ['2000-p5', 'dynamic-disk', '', ''],
    ['2000-p6', 'dynamic-disk', '', ''],
  ])
  assertLayoutLikeMmls(img('gpt.img'), vols)
  for (const v of vols) await assertBytesAndListing(img('gpt.img'), v)
  assert.equal(vols[0]!.diskLabel, 'Hard disk 1')
  assert.equal(vols[1]!.partition!.typeName, 'Linux filesystem')
  assert.match(vols[3]!.problem!, /BitLocker-encrypted volume: unlock it in the guest, or restore the whole VM/)
  assert.match(vols[4]!.problem!, /Windows dynamic disk \(LDM\): not supported yet; restore the disk or the VM/)
  assert.match(vols[2]!.problem!, /swap/)
  for (const v of vols.slice(0, 2)) assert.equal(v.problem, undefined)
  for (const v of vols) assert.match(v.id, /^[A-Za-z0-9._-]+$/)
})

test('MBR disk with extended and logical partitions: like mmls, dd and fls -o; type 0x42 is a dynamic disk', async () => {
  const vols = await openVolumes([disk('2001', img('mbr.img'))])
  assert.deepEqual(vols.map((v) => [v.id, v.kind, v.fsType ?? '', v.partition?.type, v.partition?.logical ?? false]), [
    ['2001-p1', 'filesystem', 'ext', '0x83', false],
    ['2001-p2', 'extended', '', '0x05', false],
    ['2001-p3', 'dynamic-disk', '', '0x42', false],
    ['2001-p5', 'filesystem', 'fat', '0x0c', true],
    ['2001-p6', 'filesystem', 'ext', '0x83', true],
    ['2001-p7', 'bitlocker', '', '0x07', true],
  ])
  assertLayoutLikeMmls(img('mbr.img'), vols)
  for (const v of vols) if (v.kind !== 'extended') await assertBytesAndListing(img('mbr.img'), v)
  assert.match(vols[2]!.problem!, /Windows dynamic disk \(LDM\)/)
  assert.match(vols[5]!.problem!, /BitLocker/)
})

test('whole-disk filesystems without a table, an empty disk, and several disks at once', async () => {
  sh('truncate', ['-s', '8M', img('empty.img')])
  // BitLocker To Go: a FAT32-looking boot sector ("MSWIN4.1", "FAT32   ") with the BitLocker GUID at 0x1a8
  const togo = Buffer.alloc(MiB)
  Buffer.from([0xeb, 0x58, 0x90]).copy(togo, 0); togo.write('MSWIN4.1', 3, 'latin1'); togo.writeUInt16LE(512, 11); togo.write('FAT32   ', 82, 'latin1')
  Buffer.from('3bd66749292ed84a8399f6a339e3d001', 'hex').copy(togo, 0x1a8); togo.writeUInt16LE(0xaa55, 510)
  writeFileSync(img('togo.img'), togo)
  const vols = await openVolumes([disk('2000', img('ext4-8.img')), disk('2001', img('fat-12.img')), disk('2002', img('empty.img')), disk('2003', img('bitlocker.img')), disk('2004', img('togo.img'))])
  assert.deepEqual(vols.map((v) => [v.id, v.kind, v.fsType ?? '', v.start, v.size]), [
    ['2000', 'filesystem', 'ext', 0, 8 * MiB],
    ['2001', 'filesystem', 'fat', 0, 12 * MiB], // its boot sector ends in 0x55aa: not taken for an MBR
    ['2002', 'unknown', '', 0, 8 * MiB],
    ['2003', 'bitlocker', '', 0, 4 * MiB],
    ['2004', 'bitlocker', '', 0, MiB], // not taken for the FAT32 it pretends to be
  ])
  assert.deepEqual(await ourListing(vols[0]!.reader), await flsListing(img('ext4-8.img')))
  assert.deepEqual(await ourListing(vols[1]!.reader), await flsListing(img('fat-12.img')))
  assert.match(vols[2]!.problem!, /empty/)
})

test('forensics sample fs.multiple enumerates like mmls; each partition lists like fls -o, btrfs is named', async () => {
  const image = img('multiple.img')
  const vols = await openVolumes([disk('2000', image)])
  assertLayoutLikeMmls(image, vols)
  assert.deepEqual(vols.map((v) => [v.id, v.kind, v.fsType ?? '']), [
    ['2000-p1', 'unsupported', ''], ['2000-p2', 'filesystem', 'ext'], ['2000-p3', 'filesystem', 'exfat'], ['2000-p4', 'filesystem', 'ntfs'],
  ])
  assert.match(vols[0]!.problem!, /btrfs/)
  // (bytes are compared with dd on the disks built above; here 250 MB would cost the suite seconds)
  for (const v of vols.slice(1)) await assertBytesAndListing(image, v, v.fsType === 'ntfs', false)
})

test('a GPT whose entry array passes 64 KiB (partition 600 of 1024), and an EBR chain that loops back on itself', async () => {
  sh('truncate', ['-s', '16M', img('gpt-big.img')])
  sh('sgdisk', ['--resize-table=1024', '-n1:2048:+2M', '-t1:8300', '-c1:first', '-n600:0:+4M', '-t600:8300', '-c600:far', img('gpt-big.img')])
  const g = await openVolumes([disk('2000', img('gpt-big.img'))])
  assert.deepEqual(g.map((v) => [v.id, v.partition?.name]), [['2000-p1', 'first'], ['2000-p600', 'far']])
  assertLayoutLikeMmls(img('gpt-big.img'), g)

  // the last logical partition's link points back at the second EBR
  const loop = img('mbr-loop.img')
  const ebrs = mmlsLinks(img('mbr.img'))
  assert.equal(ebrs.length, 3)
  const b = readFileSync(img('mbr.img'))
  const last = ebrs[2]! * 512 + 462
  b.writeUInt8(0x05, last + 4)
  b.writeUInt32LE(ebrs[1]! - ebrs[0]!, last + 8)
  b.writeUInt32LE(2048, last + 12)
  writeFileSync(loop, b)
  const m = await openVolumes([disk('2001', loop)])
  assert.deepEqual(m.map((v) => v.id), ['2001-p1', '2001-p2', '2001-p3', '2001-p5', '2001-p6', '2001-p7'])
  assert.match(m.find((v) => v.kind === 'extended')!.problem!, /loops/)
})

/** Sectors of the EBRs, as mmls reports the extended tables ("Extended Table (#n)"). */
function mmlsLinks(image: string): number[] {
  return sh('mmls', [image]).split('\n').filter((l) => /Extended Table/.test(l)).map((l) => Number(l.trim().split(/\s+/)[2]))
}
