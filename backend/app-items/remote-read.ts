/**
 * Random-access bytes across a thread boundary: the service side answers read requests that an
 * isolated worker sends over a MessagePort, so the parser of guest-controlled bytes (the ESE reader
 * under the Exchange layer) runs in the worker while the bytes still come from the restore point.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { FsError, type ReadAt } from '../filesystems/types.ts'

interface ReadRequest { id: number; offset: number; length: number }
interface ReadReply { id: number; data?: Uint8Array; error?: { message: string; code?: string } }

/** Serves `reader` on a new channel; give the returned port to the worker (transfer it). */
export function serveReads(reader: ReadAt): { port: MessagePort; close(): void } {
  const { port1, port2 } = new MessageChannel()
  port1.on('message', (m: ReadRequest) => {
    reader.readAt(m.offset, m.length).then(
      (b) => port1.postMessage({ id: m.id, data: b } satisfies ReadReply),
      (e: unknown) => port1.postMessage({ id: m.id, error: { message: (e as Error).message, code: (e as { code?: string }).code } } satisfies ReadReply),
    )
  })
  return { port: port2, close: () => port1.close() }
}

/** The worker side: a ReadAt whose reads go over `port`. */
export function portReader(port: MessagePort, size: number): ReadAt {
  let seq = 0
  const waiting = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void }>()
  port.on('message', (m: ReadReply) => {
    const w = waiting.get(m.id)
    if (!w) return
    waiting.delete(m.id)
    if (m.error) w.reject(new FsError(m.error.code === 'ECORRUPT' ? 'ECORRUPT' : 'ERANGE', m.error.message))
    else w.resolve(Buffer.from(m.data!.buffer, m.data!.byteOffset, m.data!.byteLength))
  })
  return {
    size,
    readAt(offset, length) {
      const id = ++seq
      return new Promise<Buffer>((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        port.postMessage({ id, offset, length } satisfies ReadRequest)
      })
    },
  }
}
