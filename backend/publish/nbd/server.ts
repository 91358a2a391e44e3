// A read-only NBD server (fixed newstyle handshake, simple replies) for published restore-point
// disks. Clients (nbdinfo, nbdcopy, qemu-img, nbd-client, nbdkit's nbd plugin) name an export by
// a secret token; the server asks `lookup` for it and never lists exports. TLS is optional per
// server (NBD_OPT_STARTTLS with the service's certificate) and can be required per export.
//
// Bounded everywhere a client chooses a size: option data ≤ 4 KiB + name, ≤ 32 options per
// connection, 10 s for the whole handshake, ≤ 64 connections, reads ≤ maxRequestBytes (32 MiB),
// replies in flight per connection ≤ 32 MiB (the socket is not read further until they drain);
// write payloads are read and dropped (EPERM) up to the same bound and end the connection beyond it.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import * as P from './protocol.ts';

export interface NbdExport {
  /** Connections are grouped by it: disconnect(key) ends those of one export. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Only over a connection that did NBD_OPT_STARTTLS. */
  tlsRequired: boolean;
  /** What nbdinfo shows as the description. */
  description?: string;
  /** Whether a client at this address may use it. */
  allows(address: string): boolean;
  /** Bytes [offset, offset+length); the caller keeps inside the size. Errors with code EINVAL/ECLOSED map to NBD errors. */
  read(offset: number, length: number): Promise<Buffer>;
}

export interface NbdServerOptions {
  /** The export a client names, undefined when none: compare in constant time (publications.ts does). */
  lookup(name: string): NbdExport | undefined;
  /** Enables NBD_OPT_STARTTLS. */
  tls?: { cert: string; key: string };
  log?: Logger;
  maxRequestBytes?: number;
  handshakeTimeoutMs?: number;
  maxConnections?: number;
}

const MAX_OPTION_BYTES = 4096 + 64;
const MAX_OPTIONS = 32;
const INFLIGHT_BYTES = 32 * 1024 * 1024;
const PREFERRED_BLOCK = 4096;

class Closed extends Error {}

/**
 * Reads exact byte counts from a paused stream (read(n) returns n bytes or null), without a second
 * buffer. Its listeners stay attached: adding a 'readable' listener while a partial message is
 * buffered emits 'readable' at once, which would spin; a lasting listener is told only of new data.
 */
class Reader {
  readonly s: Duplex;
  #waiter: (() => void) | undefined;
  #notify = () => { const w = this.#waiter; this.#waiter = undefined; w?.(); };

  constructor(s: Duplex) {
    this.s = s;
    for (const ev of EVENTS) s.on(ev, this.#notify);
  }

  /** Stops listening (the stream is handed to TLS). */
  detach(): void { for (const ev of EVENTS) this.s.off(ev, this.#notify); }

  async exact(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    for (;;) {
      const b = this.s.read(n) as Buffer | null;
      if (b) { if (b.length < n) throw new Closed('the client closed the connection'); return b; }
      if (this.s.readableEnded || this.s.destroyed) throw new Closed('the client closed the connection');
      await new Promise<void>((resolve) => { this.#waiter = resolve; });
    }
  }

  /** Reads and drops n bytes in pieces. */
  async skip(n: number): Promise<void> {
    for (let left = n; left > 0;) { const k = Math.min(left, 1 << 20); await this.exact(k); left -= k; }
  }
}

const EVENTS = ['readable', 'end', 'close', 'error'] as const;

function optionReply(opt: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeBigUInt64BE(P.OPTION_REPLY_MAGIC, 0);
  h.writeUInt32BE(opt, 8);
  h.writeUInt32BE(type >>> 0, 12);
  h.writeUInt32BE(data.length, 16);
  return Buffer.concat([h, data]);
}

/** NBD error of a failed read: the export gone (unpublished) is ESHUTDOWN, a bad range EINVAL, anything else EIO. */
function readErrno(e: unknown): number {
  const code = (e as { code?: string }).code;
  return code === 'ECLOSED' ? P.ESHUTDOWN : code === 'EINVAL' ? P.EINVAL : P.EIO;
}

export class NbdServer {
  #o: NbdServerOptions;
  #server: Server;
  #tls: SecureContext | undefined;
  #maxRequest: number;
  /** Open connections (the socket and, after STARTTLS, its TLS socket), with the key of the export they use ('' during the handshake). */
  #conns = new Map<Socket, { key: string; streams: Duplex[] }>();

  constructor(opts: NbdServerOptions) {
    this.#o = opts;
    this.#maxRequest = opts.maxRequestBytes ?? 32 * 1024 * 1024;
    this.#tls = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
    this.#server = createServer({ pauseOnConnect: false, noDelay: true }, (sock) => this.#accept(sock));
    this.#server.maxConnections = opts.maxConnections ?? 64;
  }

  get tlsEnabled(): boolean { return !!this.#tls; }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
        ? new Error(`Port ${port} on ${host} is in use, so disks cannot be published over NBD: stop the other NBD server or set publish.port (STILLPOINT_NBD_PORT).`) : e);
      this.#server.once('error', fail);
      this.#server.listen(port, host, () => { this.#server.off('error', fail); resolve(); });
    });
    return this.#server.address() as AddressInfo;
  }

  /** Connections using an export now. */
  connections(key: string): number { let n = 0; for (const c of this.#conns.values()) if (c.key === key) n++; return n; }

  /** Ends every connection of an export (unpublished). */
  disconnect(key: string): void { for (const c of this.#conns.values()) if (c.key === key) for (const s of c.streams) s.destroy(); }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of this.#conns.values()) for (const s of c.streams) s.destroy();
    if (this.#server.listening) await closed;
  }

  #accept(sock: Socket): void {
    this.#conns.set(sock, { key: '', streams: [sock] });
    sock.on('error', () => {}); // a reset client is a closed connection, logged by #session
    sock.once('close', () => this.#conns.delete(sock));
    const address = (sock.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    const timer = setTimeout(() => { this.#o.log?.info({ client: address }, 'NBD handshake took too long; connection closed'); sock.destroy(); }, this.#o.handshakeTimeoutMs ?? 10_000);
    this.#session(sock, address, timer).catch((e: Error) => {
      if (!(e instanceof Closed)) this.#o.log?.info({ client: address, err: e.message }, 'NBD connection ended');
    }).finally(() => { clearTimeout(timer); for (const st of this.#conns.get(sock)?.streams ?? [sock]) st.destroy(); });
  }

  async #session(sock: Socket, address: string, timer: NodeJS.Timeout): Promise<void> {
    let s: Duplex = sock;
    let r = new Reader(s);
    const hello = Buffer.alloc(18);
    hello.writeBigUInt64BE(P.NBDMAGIC, 0);
    hello.writeBigUInt64BE(P.IHAVEOPT, 8);
    hello.writeUInt16BE(P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES, 16);
    s.write(hello);
    const cflags = (await r.exact(4)).readUInt32BE(0);
    // Only fixed-newstyle clients (every client of the last decade); unknown flags end the handshake as the protocol asks.
    if (!(cflags & P.FLAG_FIXED_NEWSTYLE) || (cflags & ~(P.FLAG_FIXED_NEWSTYLE | P.FLAG_NO_ZEROES))) throw new Closed('client flags not supported');
    const noZeroes = (cflags & P.FLAG_NO_ZEROES) !== 0;
    let secure = false;
    for (let n = 0; ; n++) {
      if (n >= MAX_OPTIONS) throw new Error(`more than ${MAX_OPTIONS} options in one handshake`);
      const h = await r.exact(16);
      if (h.readBigUInt64BE(0) !== P.IHAVEOPT) throw new Error('bad option magic');
      const opt = h.readUInt32BE(8);
      const len = h.readUInt32BE(12);
      if (len > MAX_OPTION_BYTES) throw new Error(`option ${opt} with ${len} bytes of data`);
      const data = await r.exact(len);
      const reply = (type: number, payload?: Buffer) => { s.write(optionReply(opt, type, payload)); };
      const refuse = (type: number, message: string) => reply(type, Buffer.from(message));

      if (opt === P.OPT_ABORT) { reply(P.REP_ACK); await new Promise<void>((res) => s.end(res)); throw new Closed('client aborted'); }
      if (opt === P.OPT_STARTTLS) {
        if (len) { refuse(P.REP_ERR_INVALID, 'STARTTLS takes no data'); continue; }
        if (!this.#tls) { refuse(P.REP_ERR_UNSUP, 'this server has no TLS'); continue; }
        if (secure) { refuse(P.REP_ERR_INVALID, 'TLS is already on'); continue; }
        if (sock.readableLength) throw new Error('data sent after STARTTLS before its reply');
        reply(P.REP_ACK);
        r.detach();
        s = await this.#startTls(sock);
        this.#conns.get(sock)?.streams.push(s);
        r = new Reader(s);
        secure = true;
        continue;
      }
      if (opt === P.OPT_LIST) {
        // Exports are secrets: nobody is told any name.
        if (len) refuse(P.REP_ERR_INVALID, 'LIST takes no data'); else reply(P.REP_ACK);
        continue;
      }
      if (opt === P.OPT_EXPORT_NAME) {
        const exp = this.#find(data.toString('utf8'), address, secure);
        // This option has no error reply: an export the client may not use ends the connection.
        if (!exp.export) throw new Closed(`export refused: ${exp.why}`);
        const size = Buffer.alloc(10);
        size.writeBigUInt64BE(BigInt(exp.export.size), 0);
        size.writeUInt16BE(this.#flags(), 8);
        s.write(noZeroes ? size : Buffer.concat([size, Buffer.alloc(124)]));
        return this.#transmit(sock, s, r, exp.export, timer);
      }
      if (opt === P.OPT_INFO || opt === P.OPT_GO) {
        const req = parseInfoRequest(data);
        if (!req) { refuse(P.REP_ERR_INVALID, 'malformed INFO/GO request'); continue; }
        const found = this.#find(req.name, address, secure);
        if (!found.export) { refuse(found.reply, found.why); continue; }
        const exp = found.export;
        const info = Buffer.alloc(12);
        info.writeUInt16BE(P.INFO_EXPORT, 0);
        info.writeBigUInt64BE(BigInt(exp.size), 2);
        info.writeUInt16BE(this.#flags(), 10);
        reply(P.REP_INFO, info);
        const bs = Buffer.alloc(14);
        bs.writeUInt16BE(P.INFO_BLOCK_SIZE, 0);
        bs.writeUInt32BE(1, 2);
        bs.writeUInt32BE(PREFERRED_BLOCK, 6);
        bs.writeUInt32BE(this.#maxRequest, 10);
        reply(P.REP_INFO, bs);
        if (req.infos.includes(P.INFO_DESCRIPTION) && exp.description) {
          reply(P.REP_INFO, Buffer.concat([Buffer.from([0, P.INFO_DESCRIPTION]), Buffer.from(exp.description.slice(0, 1024))]));
        }
        reply(P.REP_ACK);
        if (opt === P.OPT_GO) return this.#transmit(sock, s, r, exp, timer);
        continue;
      }
      refuse(P.REP_ERR_UNSUP, `option ${opt} is not supported by this read-only server`);
    }
  }

  #flags(): number { return P.TFLAG_HAS_FLAGS | P.TFLAG_READ_ONLY | P.TFLAG_SEND_FLUSH | P.TFLAG_CAN_MULTI_CONN; }

  #find(name: string, address: string, secure: boolean): { export: NbdExport; why?: undefined } | { export?: undefined; reply: number; why: string } {
    const exp = name ? this.#o.lookup(name) : undefined;
    const refused = (reply: number, why: string, what: string) => {
      // Never the name: a near miss of a token is still half a secret.
      this.#o.log?.info({ client: address, ...(exp ? { export: exp.key } : {}) }, `NBD export refused: ${what}`);
      return { reply, why };
    };
    if (!exp) return refused(P.REP_ERR_UNKNOWN, 'no such export: the publication may have ended; publish the restore point again for a new address', 'unknown name');
    if (exp.tlsRequired && !secure) return refused(P.REP_ERR_TLS_REQD, 'this export needs TLS: use its nbds:// address', 'TLS required');
    if (!exp.allows(address)) return refused(P.REP_ERR_POLICY, `this export is not published for ${address}`, 'client address not allowed');
    return { export: exp };
  }

  async #startTls(sock: Socket): Promise<TLSSocket> {
    const t = new TLSSocket(sock, { isServer: true, secureContext: this.#tls!, requestCert: false });
    t.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      t.once('secure', resolve);
      t.once('error', reject);
      t.once('close', () => reject(new Closed('closed during the TLS handshake')));
    });
    return t;
  }

  async #transmit(sock: Socket, s: Duplex, r: Reader, exp: NbdExport, timer: NodeJS.Timeout): Promise<void> {
    clearTimeout(timer);
    const conn = this.#conns.get(sock);
    if (conn) conn.key = exp.key;
    this.#o.log?.debug({ export: exp.key }, 'NBD client attached');
    let pendingBytes = 0;
    let pending = 0;
    let wake: (() => void) | undefined;
    const settled = () => { const w = wake; wake = undefined; w?.(); };
    s.once('close', settled);
    /** Until a reply in flight has been written (or the connection is gone). */
    const idle = async () => {
      if (s.destroyed) throw new Closed('connection closed');
      await new Promise<void>((w) => { wake = w; });
    };
    const send = (handle: Buffer, error: number, data?: Buffer) => {
      const h = Buffer.alloc(P.REPLY_BYTES);
      h.writeUInt32BE(P.SIMPLE_REPLY_MAGIC, 0);
      h.writeUInt32BE(error, 4);
      handle.copy(h, 8);
      if (!data) { s.write(h); return; }
      s.cork();
      s.write(h);
      s.write(data, () => { pending--; pendingBytes -= data.length; settled(); });
      s.uncork();
    };
    for (;;) {
      const h = await r.exact(P.REQUEST_BYTES);
      if (h.readUInt32BE(0) !== P.REQUEST_MAGIC) throw new Error('bad request magic');
      const type = h.readUInt16BE(6);
      const handle = Buffer.from(h.subarray(8, 16));
      const offset = h.readBigUInt64BE(16);
      const length = h.readUInt32BE(24);
      switch (type) {
        case P.CMD_READ: {
          if (length > this.#maxRequest || offset + BigInt(length) > BigInt(exp.size)) { send(handle, P.EINVAL); break; }
          if (length === 0) { send(handle, 0); break; }
          while (pending > 0 && pendingBytes + length > INFLIGHT_BYTES) await idle();
          pending++;
          pendingBytes += length;
          exp.read(Number(offset), length).then(
            (data) => {
              if (data.length === length) { send(handle, 0, data); return; }
              pending--; pendingBytes -= length; settled(); send(handle, P.EIO);
            },
            (e: unknown) => {
              pending--; pendingBytes -= length; settled();
              const errno = readErrno(e);
              if (errno === P.EIO) this.#o.log?.warn({ export: exp.key, offset: Number(offset), length, err: (e as Error).message }, 'NBD read failed');
              send(handle, errno);
            });
          break;
        }
        case P.CMD_WRITE:
          if (length > this.#maxRequest) throw new Error(`write of ${length} bytes to a read-only export`);
          await r.skip(length);
          send(handle, P.EPERM);
          break;
        case P.CMD_TRIM:
        case P.CMD_WRITE_ZEROES:
          send(handle, P.EPERM);
          break;
        case P.CMD_FLUSH:
          send(handle, 0);
          break;
        case P.CMD_DISC:
          while (pending > 0) await idle();
          await new Promise<void>((res) => s.end(res));
          throw new Closed('client disconnected');
        default:
          send(handle, P.EINVAL);
      }
    }
  }
}

/** NBD_OPT_INFO/GO data: u32 name length, name, u16 count, count × u16 information requests. */
function parseInfoRequest(d: Buffer): { name: string; infos: number[] } | undefined {
  if (d.length < 6) return undefined;
  const n = d.readUInt32BE(0);
  if (n > d.length - 6) return undefined;
  const count = d.readUInt16BE(4 + n);
  if (d.length !== 6 + n + 2 * count) return undefined;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(d.readUInt16BE(6 + n + 2 * i));
  return { name: d.toString('utf8', 4, 4 + n), infos };
}
