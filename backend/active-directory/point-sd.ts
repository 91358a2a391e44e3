/**
 * The security descriptors (sd_table) of a restore point's ntds.dit, for restoring permissions: read
 * through the point's browse session (the file the directory was opened from) and parsed in an isolated
 * worker like the rest of the ntds.dit (sd-worker.ts), so a hostile file stops the worker, not the service.
 * Only sd_table is read: one row per distinct descriptor.
 */
import { IsolatedWorker } from '../file-restore/isolation.ts'
import type { FileRestore } from '../file-restore/sessions.ts'
import { serveReads } from '../app-items/remote-read.ts'
import { pointFileReader, type LocatedFile } from '../app-items/locate.ts'
import { securityDescriptorsOf, type BackupSecurityDescriptors } from './sd-table.ts'

const WORKER = new URL('./sd-worker.ts', import.meta.url)

export async function pointSecurityDescriptors(files: FileRestore, rpId: string, located: { volume: string; file: LocatedFile }): Promise<BackupSecurityDescriptors> {
  const session = await files.open(rpId)
  const release = session.hold()
  const worker = new IsolatedWorker(WORKER, 'securityDescriptorsHandler', [], { timeoutMs: 120_000, maxHeapMb: 512, label: 'reading the ntds.dit security descriptors' })
  const reader = pointFileReader(session, located.volume, located.file)
  const served = serveReads(reader)
  try {
    const rows = await worker.call<[string, Buffer | Uint8Array][]>('read', [served.port, reader.size], { transfer: [served.port] })
    return securityDescriptorsOf(new Map(rows.map(([id, sd]) => [BigInt(id), Buffer.from(sd)])))
  } finally {
    served.close()
    await worker.close()
    release()
  }
}
