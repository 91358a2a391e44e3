/**
 * The lab's mail server disk, "mail01" (a NEW image beside build.sh's): GPT with one NTFS volume
 * holding a SYNTHETIC Exchange mailbox database at the path the lab's Exchange VSS writer declares
 * (vcsim/vss.go), written by the test-only ESE writer from real composed mails and left in the dirty
 * state a VSS snapshot of a live mailbox server has (log generations 0x31–0x35, which are not on the
 * disk). Built with real tools (mkntfs, wimlib, sgdisk; no mounts), cached by the sources' hash.
 *
 *   const { image, edbPath } = await buildMail01Image()    // then startLab({ appVms: { mail01: image } })
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeEdb } from '../../ese-writer/edb.ts'
import { sampleMailboxes } from '../../ese-writer/edb-mails.ts'

const here = dirname(fileURLToPath(import.meta.url))
export const MAIL01_DB_DIR = 'Program Files/Microsoft/Exchange Server/V15/Mailbox/Mailbox Database 0123456789'
export const MAIL01_EDB = `${MAIL01_DB_DIR}/Mailbox Database 0123456789.edb`
export const MAIL01_DIRTY_LOGS = { minLog: 0x31, maxLog: 0x35 }
const DISK_MIB = 32
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }

export interface Mail01Image { image: string; dir: string; edbPath: string; edbBytes: Buffer }

export async function buildMail01Image(): Promise<Mail01Image> {
  const sources = ['mail01.ts', '../../ese-writer/edb.ts', '../../ese-writer/edb-mails.ts', '../../ese-writer/writer.ts'].map((f) => readFileSync(join(here, f)))
  const key = createHash('sha256').update(Buffer.concat(sources)).digest('hex').slice(0, 12)
  const out = join(here, '..', 'bin', 'images', `mail01-${key}`)
  const result = () => ({ image: join(out, 'mail01.img'), dir: out, edbPath: MAIL01_EDB, edbBytes: readFileSync(join(out, 'mailbox.edb')) })
  if (existsSync(join(out, '.done'))) return result()
  mkdirSync(dirname(out), { recursive: true })
  const work = mkdtempSync(join(dirname(out), '.mail01-'))
  try {
    const tree = join(work, 'tree')
    mkdirSync(join(tree, MAIL01_DB_DIR), { recursive: true })
    mkdirSync(join(tree, 'Users/Administrator/Documents'), { recursive: true })
    writeFileSync(join(tree, 'Users/Administrator/Documents/readme.txt'), 'Stillpoint lab: mail01, a mail server with a SYNTHETIC Exchange mailbox database.\r\n')
    const { mailboxes } = await sampleMailboxes()
    writeEdb(join(tree, MAIL01_EDB), mailboxes, { dirty: MAIL01_DIRTY_LOGS })
    writeFileSync(join(work, 'mailbox.edb'), readFileSync(join(tree, MAIL01_EDB)))
    const img = join(work, 'mail01.img'), part = join(work, 'p1.ntfs')
    const start = 2048, sectors = (DISK_MIB - 2) * 2048
    const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    run('truncate', ['-s', `${DISK_MIB}M`, img])
    run('sgdisk', ['-o', '-n', `1:${start}:${start + sectors - 1}`, '-t', '1:0700', '-c', '1:Basic data partition', img])
    run('truncate', ['-s', String(sectors * 512), part])
    run('mkntfs', ['-q', '-F', '-Q', '-s', '512', '-p', String(start), '-H', '255', '-S', '63', '-L', 'System', part])
    run('wimcapture', [tree, join(work, 'tree.wim'), '--compress=none'])
    run('wimapply', [join(work, 'tree.wim'), '1', part])
    run('dd', [`if=${part}`, `of=${img}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none'])
    rmSync(part); rmSync(join(work, 'tree.wim')); rmSync(tree, { recursive: true })
    writeFileSync(join(work, 'mail01.manifest.json'), JSON.stringify({ image: 'mail01.img', sizeBytes: statSync(img).size, table: 'gpt', sectorSize: 512, synthetic: true, edb: MAIL01_EDB }))
    writeFileSync(join(work, '.done'), '')
    try { renameSync(work, out) } catch { /* a concurrent build won */ }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return result()
}
