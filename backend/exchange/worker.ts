/**
 * The isolated side of the Exchange layer (runs in an IsolatedWorker, isolation.ts): mailbox databases
 * opened over a MessagePort reader, answering the same questions as mailbox-database.ts. A hostile
 * database that loops or eats memory stops this worker, not the service.
 */
import type { MessagePort } from 'node:worker_threads'
import { FsError } from '../filesystems/types.ts'
import { openMailboxDatabase, type MailboxDatabase } from './mailbox-database.ts'
import { portReader } from '../app-items/remote-read.ts'
import type { ExchangeSearch } from './types.ts'

export function exchangeHandler() {
  const open = new Map<number, MailboxDatabase>()
  let next = 0
  const db = (h: number) => {
    const d = open.get(h)
    if (!d) throw new FsError('ENOENT', `mailbox database handle ${h} is not open in this worker (it was restarted); open it again`)
    return d
  }
  return {
    async open(port: MessagePort, size: number) {
      const d = await openMailboxDatabase(portReader(port, size))
      const h = ++next
      open.set(h, d)
      return { handle: h, database: d.state() }
    },
    close(h: number) { open.delete(h); return true },
    mailboxes: (h: number) => db(h).mailboxes(),
    folders: (h: number, mailbox: number) => db(h).folders(mailbox),
    search: (h: number, mailbox: number, q?: ExchangeSearch) => db(h).search(mailbox, q),
    message: (h: number, mailbox: number, documentId: number) => db(h).message(mailbox, documentId),
  }
}
