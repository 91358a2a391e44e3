/**
 * The Exchange layer as the service uses it: the database is parsed in an isolated worker (heap
 * limit, time bound per call), its bytes read on this side (a restore point's file through the browse
 * session). A call that runs over its time stops the worker with a clear error; the next call opens
 * the database again in a new worker.
 */
import { IsolatedWorker } from '../file-restore/isolation.ts'
import type { ReadAt } from '../filesystems/types.ts'
import { serveReads } from '../app-items/remote-read.ts'
import type { ExchangeAnswer, ExchangeDatabaseState, ExchangeFolder, ExchangeMailbox, ExchangeMessage, ExchangeMessageSummary, ExchangeSearch } from './types.ts'

const WORKER = new URL('./worker.ts', import.meta.url)

export interface IsolatedMailboxOptions {
  timeoutMs?: number
  maxHeapMb?: number
  label?: string
  /** A worker to share (from exchangeWorker()); it stays open when this database is closed. */
  worker?: IsolatedWorker
}

/** A worker for the Exchange layer, to share between databases (e.g. one per service). */
export function exchangeWorker(opts: Omit<IsolatedMailboxOptions, 'worker'> = {}): IsolatedWorker {
  return new IsolatedWorker(WORKER, 'exchangeHandler', [], {
    timeoutMs: opts.timeoutMs ?? 60_000, maxHeapMb: opts.maxHeapMb ?? 512, label: opts.label ?? 'reading the Exchange database',
  })
}

export class IsolatedMailboxDatabase {
  readonly #reader: ReadAt
  readonly #worker: IsolatedWorker
  readonly #ownWorker: boolean
  #handle: Promise<{ handle: number; database: ExchangeDatabaseState; starts: number; close(): void }> | undefined

  constructor(reader: ReadAt, opts: IsolatedMailboxOptions = {}) {
    this.#reader = reader
    this.#ownWorker = !opts.worker
    this.#worker = opts.worker ?? exchangeWorker(opts)
  }

  async #open() {
    const cur = this.#handle && (await this.#handle.catch(() => undefined))
    if (cur && cur.starts === this.#worker.starts) return cur
    cur?.close()
    const p = (async () => {
      const served = serveReads(this.#reader)
      try {
        const r = await this.#worker.call<{ handle: number; database: ExchangeDatabaseState }>('open', [served.port, this.#reader.size], { transfer: [served.port] })
        return { ...r, starts: this.#worker.starts, close: served.close }
      } catch (e) { served.close(); throw e }
    })()
    this.#handle = p
    return p
  }

  async #call<T>(method: string, args: unknown[]): Promise<T> {
    const h = await this.#open()
    return this.#worker.call<T>(method, [h.handle, ...args])
  }

  async state(): Promise<ExchangeDatabaseState> { return (await this.#open()).database }
  mailboxes(): Promise<ExchangeAnswer<ExchangeMailbox[]>> { return this.#call('mailboxes', []) }
  folders(mailbox: number): Promise<ExchangeAnswer<ExchangeFolder[]>> { return this.#call('folders', [mailbox]) }
  search(mailbox: number, q: ExchangeSearch = {}): Promise<ExchangeAnswer<ExchangeMessageSummary[]>> { return this.#call('search', [mailbox, q]) }
  async message(mailbox: number, documentId: number): Promise<ExchangeAnswer<ExchangeMessage>> {
    const a = await this.#call<ExchangeAnswer<ExchangeMessage>>('message', [mailbox, documentId])
    // Buffers arrive as Uint8Arrays after the thread boundary.
    for (const at of a.items.attachments) at.content = Buffer.from(at.content.buffer, at.content.byteOffset, at.content.byteLength)
    return a
  }

  async close(): Promise<void> {
    const h = this.#handle && (await this.#handle.catch(() => undefined))
    if (h && h.starts === this.#worker.starts) await this.#worker.call('close', [h.handle]).catch(() => undefined)
    h?.close()
    if (this.#ownWorker) await this.#worker.close()
  }
}
