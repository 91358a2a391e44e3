// Who is calling. Inside the vSphere Client the plugin sends `vmware-api-session-id: <token>`,
// which the session bridge (plugin/session-bridge.ts) turns into a vCenter session of that user.
// Standalone, the user logs in with vCenter credentials and gets a bearer token. Either way every
// request runs with a vCenter session *of the user*, so vCenter's permissions decide what the user
// may see and do; a request whose session cannot be validated gets 401.
import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { Unauthorized } from '../common/errors.ts';
import { childLog } from '../common/log.ts';

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

export class Auth {
  readonly #sources: SessionSources;
  readonly #ttlMs: number;
  readonly #sessions = new Map<string, Entry>();      // bearer token -> standalone session
  readonly #plugin = new Map<string, Promise<Entry>>(); // plugin token -> cloned session
  readonly #timer: NodeJS.Timeout;

  constructor(sources: SessionSources, opts: { ttlMs?: number } = {}) {
    this.#sources = sources;
    this.#ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.#timer = setInterval(() => void this.evictExpired(), 30_000);
    this.#timer.unref();
  }

  async login(username: string, password: string): Promise<{ token: string; username: string }> {
    const session = await this.#sources.login(username, password);
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

  /** Express middleware: sets res.locals.user or answers 401. */
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
    if (token && this.#sessions.has(token)) {
      const e = this.#sessions.get(token)!;
      if (e.expires < Date.now()) {
        this.#sessions.delete(token);
        void e.ctx.session.logout().catch(() => undefined);
        throw new Unauthorized('Your session has expired: log in again.');
      }
      e.expires = Date.now() + this.#ttlMs; // sliding
      return e.ctx;
    }
    const plugin = pluginToken ?? (queryToken && !bearer ? queryToken : undefined);
    if (plugin) return (await this.#fromPlugin(plugin)).ctx;
    if (token) throw new Unauthorized('The session token is not valid (expired or from another server): log in again.');
    throw new Unauthorized();
  }

  async #fromPlugin(token: string): Promise<Entry> {
    let p = this.#plugin.get(token);
    if (p) {
      const e = await p.catch(() => undefined);
      if (e && e.expires > Date.now()) return e;
      this.#plugin.delete(token);
      if (e) void e.ctx.session.logout().catch(() => undefined);
    }
    p = this.#sources.fromPluginToken(token).then((session) => ({
      ctx: { username: session.username, mode: 'plugin' as const, session },
      expires: Date.now() + this.#ttlMs,
    }));
    this.#plugin.set(token, p);
    try {
      return await p;
    } catch (e) {
      this.#plugin.delete(token);
      log.info({ reason: (e as Error).message }, 'plugin session token refused');
      throw new Unauthorized('vCenter did not accept the plugin session: reload the vSphere Client and try again.');
    }
  }

  async evictExpired(): Promise<void> {
    const now = Date.now();
    for (const [t, e] of this.#sessions) {
      if (e.expires < now) { this.#sessions.delete(t); await e.ctx.session.logout().catch(() => undefined); }
    }
    for (const [t, p] of this.#plugin) {
      const e = await p.catch(() => undefined);
      if (!e || e.expires < now) { this.#plugin.delete(t); if (e) await e.ctx.session.logout().catch(() => undefined); }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const e of this.#sessions.values()) await e.ctx.session.logout().catch(() => undefined);
    for (const p of this.#plugin.values()) { const e = await p.catch(() => undefined); if (e) await e.ctx.session.logout().catch(() => undefined); }
    this.#sessions.clear();
    this.#plugin.clear();
  }
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
