/**
 * The isolated side of reading a backed-up ntds.dit's sd_table (runs in an IsolatedWorker like the AD
 * layer, worker.ts): the database is opened over a MessagePort reader and only sd_table is read.
 */
import type { MessagePort } from 'node:worker_threads'
import { openEseDatabase } from '../ese/database.ts'
import { portReader } from '../app-items/remote-read.ts'
import { readSdTable } from './sd-table.ts'

export function securityDescriptorsHandler() {
  return {
    async read(port: MessagePort, size: number): Promise<[string, Buffer][]> {
      const byId = await readSdTable(await openEseDatabase(portReader(port, size)))
      return [...byId].map(([id, sd]) => [id.toString(), sd])
    },
  }
}
