// The vim25 SOAP connection: node-soap client over a pinned keep-alive HTTPS agent, session cookie,
// vim25-aware (de)serialization (managed object references, xsi:type, ArrayOfX), typed faults.
//
// node-soap builds the request envelopes (ordering fields by the schema) and parses responses against the
// WSDL (typing ints/longs/booleans/dateTimes, following xsi:type to the subclass schema). Two small
// additions on top of it, both through its public lower-level pieces:
//  - transport: our own IHttpClient (node:https with the pinning agent, the vmware_soap_session cookie,
//    timeouts, connection errors mapped to VCenterUnreachable) instead of axios;
//  - a post-pass (`fromSoap`) that turns node-soap's generic shapes into vim25 values: MoRefs
//    `{type, value}`, `_type` from xsi:type, primitive `val`s typed by their xsi:type (node-soap leaves
//    `xsd:int` etc. inside anyType as strings), and ArrayOfX unwrapped. Its mirror (`toSoap`) tags MoRefs and
//    `_type` objects for node-soap's serializer (`attributes.type`, `attributes.xsi_type`).
// Parsed type descriptions are memoized per WSDL (node-soap recomputes them for every xsi:type element).
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client as SoapClient, WSDL } from 'soap';
import { childLog } from '../common/log.ts';
import { faultToError, VCenterUnreachableError, VSphereError, ThumbprintMismatchError } from './faults.ts';
import { PinnedAgent, type TlsOptions } from './tls.ts';
import { parseResponse } from './fast-parse.ts';
import { isMor, mor, type ManagedObjectReference, type ServiceContent } from './types.ts';

const log = childLog('vsphere.client');
const here = dirname(fileURLToPath(import.meta.url));
const VIM25 = 'urn:vim25';
const XSD = 'http://www.w3.org/2001/XMLSchema';

export type ClientOptions = TlsOptions & {
  /** https://vcenter.example.com/sdk (or just https://vcenter.example.com). */
  url: string;
  /** 'builtin' (default): the vim25 subset shipped in backend/vsphere/wsdl; 'server': vCenter's /sdk/vimService.wsdl. */
  wsdl?: 'builtin' | 'server';
  /** SOAPAction API version (default: "7.0" for RetrieveServiceContent, then the server's about.apiVersion). */
  apiVersion?: string;
  /** Per-call timeout in ms (default 120 s; WaitForUpdatesEx adds its own wait). */
  timeoutMs?: number;
  /** An existing agent to share (e.g. the one of the client this one was cloned from). */
  agent?: PinnedAgent;
  userAgent?: string;
};

/** SOAP bodies of read-only vim25 calls (safe to resend). */
const READ_ONLY = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(?:Retrieve|ContinueRetrieve|Find|Query|List|CurrentTime|SessionIsActive|WaitForUpdates)/;

type RawHolder = { method: string; body?: string };
type HttpResponse = { status: number; headers: Record<string, string | string[] | undefined>; data: string };

/** node-soap IHttpClient on node:https with the pinned agent and the vCenter session cookie. */
class VimHttp {
  readonly agent: PinnedAgent;
  cookie: string | undefined;
  timeoutMs: number;
  userAgent: string;
  /** Extra headers per call (e.g. the SOAPAction version override). */
  soapAction: string;

  constructor(agent: PinnedAgent, timeoutMs: number, userAgent: string, soapAction: string) {
    this.agent = agent;
    this.timeoutMs = timeoutMs;
    this.userAgent = userAgent;
    this.soapAction = soapAction;
  }

  request(rurl: string, data: unknown, callback: (err: unknown, res?: HttpResponse, body?: string) => void,
    exheaders?: Record<string, string>, exoptions?: { timeout?: number; raw?: RawHolder }): undefined {
    this.send(rurl, data as string | null, exheaders ?? {}, exoptions?.timeout ?? this.timeoutMs)
      .then((res) => {
        const raw = exoptions?.raw;
        if (raw && res.status === 200) {
          // Bulk calls: keep the body for fast-parse.ts and give node-soap an empty response to parse.
          raw.body = res.data;
          const empty = `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
            `<soapenv:Body><${raw.method}Response xmlns="urn:vim25"></${raw.method}Response></soapenv:Body></soapenv:Envelope>`;
          callback(null, { ...res, data: empty }, empty);
          return;
        }
        callback(null, res, res.data);
      }, (err) => callback(err));
    return undefined;
  }

  /**
   * One HTTP exchange. A read-only call that fails with ECONNRESET on a reused keep-alive socket (the server
   * closed it while idle, a race every keep-alive client has) is sent once more on a fresh socket.
   */
  async send(rurl: string, body: string | null, headers: Record<string, string>, timeoutMs: number): Promise<HttpResponse> {
    try {
      return await this.#sendOnce(rurl, body, headers, timeoutMs);
    } catch (err) {
      const e = err as { code?: string; reusedSocket?: boolean };
      if (e.code === 'ECONNRESET' && e.reusedSocket && (body === null || READ_ONLY.test(body))) {
        return this.#sendOnce(rurl, body, headers, timeoutMs);
      }
      throw err;
    }
  }

  #sendOnce(rurl: string, body: string | null, headers: Record<string, string>, timeoutMs: number): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string | number> = { 'User-Agent': this.userAgent, ...headers };
      if (body !== null) {
        h['Content-Type'] = 'text/xml; charset=utf-8';
        h.SOAPAction = `"${this.soapAction}"`;
        h['Content-Length'] = Buffer.byteLength(body);
      }
      if (this.cookie) h.Cookie = this.cookie;
      const req = httpsRequest(rurl, { method: body === null ? 'GET' : 'POST', agent: this.agent, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const setCookie = res.headers['set-cookie'];
          const session = setCookie?.map((c) => c.split(';')[0]!).find((c) => c.startsWith('vmware_soap_session='));
          if (session) this.cookie = session;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, data: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(body ?? undefined);
    });
  }
}

// ---- WSDL loading --------------------------------------------------------------------------------

const wsdlCache = new Map<string, Promise<WSDL>>();

function memoizeDescriptions(wsdl: WSDL): WSDL {
  const defs = (wsdl as unknown as { definitions: { schemas: Record<string, { complexTypes: Record<string, { description: (...a: unknown[]) => unknown }> }> } }).definitions;
  for (const schema of Object.values(defs.schemas)) {
    for (const t of Object.values(schema.complexTypes ?? {})) {
      const orig = t.description.bind(t);
      let cached: unknown;
      // A copy each time: node-soap's extension handling merges subclass fields into the base's description object.
      t.description = (...a: unknown[]) => {
        cached ??= orig(...a);
        return typeof cached === 'object' && cached !== null ? Object.assign({}, cached) : cached;
      };
    }
  }
  return wsdl;
}

function wsdlOptions(http?: VimHttp): Record<string, unknown> {
  return {
    httpClient: http,
    handleNilAsNull: true,
    returnFault: true,
    namespaceArrayElements: true,
    useEmptyTag: false,
    disableCache: true,
    valueKey: '$value',
    attributesKey: 'attributes',
  };
}

function loadWsdl(kind: 'builtin' | 'server', baseUrl: string, http: VimHttp): Promise<WSDL> {
  const key = kind === 'builtin' ? 'builtin' : `${baseUrl}|${http.agent.thumbprint ?? ''}`;
  let p = wsdlCache.get(key);
  if (!p) {
    p = new Promise<WSDL>((resolve, reject) => {
      const path = kind === 'builtin' ? join(here, 'wsdl', 'vimService.wsdl') : `${baseUrl}/vimService.wsdl`;
      const build = (xml: string): void => {
        const w = new WSDL(xml, path, wsdlOptions(http) as never);
        w.onReady((err) => (err ? reject(err) : resolve(memoizeDescriptions(w))));
      };
      if (kind === 'builtin') build(readFileSync(path, 'utf8'));
      else http.send(path, null, {}, http.timeoutMs).then((r) => {
        if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
        build(r.data);
      }).catch(reject);
    });
    wsdlCache.set(key, p);
    p.catch(() => wsdlCache.delete(key));
  }
  return p;
}

// ---- vim25 value mapping ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function xsiTypeOf(attrs: Obj | undefined): string | undefined {
  if (!attrs) return undefined;
  for (const k in attrs) if (k === 'xsi:type' || k.endsWith(':type')) return String(attrs[k]);
  return undefined;
}

function primitive(xsiType: string, text: unknown): unknown {
  const t = xsiType.includes(':') ? xsiType.slice(xsiType.indexOf(':') + 1) : xsiType;
  if (typeof text !== 'string') return text;
  switch (t) {
    case 'int': case 'long': case 'short': case 'byte': case 'float': case 'double': return Number(text);
    case 'boolean': return text === 'true' || text === '1';
    case 'dateTime': return new Date(text);
    default: return text;
  }
}

/** node-soap parse result → vim25 value (see the header comment). */
export function fromSoap(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return v;
  if (Array.isArray(v)) return v.map(fromSoap);
  const o = v as Obj;
  const attrs = o.attributes as Obj | undefined;
  const xsiType = xsiTypeOf(attrs);
  if (attrs && typeof attrs.type === 'string' && '$value' in o) return mor(attrs.type, String(o.$value));
  if (xsiType === 'ManagedObjectReference' || xsiType?.endsWith(':ManagedObjectReference')) {
    return mor(String(attrs?.type ?? ''), String(o.$value ?? ''));
  }
  if (xsiType && '$value' in o) return primitive(xsiType, o.$value);
  const plainType = xsiType?.includes(':') ? xsiType.slice(xsiType.indexOf(':') + 1) : xsiType;
  if (plainType?.startsWith('ArrayOf')) {
    for (const k in o) if (k !== 'attributes') return (Array.isArray(o[k]) ? o[k] as unknown[] : [o[k]]).map(fromSoap);
    return [];
  }
  const out: Obj = {};
  if (plainType) out._type = plainType;
  for (const k in o) {
    if (k === 'attributes') continue;
    out[k] = fromSoap(o[k]);
  }
  return out;
}

/** A node-soap type description: field name (arrays as "name[]") → nested description or type name. */
type Desc = Record<string, unknown>;
export type TypeLookup = (typeName: string) => Desc | undefined;

/**
 * vim25 value → node-soap input: MoRefs and `_type` become attributes, and every object's fields are put in
 * schema order (base type's fields first), following the declared types down the tree and switching to the
 * xsi:type's description where an object names its concrete type. vCenter rejects out-of-order elements;
 * node-soap orders only the fields its declared schema knows, not those of a subclass.
 */
export function toSoap(v: unknown, desc?: Desc, lookup?: TypeLookup): unknown {
  if (v === null || v === undefined || typeof v !== 'object') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((x) => toSoap(x, desc, lookup));
  if (isMor(v)) return { attributes: { type: v.type }, $value: v.value };
  const o = v as Obj;
  const out: Obj = {};
  if (typeof o._type === 'string') {
    const t = o._type;
    if (t.startsWith('xsd:')) return { attributes: { xsi_type: { type: t.slice(4), xmlns: XSD, prefix: 'xsd' } }, $value: String(o.value) };
    out.attributes = { xsi_type: { type: t, xmlns: VIM25, prefix: 'vim25' } };
    desc = lookup?.(t) ?? desc;
  }
  let keys = Object.keys(o).filter((k) => k !== '_type' && o[k] !== undefined);
  if (desc) {
    const order = new Map<string, number>();
    let i = 0;
    for (const k in desc) order.set(k.endsWith('[]') ? k.slice(0, -2) : k, i++);
    keys = keys.map((k, idx) => ({ k, idx })).sort((a, b) =>
      (order.get(a.k) ?? 1e9) - (order.get(b.k) ?? 1e9) || a.idx - b.idx).map((x) => x.k);
  }
  for (const k of keys) {
    const child = desc ? (desc[k] ?? desc[`${k}[]`]) : undefined;
    out[k] = toSoap(o[k], child && typeof child === 'object' ? child as Desc : undefined, lookup);
  }
  return out;
}

// ---- the client ------------------------------------------------------------------------------------

/** Method names that must not trigger re-login when they fail with NotAuthenticated. */
const NO_RELOGIN = new Set(['Login', 'LoginByToken', 'Logout', 'CloneSession', 'RetrieveServiceContent', 'SessionIsActive']);

export type CallOptions = { timeoutMs?: number; noRetry?: boolean };

/** Bulk PropertyCollector responses parsed by fast-parse.ts instead of node-soap's xmlToObject (see there). */
const FAST_PARSE = new Set(['RetrievePropertiesEx', 'ContinueRetrievePropertiesEx', 'WaitForUpdatesEx']);

export class VimClient {
  readonly url: string;
  readonly baseUrl: string;
  readonly options: ClientOptions;
  readonly http: VimHttp;
  readonly soap: SoapClient;
  serviceContent!: ServiceContent;
  /** Set by the session layer: re-authenticates after NotAuthenticated (called at most once per call). */
  reauthenticate: (() => Promise<void>) | undefined;
  /** Use fast-parse.ts for the bulk PropertyCollector calls (default true; false = node-soap for everything). */
  fastParse = true;
  #reauthInFlight: Promise<void> | undefined;

  private constructor(options: ClientOptions, url: string, http: VimHttp, soap: SoapClient) {
    this.options = options;
    this.url = url;
    this.baseUrl = url.replace(/\/sdk\/?$/, '');
    this.http = http;
    this.soap = soap;
  }

  /** Connects: loads the WSDL and fetches the ServiceContent (no login). */
  static async connect(options: ClientOptions): Promise<VimClient> {
    const u = new URL(options.url);
    if (u.protocol !== 'https:') throw new Error(`vCenter URL must be https: ${options.url}`);
    u.username = '';
    u.password = '';
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/sdk';
    const url = u.toString().replace(/\/$/, '');
    const agent = options.agent ?? new PinnedAgent(options);
    const http = new VimHttp(agent, options.timeoutMs ?? 120_000, options.userAgent ?? 'stillpoint/0.1',
      `urn:vim25/${options.apiVersion ?? '7.0'}`);
    let wsdl: WSDL;
    try {
      wsdl = await loadWsdl(options.wsdl ?? 'builtin', url, http);
    } catch (err) {
      throw mapTransportError(err, url);
    }
    const soap = new SoapClient(wsdl, url, wsdlOptions(http) as never);
    const c = new VimClient(options, url, http, soap);
    c.serviceContent = await c.call<ServiceContent>('RetrieveServiceContent', { _this: mor('ServiceInstance', 'ServiceInstance') });
    // Speak the server's API version from now on (what govmomi does), unless one was configured.
    if (!options.apiVersion && c.serviceContent.about?.apiVersion) http.soapAction = `urn:vim25/${c.serviceContent.about.apiVersion}`;
    log.debug({ url, api: c.serviceContent.about?.apiVersion }, 'connected');
    return c;
  }

  /** The session cookie value (vmware_soap_session=…), for datastore HTTP on the same session. */
  get sessionCookie(): string | undefined {
    return this.http.cookie;
  }

  set sessionCookie(c: string | undefined) {
    this.http.cookie = c;
  }

  get agent(): PinnedAgent {
    return this.http.agent;
  }

  /**
   * Invokes a vim25 method. `args` is in vim25 shape (`_this` first); returns the parsed `returnval`.
   * A NotAuthenticated fault triggers one transparent re-login (if the session layer set one up) and one retry.
   */
  async call<T = unknown>(method: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<T> {
    try {
      return await this.#invoke<T>(method, args, opts);
    } catch (err) {
      if (err instanceof VSphereError && err.fault === 'NotAuthenticated' && this.reauthenticate && !opts.noRetry
        && !NO_RELOGIN.has(method)) {
        log.info({ method }, 'session not authenticated; logging in again');
        this.#reauthInFlight ??= this.reauthenticate().finally(() => { this.#reauthInFlight = undefined; });
        await this.#reauthInFlight;
        return await this.#invoke<T>(method, args, opts);
      }
      throw err;
    }
  }

  #descCache = new Map<string, Desc | undefined>();
  #lookup: TypeLookup = (typeName) => {
    if (this.#descCache.has(typeName)) return this.#descCache.get(typeName);
    const defs = (this.soap.wsdl as unknown as { definitions: { schemas: Record<string, { complexTypes: Record<string, { description: (d: unknown) => unknown }> }> } }).definitions;
    const t = defs.schemas[VIM25]?.complexTypes[typeName];
    const d = t ? t.description(defs) as Desc : undefined;
    this.#descCache.set(typeName, d);
    return d;
  };

  #requestDesc(method: string): Desc | undefined {
    return this.#elementDesc(method);
  }

  /** The type description of a top-level vim25 element (a request or response element). */
  #elementDesc(element: string): Desc | undefined {
    const defs = (this.soap.wsdl as unknown as { definitions: { schemas: Record<string, { elements: Record<string, { $type?: string }> }> } }).definitions;
    const type = defs.schemas[VIM25]?.elements[element]?.$type;
    return type ? this.#lookup(type.slice(type.indexOf(':') + 1)) : undefined;
  }

  /** The type description of a vim25 type (for tests and tools). */
  typeDescription(typeName: string): Record<string, unknown> | undefined {
    return this.#lookup(typeName);
  }

  async #invoke<T>(method: string, args: Record<string, unknown>, opts: CallOptions): Promise<T> {
    const fn = (this.soap as unknown as Record<string, (a: unknown, o: unknown) => Promise<[unknown]>>)[`${method}Async`];
    if (!fn) throw new Error(`vim25 method ${method} is not in the WSDL`);
    const t0 = performance.now();
    let res: [unknown];
    const raw: RawHolder | undefined = FAST_PARSE.has(method) && this.fastParse ? { method } : undefined;
    try {
      res = await fn.call(this.soap, toSoap(args, this.#requestDesc(method), this.#lookup), { timeout: opts.timeoutMs ?? this.http.timeoutMs, raw });
    } catch (err) {
      throw mapError(err, this.url);
    }
    log.trace({ method, ms: Math.round(performance.now() - t0) }, 'call');
    if (raw?.body !== undefined) return parseResponse(raw.body, this.#elementDesc(`${method}Response`), this.#lookup) as T;
    const body = res[0] as Obj | null | undefined;
    return fromSoap(body?.returnval) as T;
  }
}

function mapTransportError(err: unknown, url: string): Error {
  if (err instanceof VSphereError) return err;
  const code = (err as { code?: string })?.code;
  if (code && /^E[A-Z]+/.test(code) || (err as Error)?.message?.includes('socket hang up')) return new VCenterUnreachableError(url, err);
  return err as Error;
}

/** node-soap error → typed error. */
function mapError(err: unknown, url: string): Error {
  if (err instanceof ThumbprintMismatchError) return err;
  const e = err as { root?: { Envelope?: { Body?: { Fault?: Obj } } }; response?: HttpResponse; body?: string };
  const fault = e?.root?.Envelope?.Body?.Fault;
  if (fault) {
    const detailWrap = fault.detail as Obj | undefined;
    let type = 'MethodFault';
    let detail: Obj | undefined;
    if (detailWrap && typeof detailWrap === 'object') {
      for (const k in detailWrap) {
        if (k === 'attributes') continue;
        const d = detailWrap[k] as Obj;
        detail = (fromSoap(d) ?? {}) as Obj;
        type = (detail._type as string | undefined) ?? k.replace(/Fault$/, '');
        if (k.endsWith('Fault') && !detail._type) type = k.slice(0, -5);
        break;
      }
    }
    const faultstring = typeof fault.faultstring === 'string' ? fault.faultstring : String((fault.faultstring as Obj)?.$value ?? '');
    if (!detail && /NotAuthenticated|not authenticated/i.test(faultstring)) type = 'NotAuthenticated';
    return faultToError(type, faultstring, detail);
  }
  if (e?.response && e.response.status >= 400) {
    return new VSphereError('HttpError', `HTTP ${e.response.status} from ${url}`, 'Check that the URL points at the vCenter /sdk endpoint.');
  }
  return mapTransportError(err, url);
}

export type { ManagedObjectReference };
