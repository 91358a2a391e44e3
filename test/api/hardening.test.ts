// Sign-in and connection defences of the real service against the lab vCenter: failed logins and
// forged plugin tokens are limited per source address (429 with Retry-After), refused tokens are
// answered from a cache and concurrent validations of one token are shared (counted by the auth
// module's statistics, since the lab does not count its clone-ticket calls), slow clients lose their
// connection at the server's header timeout, a hidden job's name does not leak through Back up now,
// and a restore to a new VM refuses names that are not datastore-path safe.
//
// Each test sends from its own loopback address (127.0.0.x), so the per-source limits of one test do
// not touch another, which is also how the tests show that a limit is per source.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startTestService, type TestService } from '../helpers/service.ts';
import { until, within } from '../helpers/wait.ts';
import { authStats } from '../../backend/api/auth.ts';
import { SERVER_LIMITS } from '../../backend/api/http.ts';
import { buildConfigSpec } from '../../backend/restore/vm-spec.ts';
import type { ApiError, Job, JobRun } from '../../backend/api/contract.ts';

// The failure window, short so the test can see it pass (the default is a minute).
const WINDOW_SEC = 3;
const MAX_FAILURES = 5;
process.env.STILLPOINT_AUTH_WINDOW_SEC = String(WINDOW_SEC);
process.env.STILLPOINT_AUTH_MAX_FAILURES = String(MAX_FAILURES);

let t: TestService;
let admin: string;
let op: string;
let opPlugin: string;
let ids: Record<string, string>;
let slowClients: Promise<SlowResult>;

interface Answer<T = unknown> { status: number; body: T; headers: Record<string, string | string[] | undefined>; ms: number }
/** One HTTPS request from a chosen loopback address. */
function call<T = ApiError>(method: string, path: string, o: { from?: string; forwardedFor?: string; token?: string; plugin?: string; body?: unknown; agent?: Agent } = {}): Promise<Answer<T>> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.plugin) headers['vmware-api-session-id'] = o.plugin;
    if (o.forwardedFor) headers['x-forwarded-for'] = o.forwardedFor;
    const req = request(t.service.url + path, { method, headers, ca: t.service.cert, agent: o.agent ?? false, ...(o.from ? { localAddress: o.from } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers, ms: performance.now() - t0 });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

before(async () => {
  t = await startTestService();
  slowClients = probeSlowClients(); // runs in the background while the other tests do (it has to wait for the server's timeouts)
  admin = await t.login();
  const login = await call<{ token: string }>('POST', '/api/session/login', { body: { username: t.lab.restrictedUsername, password: t.lab.restrictedPassword } });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  op = login.body.token;
  opPlugin = await t.lab.control.uiSessionToken(t.lab.restrictedUsername, t.lab.restrictedPassword);
  assert.equal((await call('GET', '/api/session', { plugin: opPlugin })).status, 200);
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
});
after(async () => { await t?.stop(); });

test('Back up now with the id of a job the user cannot see: 404 like a job that does not exist, without the job\'s name', async () => {
  const secret = `payroll-${randomUUID().slice(0, 8)}`;
  const job = await call<Job>('POST', '/api/jobs', {
    token: admin,
    body: {
      name: secret, vmIds: [ids['web-off01']!, ids['app-notools01']!], schedule: { cron: null }, retention: { keepLast: 3 },
      appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: false,
    },
  });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  const runsBefore = (await call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length;
  const missing = randomUUID();
  for (const [mode, auth] of [['standalone', { token: op }], ['plugin', { plugin: opPlugin }]] as const) {
    const r = await call('POST', '/api/backups', { ...auth, body: { vmIds: [ids['win-app01']!], jobId: job.body.id } });
    assert.equal(r.status, 404, `${mode}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok(!JSON.stringify(r.body).includes(secret), `${mode}: the answer names the hidden job: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, 'not_found');
    assert.match(r.body.message, new RegExp(`^Job '${job.body.id}' does not exist`), mode);
    const none = await call('POST', '/api/backups', { ...auth, body: { vmIds: [ids['win-app01']!], jobId: missing } });
    assert.equal(none.status, 404, 'a job that does not exist');
  }
  assert.equal((await call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length, runsBefore, 'no backup was started');
  // The administrator, who can see the job, is told what is wrong (the VM is not in the job).
  const adminTry = await call('POST', '/api/backups', { token: admin, body: { vmIds: [ids['win-app01']!], jobId: job.body.id } });
  assert.equal(adminTry.status, 400);
  assert.match(adminTry.body.message, new RegExp(secret));
});

test('failed logins: the right password works until the limit, then 429 with Retry-After until the window has passed', async () => {
  const from = '127.0.0.4';
  const good = { username: t.lab.username, password: t.lab.password };
  const bad = { username: t.lab.username, password: 'not-the-password' };
  let firstFailure = 0;
  for (let i = 0; i < MAX_FAILURES - 1; i++) {
    firstFailure ||= Date.now();
    assert.equal((await call('POST', '/api/session/login', { from, body: bad })).status, 401);
  }
  const ok = await call('POST', '/api/session/login', { from, body: good });
  assert.equal(ok.status, 200, `a successful login below the limit: ${JSON.stringify(ok.body)}`);
  assert.equal((await call('POST', '/api/session/login', { from, body: bad })).status, 401, 'the last failure the limit allows');
  const limited = await call('POST', '/api/session/login', { from, body: good });
  assert.equal(limited.status, 429, `the right password after ${MAX_FAILURES} failures: ${JSON.stringify(limited.body)}`);
  assert.equal(limited.body.error, 'too_many_requests');
  assert.match(limited.body.message, /too many failed sign-in attempts.*try again in \d+ s/i);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_SEC, `Retry-After: ${limited.headers['retry-after']}`);
  // Another address is not affected.
  assert.equal((await call('POST', '/api/session/login', { from: '127.0.0.7', body: good })).status, 200);
  // Refused (429) attempts do not extend the window: the right password works once the first failure is a window old.
  const back = await until('the right password to work again', async () => {
    const r = await call('POST', '/api/session/login', { from, body: good });
    if (r.status !== 429) return r;
    return undefined;
  }, { timeoutMs: (WINDOW_SEC + 3) * 1000, everyMs: 100 });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.ok(Date.now() - firstFailure >= WINDOW_SEC * 1000 - 50, `accepted ${Date.now() - firstFailure} ms after the first failure, window ${WINDOW_SEC} s`);
});

test('behind a vCenter\'s reverse proxy, failures count per forwarded client; a peer that is no vCenter cannot choose its source', async () => {
  // The lab vCenter is at 127.0.0.1: requests from there are what its reverse proxy forwards.
  assert.equal(new URL(t.lab.sdkUrl).hostname, '127.0.0.1');
  const good = { username: t.lab.username, password: t.lab.password };
  const bad = { username: t.lab.username, password: 'not-the-password' };
  const login = (body: unknown, o: { from?: string; forwardedFor: string }) => call('POST', '/api/session/login', { ...o, body });
  for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await login(bad, { forwardedFor: '203.0.113.7' })).status, 401);
  // The proxy appends the client it saw; what the client claimed itself comes before and is not believed.
  assert.equal((await login(good, { forwardedFor: '198.51.100.1, 203.0.113.7' })).status, 429, 'the guessing client is limited');
  assert.equal((await login(good, { forwardedFor: '203.0.113.8' })).status, 200, 'another user behind the same proxy is not');
  // Not a vCenter: X-Forwarded-For is ignored, the failures count against the peer whatever it claims.
  for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await login(bad, { from: '127.0.0.11', forwardedFor: `203.0.113.${20 + i}` })).status, 401);
  assert.equal((await login(good, { from: '127.0.0.11', forwardedFor: '203.0.113.99' })).status, 429);
});

test('a refused plugin token is answered from the cache; concurrent requests with one new token share one validation', async () => {
  const from = '127.0.0.3';
  const forgedToken = randomUUID();
  // vCenter answers the first call of a new connection (RetrieveServiceContent) slowly for a while, so that
  // all 20 requests below arrive while their token's validation is still under way.
  await t.lab.control.injectFault({ method: 'RetrieveServiceContent', fault: '', delayMs: 400, count: -1 });
  let before = { ...authStats };
  let refused: Answer[];
  try {
    // A real new token, 20 requests at once: one vCenter validation, 20 answers as that user.
    const real = await t.lab.control.uiSessionToken();
    const good = await Promise.all(Array.from({ length: 20 }, () => call<{ username: string }>('GET', '/api/session', { from, plugin: real })));
    assert.deepEqual([...new Set(good.map((r) => r.status))], [200]);
    assert.equal(authStats.pluginValidations - before.pluginValidations, 1, 'validations of one token');
    assert.equal(authStats.coalescedValidations - before.coalescedValidations, 19);
    // A forged token, 20 at once: one validation, 401 for all.
    before = { ...authStats };
    refused = await Promise.all(Array.from({ length: 20 }, () => call('GET', '/api/session', { from, plugin: forgedToken })));
  } finally {
    await t.lab.control.clearFaults();
  }
  assert.deepEqual([...new Set(refused.map((r) => r.status))], [401]);
  assert.equal(authStats.pluginValidations - before.pluginValidations, 1);
  assert.equal(authStats.coalescedValidations - before.coalescedValidations, 19);
  // Again and again: answered from the cache, vCenter is not asked, and the source is not limited for it.
  before = { ...authStats };
  for (let i = 0; i < 30; i++) assert.equal((await call('GET', '/api/session', { from, plugin: forgedToken })).status, 401);
  assert.equal(authStats.pluginValidations - before.pluginValidations, 0);
  assert.equal(authStats.rejectedTokenHits - before.rejectedTokenHits, 30);
  assert.equal((await call('GET', '/api/session', { from, plugin: await t.lab.control.uiSessionToken() })).status, 200, 'one failure does not limit the source');
});

/** Established TCP connections to a local port (Linux: /proc/net/tcp, where the lab runs). */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[2]?.endsWith(`:${hex}`) && c[3] === '01').length;
}

test('a refused plugin token leaves no connection to vCenter behind', async () => {
  const port = Number(new URL(t.lab.url).port);
  const before = connectionsTo(port);
  const statsBefore = authStats.pluginValidations;
  for (let i = 0; i < 3; i++) assert.equal((await call('GET', '/api/session', { from: '127.0.0.9', plugin: randomUUID() })).status, 401);
  assert.equal(authStats.pluginValidations - statsBefore, 3, 'each token went to vCenter');
  await until('the connections the validations opened to be closed', () => connectionsTo(port) <= before,
    { timeoutMs: 5000, describe: () => `${connectionsTo(port)} connections to the lab, ${before} before` });
});

test('200 concurrent forged plugin tokens: at most the limit reaches vCenter, a real user\'s request is still answered', async (tc) => {
  const from = '127.0.0.5';
  // Client and service share this process: TLS handshakes of 200 new connections would cost the real
  // user's request more than anything the service does. So every request goes over a warm keep-alive
  // connection, and what is measured is the service's work per forged token.
  const userAgent = new Agent({ keepAlive: true, maxSockets: 1, ca: t.service.cert });
  const floodAgent = new Agent({ keepAlive: true, maxSockets: 200, ca: t.service.cert, localAddress: from });
  tc.after(() => { userAgent.destroy(); floodAgent.destroy(); });
  await Promise.all(Array.from({ length: 200 }, () => call('GET', '/api/openapi.json', { agent: floodAgent })));
  const timeVms = async () => {
    const r = await call('GET', '/api/vms', { token: admin, agent: userAgent });
    assert.equal(r.status, 200);
    return r.ms;
  };
  await timeVms();
  // The baseline: the same request while the service refuses 200 requests that cost it no vCenter call
  // (unknown bearer tokens): the cost of the request volume alone, in this shared process.
  const control = Promise.all(Array.from({ length: 200 }, () => call('GET', '/api/vms', { token: randomUUID(), agent: floodAgent })));
  const baseline = await timeVms();
  assert.deepEqual([...new Set((await control).map((r) => r.status))], [401]);

  const before = { ...authStats };
  const flood = Promise.all(Array.from({ length: 200 }, () => call('GET', '/api/vms', { plugin: randomUUID(), agent: floodAgent })));
  const during = await timeVms();
  const answers = await flood;
  const validations = authStats.pluginValidations - before.pluginValidations;
  const statuses = answers.reduce<Record<number, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
  assert.deepEqual(Object.keys(statuses).sort(), ['401', '429'], JSON.stringify(statuses));
  assert.ok(validations <= MAX_FAILURES, `${validations} forged tokens reached vCenter (limit ${MAX_FAILURES})`);
  assert.equal(statuses[401], validations, 'every validation that ran was refused');
  const limited = answers.find((r) => r.status === 429)!;
  assert.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After on 429');
  // What slowed real users was the vCenter call per forged token (bounded above); the times are
  // reported, not asserted: on a shared 2-core machine they measure the machine's load.
  tc.diagnostic(`the real user's request took ${during.toFixed(0)} ms during the flood (baseline ${baseline.toFixed(0)} ms)`);
  // The limited source gets 429 for a new token, even a real one; sessions already validated, and other sources, work.
  assert.equal((await call('GET', '/api/session', { from, plugin: await t.lab.control.uiSessionToken() })).status, 429);
  assert.equal((await call('GET', '/api/session', { from, plugin: opPlugin })).status, 200, 'a validated plugin session');
  assert.equal((await call('GET', '/api/session', { from: '127.0.0.6', plugin: await t.lab.control.uiSessionToken() })).status, 200, 'another source');
});

test('a restore to a new VM named .. (or another name that is no datastore folder) is refused with 400 naming the rule', async () => {
  const runsBefore = (await call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length;
  const rp = 'rp-20000101T000000Z-000000'; // the body is checked before the restore point is looked up
  const target = (name: string) => ({ target: { kind: 'new', name, host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false } });
  const cases: [string, RegExp][] = [
    ['..', /body\.target\.name must not be '\.', '\.\.' or only dots/],
    ['.', /body\.target\.name must not be '\.', '\.\.' or only dots/],
    ['a/b', /body\.target\.name must not contain \/ \\ \[ \] %/],
    ['..\\x', /must not contain \/ \\ \[ \] %/],
    ['[dr-ds1] x', /must not contain \/ \\ \[ \] %/],
    ['%2e%2e', /must not contain \/ \\ \[ \] %/],
    ['a\u0007b', /must not contain control characters/],
    ['a\u0085b', /must not contain control characters/],
    [' lead', /must not start or end with white space/],
    ['x'.repeat(81), /must have at most 80 characters/],
    ['', /must not be empty/],
  ];
  for (const [name, rule] of cases) {
    const r = await call('POST', `/api/restore-points/${rp}/restore`, { token: admin, body: target(name) });
    assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, rule, JSON.stringify(name));
  }
  // Names vCenter takes pass the check (and then the restore point is looked up: 404).
  for (const name of ['web-off01 (restored)', 'sql.prod-01_copy', '...a', 'Ü-名前']) {
    const r = await call('POST', `/api/restore-points/${rp}/restore`, { token: admin, body: target(name) });
    assert.equal(r.status, 404, `${JSON.stringify(name)}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  assert.equal((await call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length, runsBefore, 'no restore was started');
  // Where the datastore paths are built, the same rule holds (for any caller that is not the API).
  const cfg = { guestId: 'otherGuest64', numCPUs: 1, memoryMB: 64, controllers: [], disks: [], nics: [] };
  assert.throws(() => buildConfigSpec({ name: '..', datastore: 'dr-ds1', cfg: cfg as never, disks: [], networks: new Map() }),
    (e: Error) => /VM name '\.\.' must not be '\.', '\.\.' or only dots/.test(e.message) && (e as { kind?: string }).kind === 'invalid');
  assert.equal(buildConfigSpec({ name: 'ok-name', datastore: 'dr-ds1', cfg: cfg as never, disks: [], networks: new Map() }).spec.files?.vmPathName, '[dr-ds1] ok-name/ok-name.vmx');
});

test('a body key named like an Object.prototype member is an unknown field (400), also on the unauthenticated login', async () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const r = await call('POST', '/api/session/login', { from: '127.0.0.8', body: `{"username":"u","password":"p","${key}":{"x":1}}` });
    assert.equal(r.status, 400, `${key}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.body.message, new RegExp(`body\\.${key} is not a known field`));
    const nested = await call('POST', '/api/restore-points/rp-20000101T000000Z-000000/restore', { token: admin, body: `{"target":{"kind":"original","confirm":true,"powerOn":false,"${key}":1}}` });
    assert.equal(nested.status, 400, `${key} nested: ${nested.status} ${JSON.stringify(nested.body)}`);
    assert.match(nested.body.message, new RegExp(`body\\.target\\.${key} is not a known field`));
  }
  const q = await call('GET', '/api/runs?limit=5&__proto__=1', { token: admin });
  assert.equal(q.status, 400);
  assert.match(q.body.message, /query\.__proto__ is not a known field/);
});

interface SlowResult { slowHeaderClosedMs: number; answer: string; noHelloClosedMs: number; keepAliveSecond: number }
/**
 * Three connections at once: one sends its request head a byte at a time, one never starts TLS, and
 * one is a keep-alive connection that serves a request, stays idle until the slow one has been closed
 * (longer than the header timeout), and must then serve a second request.
 */
async function probeSlowClients(): Promise<SlowResult> {
  const u = new URL(t.service.url);
  const port = Number(u.port);
  const t0 = Date.now();
  const opened = (s: Socket) => new Promise<number>((resolve) => s.once('close', () => resolve(Date.now() - t0)));

  // 1. The request head, trickled.
  const slow = tlsConnect({ host: u.hostname, port, ca: t.service.cert, servername: 'localhost' });
  let answer = '';
  slow.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
  slow.on('error', () => undefined);
  const slowClosed = opened(slow);
  slow.once('secureConnect', () => {
    slow.write('GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    const drip = setInterval(() => { if (slow.writable) slow.write('a'); else clearInterval(drip); }, 250);
    slow.once('close', () => clearInterval(drip));
  });
  // 2. TCP only, no TLS hello.
  const mute = tcpConnect({ host: u.hostname, port });
  mute.on('error', () => undefined);
  const muteClosed = opened(mute);
  // 3. Keep-alive: a request now, another after the slow connection is gone.
  const ka = tlsConnect({ host: u.hostname, port, ca: t.service.cert, servername: 'localhost' });
  ka.on('error', () => undefined);
  let kaData = '';
  ka.on('data', (d: Buffer) => { kaData += d.toString('latin1'); });
  const get = 'GET /api/openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n';
  await new Promise((r) => ka.once('secureConnect', r));
  ka.write(get);
  await until('the first keep-alive answer', () => /^HTTP\/1\.1 200/.test(kaData) && kaData.includes('"openapi"') && kaData.trimEnd().endsWith('}'), { timeoutMs: 10_000 });
  const bound = SERVER_LIMITS.headersTimeoutMs + 60_000; // well over the limits: a server with Node's defaults fails the assertions, not this
  const slowClosedMs = await within('the slow connection to be closed', slowClosed, bound);
  kaData = '';
  ka.write(get);
  const second = await within('the second keep-alive answer', until('it', () => (/^HTTP\/1\.1 (\d+)/.exec(kaData)?.[1]), { timeoutMs: 10_000 }), 15_000);
  ka.destroy();
  return { slowHeaderClosedMs: slowClosedMs, answer, noHelloClosedMs: await within('the mute connection to be closed', muteClosed, bound), keepAliveSecond: Number(second) };
}

test('slow clients: a request head trickled in, or no TLS hello at all, is cut off at the server\'s limits; idle keep-alive connections are not', { timeout: 90_000 }, async () => {
  const r = await slowClients;
  const slack = SERVER_LIMITS.connectionsCheckingIntervalMs + 1500;
  assert.ok(r.slowHeaderClosedMs <= SERVER_LIMITS.headersTimeoutMs + slack, `slow header connection closed after ${r.slowHeaderClosedMs} ms (limit ${SERVER_LIMITS.headersTimeoutMs} ms)`);
  assert.ok(r.slowHeaderClosedMs >= SERVER_LIMITS.headersTimeoutMs - 1000, `closed after ${r.slowHeaderClosedMs} ms, before the header timeout`);
  assert.match(r.answer, /^HTTP\/1\.1 408/, 'the server says why');
  assert.ok(r.noHelloClosedMs <= SERVER_LIMITS.handshakeTimeoutMs + slack, `connection without TLS hello closed after ${r.noHelloClosedMs} ms (limit ${SERVER_LIMITS.handshakeTimeoutMs} ms)`);
  assert.equal(r.keepAliveSecond, 200, 'a keep-alive connection idle for longer than the header timeout still serves requests');
  assert.ok(SERVER_LIMITS.requestTimeoutMs <= 30_000 && SERVER_LIMITS.keepAliveTimeoutMs > SERVER_LIMITS.headersTimeoutMs);
});
