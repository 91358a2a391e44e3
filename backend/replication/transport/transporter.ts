// The transporter: a Stillpoint process on a helper VM at the DR site (`stillpoint transporter run`).
// It registers with the service using its pairing token, serves the service over HTTPS (its own
// certificate, pinned by the service; every call carries the key it registered with), attaches the
// replica disks it is given to its own VM with ReconfigVM, opens the devices, answers digests of
// their ranges and writes the block frames it receives. Disks are detached on every path: after the
// work, when the service's write breaks off, when a session stays idle past its lease, on SIGTERM,
// and at the next start for whatever a killed predecessor left attached.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadOrCreateServerCert } from '../../common/tls-cert.ts';
import { childLog } from '../../common/log.ts';
import { VSphere, type MoRef } from '../../vsphere/index.ts';
import type { DiskChangeExtent } from '../../vsphere/index.ts';
import type { DeviceLocator } from './devices.ts';
import { AttachJournal } from './attach-journal.ts';
import { attachDisks, detachDisks, detachReplicaLeftovers, disksInFolders, folderOf, type AttachedDisk } from './helper-disks.ts';
import { DIGEST_BYTES, FrameReader, pieceDigest, piecesOf } from './wire.ts';

const log = childLog('transporter');
const MAX_READ = 16 * 1024 * 1024;

/** What the service hands a transporter to reach vCenter: a one-time clone ticket of its session. */
export interface VcenterAccess { url: string; thumbprint?: string; ticket: string }

export interface Registration { id: string; name: string; helperVm: string; vcenter: VcenterAccess }

export interface TransporterOptions {
  serviceUrl: string;
  /** PEM certificate(s) trusted for the service (its own self-signed one, or a CA). */
  serviceCa?: string;
  pairingToken: string;
  listenHost: string;
  listenPort: number;
  /** Host name or address the service reaches this transporter at (default: the listen address). */
  advertiseHost?: string;
  /** Where the transporter keeps its TLS certificate. */
  dataDir: string;
  devices: DeviceLocator;
  /** A session idle this long is ended and its disks detached (default 120 s). */
  leaseMs?: number;
  /** Registration is renewed this often, so a restarted service knows the transporter again (default 20 s). */
  renewMs?: number;
  version: string;
}

interface Session {
  id: string;
  vs: VSphere;
  disks: AttachedDisk[];
  handles: FileHandle[];
  paths: string[];
  lastUsed: number;
  busy: number;
  ending?: Promise<number>;
}

export class Transporter {
  readonly #o: TransporterOptions;
  readonly #key = randomBytes(32).toString('base64url');
  readonly #sessions = new Map<string, Session>();
  #server: Server | undefined;
  #url = '';
  #thumbprint = '';
  #registration: Registration | undefined;
  #renew: NodeJS.Timeout | undefined;
  #lease: NodeJS.Timeout | undefined;
  #journal: AttachJournal | undefined;
  /** Bytes written to attached devices since the start. */
  bytesWritten = 0;
  /** Bytes read from attached devices for the service (a replica copied to a new VM at failback). */
  bytesRead = 0;

  constructor(o: TransporterOptions) { this.#o = o; }

  get url(): string { return this.#url; }
  get registration(): Registration | undefined { return this.#registration; }

  /** Listens, registers, detaches what a predecessor left attached; returns the registration and those leftovers. */
  async start(): Promise<{ registration: Registration; url: string; cleaned: string[] }> {
    const cert = loadOrCreateServerCert(this.#o.dataDir, { hostnames: this.#o.advertiseHost ? [this.#o.advertiseHost] : [] });
    this.#thumbprint = cert.thumbprint;
    this.#journal = new AttachJournal(this.#o.dataDir);
    this.#server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => { void this.#handle(req, res); });
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(this.#o.listenPort, this.#o.listenHost, resolve);
    });
    const addr = this.#server.address() as AddressInfo;
    const host = this.#o.advertiseHost ?? (addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address);
    this.#url = `https://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    const registration = await this.#register();
    const cleaned = await this.#cleanLeftovers(registration);
    this.#renew = setInterval(() => { void this.#register().catch((e: Error) => log.warn({ err: e.message }, 'renewing the registration failed; retrying')); }, this.#o.renewMs ?? 20_000);
    this.#renew.unref();
    const lease = this.#o.leaseMs ?? 120_000;
    this.#lease = setInterval(() => this.#expire(lease), Math.min(1000, lease / 2));
    this.#lease.unref();
    return { registration, url: this.#url, cleaned };
  }

  /** Ends every session (disks detached), stops listening. */
  async stop(): Promise<void> {
    clearInterval(this.#renew);
    clearInterval(this.#lease);
    await Promise.all([...this.#sessions.values()].map((s) => this.#end(s, 'the transporter stops')));
    await new Promise<void>((resolve) => { if (!this.#server) resolve(); else { this.#server.close(() => resolve()); this.#server.closeAllConnections(); } });
  }

  async #register(): Promise<Registration> {
    const body = JSON.stringify({ token: this.#o.pairingToken, url: this.#url, key: this.#key, thumbprint: this.#thumbprint, version: this.#o.version });
    const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${this.#o.serviceUrl.replace(/\/+$/, '')}/api/transporters/register`, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, ...(this.#o.serviceCa ? { ca: this.#o.serviceCa } : {}), timeout: 30_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('timeout', () => req.destroy(new Error('the service did not answer within 30 s')));
      req.on('error', reject);
      req.end(body);
    });
    if (r.status !== 200) {
      let msg = r.text;
      try { msg = (JSON.parse(r.text) as { message?: string }).message ?? r.text; } catch { /* not JSON */ }
      throw new Error(`The service refused the registration (HTTP ${r.status}): ${msg}`);
    }
    this.#registration = JSON.parse(r.text) as Registration;
    return this.#registration;
  }

  async #cleanLeftovers(reg: Registration): Promise<string[]> {
    const vs = await connect(reg.vcenter);
    try {
      const left = await detachReplicaLeftovers(vs, helperRef(reg));
      // Disks of other VMs (an original VM during a failback) that a killed predecessor had attached.
      const folders = [...new Set(this.#journal!.files().map(folderOf))];
      const other = folders.length ? await disksInFolders(vs, helperRef(reg), folders) : [];
      if (other.length) {
        await detachDisks(vs, helperRef(reg), other.map((d) => d.key));
        left.push(...other.map((d) => d.fileName));
      }
      this.#journal!.clear();
      if (left.length) log.warn({ left }, 'detached replica disks a previous transporter left attached');
      return left;
    } finally {
      await vs.close();
    }
  }

  #expire(leaseMs: number): void {
    const now = Date.now();
    for (const s of this.#sessions.values()) {
      if (!s.busy && !s.ending && now - s.lastUsed > leaseMs) void this.#end(s, `idle for ${Math.round(leaseMs / 1000)} s (the service went away)`);
    }
  }

  /** Closes the devices, detaches the disks, logs out; never throws. Returns the disks detached. */
  #end(s: Session, why: string): Promise<number> {
    s.ending ??= (async () => {
      await Promise.all(s.handles.map((h) => h.close().catch(() => undefined)));
      let n = 0;
      try {
        n = await detachDisks(s.vs, helperRef(this.#registration!), s.disks.map((d) => d.key));
        this.#journal?.remove(s.id);
        log.info({ session: s.id, detached: n, why }, 'session ended, disks detached');
      } catch (e) {
        log.error({ session: s.id, err: (e as Error).message }, 'detaching the replica disks failed; the next start detaches them');
      }
      await s.vs.close().catch(() => undefined);
      this.#sessions.delete(s.id);
      return n;
    })();
    return s.ending;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const a = Buffer.from(auth);
      const b = Buffer.from(this.#key);
      if (a.length !== b.length || !timingSafeEqual(a, b)) { send(res, 401, { message: 'Not the service this transporter registered with.' }); return; }
      const url = new URL(req.url ?? '/', 'https://transporter');
      const parts = url.pathname.split('/').filter(Boolean);
      if (req.method === 'GET' && url.pathname === '/status') {
        send(res, 200, { id: this.#registration?.id, helperVm: this.#registration?.helperVm, sessions: this.#sessions.size, bytesWritten: this.bytesWritten });
      } else if (req.method === 'POST' && url.pathname === '/sessions') {
        send(res, 200, await this.#open(JSON.parse(await text(req)) as { vcenter: VcenterAccess; disks: { fileName: string; capacity: number }[] }));
      } else if (parts[0] === 'sessions' && parts[1] && this.#sessions.has(parts[1])) {
        const s = this.#sessions.get(parts[1])!;
        if (req.method === 'DELETE' && parts.length === 2) { send(res, 200, { detached: await this.#end(s, 'the service ended the session') }); return; }
        const i = Number(parts[3]);
        if (parts[2] !== 'disks' || !Number.isInteger(i) || !s.disks[i]) { send(res, 404, { message: `no disk ${parts[3]} in session ${s.id}` }); return; }
        s.busy++;
        try {
          if (req.method === 'POST' && parts[4] === 'digest') {
            const q = JSON.parse(await text(req)) as { ranges: DiskChangeExtent[]; piece: number };
            const out = await this.#digest(s, i, q.ranges, q.piece);
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length }).end(out);
          } else if (req.method === 'PUT' && parts[4] === 'blocks') {
            send(res, 200, await this.#write(s, i, req));
          } else if (req.method === 'GET' && parts[4] === 'blocks') {
            const out = await this.#read(s, i, Number(url.searchParams.get('start')), Number(url.searchParams.get('length')));
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length }).end(out);
          } else {
            send(res, 404, { message: `${req.method} ${url.pathname}: no such call` });
          }
        } finally {
          s.busy--;
          s.lastUsed = Date.now();
        }
      } else if (parts[0] === 'sessions') {
        send(res, 404, { message: `Session ${parts[1]} does not exist (any more): it was ended and its disks detached.` });
      } else {
        send(res, 404, { message: `${req.method} ${url.pathname}: no such call` });
      }
    } catch (e) {
      if (!res.headersSent) send(res, 500, { message: (e as Error).message });
      else res.destroy();
    }
  }

  async #open(q: { vcenter: VcenterAccess; disks: { fileName: string; capacity: number }[] }): Promise<{ session: string; disks: { key: number; fileName: string; device: string }[] }> {
    const reg = this.#registration!;
    const vs = await connect(q.vcenter);
    const s: Session = { id: randomUUID(), vs, disks: [], handles: [], paths: [], lastUsed: Date.now(), busy: 1 };
    this.#sessions.set(s.id, s);
    try {
      this.#journal?.add(s.id, q.disks.map((d) => d.fileName));
      s.disks = await attachDisks(vs, helperRef(reg), q.disks);
      for (const d of s.disks) {
        const path = await this.#o.devices.find(reg.helperVm, d);
        s.paths.push(path);
        s.handles.push(await open(path, 'r+'));
      }
      log.info({ session: s.id, disks: s.disks.map((d, i) => ({ file: d.fileName, device: s.paths[i] })) }, 'replica disks attached');
      return { session: s.id, disks: s.disks.map((d, i) => ({ key: d.key, fileName: d.fileName, device: s.paths[i]! })) };
    } catch (e) {
      await this.#end(s, `attaching failed: ${(e as Error).message}`);
      throw e;
    } finally {
      s.busy--;
      s.lastUsed = Date.now();
    }
  }

  async #digest(s: Session, i: number, ranges: DiskChangeExtent[], piece: number): Promise<Buffer> {
    const h = s.handles[i]!;
    const cap = s.disks[i]!.capacity;
    const pieces = piecesOf(ranges, piece);
    const out = Buffer.allocUnsafe(pieces.length * DIGEST_BYTES);
    const buf = Buffer.alloc(Math.max(piece, 4 * 1024 * 1024));
    let k = 0;
    for (const r of ranges) {
      if (r.start < 0 || r.start + r.length > cap) throw new Error(`range ${r.start}+${r.length} is outside the disk (${cap} bytes)`);
      for (let o = 0; o < r.length; o += buf.length) {
        const len = Math.min(buf.length, r.length - o);
        const view = buf.subarray(0, len);
        const { bytesRead } = await h.read(view, 0, len, r.start + o);
        view.fill(0, bytesRead); // past the end of a sparse device file: zeros
        for (let p = 0; p < len; p += piece) pieceDigest(view.subarray(p, Math.min(len, p + piece))).copy(out, (k++) * DIGEST_BYTES);
      }
    }
    return out;
  }

  /** Bytes of an attached disk as the device shows them (zeros past the end of a sparse device file). */
  async #read(s: Session, i: number, start: number, length: number): Promise<Buffer> {
    const cap = s.disks[i]!.capacity;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || length > MAX_READ || start + length > cap) {
      throw new Error(`a read of ${length} bytes at ${start} is outside the disk (${cap} bytes) or larger than ${MAX_READ}`);
    }
    const buf = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const { bytesRead } = await s.handles[i]!.read(buf, done, length - done, start + done);
      if (!bytesRead) break;
      done += bytesRead;
    }
    this.bytesRead += length;
    return buf;
  }

  async #write(s: Session, i: number, req: IncomingMessage): Promise<{ bytesWritten: number; frames: number }> {
    const h = s.handles[i]!;
    const cap = s.disks[i]!.capacity;
    const frames = new FrameReader();
    let written = 0;
    let count = 0;
    let complete = false;
    req.once('end', () => { complete = true; });
    try {
      for await (const chunk of req) {
        for (const f of frames.push(chunk as Buffer)) {
          if (f.offset + f.data.length > cap) throw new Error(`a block at ${f.offset}+${f.data.length} is outside the disk (${cap} bytes)`);
          for (let done = 0; done < f.data.length;) {
            const { bytesWritten } = await h.write(f.data, done, f.data.length - done, f.offset + done);
            done += bytesWritten;
          }
          written += f.data.length;
          this.bytesWritten += f.data.length;
          count++;
        }
      }
      frames.end();
      if (!complete) throw new Error('the service broke off the write');
      await h.datasync();
      return { bytesWritten: written, frames: count };
    } catch (e) {
      // A write broken off leaves the disk half-written: the session ends now, the service reverts the replica.
      void this.#end(s, `a write failed: ${(e as Error).message}`);
      throw e;
    }
  }
}

function helperRef(reg: Registration): MoRef { return { type: 'VirtualMachine', value: reg.helperVm }; }

async function connect(v: VcenterAccess): Promise<VSphere> {
  if (!v.thumbprint) throw new Error('The service sent no vCenter certificate thumbprint: configure the vCenter thumbprint in the service.');
  return VSphere.fromCloneTicket({ url: v.url, thumbprint: v.thumbprint, ticket: v.ticket, wsdl: 'builtin' });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }).end(data);
}

async function text(req: IncomingMessage, max = 8 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
