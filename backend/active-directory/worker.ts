/**
 * The isolated side of the AD layer (runs in an IsolatedWorker, file-restore/isolation.ts): ntds.dit
 * files opened over a MessagePort reader (exchange/remote-read.ts), answering the same questions as
 * directory.ts. A hostile ntds.dit that loops or eats memory stops this worker, not the service.
 */
import type { MessagePort } from 'node:worker_threads'
import { FsError } from '../filesystems/types.ts'
import { openEseDatabase } from '../ese/database.ts'
import { portReader } from '../app-items/remote-read.ts'
import { openActiveDirectory, type ActiveDirectory, type AdSearch } from './directory.ts'
import type { AdAttribute } from './schema.ts'

/** What opening sends back: the directory's fixed facts and its schema (rebuilt on the service side). */
export interface OpenedDirectory {
  handle: number
  consistency: ActiveDirectory['consistency']
  objectCount: number
  schema: { attributes: AdAttribute[]; classes: [number, string][] }
}

export function activeDirectoryHandler() {
  const open = new Map<number, ActiveDirectory>()
  let next = 0
  const ad = (h: number) => {
    const d = open.get(h)
    if (!d) throw new FsError('ENOENT', `ntds.dit handle ${h} is not open in this worker (it was restarted); open it again`)
    return d
  }
  return {
    async open(port: MessagePort, size: number, maxObjects?: number): Promise<OpenedDirectory> {
      const d = await openActiveDirectory(await openEseDatabase(portReader(port, size)), maxObjects ? { maxObjects } : {})
      const h = ++next
      open.set(h, d)
      return { handle: h, consistency: d.consistency, objectCount: d.objectCount, schema: { attributes: d.schema.attributes, classes: [...d.schema.classes] } }
    },
    close(h: number) { open.delete(h); return true },
    roots: (h: number) => ad(h).roots(),
    children: (h: number, dn: string, options?: { includeDeleted?: boolean; limit?: number }) => ad(h).children(dn, options),
    search: (h: number, q: AdSearch) => ad(h).search(q),
    get: (h: number, ref: string | number) => ad(h).get(ref),
    recycleBin: (h: number) => ad(h).recycleBin(),
  }
}
