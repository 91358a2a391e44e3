// SessionManager: Login, keep-alive, transparent re-login, clone tickets (session bridge), generic service
// tickets, Logout. Passwords, cookies and tickets are never logged.
import { request as httpsRequest } from 'node:https';
import { VimClient, type ClientOptions } from './client.ts';
import { childLog } from '../common/log.ts';
import { NotAuthenticatedError, VCenterUnreachableError, VSphereError } from './faults.ts';
import { PropertyCollector } from './property-collector.ts';
import { mor, type MoRef, type UserSession } from './types.ts';

const SERVICE_INSTANCE = mor('ServiceInstance', 'ServiceInstance');

const log = childLog('vsphere.session');

/** SessionManagerGenericServiceTicket: send `id` as the cookie vmware_cgi_ticket to the host. */
export type HostServiceTicket = { id: string; hostName?: string; sslThumbprint?: string; ticketType?: string };

export type SessionOptions = {
  /** Keep-alive interval (default 10 min; vCenter idles sessions out after 30 min). 0 disables. */
  keepAliveMs?: number;
  locale?: string;
};

export class Session {
  readonly client: VimClient;
  #username: string | undefined;
  #password: string | undefined;
  #locale: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  user: UserSession | undefined;

  private constructor(client: VimClient) {
    this.client = client;
  }

  get sessionManager(): MoRef {
    const sm = this.client.serviceContent.sessionManager;
    if (!sm) throw new Error('this endpoint has no SessionManager');
    return sm;
  }

  /** Logs in with user name and password; re-logs in transparently after NotAuthenticated. */
  static async login(client: VimClient, username: string, password: string, opts: SessionOptions = {}): Promise<Session> {
    const s = new Session(client);
    s.#username = username;
    s.#password = password;
    s.#locale = opts.locale;
    await s.#login();
    client.reauthenticate = () => s.#login();
    s.startKeepAlive(opts.keepAliveMs);
    return s;
  }

  /**
   * Builds a session from a clone ticket (AcquireCloneTicket on another session, e.g. the vSphere Client
   * user's, handed over by the plugin's session bridge). Such a session cannot re-login by itself: pass
   * `renew` to obtain a fresh ticket when vCenter reports NotAuthenticated.
   */
  static async fromCloneTicket(client: VimClient, ticket: string, opts: SessionOptions & { renew?: () => Promise<string> } = {}): Promise<Session> {
    const s = new Session(client);
    s.user = await client.call<UserSession>('CloneSession', { _this: s.sessionManager, cloneTicket: ticket });
    log.info({ user: s.user.userName }, 'cloned session');
    if (opts.renew) {
      const renew = opts.renew;
      client.reauthenticate = async () => {
        client.sessionCookie = undefined;
        s.user = await client.call<UserSession>('CloneSession', { _this: s.sessionManager, cloneTicket: await renew() });
      };
    }
    s.startKeepAlive(opts.keepAliveMs);
    return s;
  }

  async #login(): Promise<void> {
    if (this.#username === undefined || this.#password === undefined) {
      throw new NotAuthenticatedError('session has no credentials to log in again');
    }
    this.client.sessionCookie = undefined;
    this.user = await this.client.call<UserSession>('Login', {
      _this: this.sessionManager, userName: this.#username, password: this.#password, locale: this.#locale,
    });
    log.info({ user: this.user.userName, url: this.client.url }, 'logged in');
  }

  /** Periodic CurrentTime calls keep the session from idling out (and re-login if it expired anyway). */
  startKeepAlive(intervalMs = 10 * 60_000): void {
    this.stopKeepAlive();
    if (!intervalMs) return;
    this.#timer = setInterval(() => {
      this.client.call('CurrentTime', { _this: SERVICE_INSTANCE })
        .catch((err: unknown) => log.warn({ err: err instanceof VSphereError ? err.message : String(err) }, 'keep-alive failed'));
    }, intervalMs);
    this.#timer.unref();
  }

  stopKeepAlive(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The server's current time (also a cheap liveness check). */
  async currentTime(): Promise<Date> {
    return this.client.call<Date>('CurrentTime', { _this: SERVICE_INSTANCE });
  }

  /** SessionManager.currentSession (undefined when not logged in). */
  async currentSession(): Promise<UserSession | undefined> {
    const pc = new PropertyCollector(this.client);
    const p = await pc.retrieveOne<{ currentSession?: UserSession }>(this.sessionManager, ['currentSession']);
    return p.currentSession;
  }

  /** A one-time ticket another process can turn into a session with CloneSession (valid ~30 s). */
  async acquireCloneTicket(): Promise<string> {
    return this.client.call<string>('AcquireCloneTicket', { _this: this.sessionManager });
  }

  /**
   * A one-time ticket for an HTTP request to a host service (e.g. an ESXi host's /folder URL), sent as the
   * cookie `vmware_cgi_ticket`. `method` is httpGet/httpPut/…; `url` the exact URL the ticket is for.
   */
  async acquireGenericServiceTicket(url: string, method: 'httpGet' | 'httpPut' | 'httpPost' | 'httpHead' | 'httpDelete' = 'httpGet'): Promise<HostServiceTicket> {
    return this.client.call<HostServiceTicket>('AcquireGenericServiceTicket', {
      _this: this.sessionManager, spec: { _type: 'SessionManagerHttpServiceRequestSpec', method, url },
    });
  }

  async logout(): Promise<void> {
    this.stopKeepAlive();
    this.client.reauthenticate = undefined;
    try {
      await this.client.call('Logout', { _this: this.sessionManager }, { noRetry: true });
    } catch (err) {
      if (!(err instanceof NotAuthenticatedError)) throw err;
    }
    this.client.sessionCookie = undefined;
  }
}

/**
 * Trades a vSphere Client session token (the plugin iframe's htmlClientSdk getSessionInfo().sessionToken)
 * for a clone ticket: POST /api/ui/vcenter/session/clone-ticket with header vmware-api-session-id and body
 * {vc_guid}, over the client's pinned connection. The token is never logged.
 */
export async function cloneTicketFromUiSession(client: VimClient, sessionToken: string, vcGuid?: string): Promise<string> {
  const url = `${client.baseUrl}/api/ui/vcenter/session/clone-ticket`;
  const body = JSON.stringify(vcGuid ? { vc_guid: vcGuid } : {});
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(url, {
      method: 'POST', agent: client.agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'vmware-api-session-id': sessionToken },
    }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', reject);
    });
    req.setTimeout(client.http.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(err instanceof VSphereError ? err : new VCenterUnreachableError(client.baseUrl, err)));
    req.end(body);
  });
  let json: { session_clone_ticket?: string; messages?: { default_message?: string }[] } = {};
  try {
    json = JSON.parse(res.text);
  } catch { /* not JSON */ }
  if (res.status === 200 && json.session_clone_ticket) return json.session_clone_ticket;
  const msg = json.messages?.[0]?.default_message ?? `HTTP ${res.status}`;
  if (res.status === 401) {
    throw new VSphereError('NotAuthenticated', `vSphere Client session token refused: ${msg}`,
      "The user's vSphere Client session expired or the token is wrong: reload the Stillpoint view in the vSphere Client.");
  }
  if (res.status === 404) {
    throw new VSphereError('NotFound', `clone-ticket: ${msg}`, 'The vCenter GUID does not match this vCenter: check the plugin registration.');
  }
  throw new VSphereError('HttpError', `clone-ticket: ${msg}`, 'Check that the vSphere Client service (vsphere-ui) is running on this vCenter.');
}

/** Connects and logs in: the usual way to get a working client. */
export async function connectAndLogin(opts: ClientOptions & SessionOptions & { username: string; password: string }): Promise<{ client: VimClient; session: Session }> {
  const client = await VimClient.connect(opts);
  const session = await Session.login(client, opts.username, opts.password, opts);
  return { client, session };
}
