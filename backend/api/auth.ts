// Who is calling. Inside the vSphere Client the plugin sends `vmware-api-session-id: <token>`,
// which the session bridge (plugin/session-bridge.ts) turns into a vCenter session of that user.
// Standalone, the user logs in with vCenter credentials and gets a bearer token. Either way every
// request runs with a vCenter session *of the user*, so vCenter's permissions decide what the user
// may see and do; a request whose session cannot be validated gets 401.
//
// Validating a password or a plugin token costs a vCenter call, so guessing is limited: per source
// address (behind a configured vCenter's reverse proxy: the address it forwards for), failed attempts
// (and attempts still in flight) beyond `maxFailures` in `windowMs` are
// answered 429 with Retry-After, before vCenter is asked; successful attempts do not count. Tokens
// vCenter refused are remembered (a bounded, expiring cache) and answered 401 at once, and
// concurrent requests with the same new token share one validation.
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { StillpointError, Unauthorized } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import { VSphereError } from '../vsphere/faults.ts';
import { TooManyRequests } from './http.ts';

const log = childLog('auth');

/** A vCenter session acting for one user. */
export interface UserSession {
  readonly username: string;
  /** The sites (configured vCenters) this user has a session at; the others show nothing to the user. */
  readonly siteIds?: string[];
  /** Ids of the VMs this user can see (vCenter's permissions applied by vCenter itself), site-qualified. */
  visibleVmIds(): Promise<Set<string>>;
  logout(): Promise<void>;
}

export interface UserContext {
  username: string;
  mode: 'plugin' | 'standalone';
  session: UserSession;
}

export interface SessionSources {
  /** Standalone: log in to vCenter as the user. Throws on bad credentials. */
  login(username: string, password: string): Promise<UserSession>;
  /** Plugin: trade the vSphere Client's plugin session token for a cloned vCenter session. */
  fromPluginToken(token: string): Promise<UserSession>;
}

interface Entry { ctx: UserContext; expires: number }

export interface AuthOptions {
  /** Idle lifetime of a session (sliding). */
  ttlMs?: number;
  /** Failed sign-ins (passwords or plugin tokens) per source address and window before 429. Default 5, or STILLPOINT_AUTH_MAX_FAILURES. */
  maxFailures?: number;
  /** The window failures count in. Default 60 s, or STILLPOINT_AUTH_WINDOW_SEC. */
  windowMs?: number;
  /** How many refused plugin tokens are remembered, and for how long. */
  rejectedTokens?: { max?: number; ttlMs?: number };
  /**
   * Peer addresses whose X-Forwarded-For is believed: the configured vCenters, whose reverse proxy
   * forwards the vSphere Client's plugin requests, so every plugin user would otherwise share the
   * proxy's address (and one guesser's failures would lock them all out).
   */
  trustedProxies?: Iterable<string>;
}

/** What the sign-in defences did, since the process started (all Auth instances): for operators and tests. */
export const authStats = {
  /** Plugin tokens sent to vCenter for validation. */
  pluginValidations: 0,
  /** Requests with a token vCenter refused before, answered 401 from the cache. */
  rejectedTokenHits: 0,
  /** Requests that waited for a validation of the same token already under way. */
  coalescedValidations: 0,
  /** Sign-ins answered 429 (source over its failure limit). */
  rateLimited: 0,
};

export class Auth {
  readonly #sources: SessionSources;
  readonly #ttlMs: number;
  readonly #sessions = new Map<string, Entry>();      // bearer token -> standalone session
  readonly #plugin = new Map<string, Entry>();        // plugin token -> cloned session
  readonly #validating = new Map<string, Promise<Entry>>(); // plugin token -> validation under way
  readonly #rejected: ExpiringSet;                    // sha-256 of plugin tokens vCenter refused
  readonly #limiter: FailureLimiter;
  readonly #timer: NodeJS.Timeout;
  readonly #trustedProxies: ReadonlySet<string>;

  constructor(sources: SessionSources, opts: AuthOptions = {}) {
    this.#sources = sources;
    this.#trustedProxies = new Set([...(opts.trustedProxies ?? [])].map(sourceKey));
    this.#ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.#limiter = new FailureLimiter(
      opts.maxFailures ?? envNumber('STILLPOINT_AUTH_MAX_FAILURES') ?? 5,
      opts.windowMs ?? (envNumber('STILLPOINT_AUTH_WINDOW_SEC') ?? 60) * 1000,
    );
    this.#rejected = new ExpiringSet(opts.rejectedTokens?.max ?? 10_000, opts.rejectedTokens?.ttlMs ?? 10 * 60_000);
    this.#timer = setInterval(() => void this.evictExpired(), 30_000);
    this.#timer.unref();
  }

  /**
   * The address sign-in attempts are counted against: the peer's, or, when the peer is a trusted
   * proxy (a configured vCenter), the address that proxy put last into X-Forwarded-For (the entries
   * before it are the client's own claims). An IPv6 client counts by its /64.
   */
  sourceOf(req: Request): string {
    const peer = sourceKey(req.socket.remoteAddress ?? 'unknown');
    if (!this.#trustedProxies.has(peer)) return peer;
    const forwarded = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').map((h) => h.trim());
    const client = hops.at(-1);
    return client && isIP(client) ? sourceKey(client) : peer;
  }

  async login(username: string, password: string, source = 'unknown'): Promise<{ token: string; username: string }> {
    const release = await this.#limiter.acquire(source);
    let session: UserSession;
    try {
      session = await this.#sources.login(username, password);
    } catch (e) {
      release(isRefusal(e));
      if (isRefusal(e)) log.info({ user: username, source }, 'login refused');
      throw e;
    }
    release(false);
    const token = randomBytes(32).toString('base64url');
    this.#sessions.set(token, { ctx: { username: session.username, mode: 'standalone', session }, expires: Date.now() + this.#ttlMs });
    log.info({ user: session.username }, 'standalone login');
    return { token, username: session.username };
  }

  async logout(token: string): Promise<void> {
    const e = this.#sessions.get(token);
    this.#sessions.delete(token);
    if (e) await e.ctx.session.logout().catch(() => undefined);
  }

  /** Express middleware: sets res.locals.user or answers 401 (429 when the source is over its limit). */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      this.resolve(req).then((ctx) => {
        res.locals.user = ctx;
        next();
      }, next);
    };
  }

  async resolve(req: Request): Promise<UserContext> {
    const pluginToken = header(req, 'vmware-api-session-id');
    const bearer = header(req, 'authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
    // EventSource cannot set headers: the event stream alone accepts the token as a query parameter.
    const queryToken = req.path === '/events' && typeof req.query.session === 'string' ? req.query.session : undefined;
    const token = bearer ?? queryToken;
    const e = token ? this.#sessions.get(token) : undefined;
    if (token && e) {
      if (e.expires < Date.now()) {
        this.#sessions.delete(token);
        void e.ctx.session.logout().catch(() => undefined);
        throw new Unauthorized('Your session has expired: log in again.');
      }
      e.expires = Date.now() + this.#ttlMs; // sliding
      return e.ctx;
    }
    const plugin = pluginToken ?? (queryToken && !bearer ? queryToken : undefined);
    if (plugin) return (await this.#fromPlugin(plugin, this.sourceOf(req))).ctx;
    if (token) throw new Unauthorized('The session token is not valid (expired or from another server): log in again.');
    throw new Unauthorized();
  }

  async #fromPlugin(token: string, source: string): Promise<Entry> {
    const known = this.#plugin.get(token);
    if (known) {
      // Not sliding: after the TTL vCenter is asked again whether the vSphere Client session is still valid.
      if (known.expires > Date.now()) return known;
      this.#plugin.delete(token);
      void known.ctx.session.logout().catch(() => undefined);
    }
    const digest = createHash('sha256').update(token).digest('base64url');
    if (this.#rejected.has(digest)) {
      authStats.rejectedTokenHits++;
      throw refused();
    }
    const running = this.#validating.get(token);
    if (running) {
      authStats.coalescedValidations++;
      return running;
    }
    // The limit applies before vCenter is asked; a request that had to wait re-checks the caches.
    const release = await this.#limiter.acquire(source);
    const settled = this.#plugin.get(token) ?? this.#validating.get(token);
    if (settled) { release(false); authStats.coalescedValidations++; return settled; }
    if (this.#rejected.has(digest)) { release(false); authStats.rejectedTokenHits++; throw refused(); }

    authStats.pluginValidations++;
    const validation = this.#sources.fromPluginToken(token).then((session) => {
      const entry: Entry = { ctx: { username: session.username, mode: 'plugin', session }, expires: Date.now() + this.#ttlMs };
      this.#plugin.set(token, entry);
      release(false);
      return entry;
    }, (e: unknown) => {
      const definite = isRefusal(e);
      release(definite);
      if (definite) this.#rejected.add(digest);
      log.info({ reason: (e as Error).message, source, remembered: definite }, 'plugin session token refused');
      throw refused();
    }).finally(() => { this.#validating.delete(token); });
    this.#validating.set(token, validation);
    return validation;
  }

  async evictExpired(): Promise<void> {
    const now = Date.now();
    for (const [t, e] of this.#sessions) {
      if (e.expires < now) { this.#sessions.delete(t); await e.ctx.session.logout().catch(() => undefined); }
    }
    for (const [t, e] of this.#plugin) {
      if (e.expires < now) { this.#plugin.delete(t); await e.ctx.session.logout().catch(() => undefined); }
    }
    this.#rejected.prune(now);
    this.#limiter.prune(now);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.allSettled(this.#validating.values());
    for (const e of this.#sessions.values()) await e.ctx.session.logout().catch(() => undefined);
    for (const e of this.#plugin.values()) await e.ctx.session.logout().catch(() => undefined);
    this.#sessions.clear();
    this.#plugin.clear();
  }
}

const refused = () => new Unauthorized('vCenter did not accept the plugin session: reload the vSphere Client and try again.');

/** vCenter's (or the service's) definite no, as opposed to vCenter not answering: only that counts as a failed attempt. */
function isRefusal(e: unknown): boolean {
  if (e instanceof StillpointError) return e.kind === 'unauthorized';
  if (e instanceof VSphereError) return e.fault === 'InvalidLogin' || e.fault === 'NotAuthenticated' || e.fault === 'NoPermission';
  return false;
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v} is not a positive number.`);
  return n;
}

/** An IPv4 address as is; an IPv6 address by its /64 (one host usually owns a whole /64); IPv4-mapped IPv6 as IPv4. */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/**
 * Failed attempts per source in a sliding window. An attempt holds a slot while it runs, so a burst
 * of concurrent guesses cannot get past the limit before the first failure is known: beyond the
 * limit, attempts wait for a slot (a few) or are refused at once.
 */
class FailureLimiter {
  static readonly MAX_SOURCES = 10_000;
  static readonly MAX_WAITING = 20;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #sources = new Map<string, { failures: number[]; running: number; waiting: (() => void)[] }>();

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Resolves with `release(failed)` once the attempt may run; rejects with TooManyRequests. */
  async acquire(source: string): Promise<(failed: boolean) => void> {
    for (;;) {
      const s = this.#state(source);
      const now = Date.now();
      while (s.failures.length && s.failures[0]! <= now - this.#windowMs) s.failures.shift();
      if (s.failures.length >= this.#max) {
        authStats.rateLimited++;
        const retryAfterSec = Math.max(1, Math.ceil((s.failures[0]! + this.#windowMs - now) / 1000));
        throw new TooManyRequests(`Too many failed sign-in attempts from your address: try again in ${retryAfterSec} s.`, retryAfterSec);
      }
      if (s.failures.length + s.running < this.#max) {
        s.running++;
        let done = false;
        return (failed) => {
          if (done) return;
          done = true;
          s.running--;
          if (failed) s.failures.push(Date.now());
          for (const wake of s.waiting.splice(0)) wake();
        };
      }
      if (s.waiting.length >= FailureLimiter.MAX_WAITING) {
        authStats.rateLimited++;
        throw new TooManyRequests('Too many sign-in attempts from your address at once: try again in a moment.', 1);
      }
      await new Promise<void>((resolve) => s.waiting.push(resolve));
    }
  }

  #state(source: string) {
    let s = this.#sources.get(source);
    if (!s) {
      if (this.#sources.size >= FailureLimiter.MAX_SOURCES) this.prune(Date.now());
      if (this.#sources.size >= FailureLimiter.MAX_SOURCES) {
        // Still full: forget the oldest idle source (its failures are the oldest too).
        for (const [k, v] of this.#sources) if (!v.running && !v.waiting.length) { this.#sources.delete(k); break; }
      }
      s = { failures: [], running: 0, waiting: [] };
      this.#sources.set(source, s);
    }
    return s;
  }

  prune(now: number): void {
    for (const [k, v] of this.#sources) {
      if (!v.running && !v.waiting.length && (!v.failures.length || v.failures[v.failures.length - 1]! <= now - this.#windowMs)) this.#sources.delete(k);
    }
  }
}

/** A bounded set whose members expire; the oldest member goes first when it is full. */
class ExpiringSet {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #until = new Map<string, number>();
  constructor(max: number, ttlMs: number) { this.#max = max; this.#ttlMs = ttlMs; }
  has(k: string): boolean {
    const t = this.#until.get(k);
    if (t === undefined) return false;
    if (t > Date.now()) return true;
    this.#until.delete(k);
    return false;
  }
  add(k: string): void {
    this.#until.delete(k);
    while (this.#until.size >= this.#max) this.#until.delete(this.#until.keys().next().value!);
    this.#until.set(k, Date.now() + this.#ttlMs);
  }
  prune(now: number): void {
    for (const [k, t] of this.#until) if (t <= now) this.#until.delete(k);
  }
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
