// The service's side of a transporter's HTTPS interface: the transporter's certificate pinned by the
// thumbprint it registered with, every call carrying the key it registered with. Counts the bytes
// that cross the wire each way.
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { PinnedAgent } from '../../vsphere/tls.ts';
import type { DiskChangeExtent } from '../../vsphere/index.ts';
import type { VcenterAccess } from './transporter.ts';

export interface TransporterAddress { id: string; name: string; url: string; key: string; thumbprint: string; helperVm: string }

export class TransporterLink {
  readonly address: TransporterAddress;
  readonly #agent: PinnedAgent;
  /** Bytes sent to the transporter (requests) and received from it (answers). */
  sent = 0;
  received = 0;

  constructor(address: TransporterAddress) {
    this.address = address;
    this.#agent = new PinnedAgent({ thumbprint: address.thumbprint, maxSockets: 8 });
  }

  async status(timeoutMs = 5000): Promise<{ id: string; helperVm: string; sessions: number; bytesWritten: number }> {
    return JSON.parse((await this.#call('GET', '/status', undefined, { timeoutMs })).toString('utf8')) as never;
  }

  async open(vcenter: VcenterAccess, disks: { fileName: string; capacity: number }[], signal?: AbortSignal): Promise<{ session: string; disks: { key: number; fileName: string; device: string }[] }> {
    return JSON.parse((await this.#call('POST', '/sessions', JSON.stringify({ vcenter, disks }), { signal, timeoutMs: 600_000 })).toString('utf8')) as never;
  }

  async digest(session: string, disk: number, ranges: DiskChangeExtent[], piece: number, signal?: AbortSignal): Promise<Buffer> {
    return this.#call('POST', `/sessions/${session}/disks/${disk}/digest`, JSON.stringify({ ranges, piece }), { signal, timeoutMs: 3_600_000 });
  }

  /** Streams block frames into a disk; resolves with what the transporter wrote. */
  async write(session: string, disk: number, frames: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<{ bytesWritten: number; frames: number }> {
    return JSON.parse((await this.#call('PUT', `/sessions/${session}/disks/${disk}/blocks`, frames, { signal, timeoutMs: 3_600_000 })).toString('utf8')) as never;
  }

  /** Bytes of an attached disk as the transporter's device shows them (the whole chain of a replica disk). */
  async read(session: string, disk: number, start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return this.#call('GET', `/sessions/${session}/disks/${disk}/blocks?start=${start}&length=${length}`, undefined, { signal, timeoutMs: 600_000 });
  }

  /** Ends the session: the transporter detaches its disks. */
  async close(session: string): Promise<{ detached: number }> {
    return JSON.parse((await this.#call('DELETE', `/sessions/${session}`, undefined, { timeoutMs: 600_000 })).toString('utf8')) as never;
  }

  destroy(): void { this.#agent.destroy(); }

  #call(method: string, path: string, body: string | AsyncIterable<Buffer> | undefined, o: { signal?: AbortSignal | undefined; timeoutMs: number }): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let sourceError: Error | undefined;
      const headers: Record<string, string> = { authorization: `Bearer ${this.address.key}` };
      if (typeof body === 'string') { headers['content-type'] = 'application/json'; headers['content-length'] = String(Buffer.byteLength(body)); }
      else if (body) headers['content-type'] = 'application/octet-stream';
      const req = request(`${this.address.url}${path}`, { method, headers, agent: this.#agent, timeout: o.timeoutMs, ...(o.signal ? { signal: o.signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => { chunks.push(c); this.received += c.length; });
        res.on('error', reject);
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          if (res.statusCode === 200) { resolve(data); return; }
          let msg = data.toString('utf8');
          try { msg = (JSON.parse(msg) as { message?: string }).message ?? msg; } catch { /* not JSON */ }
          reject(new Error(`Transporter '${this.address.name}': ${msg} (HTTP ${res.statusCode})`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`Transporter '${this.address.name}' did not answer ${method} ${path} within ${Math.round(o.timeoutMs / 1000)} s`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(sourceError ?? (e.name === 'AbortError' ? e
        : new Error(`Transporter '${this.address.name}' at ${this.address.url} is unreachable or went away (${e.code ?? e.message}): check that \`stillpoint transporter run\` is running on its VM.`))));
      if (body === undefined) { req.end(); return; }
      if (typeof body === 'string') { this.sent += Buffer.byteLength(body); req.end(body); return; }
      // The transporter sees the write (and its end, should the service die) before the first block is read.
      req.flushHeaders();
      const src = Readable.from(body, { objectMode: false });
      src.on('data', (c: Buffer) => { this.sent += c.length; });
      src.on('error', (e) => { sourceError = e; req.destroy(e); });
      src.pipe(req);
    });
  }
}
