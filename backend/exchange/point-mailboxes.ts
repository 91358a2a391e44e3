/**
 * The mailbox database of a restore point: the .edb its VSS manifest names (Microsoft Exchange
 * Writer), found on its volumes and read through the point's browse session (no copy of the volume),
 * parsed in an isolated worker shared by all open databases, kept open for a while.
 */
import { childLog } from '../common/log.ts'
import type { FileRestore } from '../file-restore/sessions.ts'
import type { IsolatedWorker } from '../file-restore/isolation.ts'
import { locateDatabase, pointFileReader, type LocatedDatabase, type LocatedFile } from '../app-items/locate.ts'
import { exchangeWorker, IsolatedMailboxDatabase } from './isolated.ts'

const log = childLog('exchange-items')

export interface PointMailboxDatabase {
  restorePointId: string
  located: LocatedDatabase & { volume: string; file: LocatedFile }
  db: IsolatedMailboxDatabase
}

export class PointMailboxes {
  #files: FileRestore
  #worker: IsolatedWorker | undefined
  #open = new Map<string, { p: Promise<PointMailboxDatabase>; used: number }>()
  #keep: number
  #idleMs: number

  constructor(files: FileRestore, opts: { keep?: number; idleMs?: number } = {}) {
    this.#files = files
    this.#keep = opts.keep ?? 4
    this.#idleMs = opts.idleMs ?? 15 * 60_000
  }

  open(rpId: string): Promise<PointMailboxDatabase> {
    const now = Date.now()
    for (const [id, e] of this.#open) if (now - e.used > this.#idleMs) this.#drop(id)
    const have = this.#open.get(rpId)
    if (have) { have.used = now; return have.p }
    const p = (async () => {
      const session = await this.#files.open(rpId)
      const located = await locateDatabase(session, 'exchange')
      this.#worker ??= exchangeWorker({ label: 'reading an Exchange mailbox database from a backup' })
      const db = new IsolatedMailboxDatabase(pointFileReader(session, located.volume, located.file), { worker: this.#worker })
      const state = await db.state()
      log.info({ rpId, path: located.path, state: state.state }, 'opened an Exchange mailbox database of a restore point')
      return { restorePointId: rpId, located, db }
    })()
    this.#open.set(rpId, { p, used: now })
    p.catch(() => { if (this.#open.get(rpId)?.p === p) this.#open.delete(rpId) })
    while (this.#open.size > this.#keep) this.#drop([...this.#open].sort((a, b) => a[1].used - b[1].used)[0]![0])
    return p
  }

  #drop(rpId: string): void {
    const e = this.#open.get(rpId)
    this.#open.delete(rpId)
    e?.p.then((x) => x.db.close(), () => undefined)
  }

  async close(): Promise<void> {
    for (const id of [...this.#open.keys()]) this.#drop(id)
    await this.#worker?.close()
  }
}
