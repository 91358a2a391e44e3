/**
 * The AD layer as the service uses it: the ntds.dit is parsed in an isolated worker (heap limit, time
 * bound per call), its bytes read on this side (a restore point's file through the browse session).
 * A call that runs over its time or memory stops the worker with a clear IsolationError; the next call
 * opens the ntds.dit again in a new worker. The schema comes across once, so comparing and restoring
 * (which need attribute syntaxes) work on this side without further calls.
 */
import { IsolatedWorker } from '../file-restore/isolation.ts'
import type { ReadAt } from '../filesystems/types.ts'
import { serveReads } from '../app-items/remote-read.ts'
import type { ActiveDirectory, AdAnswer, AdObject, AdObjectSummary, AdSearch, RecycleBinState } from './directory.ts'
import { schemaOf, type AdSchema } from './schema.ts'
import type { OpenedDirectory } from './worker.ts'

const WORKER = new URL('./worker.ts', import.meta.url)

export interface IsolatedDirectoryOptions {
  /** Time bound of one call, opening included (default 120 s: opening reads datatable's tree columns once). */
  timeoutMs?: number
  maxHeapMb?: number
  label?: string
  /** Refuse an ntds.dit with more objects than this (default 5,000,000). */
  maxObjects?: number
  /** A worker to share (from activeDirectoryWorker()); it stays open when this directory is closed. */
  worker?: IsolatedWorker
}

/** A worker for the AD layer, to share between directories (e.g. one per service). */
export function activeDirectoryWorker(opts: Omit<IsolatedDirectoryOptions, 'worker' | 'maxObjects'> = {}): IsolatedWorker {
  return new IsolatedWorker(WORKER, 'activeDirectoryHandler', [], {
    timeoutMs: opts.timeoutMs ?? 120_000, maxHeapMb: opts.maxHeapMb ?? 1024, label: opts.label ?? 'reading the ntds.dit',
  })
}

export interface IsolatedActiveDirectory extends ActiveDirectory { close(): Promise<void> }

/** Opens `reader` (an ntds.dit) in the worker; rejects with the reader's FsError or an IsolationError. */
export async function openIsolatedActiveDirectory(reader: ReadAt, opts: IsolatedDirectoryOptions = {}): Promise<IsolatedActiveDirectory> {
  const worker = opts.worker ?? activeDirectoryWorker(opts)
  const own = !opts.worker
  type Opened = OpenedDirectory & { starts: number; close(): void }
  const openOnce = async (): Promise<Opened> => {
    const served = serveReads(reader)
    try {
      const r = await worker.call<OpenedDirectory>('open', [served.port, reader.size, opts.maxObjects], { transfer: [served.port] })
      return { ...r, starts: worker.starts, close: served.close }
    } catch (e) { served.close(); throw e }
  }
  let current: Promise<Opened>
  try { current = Promise.resolve(await openOnce()) } catch (e) { if (own) await worker.close(); throw e }
  const first = await current
  const schema: AdSchema = schemaOf(first.schema.attributes, new Map(first.schema.classes))

  /** The open handle, opened again when the worker was restarted (a call ran over its bounds). */
  const handle = async (): Promise<Opened> => {
    const h = await current.catch(() => undefined)
    if (h && h.starts === worker.starts) return h
    h?.close()
    current = openOnce()
    return current
  }
  const call = async <T>(method: string, args: unknown[]): Promise<T> => worker.call<T>(method, [(await handle()).handle, ...args])

  return {
    consistency: first.consistency, objectCount: first.objectCount, schema,
    roots: () => call<AdAnswer<AdObjectSummary[]>>('roots', []),
    children: (dn, options) => call<AdAnswer<AdObjectSummary[]>>('children', [dn, options]),
    search: (q: AdSearch) => call<AdAnswer<AdObjectSummary[]>>('search', [q]),
    get: (ref) => call<AdAnswer<AdObject>>('get', [ref]),
    recycleBin: () => call<AdAnswer<RecycleBinState>>('recycleBin', []),
    async close() {
      const h = await current.catch(() => undefined)
      if (h && h.starts === worker.starts) await worker.call('close', [h.handle]).catch(() => undefined)
      h?.close()
      if (own) await worker.close()
    },
  }
}
