// How the CLI talks to a running Stillpoint service: HTTPS to STILLPOINT_URL (default
// https://127.0.0.1:8443), trusting the service's own certificate from the data folder (or
// STILLPOINT_CA), with a bearer token from `stillpoint login` (kept sealed in the data folder) or
// from STILLPOINT_USER/STILLPOINT_PASSWORD. Sessions live in the service's memory: after a restart
// the stored token is refused (401), and the client logs in again by itself when it has those
// credentials, or says what to run when it has not. Without STILLPOINT_URL, the address, certificate
// and data folder come from the CLI config file (`cli-config.ts`) when there is one.
import { readFileSync, existsSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { join } from 'node:path';
import { defaultDataDir } from '../config.ts';
import { cliConfigPath, readCliConfig } from './cli-config.ts';
import { SecretBox } from '../common/secrets.ts';
import { readJson, writeFileDurable, removeFileDurable } from '../common/durable.ts';
import type { ApiError, LoginResponse } from '../api/contract.ts';

export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) { super(message); this.status = status; this.code = code; }
}

/** How `events` follows /api/events (besides `on`, which returns true to stop). */
export interface EventsOptions {
  signal?: AbortSignal;
  /** Called once the stream answered: events published from then on are seen. */
  onOpen?: () => void;
  /** The stream counts as dead after this long without a byte (the service pings every 15 s). Default 40 s. */
  idleMs?: number;
}

export class ServiceClient {
  readonly baseUrl: string;
  readonly #agent: Agent;
  readonly #dataDir: string;
  #token: string | undefined;

  constructor(opts: { url?: string; dataDir?: string; ca?: string } = {}) {
    const envUrl = (opts.url ?? process.env.STILLPOINT_URL)?.replace(/\/$/, '');
    // The CLI config file (written by `npm run demo`) counts for its own service only.
    const saved = readCliConfig();
    const file = saved && (!envUrl || envUrl === saved.url.replace(/\/$/, '')) ? saved : undefined;
    if (file?.writtenBy === 'npm run demo' && file.dataDir && !existsSync(file.dataDir)) {
      throw new ServiceError(0, 'unreachable', `The demo that wrote ${cliConfigPath()} has stopped (its data folder ${file.dataDir} is gone): ` +
        'start `npm run demo` again, or delete that file (or set STILLPOINT_URL) to use another service.');
    }
    this.baseUrl = envUrl ?? file?.url.replace(/\/$/, '') ?? 'https://127.0.0.1:8443';
    this.#dataDir = opts.dataDir ?? (process.env.STILLPOINT_DATA_DIR || !file?.dataDir ? defaultDataDir() : file.dataDir);
    const caFile = process.env.STILLPOINT_CA ?? file?.ca ?? join(this.#dataDir, 'tls', 'server.crt');
    const ca = opts.ca ?? (existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined);
    this.#agent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
  }

  get #tokenFile(): string { return join(this.#dataDir, 'cli-session.json'); }

  /** The HTTPS agent that trusts the service's certificate, for requests made outside request() (streamed downloads). */
  get agent(): Agent { return this.#agent; }

  async login(username: string, password: string): Promise<LoginResponse> {
    const r = await this.request<LoginResponse>('POST', '/api/session/login', { username, password }, false);
    this.#token = r.token;
    writeFileDurable(this.#tokenFile, JSON.stringify({ url: this.baseUrl, token: SecretBox.forDataDir(this.#dataDir).seal(r.token) }));
    return r;
  }

  logout(): void { removeFileDurable(this.#tokenFile); this.#token = undefined; }

  #savedToken(): string | undefined {
    const saved = readJson<{ url: string; token: string }>(this.#tokenFile);
    if (!saved || saved.url !== this.baseUrl) return undefined;
    try { return SecretBox.forDataDir(this.#dataDir).open(saved.token); } catch { return undefined; }
  }

  #credentials(): { user: string; password: string } | undefined {
    const user = process.env.STILLPOINT_USER;
    const password = process.env.STILLPOINT_PASSWORD;
    return user && password !== undefined ? { user, password } : undefined;
  }

  async #ensureToken(): Promise<string> {
    if (this.#token) return this.#token;
    const saved = this.#savedToken();
    if (saved) return (this.#token = saved);
    const creds = this.#credentials();
    if (creds) return (await this.login(creds.user, creds.password)).token;
    throw new ServiceError(401, 'unauthorized', 'Not logged in: run `stillpoint login`, or set STILLPOINT_USER and STILLPOINT_PASSWORD.');
  }

  /**
   * The service refused `token` (401). Forgets it (and the stored copy, unless another command has
   * stored a newer one meanwhile); returns true when the caller should try once more, which logs in
   * again with STILLPOINT_USER/STILLPOINT_PASSWORD, else throws saying what to run.
   */
  #refused(token: string, attempt: number, serverMessage: string): true {
    if (this.#token === token) this.#token = undefined;
    if (this.#savedToken() === token) removeFileDurable(this.#tokenFile);
    if (attempt === 0 && this.#credentials()) return true;
    throw new ServiceError(401, 'unauthorized', this.#credentials()
      ? `The Stillpoint service at ${this.baseUrl} refused the session it has just given (${serverMessage}).`
      : `The Stillpoint service at ${this.baseUrl} no longer accepts the saved session (it restarted, or the session expired): ` +
        'run `stillpoint login --user <vCenter user>` again, or set STILLPOINT_USER and STILLPOINT_PASSWORD so that commands log in by themselves.');
  }

  #unreachable(e: NodeJS.ErrnoException): ServiceError {
    if (e.code === 'ECONNREFUSED') {
      return new ServiceError(0, 'unreachable', `The Stillpoint service at ${this.baseUrl} is not running: start it with \`npm start\` (or \`npm run demo\`), or set STILLPOINT_URL.`);
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code ?? '')) {
      return new ServiceError(0, 'untrusted', `The certificate of ${this.baseUrl} is not trusted (${e.code}): set STILLPOINT_CA to the service's server.crt (in its data folder, tls/server.crt).`);
    }
    return new ServiceError(0, 'unreachable', `Cannot reach the Stillpoint service at ${this.baseUrl}: ${e.message}`);
  }

  get<T>(path: string): Promise<T> { return this.request<T>('GET', path); }
  post<T>(path: string, body?: unknown): Promise<T> { return this.request<T>('POST', path, body ?? {}); }

  async request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json' };
      const token = auth ? await this.#ensureToken() : undefined;
      if (token) headers.authorization = `Bearer ${token}`;
      if (payload) headers['content-type'] = 'application/json';
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(this.baseUrl + path, { method, headers, agent: this.#agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => reject(this.#unreachable(e)));
          res.on('close', () => { if (!res.complete) reject(new ServiceError(0, 'unreachable', `The Stillpoint service at ${this.baseUrl} closed the connection before answering.`)); });
        });
        req.on('error', (e: NodeJS.ErrnoException) => reject(this.#unreachable(e)));
        if (payload) req.write(payload);
        req.end();
      });
      const err = status >= 400 ? apiError(text) : undefined;
      // A refused session is refused before the request does anything: trying once more is safe.
      if (status === 401 && token && this.#refused(token, attempt, err?.message ?? 'HTTP 401')) continue;
      if (status >= 400) throw new ServiceError(status, err?.error ?? 'error', err?.message ?? `HTTP ${status}`);
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  /**
   * Follows /api/events, calling `on` for each event. Resolves when `on` returns true or the signal
   * aborts; rejects with a ServiceError when the service cannot be reached, answers an error, or
   * the stream ends or goes silent (status 0: the caller may reconnect).
   */
  async events(on: (type: string, data: unknown) => boolean | void, opts: EventsOptions = {}): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#ensureToken();
      try {
        return await this.#stream(token, on, opts);
      } catch (e) {
        if (e instanceof ServiceError && e.status === 401 && this.#refused(token, attempt, e.message)) continue;
        throw e;
      }
    }
  }

  #stream(token: string, on: (type: string, data: unknown) => boolean | void, opts: EventsOptions): Promise<void> {
    const { signal, onOpen, idleMs = 40_000 } = opts;
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let idle: NodeJS.Timeout | undefined;
      const settle = (e?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        req.destroy();
        if (e && !signal?.aborted) reject(e); else resolve();
      };
      const onAbort = () => settle();
      const lost = (why: string) => new ServiceError(0, 'unreachable', `The event stream of the Stillpoint service at ${this.baseUrl} ${why}.`);
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => settle(lost(`sent nothing for ${Math.round(idleMs / 1000)} s`)), idleMs);
      };
      const req = request(`${this.baseUrl}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: this.#agent }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const err = apiError(Buffer.concat(chunks).toString('utf8'));
            settle(new ServiceError(res.statusCode ?? 0, err?.error ?? 'error', err?.message ?? `HTTP ${res.statusCode}`));
          });
          res.on('error', (e) => settle(this.#unreachable(e)));
          return;
        }
        arm();
        onOpen?.();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          arm();
          buf += c;
          let i: number;
          while (!settled && (i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const type = block.match(/^event: (.*)$/m)?.[1];
            const data = block.match(/^data: (.*)$/m)?.[1];
            try {
              if (type && data && on(type, JSON.parse(data)) === true) settle();
            } catch (e) {
              settle(e as Error);
            }
          }
        });
        res.on('error', () => settle(lost('was cut')));
        res.on('end', () => settle(lost('ended')));
        res.on('close', () => settle(lost('was closed')));
      });
      req.on('error', (e: NodeJS.ErrnoException) => settle(this.#unreachable(e)));
      signal?.addEventListener('abort', onAbort);
      req.end();
    });
  }
}

function apiError(text: string): ApiError | undefined {
  try { return JSON.parse(text) as ApiError; } catch { return undefined; }
}
