// How the CLI talks to a running Stillpoint service: HTTPS to STILLPOINT_URL (default
// https://127.0.0.1:8443), trusting the service's own certificate from the data folder (or
// STILLPOINT_CA), with a bearer token from `stillpoint login` (kept sealed in the data folder) or
// from STILLPOINT_USER/STILLPOINT_PASSWORD.
import { readFileSync, existsSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { join } from 'node:path';
import { defaultDataDir } from '../config.ts';
import { SecretBox } from '../common/secrets.ts';
import { readJson, writeFileDurable, removeFileDurable } from '../common/durable.ts';
import type { ApiError, LoginResponse } from '../api/contract.ts';

export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) { super(message); this.status = status; this.code = code; }
}

export class ServiceClient {
  readonly baseUrl: string;
  readonly #agent: Agent;
  readonly #dataDir: string;
  #token: string | undefined;

  constructor(opts: { url?: string; dataDir?: string; ca?: string } = {}) {
    this.baseUrl = (opts.url ?? process.env.STILLPOINT_URL ?? 'https://127.0.0.1:8443').replace(/\/$/, '');
    this.#dataDir = opts.dataDir ?? defaultDataDir();
    const caFile = process.env.STILLPOINT_CA ?? join(this.#dataDir, 'tls', 'server.crt');
    const ca = opts.ca ?? (existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined);
    this.#agent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
  }

  get #tokenFile(): string { return join(this.#dataDir, 'cli-session.json'); }

  async login(username: string, password: string): Promise<LoginResponse> {
    const r = await this.request<LoginResponse>('POST', '/api/session/login', { username, password }, false);
    this.#token = r.token;
    writeFileDurable(this.#tokenFile, JSON.stringify({ url: this.baseUrl, token: SecretBox.forDataDir(this.#dataDir).seal(r.token) }));
    return r;
  }

  logout(): void { removeFileDurable(this.#tokenFile); this.#token = undefined; }

  async #ensureToken(): Promise<string> {
    if (this.#token) return this.#token;
    const saved = readJson<{ url: string; token: string }>(this.#tokenFile);
    if (saved && saved.url === this.baseUrl) return (this.#token = SecretBox.forDataDir(this.#dataDir).open(saved.token));
    const user = process.env.STILLPOINT_USER;
    const password = process.env.STILLPOINT_PASSWORD;
    if (user && password !== undefined) return (await this.login(user, password)).token;
    throw new ServiceError(401, 'unauthorized', 'Not logged in: run `stillpoint login`, or set STILLPOINT_USER and STILLPOINT_PASSWORD.');
  }

  get<T>(path: string): Promise<T> { return this.request<T>('GET', path); }
  post<T>(path: string, body?: unknown): Promise<T> { return this.request<T>('POST', path, body ?? {}); }

  async request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = `Bearer ${await this.#ensureToken()}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) headers['content-type'] = 'application/json';
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(this.baseUrl + path, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(new ServiceError(0, 'unreachable',
        e.code === 'ECONNREFUSED' ? `The Stillpoint service at ${this.baseUrl} is not running: start it with \`npm start\` (or \`npm run demo\`), or set STILLPOINT_URL.`
          : /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code ?? '')
            ? `The certificate of ${this.baseUrl} is not trusted (${e.code}): set STILLPOINT_CA to the service's server.crt (in its data folder, tls/server.crt).`
            : `Cannot reach the Stillpoint service at ${this.baseUrl}: ${e.message}`)));
      if (payload) req.write(payload);
      req.end();
    });
    if (status === 401 && auth && this.#token) this.logout();
    if (status >= 400) {
      let err: ApiError | undefined;
      try { err = JSON.parse(text) as ApiError; } catch { /* not JSON */ }
      throw new ServiceError(status, err?.error ?? 'error', err?.message ?? `HTTP ${status}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Follows /api/events, calling `on` for each event until `stop` returns true or the signal aborts. */
  async events(on: (type: string, data: unknown) => boolean | void, signal?: AbortSignal): Promise<void> {
    const token = await this.#ensureToken();
    await new Promise<void>((resolve, reject) => {
      const req = request(`${this.baseUrl}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, agent: this.#agent, signal }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const type = block.match(/^event: (.*)$/m)?.[1];
            const data = block.match(/^data: (.*)$/m)?.[1];
            if (type && data && on(type, JSON.parse(data)) === true) { req.destroy(); resolve(); return; }
          }
        });
        res.on('end', resolve);
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
      req.end();
    });
  }
}
