// Datastore file access over HTTPS: GET https://<vc>/folder/<path>?dcPath=<dc>&dsName=<ds>, with Range
// for random reads (as a stream or a buffer), and PUT for whole-file uploads. Uses the session cookie and the
// client's pinned keep-alive agent, so many ranged reads can run in parallel over reused connections.
// Optionally goes straight to the ESXi host with a one-time generic service ticket.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { VimClient } from './client.ts';
import { FileFaultError, NoPermissionError, NotAuthenticatedError, VCenterUnreachableError, VSphereError } from './faults.ts';
import type { Session } from './session.ts';
import { PinnedAgent } from './tls.ts';

export type DatastorePath = { datastore: string; path: string };

/** "[ds1] vm/vm.vmdk" → { datastore: "ds1", path: "vm/vm.vmdk" }. */
export function parseDatastorePath(p: string): DatastorePath {
  const m = /^\s*\[([^\]]+)\]\s*(.*)$/.exec(p);
  if (!m) throw new Error(`not a datastore path: ${p}`);
  return { datastore: m[1]!, path: m[2]!.replace(/^\/+/, '') };
}

export function formatDatastorePath(p: DatastorePath): string {
  return `[${p.datastore}] ${p.path}`;
}

/** A sibling file in the same datastore folder: ("[ds] vm/a.vmdk", "a-flat.vmdk") → "[ds] vm/a-flat.vmdk". */
export function siblingPath(dsPath: string, fileName: string): string {
  const p = parseDatastorePath(dsPath);
  if (fileName.startsWith('[')) return fileName;
  const dir = p.path.includes('/') ? p.path.slice(0, p.path.lastIndexOf('/') + 1) : '';
  return formatDatastorePath({ datastore: p.datastore, path: fileName.startsWith('/') ? fileName.slice(1) : dir + fileName });
}

export type VmdkExtent = { access: string; sizeSectors: number; type: string; file?: string; offset?: number };
export type VmdkDescriptor = {
  version?: number; cid?: string; parentCid?: string; createType?: string; parentFileNameHint?: string;
  extents: VmdkExtent[]; ddb: Record<string, string>;
};

/** Parses a text VMDK descriptor (the small .vmdk next to -flat.vmdk / -delta.vmdk / -sesparse.vmdk). */
export function parseVmdkDescriptor(text: string): VmdkDescriptor {
  const d: VmdkDescriptor = { extents: [], ddb: {} };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\0+$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?/.exec(line);
    if (ext) {
      const e: VmdkExtent = { access: ext[1]!, sizeSectors: Number(ext[2]), type: ext[3]! };
      if (ext[4] !== undefined) e.file = ext[4];
      if (ext[5] !== undefined) e.offset = Number(ext[5]);
      d.extents.push(e);
      continue;
    }
    const kv = /^([\w.]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (!kv) continue;
    const [, k, v] = kv as unknown as [string, string, string];
    if (k.startsWith('ddb.')) d.ddb[k.slice(4)] = v;
    else if (k === 'version') d.version = Number(v);
    else if (k === 'CID') d.cid = v;
    else if (k === 'parentCID') d.parentCid = v;
    else if (k === 'createType') d.createType = v;
    else if (k === 'parentFileNameHint') d.parentFileNameHint = v;
  }
  return d;
}

export type ReadOptions = {
  /** Datacenter inventory path (DatacenterInfo.path). Default: the only/first datacenter given to the constructor. */
  dcPath?: string;
  /** First byte (inclusive) and end (exclusive). Omit for the whole file. */
  start?: number;
  end?: number;
  signal?: AbortSignal;
};

type Target = { url: URL; agent: PinnedAgent; cookie: string | undefined };

/** Direct-to-host access: where vCenter hands out generic service tickets for the host's /folder URL. */
export type HostRoute = { hostName: string; port?: number; dcPath?: string; session: Session };

export class DatastoreHttp {
  readonly client: VimClient;
  defaultDcPath: string | undefined;

  constructor(client: VimClient, defaultDcPath?: string) {
    this.client = client;
    this.defaultDcPath = defaultDcPath;
  }

  /** https://<vc>/folder/<path>?dcPath=&dsName= for a "[ds] path" name. */
  url(dsPath: string, dcPath?: string): URL {
    const p = parseDatastorePath(dsPath);
    const u = new URL(`${this.client.baseUrl}/folder/${p.path.split('/').map(encodeURIComponent).join('/')}`);
    const dc = dcPath ?? this.defaultDcPath;
    if (dc) u.searchParams.set('dcPath', dc);
    u.searchParams.set('dsName', p.datastore);
    return u;
  }

  #target(dsPath: string, dcPath?: string): Target {
    return { url: this.url(dsPath, dcPath), agent: this.client.agent, cookie: this.client.sessionCookie };
  }

  /**
   * A target on the ESXi host itself, authorized by a one-time generic service ticket (one per request;
   * the host's certificate is pinned to the thumbprint vCenter reports for it).
   */
  async hostTarget(dsPath: string, route: HostRoute, method: 'httpGet' | 'httpPut'): Promise<Target> {
    const p = parseDatastorePath(dsPath);
    const u = new URL(`https://${route.hostName}:${route.port ?? 443}/folder/${p.path.split('/').map(encodeURIComponent).join('/')}`);
    u.searchParams.set('dcPath', route.dcPath ?? 'ha-datacenter');
    u.searchParams.set('dsName', p.datastore);
    const ticket = await route.session.acquireGenericServiceTicket(u.toString(), method);
    const agent = ticket.sslThumbprint ? new PinnedAgent({ thumbprint: ticket.sslThumbprint, maxSockets: 4 }) : this.client.agent;
    return { url: u, agent, cookie: `vmware_cgi_ticket=${ticket.id}` };
  }

  /** HEAD-like size query (GET with Range 0-0 so it works everywhere). */
  async size(dsPath: string, opts: { dcPath?: string } = {}): Promise<number> {
    const res = await this.#send('GET', this.#target(dsPath, opts.dcPath), { Range: 'bytes=0-0' });
    res.resume();
    const cr = res.headers['content-range'];
    const m = cr && /\/(\d+)$/.exec(cr);
    if (m) return Number(m[1]);
    return Number(res.headers['content-length'] ?? 0);
  }

  /** Reads [start, end) (or the whole file) as a stream. */
  async readStream(dsPath: string, opts: ReadOptions & { route?: HostRoute } = {}): Promise<Readable> {
    const target = opts.route ? await this.hostTarget(dsPath, opts.route, 'httpGet') : this.#target(dsPath, opts.dcPath);
    const headers: Record<string, string> = {};
    const ranged = opts.start !== undefined || opts.end !== undefined;
    if (ranged) {
      const start = opts.start ?? 0;
      if (opts.end !== undefined && opts.end <= start) return Readable.from([]);
      headers.Range = `bytes=${start}-${opts.end !== undefined ? opts.end - 1 : ''}`;
    }
    const res = await this.#send('GET', target, headers, undefined, opts.signal);
    if (ranged && res.statusCode === 200 && (opts.start ?? 0) !== 0) {
      res.destroy();
      throw new VSphereError('RangeNotSupported', `${dsPath}: the server ignored the Range header`,
        'This endpoint does not support ranged reads; use another transport.');
    }
    return res;
  }

  /** Reads [start, end) into a buffer. */
  async read(dsPath: string, opts: ReadOptions & { route?: HostRoute } = {}): Promise<Buffer> {
    const s = await this.readStream(dsPath, opts);
    const expected = (s as IncomingMessage).headers?.['content-length'];
    const chunks: Buffer[] = [];
    try {
      for await (const c of s) chunks.push(c as Buffer);
    } catch (err) {
      throw new VSphereError('ShortRead', `${dsPath}: the connection broke after ${chunks.reduce((n, c) => n + c.length, 0)} bytes`,
        'A network or host problem interrupted the transfer; it is retried automatically by the backup engine.', undefined, { cause: err });
    }
    const buf = Buffer.concat(chunks);
    if (expected !== undefined && buf.length !== Number(expected)) {
      throw new VSphereError('ShortRead', `${dsPath}: got ${buf.length} of ${expected} bytes`,
        'A network or host problem interrupted the transfer; it is retried automatically by the backup engine.');
    }
    if (opts.end !== undefined && opts.start === undefined && buf.length > opts.end) return buf.subarray(0, opts.end);
    return buf;
  }

  /** Uploads a whole file (PUT). `size` is needed for streams (Content-Length; ESXi refuses chunked uploads). */
  async put(dsPath: string, body: Buffer | Readable, opts: { dcPath?: string; size?: number; route?: HostRoute; signal?: AbortSignal } = {}): Promise<void> {
    const target = opts.route ? await this.hostTarget(dsPath, opts.route, 'httpPut') : this.#target(dsPath, opts.dcPath);
    const size = Buffer.isBuffer(body) ? body.length : opts.size;
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = String(size);
    const res = await this.#send('PUT', target, headers, body, opts.signal, false);
    res.resume();
  }

  /** Reads a VMDK descriptor and returns it with the datastore path of its (first) data extent. */
  async resolveExtent(descriptorPath: string, opts: { dcPath?: string } = {}): Promise<{ descriptor: VmdkDescriptor; extentPath: string }> {
    const head = await this.read(descriptorPath, { ...opts, start: 0, end: 65536 });
    if (head.subarray(0, 4).toString('latin1') === 'KDMV') {
      throw new VSphereError('UnsupportedDiskFormat', `${descriptorPath} is a monolithic sparse VMDK`, 'Only descriptor + flat/delta extents are read over datastore HTTP.');
    }
    const descriptor = parseVmdkDescriptor(head.toString('utf8'));
    const files = descriptor.extents.filter((e) => e.file);
    const ext = files[0];
    if (!ext?.file) throw new VSphereError('UnsupportedDiskFormat', `${descriptorPath}: no extent in the descriptor`, 'Is this a VMDK descriptor?');
    // Every reader and writer of a disk's bytes goes through this one extent: a split disk (hosted
    // twoGbMaxExtent formats, a descriptor edited by hand) would be read or written as its first part.
    if (files.length > 1) {
      throw new VSphereError('UnsupportedDiskFormat', `${descriptorPath} is split into ${files.length} extent files (${files.map((e) => e.file).join(', ')})`,
        'Stillpoint reads and writes disks held in one extent file, as ESXi creates them. Convert the disk to one file (vmkfstools -i, or migrate it with Storage vMotion), then run again.');
    }
    return { descriptor, extentPath: siblingPath(descriptorPath, ext.file) };
  }

  async #send(method: string, t: Target, headers: Record<string, string>, body?: Buffer | Readable, signal?: AbortSignal, retry = true): Promise<IncomingMessage> {
    const res = await this.#sendOnce(method, t, headers, body, signal);
    if ((res.statusCode === 401 || res.statusCode === 403) && retry && this.client.reauthenticate && t.agent === this.client.agent) {
      res.resume();
      await this.client.reauthenticate();
      return this.#send(method, { ...t, cookie: this.client.sessionCookie }, headers, body, signal, false);
    }
    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await readSmall(res);
    const where = `${method} ${t.url.pathname}?${t.url.searchParams.toString()}`;
    if (res.statusCode === 404) throw new FileFaultError('FileNotFound', `${where}: not found`, { file: t.url.pathname });
    if (res.statusCode === 401) throw new NotAuthenticatedError(`${where}: HTTP 401`);
    if (res.statusCode === 403) throw new NoPermissionError(`${where}: HTTP 403`, { privilegeId: method === 'GET' ? 'Datastore.Browse' : 'Datastore.FileManagement' });
    throw new VSphereError('HttpError', `${where}: HTTP ${res.statusCode} ${text.slice(0, 200)}`, 'Check the datastore and the vCenter logs.');
  }

  #sendOnce(method: string, t: Target, headers: Record<string, string>, body?: Buffer | Readable, signal?: AbortSignal, resent = false): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string> = { ...headers };
      if (t.cookie) h.Cookie = t.cookie;
      const opts: RequestOptions = { method, agent: t.agent, headers: h };
      if (signal) opts.signal = signal;
      const req = httpsRequest(t.url, opts, resolve);
      req.setTimeout(this.client.http.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => {
        // A keep-alive socket the server closed while idle: resend a GET once on a fresh socket.
        if (!resent && method === 'GET' && req.reusedSocket && (err as { code?: string }).code === 'ECONNRESET') {
          resolve(this.#sendOnce(method, t, headers, body, signal, true));
          return;
        }
        reject(err instanceof VSphereError || (err as Error).name === 'AbortError' ? err : new VCenterUnreachableError(t.url.origin, err));
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else body.on('error', (e) => req.destroy(e)).pipe(req);
    });
  }
}

async function readSmall(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    if (n < 4096) chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
