/**
 * The Active Directory of a restore point: the ntds.dit its VSS manifest names (NTDS writer), found
 * on its volumes and read through the point's browse session (no copy of the volume), parsed in an
 * isolated worker shared by all open directories (heap limit, time bound per call: a hostile
 * ntds.dit stops the worker, not the service), opened once and kept for a while, so browsing,
 * searching, comparing and restoring reuse it.
 */
import { childLog } from '../common/log.ts'
import type { FileRestore } from '../file-restore/sessions.ts'
import type { IsolatedWorker } from '../file-restore/isolation.ts'
import { locateDatabase, pointFileReader, type LocatedDatabase, type LocatedFile } from '../app-items/locate.ts'
import { activeDirectoryWorker, openIsolatedActiveDirectory, type IsolatedActiveDirectory } from './isolated.ts'

const log = childLog('ad-items')

export interface PointDirectory {
  restorePointId: string
  located: LocatedDatabase & { volume: string; file: LocatedFile }
  ad: IsolatedActiveDirectory
  openedInMs: number
}

export interface PointDirectoriesOptions {
  /** Directories kept open (default 2). */
  keep?: number
  /** Closed after this long unused (default 15 min). */
  idleMs?: number
}

export class PointDirectories {
  #files: FileRestore
  #worker: IsolatedWorker | undefined
  #open = new Map<string, { p: Promise<PointDirectory>; used: number }>()
  #keep: number
  #idleMs: number

  constructor(files: FileRestore, opts: PointDirectoriesOptions = {}) {
    this.#files = files
    this.#keep = opts.keep ?? 2
    this.#idleMs = opts.idleMs ?? 15 * 60_000
  }

  /** The restore point's directory (opened now, or the one kept). */
  open(rpId: string): Promise<PointDirectory> {
    const now = Date.now()
    for (const [id, e] of this.#open) if (now - e.used > this.#idleMs) this.#drop(id)
    const have = this.#open.get(rpId)
    if (have) { have.used = now; return have.p }
    const p = (async () => {
      const t0 = Date.now()
      const session = await this.#files.open(rpId)
      const release = session.hold()
      try {
        const located = await locateDatabase(session, 'ntds')
        this.#worker ??= activeDirectoryWorker({ label: 'reading an ntds.dit from a backup' })
        const ad = await openIsolatedActiveDirectory(pointFileReader(session, located.volume, located.file), { worker: this.#worker })
        const openedInMs = Date.now() - t0
        log.info({ rpId, path: located.path, objects: ad.objectCount, state: ad.consistency.state, ms: openedInMs }, 'opened ntds.dit of a restore point')
        return { restorePointId: rpId, located, ad, openedInMs }
      } finally { release() }
    })()
    this.#open.set(rpId, { p, used: now })
    p.catch(() => { if (this.#open.get(rpId)?.p === p) this.#open.delete(rpId) })
    while (this.#open.size > this.#keep) this.#drop([...this.#open].sort((a, b) => a[1].used - b[1].used)[0]![0])
    return p
  }

  #drop(rpId: string): void {
    const e = this.#open.get(rpId)
    this.#open.delete(rpId)
    e?.p.then((x) => x.ad.close(), () => undefined)
  }

  async close(): Promise<void> {
    for (const id of [...this.#open.keys()]) this.#drop(id)
    await this.#worker?.close()
  }
}
