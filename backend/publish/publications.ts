// Publications: disks of restore points published read-only over NBD for the admin's own tools
// (antivirus, forensics, qemu-img convert, nbd-client on a Linux box). Each disk gets a random
// 256-bit token as its export name, which is the whole credential: whoever holds the address may
// read the disk (optionally only from listed client addresses, and only over TLS).
//
// A publication lives until it is unpublished or its expiry passes, and only in this process: a
// service restart ends every publication (clients see the connection close). While published, the
// restore point is held (retention, prune and deletion refuse it, naming the publication) and its
// disk images stay open.
// The NBD listener starts with the first publication, so a service that publishes nothing holds no port.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { NbdServer, type NbdExport } from './nbd/server.ts';

/** What a published disk reads from (repo.openDiskImage's DiskImage fits). */
export interface PublishedImage {
  readonly capacity: number;
  readAt(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface PublicationsOptions {
  openImage(rpId: string, diskKey: string): Promise<PublishedImage>;
  /** Keeps the restore point from being deleted while published; returns the release (repo.hold). */
  hold?(rpId: string, why: string): Promise<() => void>;
  /** Where the NBD server listens (port 0: any free port). */
  listen: { host: string; port: number };
  /** Host in the nbd:// addresses; default the listen host, or this machine's name when that is a wildcard. */
  urlHost?: string;
  /** Enables TLS (nbds:// addresses); the service's certificate. */
  tls?: { cert: string; key: string };
  log?: Logger;
  maxRequestBytes?: number;
  /** Time a client has from connecting to choosing an export (default 10 s). */
  handshakeTimeoutMs?: number;
}

export interface PublishRequest {
  rpId: string;
  vmId: string;
  vmName?: string;
  disks: { key: string; label?: string }[];
  /** Who published it (the vCenter user). */
  owner: string;
  /** Exports only over TLS (nbds://). */
  tls: boolean;
  expiresAt?: Date;
  /** Client addresses (IPv4/IPv6, or a CIDR block such as 10.0.0.0/24) allowed to connect; none: any. */
  allowFrom?: string[];
}

export interface PublishedDisk { disk: string; label?: string; size: number; url: string }

export interface Publication {
  id: string;
  rpId: string;
  vmId: string;
  vmName?: string;
  owner: string;
  createdAt: string;
  expiresAt?: string;
  tls: boolean;
  allowFrom?: string[];
  exports: PublishedDisk[];
}

export class PublicationError extends Error {
  readonly code: 'EINVAL' | 'ENOTFOUND' | 'EUNAVAILABLE';
  constructor(code: PublicationError['code'], message: string) { super(message); this.name = 'PublicationError'; this.code = code; }
}

interface LiveExport { key: string; digest: Buffer; image: PublishedImage; exp: NbdExport }
interface Live { pub: Publication; exports: LiveExport[]; timer?: NodeJS.Timeout; release?: () => void }

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Client address rules: exact addresses or CIDR blocks; undefined when the list is empty. */
export function addressRules(list: string[] | undefined): BlockList | undefined {
  if (!list?.length) return undefined;
  const rules = new BlockList();
  for (const item of list) {
    const [addr = '', bits, ...rest] = item.trim().split('/');
    const family = isIP(addr);
    const prefix = bits === undefined ? undefined : Number(bits);
    if (!family || rest.length || (prefix !== undefined && (!/^\d{1,3}$/.test(bits!) || prefix > (family === 4 ? 32 : 128)))) {
      throw new PublicationError('EINVAL', `'${item}' is not a client address or block: give an IP address (192.0.2.10, 2001:db8::5) or a CIDR block (192.0.2.0/24).`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) rules.addAddress(addr, type); else rules.addSubnet(addr, prefix, type);
  }
  return rules;
}

function allowed(rules: BlockList | undefined, address: string): boolean {
  if (!rules) return true;
  const family = isIP(address);
  return family !== 0 && rules.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class Publications {
  #o: PublicationsOptions;
  #server: NbdServer;
  #listening: Promise<AddressInfo> | undefined;
  #live = new Map<string, Live>();
  #closed = false;

  constructor(opts: PublicationsOptions) {
    this.#o = opts;
    this.#server = new NbdServer({
      lookup: (name) => this.#lookup(name), ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.log ? { log: opts.log } : {}), ...(opts.maxRequestBytes ? { maxRequestBytes: opts.maxRequestBytes } : {}),
      ...(opts.handshakeTimeoutMs ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
    });
  }

  get tlsAvailable(): boolean { return this.#server.tlsEnabled; }

  /** Where the NBD server listens, once something was published (undefined before). */
  async address(): Promise<AddressInfo | undefined> { return this.#listening?.catch(() => undefined); }

  async #listen(): Promise<AddressInfo> {
    this.#listening ??= this.#server.listen(this.#o.listen.port, this.#o.listen.host);
    try {
      return await this.#listening;
    } catch (e) {
      this.#listening = undefined; // the next publication tries again (the port may be free by then)
      throw new PublicationError('EUNAVAILABLE', (e as Error).message);
    }
  }

  #url(tls: boolean, port: number, token: string): string {
    const listen = this.#o.listen.host;
    const wildcard = listen === '0.0.0.0' || listen === '::' || listen === '';
    const host = this.#o.urlHost ?? (wildcard ? hostname() : listen);
    return `nbd${tls ? 's' : ''}://${host.includes(':') ? `[${host}]` : host}:${port}/${token}`;
  }

  /** Publishes the disks of a restore point: one export (and token) per disk. */
  async publish(req: PublishRequest): Promise<Publication> {
    if (this.#closed) throw new PublicationError('EUNAVAILABLE', 'the service is shutting down');
    if (req.tls && !this.tlsAvailable) throw new PublicationError('EUNAVAILABLE', 'TLS is not configured for publishing: publish without TLS or configure the service certificate.');
    if (!req.disks.length) throw new PublicationError('EINVAL', `restore point ${req.rpId} has no disks to publish`);
    if (req.expiresAt && req.expiresAt.getTime() <= Date.now()) throw new PublicationError('EINVAL', 'the expiry must be in the future');
    const rules = addressRules(req.allowFrom);
    const addr = await this.#listen();
    const id = `pub-${randomBytes(8).toString('hex')}`;
    const exports: LiveExport[] = [];
    const shown: PublishedDisk[] = [];
    const release = await this.#o.hold?.(req.rpId, `it is published over NBD (${id})`);
    try {
      for (const d of req.disks) {
        const image = await this.#o.openImage(req.rpId, d.key);
        const token = randomBytes(32).toString('base64url');
        const key = `${id}/${d.key}`;
        exports.push({
          key, digest: digest(token), image,
          exp: {
            key, size: image.capacity, tlsRequired: req.tls,
            description: `${req.vmName ?? req.vmId}, ${d.label ?? `disk ${d.key}`}, restore point ${req.rpId} (read-only)`,
            allows: (address) => allowed(rules, address),
            read: (offset, length) => image.readAt(offset, length),
          },
        });
        shown.push({ disk: d.key, ...(d.label ? { label: d.label } : {}), size: image.capacity, url: this.#url(req.tls, addr.port, token) });
      }
    } catch (e) {
      release?.();
      await Promise.allSettled(exports.map((x) => x.image.close()));
      throw e;
    }
    const pub: Publication = {
      id, rpId: req.rpId, vmId: req.vmId, ...(req.vmName ? { vmName: req.vmName } : {}), owner: req.owner,
      createdAt: new Date().toISOString(), ...(req.expiresAt ? { expiresAt: req.expiresAt.toISOString() } : {}),
      tls: req.tls, ...(req.allowFrom?.length ? { allowFrom: req.allowFrom.map((a) => a.trim()) } : {}), exports: shown,
    };
    const live: Live = { pub, exports, ...(release ? { release } : {}) };
    if (req.expiresAt) this.#expireAt(live, req.expiresAt.getTime());
    this.#live.set(id, live);
    this.#o.log?.info({ publication: id, rp: req.rpId, vm: req.vmId, disks: shown.map((x) => x.disk), owner: req.owner, tls: req.tls, expiresAt: pub.expiresAt }, 'restore point disks published over NBD');
    return structuredClone(pub);
  }

  #expireAt(live: Live, at: number): void {
    const left = at - Date.now();
    live.timer = setTimeout(() => {
      if (left > MAX_TIMER_MS) { this.#expireAt(live, at); return; }
      this.#o.log?.info({ publication: live.pub.id }, 'publication expired');
      void this.unpublish(live.pub.id).catch(() => undefined);
    }, Math.min(Math.max(left, 0), MAX_TIMER_MS));
    live.timer.unref();
  }

  list(): Publication[] { return [...this.#live.values()].map((l) => structuredClone(l.pub)); }

  get(id: string): Publication | undefined { const l = this.#live.get(id); return l && structuredClone(l.pub); }

  /** Clients attached to a publication's exports now (to one disk's when `disk` is given). */
  connections(id: string, disk?: string): number {
    const exports = this.#live.get(id)?.exports.filter((x) => disk === undefined || x.key === `${id}/${disk}`) ?? [];
    return exports.reduce((n, x) => n + this.#server.connections(x.key), 0);
  }

  /** Ends a publication: its clients are disconnected, its images closed, its tokens refused. */
  async unpublish(id: string): Promise<Publication> {
    const live = this.#live.get(id);
    if (!live) throw new PublicationError('ENOTFOUND', `publication ${id} does not exist (it may have expired, been unpublished, or the service restarted)`);
    this.#live.delete(id);
    clearTimeout(live.timer);
    for (const x of live.exports) this.#server.disconnect(x.key);
    live.release?.();
    await Promise.allSettled(live.exports.map((x) => x.image.close()));
    this.#o.log?.info({ publication: id, rp: live.pub.rpId }, 'publication ended');
    return live.pub;
  }

  /** Every export's token is compared (in constant time, as SHA-256 digests), so timing says nothing of how close a guess was. */
  #lookup(name: string): NbdExport | undefined {
    const want = digest(name);
    let found: NbdExport | undefined;
    for (const live of this.#live.values()) for (const x of live.exports) if (timingSafeEqual(want, x.digest)) found = x.exp;
    return found;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const id of [...this.#live.keys()]) await this.unpublish(id).catch(() => undefined);
    await this.#server.close();
  }
}
