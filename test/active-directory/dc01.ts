/**
 * TEST-ONLY: the lab's domain controller VM "dc01". Its disk is a GPT image with one NTFS volume
 * ("System", made by mkntfs + wimapply, no mounts) holding C:\Windows\NTDS\ntds.dit — a SYNTHETIC
 * ntds.dit-shaped database written by the test ESE writer from a real Samba AD DC's directory — and
 * the NTDS log folder (edb.log, edb00001.log: placeholders, labelled synthetic). The VM is created
 * through the vSphere API as a Windows guest with Tools, so a quiesced snapshot gets the lab's VSS
 * manifest with the NTDS writer (test/lab/vcsim/vss.go: VMs named dc…), and the image is written
 * into its disk through the lab's /lab/disk endpoint.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lab } from '../lab/lab.ts'
import type { VSphere, MoRef } from '../../backend/vsphere/index.ts'

const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }
const MiB = 1024 * 1024
export const DC01_PARTITION_START_SECTOR = 2048

/** A GPT disk image with an NTFS "System" volume holding Windows\NTDS\ntds.dit (a copy of `ntdsFile`) and its logs. */
export function buildDc01Image(ntdsFile: string, imageFile: string): { sizeBytes: number; partitionOffset: number } {
  const work = mkdtempSync(join(tmpdir(), 'stillpoint-dc01-'))
  try {
    const tree = join(work, 'tree')
    const ntds = join(tree, 'Windows', 'NTDS')
    mkdirSync(ntds, { recursive: true })
    copyFileSync(ntdsFile, join(ntds, 'ntds.dit'))
    // Placeholders where a DC keeps its transaction logs (the reader lists them; it does not replay them).
    writeFileSync(join(ntds, 'edb.log'), Buffer.alloc(64 * 1024, 0x4c))
    writeFileSync(join(ntds, 'edb00001.log'), Buffer.alloc(64 * 1024, 0x4c))
    writeFileSync(join(tree, 'SYNTHETIC.txt'), 'Stillpoint test image: a synthetic ntds.dit written from a Samba AD DC, not a Windows DC.\r\n')
    const dit = statSync(ntdsFile).size
    const volMiB = Math.max(32, Math.ceil((dit * 1.3) / MiB) + 16)
    const sizeBytes = (volMiB + 2) * MiB
    const part = join(work, 'p1.ntfs')
    const sectors = volMiB * 2048
    writeFileSync(part, '')
    execFileSync('truncate', ['-s', String(sectors * 512), part])
    execFileSync('mkntfs', ['-q', '-F', '-Q', '-s', '512', '-p', String(DC01_PARTITION_START_SECTOR), '-H', '255', '-S', '63', '-L', 'System', part], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    execFileSync('wimcapture', [tree, join(work, 'dc.wim'), '--compress=none'], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    execFileSync('wimapply', [join(work, 'dc.wim'), '1', part], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    rmSync(imageFile, { force: true })
    execFileSync('truncate', ['-s', String(sizeBytes), imageFile])
    execFileSync('sgdisk', ['-o', '-n', `1:${DC01_PARTITION_START_SECTOR}:${DC01_PARTITION_START_SECTOR + sectors - 1}`, '-t', '1:0700', '-c', '1:Basic data partition', imageFile], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    execFileSync('dd', [`if=${part}`, `of=${imageFile}`, 'bs=1M', `seek=${DC01_PARTITION_START_SECTOR / 2048}`, 'conv=notrunc,sparse', 'status=none'], { env })
    return { sizeBytes, partitionOffset: DC01_PARTITION_START_SECTOR * 512 }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** Creates the powered-on Windows VM "dc01" (Tools running: lab adoption) and writes the image into its disk. */
export async function createDc01(lab: Lab, vs: VSphere, imageFile: string, name = 'dc01'): Promise<MoRef> {
  const size = statSync(imageFile).size
  const [dc] = await vs.inventory.datacenters()
  const [cluster] = await vs.inventory.clusters()
  const { resourcePool } = await vs.pc.retrieveOne<{ resourcePool: MoRef }>(cluster!.ref, ['resourcePool'])
  const ds = (await vs.inventory.datastores())[0]!
  const ref = await vs.vms.create({
    folder: dc!.vmFolder!, pool: resourcePool,
    config: {
      name, guestId: 'windows2019srv_64Guest', numCPUs: 2, memoryMB: 4096, files: { vmPathName: `[${ds.name}]` },
      deviceChange: [
        { operation: 'add', device: { _type: 'VirtualLsiLogicSASController', key: -100, busNumber: 0, sharedBus: 'noSharing' } },
        {
          operation: 'add', fileOperation: 'create',
          device: {
            _type: 'VirtualDisk', key: -101, controllerKey: -100, unitNumber: 0, capacityInKB: size / 1024,
            backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: `[${ds.name}] ${name}/${name}.vmdk`, diskMode: 'persistent', thinProvisioned: true },
          },
        },
      ],
    },
  } as never)
  // Only the blocks that hold data go over the wire.
  const fd = openSync(imageFile, 'r')
  try {
    const chunk = Buffer.alloc(4 * MiB)
    for (let at = 0; at < size; at += chunk.length) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at)
      const part = chunk.subarray(0, n)
      if (part.every((b) => b === 0)) continue
      await lab.control.writeDisk(name, 0, at, part)
    }
  } finally { closeSync(fd) }
  await vs.vms.powerOn(ref)
  return ref
}
