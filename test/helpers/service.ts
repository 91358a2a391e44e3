// Starts the real Stillpoint service against a lab vCenter for a test file, and talks to it over
// HTTPS trusting only the service's own certificate.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import { loadConfig, type Config } from '../../backend/config.ts';
import { startService, type RunningService } from '../../backend/service.ts';
import { registerPlugin } from '../../plugin/registration.ts';

export interface TestService {
  lab: Lab;
  service: RunningService;
  dataDir: string;
  call<T = unknown>(method: string, path: string, opts?: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Record<string, string | string[] | undefined> }>;
  /** A session token of the lab's administrator, or of its restricted user (lab.restrictedUsername). */
  login(who?: 'admin' | 'restricted'): Promise<string>;
  /**
   * Follows /api/events with a session token (as EventSource does, in the query string), calling
   * `on` for each event until it returns true or stop() is called. Resolves `opened` once the
   * stream answered (so events published afterwards are seen).
   */
  events(session: string, on: (e: import('../../backend/api/contract.ts').ServerEvent) => boolean | void): { opened: Promise<number>; done: Promise<void>; stop(): void };
  /** Polls a run until it ends. */
  waitRun(token: string, runId: string, timeoutMs?: number): Promise<import('../../backend/api/contract.ts').JobRun>;
  stop(): Promise<void>;
}

/**
 * `extraSites`: more lab vCenters as further sites after the primary (`lab`), each with its id
 * (the caller starts and stops those labs).
 */
export async function startTestService(opts: { lab?: Lab; config?: Partial<Config>; register?: boolean; extraSites?: { id: string; lab: Lab }[] } = {}): Promise<TestService> {
  const lab = opts.lab ?? await startLab();
  const dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-test-'));
  const config = loadConfig({}, {
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    vcenter: { url: lab.url, username: lab.username, password: lab.password, thumbprint: lab.thumbprint, wsdl: 'builtin' },
    ...(opts.extraSites?.length ? {
      vcenters: opts.extraSites.map(({ id, lab: l }) => ({ id, url: l.sdkUrl, username: l.username, password: l.password, thumbprint: l.thumbprint, wsdl: 'builtin' as const })),
    } : {}),
    ...(opts.config as object),
  });
  const service = await startService(config, config.devHost ? { devHostUiSession: (u, p) => lab.control.uiSessionToken(u, p) } : {});
  if (opts.register !== false) {
    for (const l of [lab, ...(opts.extraSites ?? []).map((x) => x.lab)]) {
      await registerPlugin({ url: l.sdkUrl, username: l.username, password: l.password, thumbprint: l.thumbprint },
        { manifestUrl: `${service.url}/plugin.json`, serverThumbprint: service.thumbprint, version: '1.0.0.0' }).catch((e: Error) => {
        if (!/registered in this vCenter already/.test(e.message)) throw e;
      });
    }
  }
  const call: TestService['call'] = (method, path, o = {}) => new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    const payload = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const req = request(service.url + path, { method, headers, ca: service.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: body as never, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
  return {
    lab, service, dataDir, call,
    async login(who = 'admin') {
      const body = who === 'restricted' ? { username: lab.restrictedUsername, password: lab.restrictedPassword } : { username: lab.username, password: lab.password };
      const r = await call<{ token: string }>('POST', '/api/session/login', { body });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token;
    },
    events(session, on) {
      const ac = new AbortController();
      let opened!: (status: number) => void;
      const openedP = new Promise<number>((r) => { opened = r; });
      const done = new Promise<void>((resolve, reject) => {
        const req = request(`${service.url}/api/events?session=${encodeURIComponent(session)}`, { ca: service.cert, signal: ac.signal }, (res) => {
          opened(res.statusCode ?? 0);
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            buf += c;
            for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
              const data = /^data: (.*)$/m.exec(buf.slice(0, i))?.[1];
              if (data && on(JSON.parse(data)) === true) { ac.abort(); resolve(); return; }
            }
          });
          res.on('end', resolve);
        });
        req.on('error', (e) => (ac.signal.aborted ? resolve() : reject(e)));
        req.end();
      });
      return { opened: openedP, done, stop: () => ac.abort() };
    },
    async waitRun(token, runId, timeoutMs = 60_000) {
      const t0 = Date.now();
      for (;;) {
        const r = await call<import('../../backend/api/contract.ts').JobRun>('GET', `/api/runs/${runId}`, { token });
        if (r.status !== 200) throw new Error(`GET run: ${r.status} ${JSON.stringify(r.body)}`);
        if (!['running', 'queued'].includes(r.body.status)) return r.body;
        if (Date.now() - t0 > timeoutMs) throw new Error(`run ${runId} still ${r.body.status} after ${timeoutMs} ms: ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async stop() {
      await service.close();
      if (!opts.lab) await lab.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
