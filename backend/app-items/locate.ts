/**
 * Where a restore point's application databases are: the VSS manifest stored with the point names
 * each writer's database files and log folders (NTDS: ntds.dit and its *.log; Exchange: each
 * mailbox database's .edb and its E00*.log). They are found on the point's volumes through the
 * file-level restore readers (a browse session: disks → partitions → NTFS), with no copy of the
 * volume, and opened as random-access bytes for the ESE reader.
 *
 *   const session = await files.open(rpId)
 *   const [ntds] = (await locateDatabases(session)).filter((d) => d.writer === 'ntds' && d.file)
 *   const db = await openEseDatabase(pointFileReader(session, ntds.volume!, ntds.file!))
 */
import { FsError, type FsEntry, type ReadAt } from '../filesystems/types.ts'
import { EXCHANGE_WRITER_ID, NTDS_WRITER_ID, type VssManifest } from '../model/vss.ts'
import type { PointSession } from '../file-restore/sessions.ts'

export type AppWriterKind = 'ntds' | 'exchange'

/** A database a writer declares in the manifest (guest paths, Windows style). */
export interface DeclaredDatabase {
  writer: AppWriterKind
  /** The writer's friendly name and the component (e.g. "NTDS" / "ntds", or the mailbox database's name). */
  writerName: string
  component: string
  caption?: string
  /** Full guest path of the database file, e.g. "C:\\Windows\\NTDS\\ntds.dit". */
  path: string
  /** Guest folder of the logs and their pattern ("*.log", "E00*.log"), when the writer names them. */
  logDir?: string
  logSpec?: string
}

export interface LocatedFile { ref: string; name: string; size: number; mtime?: string }

/** A declared database found (or not) on the restore point's volumes. */
export interface LocatedDatabase extends DeclaredDatabase {
  /** Volume id (file-restore) holding the database file; undefined when it was not found. */
  volume?: string
  file?: LocatedFile
  /** Log files found in logDir matching logSpec, by name. */
  logs: LocatedFile[]
  /** Why the file could not be found or read. */
  problem?: string
}

const WRITER_KINDS: Record<string, AppWriterKind> = {
  [NTDS_WRITER_ID.toLowerCase()]: 'ntds',
  [EXCHANGE_WRITER_ID.toLowerCase()]: 'exchange',
}

const joinWin = (dir: string, name: string) => `${dir.replace(/\\+$/, '')}\\${name}`

/** The NTDS and Exchange databases a VSS manifest declares (no I/O). */
export function declaredDatabases(vss: VssManifest | undefined): DeclaredDatabase[] {
  const out: DeclaredDatabase[] = []
  for (const w of vss?.writers ?? []) {
    const writer = WRITER_KINDS[w.writerId.toLowerCase()]
    if (!writer) continue
    for (const c of w.components) {
      const log = c.files.find((f) => f.role === 'log')
      for (const f of c.files.filter((x) => x.role === 'database')) {
        out.push({
          writer, writerName: w.name, component: c.name, ...(c.caption ? { caption: c.caption } : {}),
          path: joinWin(f.path, f.filespec),
          ...(log ? { logDir: log.path, logSpec: log.filespec } : {}),
        })
      }
    }
  }
  return out
}

/** "C:\\Windows\\NTDS\\ntds.dit" → "Windows/NTDS/ntds.dit" (the volume-relative path the readers take). */
export function volumePath(guestPath: string): string {
  return guestPath.replace(/^[A-Za-z]:/, '').replace(/^\\\\\?\\/, '').split(/[\\/]+/).filter(Boolean).join('/')
}

/** A VSS filespec ("*.log", "E00*.log", "ntds.dit") as a case-insensitive matcher (Windows semantics). */
export function filespecMatcher(spec: string): (name: string) => boolean {
  const re = new RegExp(`^${spec.split('').map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 'i')
  return (name) => re.test(name)
}

const asFile = (e: FsEntry): LocatedFile => ({ ref: e.ref, name: e.name, size: e.size, ...(e.mtime ? { mtime: e.mtime } : {}) })

/**
 * The databases the point's stored VSS manifest declares, each looked up on the point's browsable
 * volumes (drive letters are not known from the disk: the first volume that has the path wins).
 */
export async function locateDatabases(session: PointSession): Promise<LocatedDatabase[]> {
  const declared = declaredDatabases(session.point.metadata?.vss)
  if (!declared.length) return []
  const all = await session.volumes()
  const volumes = all.filter((v) => v.browsable)
  const out: LocatedDatabase[] = []
  for (const d of declared) {
    let found: LocatedDatabase | undefined
    for (const v of volumes) {
      const e = await session.lookup(v.id, volumePath(d.path)).catch(() => undefined)
      if (!e || e.type !== 'file') continue
      found = { ...d, volume: v.id, file: asFile(e), logs: [] }
      if (d.logDir && d.logSpec) {
        const dir = await session.lookup(v.id, volumePath(d.logDir)).catch(() => undefined)
        if (dir?.type === 'dir') {
          const match = filespecMatcher(d.logSpec)
          const page = await session.list(v.id, dir.ref, 0, 100_000)
          found.logs = page.entries.filter((x) => x.type === 'file' && match(x.name)).map(asFile).sort((a, b) => a.name.localeCompare(b.name))
        }
      }
      break
    }
    out.push(found ?? { ...d, logs: [], problem: volumes.length
      ? `${d.path} is not on any readable volume of this restore point (looked on ${volumes.map((v) => v.id).join(', ')})`
      : `this restore point has no volume Stillpoint can read${all.length ? ` (${all.map((v) => `${v.id}: ${v.problem ?? 'no filesystem'}`).join('; ')})` : ''}` })
  }
  return out
}

/** The located database of a kind, or an error saying what the point lacks. */
export async function locateDatabase(session: PointSession, writer: AppWriterKind): Promise<LocatedDatabase & { volume: string; file: LocatedFile }> {
  const all = (await locateDatabases(session)).filter((d) => d.writer === writer)
  const what = writer === 'ntds' ? 'an NTDS writer (Active Directory)' : 'the Exchange writer'
  if (!all.length) throw new FsError('ENOENT', `restore point ${session.rpId} has no VSS manifest with ${what}: back the VM up application-aware (quiesced) to restore items from it`)
  const ok = all.find((d) => d.volume && d.file)
  if (!ok) throw new FsError('ENOENT', all[0]!.problem ?? `${all[0]!.path} was not found on restore point ${session.rpId}`)
  return ok as LocatedDatabase & { volume: string; file: LocatedFile }
}

export interface PointFileReaderOptions {
  /** Bytes per read from the browse worker (default 1 MiB). */
  blockBytes?: number
  /** Blocks kept (default 64: 64 MiB at the default block size). */
  cachedBlocks?: number
}

/**
 * A file of a restore point as random-access bytes (ReadAt), read through the point's browse
 * session in blocks with a small LRU cache: the ESE reader asks for pages of 4–32 KiB, mostly in
 * order, so whole blocks are fetched once.
 */
export function pointFileReader(session: PointSession, volumeId: string, file: Pick<LocatedFile, 'ref' | 'size'>, options: PointFileReaderOptions = {}): ReadAt {
  const block = options.blockBytes ?? 1 << 20
  const keep = options.cachedBlocks ?? 64
  const cache = new Map<number, Promise<Buffer>>()
  const blockAt = (i: number): Promise<Buffer> => {
    const hit = cache.get(i)
    if (hit) { cache.delete(i); cache.set(i, hit); return hit }
    const p = session.read(volumeId, file.ref, i * block, Math.min(block, file.size - i * block))
    cache.set(i, p)
    p.catch(() => cache.delete(i))
    while (cache.size > keep) cache.delete(cache.keys().next().value!)
    return p
  }
  return {
    size: file.size,
    async readAt(offset, length) {
      const end = Math.min(file.size, offset + length)
      if (offset >= end) return Buffer.alloc(0)
      const first = Math.floor(offset / block), last = Math.floor((end - 1) / block)
      const parts: Buffer[] = []
      for (let i = first; i <= last; i++) {
        const b = await blockAt(i)
        const from = i === first ? offset - i * block : 0
        const to = i === last ? end - i * block : block
        if (b.length < to) throw new FsError('ECORRUPT', `the file ended at byte ${i * block + b.length} of ${file.size}: its data on the volume is shorter than its size says`)
        parts.push(b.subarray(from, to))
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    },
  }
}
