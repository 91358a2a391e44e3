/**
 * The Active Directory of a restore point: the ntds.dit its VSS manifest names (NTDS writer), found
 * on its volumes and read through the point's browse session (no copy of the volume), opened once
 * and kept in memory for a while (the AD layer reads datatable and link_table whole on open), so
 * browsing, searching, comparing and restoring reuse it.
 */
import { childLog } from '../common/log.ts'
import { openEseDatabase } from '../ese/database.ts'
import type { FileRestore } from '../file-restore/sessions.ts'
import { locateDatabase, pointFileReader, type LocatedDatabase, type LocatedFile } from '../app-items/locate.ts'
import { openActiveDirectory, type ActiveDirectory } from './directory.ts'

const log = childLog('ad-items')

export interface PointDirectory {
  restorePointId: string
  located: LocatedDatabase & { volume: string; file: LocatedFile }
  ad: ActiveDirectory
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
    for (const [id, e] of this.#open) if (now - e.used > this.#idleMs) this.#open.delete(id)
    const have = this.#open.get(rpId)
    if (have) { have.used = now; return have.p }
    const p = (async () => {
      const t0 = Date.now()
      const session = await this.#files.open(rpId)
      const release = session.hold()
      try {
        const located = await locateDatabase(session, 'ntds')
        const db = await openEseDatabase(pointFileReader(session, located.volume, located.file))
        const ad = await openActiveDirectory(db)
        const openedInMs = Date.now() - t0
        log.info({ rpId, path: located.path, objects: ad.objectCount, state: ad.consistency.state, ms: openedInMs }, 'opened ntds.dit of a restore point')
        return { restorePointId: rpId, located, ad, openedInMs }
      } finally { release() }
    })()
    this.#open.set(rpId, { p, used: now })
    p.catch(() => { if (this.#open.get(rpId)?.p === p) this.#open.delete(rpId) })
    while (this.#open.size > this.#keep) {
      const oldest = [...this.#open].sort((a, b) => a[1].used - b[1].used)[0]!
      this.#open.delete(oldest[0])
    }
    return p
  }

  close(): void { this.#open.clear() }
}
