// Every route of the OpenAPI document, fed hostile input by a seeded generator, with and without a
// session: Object.prototype member names as body keys (top level and nested), path traversal in
// every string, huge strings and bodies (also over the 1 MiB limit), deeply nested JSON, wrong types,
// broken JSON and encodings, hostile path parameters and query strings. No answer may be a 5xx, every
// request is answered within a bound (the event stream, which streams by design, only has to start),
// and the service is healthy afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { startTestService, type TestService } from '../helpers/service.ts';

let t: TestService;
let admin: string;
let spare: string;        // a session of its own for POST /api/session/logout, which ends it
let agent: Agent;
before(async () => {
  t = await startTestService();
  admin = await t.login();
  spare = await t.login();
  agent = new Agent({ keepAlive: true, maxSockets: 16, ca: t.service.cert });
});
after(async () => { agent?.destroy(); await t?.stop(); });

// ---- a seeded generator (mulberry32): the same requests, in the same order, on every run
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(0x5eed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype); // __proto__, constructor, toString, hasOwnProperty, …
const TRAVERSAL = ['..', '.', '../../etc/passwd', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '..\\..\\windows\\win.ini', 'a/../../b', '[ds] ..', '\u0000', ' .. '];
const WRONG = [null, 0, -1, 1e308, true, 'x', [], {}, [[]], [{}]];
const HOSTILE_PARAMS = ['..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%2F', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  'x'.repeat(4000), '%E0%A4%A', '%00', 'vm-1%00', '%C0%AE%C0%AE', '%25', '.%2e'];
const deep = (depth: number, open: string, close: string, leaf = '1') => open.repeat(depth) + leaf + close.repeat(depth);

// ---- OpenAPI: routes and valid-looking bodies from their schemas
type S = Record<string, any>;
interface Route { method: string; path: string; params: string[]; query: string[]; body?: S; streams: boolean; public: boolean }
let components: Record<string, S> = {};
const resolve = (s: S): S => (s.$ref ? resolve(components[s.$ref.split('/').pop()!]!) : s);

/** Valid-looking values of a schema (one per oneOf branch); ids name nothing that exists. */
function valid(schema: S): unknown[] {
  const s = resolve(schema);
  if (s.oneOf) return s.oneOf.flatMap((b: S) => valid(b).slice(0, 1));
  switch (s.type) {
    case 'object': {
      let outs: S[] = [{}];
      for (const [k, sub] of Object.entries(s.properties as Record<string, S>)) {
        const vs = valid(sub);
        outs = vs.length > 1 && outs.length === 1 ? vs.map((v) => ({ ...outs[0], [k]: v })) : outs.map((o) => ({ ...o, [k]: vs[0] }));
      }
      return outs;
    }
    case 'array': return [Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => valid(s.items)[0])];
    case 'string': {
      if (s.enum) return [s.enum[0]];
      if (s.format === 'date-time') return [new Date(0).toISOString()];
      const candidates = ['vm-999999', uuid(), 'group-v999999', 'fuzz-name', 'rp-20000101T000000Z-000000'];
      return [candidates.find((c) => !s.pattern || new RegExp(s.pattern).test(c)) ?? 'fuzz'];
    }
    case 'integer': case 'number': return [Math.max(s.minimum ?? 1, Math.min(1, s.maximum ?? 1))];
    case 'boolean': return [false];
    case 'null': return [null];
    default: return [{}];
  }
}

type Path = (string | number)[];
/** Paths to every node of a JSON value (the root included). */
function nodes(v: unknown, at: Path = []): { path: Path; value: unknown }[] {
  const out = [{ path: at, value: v }];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...nodes(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...nodes(x, [...at, k]));
  return out;
}
/** An own, enumerable property even for "__proto__" (a plain assignment would set the prototype). */
const setOwn = (o: object, k: string | number, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
function withAt(base: unknown, path: Path, f: (node: unknown) => unknown): unknown {
  const copy = structuredClone(base);
  if (path.length === 0) return f(copy);
  let node = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  setOwn(node, last, f(node[last]));
  return copy;
}

/** Big bodies, built once and shared by every route. */
const SHARED: Record<string, string> = {
  'depth 10,000 arrays': deep(10_000, '[', ']'),
  'depth 10,000 objects': deep(10_000, '{"a":', '}'),
  'depth 100,000 arrays': deep(100_000, '[', ']'),
  'string just under 1 MiB': JSON.stringify({ name: 'x'.repeat(1024 * 1024 - 20) }),
  'body 1 MiB + 1': JSON.stringify({ name: 'x'.repeat(1024 * 1024 - 10) }).padEnd(1024 * 1024 + 1, ' '),
  'body 4 MiB': JSON.stringify({ name: 'x'.repeat(4 * 1024 * 1024) }),
};

/** Hostile bodies for a route: JSON text, a label for the report, optional headers. */
interface Variant { label: string; text?: string | Buffer; headers?: Record<string, string> }
function bodies(schema: S | undefined): Variant[] {
  const out: Variant[] = [];
  const json = (label: string, v: unknown) => out.push({ label, text: JSON.stringify(v) });
  const bases = schema ? valid(schema) : [{}];
  for (const [bi, base] of bases.entries()) {
    const all = nodes(base);
    json(`valid-looking #${bi}`, base);
    for (const n of all) {
      const where = n.path.join('.') || '(top)';
      if (n.value && typeof n.value === 'object' && !Array.isArray(n.value)) {
        for (const name of PROTO_NAMES) json(`${where}.${name}`, withAt(base, n.path, (o) => setOwn(o as object, name, pick([1, {}, 'x', null, [], { polluted: true }]))));
      }
      if (n.path.length === 0) continue;
      for (const w of WRONG) json(`${where} = ${JSON.stringify(w)}`, withAt(base, n.path, () => w));
      json(`${where} = deep array`, withAt(base, n.path, () => JSON.parse(deep(2000, '[', ']'))));
      if (typeof n.value === 'string') {
        for (const s of TRAVERSAL) json(`${where} = ${JSON.stringify(s)}`, withAt(base, n.path, () => s));
        json(`${where} = 70k chars`, withAt(base, n.path, () => pick(['x', '.', '/', '%', '\u00e9', '\ud83d\ude00']).repeat(70_000)));
      }
      if (Array.isArray(n.value)) {
        json(`${where} = 6000 items`, withAt(base, n.path, (a) => Array.from({ length: 6000 }, () => (a as unknown[])[0])));
        // Deep values as array items (uniqueness is checked on items).
        out.push({ label: `${where} = [depth 10,000]`, text: JSON.stringify(withAt(base, n.path, () => ['@DEEP@'])).replace('"@DEEP@"', deep(10_000, '[', ']')) });
        out.push({ label: `${where} = [depth 100,000]`, text: JSON.stringify(withAt(base, n.path, () => ['@DEEP@'])).replace('"@DEEP@"', deep(100_000, '[', ']')) });
      }
    }
  }
  // Whole-body shapes that are not the schema's at all.
  for (const raw of ['', 'null', '1', '"x"', '[]', 'true', '{', '{"a":1}garbage', '\u0000', '1e400', '{"x":1e400}', '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"admin":true}}}', '\ufeff{}', '{"a":"\\ud800"}', '[' + '{},'.repeat(1000) + '{}]']) out.push({ label: `raw ${JSON.stringify(raw.slice(0, 40))}`, text: raw });
  for (const [label, text] of Object.entries(SHARED)) out.push({ label, text });
  out.push({ label: 'text/plain', text: '{}', headers: { 'content-type': 'text/plain' } });
  out.push({ label: 'charset utf-16', text: '{}', headers: { 'content-type': 'application/json; charset=utf-16' } });
  out.push({ label: 'charset bogus', text: '{}', headers: { 'content-type': 'application/json; charset=bogus-7' } });
  out.push({ label: 'gzip garbage', text: 'not gzip', headers: { 'content-encoding': 'gzip' } });
  out.push({ label: 'unknown encoding', text: '{}', headers: { 'content-encoding': 'x-fuzz' } });
  out.push({ label: 'invalid UTF-8', text: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]) });
  return out;
}

// ---- requests, each bounded
interface Answer { status: number; body: string; ms: number }
const BOUND_MS = 10_000;
function send(method: string, path: string, o: { text?: string | Buffer; headers?: Record<string, string>; token?: string; streams?: boolean }): Promise<Answer> {
  const t0 = Date.now();
  return new Promise((resolvePromise, reject) => {
    // An explicit length: Node's client sends a GET's body without one (nor chunked), which no server can frame.
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(o.text !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(o.text)) } : {}), ...o.headers,
    };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let answered: Answer | undefined;
    const req = request(t.service.url + path, { method, headers, agent }, (res) => {
      if (o.streams && res.statusCode === 200) { // the event stream: it answered, that is all we wait for
        answered = { status: 200, body: '', ms: Date.now() - t0 };
        req.destroy();
        resolvePromise(answered);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { answered = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 400), ms: Date.now() - t0 }; resolvePromise(answered); });
      res.on('error', () => { answered ??= { status: res.statusCode ?? 0, body: '(body cut)', ms: Date.now() - t0 }; resolvePromise(answered); });
    });
    const bound = setTimeout(() => req.destroy(new Error(`no answer within ${BOUND_MS} ms`)), BOUND_MS);
    req.on('close', () => clearTimeout(bound));
    req.on('error', (e) => (answered ? resolvePromise(answered) : reject(e)));
    req.end(o.text);
  });
}

interface Case { label: string; method: string; path: string; text?: string | Buffer; headers?: Record<string, string>; token?: string; streams?: boolean; last?: boolean }

test('no input makes any route answer 5xx or hang; the service stays healthy', { timeout: 120_000 }, async () => {
  const doc = (await t.call<{ paths: Record<string, Record<string, S>>; components: { schemas: Record<string, S> } }>('GET', '/api/openapi.json')).body;
  components = doc.components.schemas;
  const routes: Route[] = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({
    method: method.toUpperCase(), path,
    params: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
    query: ((op.parameters ?? []) as S[]).filter((p) => p.in === 'query').map((p) => p.name as string),
    body: op.requestBody?.content?.['application/json']?.schema as S | undefined,
    streams: !!op.responses?.['200']?.content?.['text/event-stream'],
    public: Array.isArray(op.security) && op.security.length === 0,
  })));
  assert.ok(routes.length >= 30, `only ${routes.length} routes in the OpenAPI document`);
  const vmId = (await t.lab.control.vms())['linux-db01']!.moref;

  /** A valid-looking value for a path parameter, from the route it is in. */
  const validParam = (path: string): string[] =>
    path.startsWith('/api/vms/') ? [vmId, 'vm-999999', 'dr:vm-1'] : path.startsWith('/api/restore-points/') ? ['rp-20000101T000000Z-000000'] : [uuid()];
  const fill = (path: string, v: string) => path.replace(/\{\w+\}/g, v);

  // JSON bodies and query strings are parsed the same way for every route (before routing and
  // authentication): the generic variants go in full to one cheap route, and as a seeded sample to
  // every other. Routes with a body or query schema get every variant derived from their schema.
  const generic = bodies(undefined);
  const genericQueries = ['__proto__=1', '__proto__=a&__proto__=b', '__proto__[x]=1', 'constructor=1', 'toString=x', 'hasOwnProperty=1', `q=${'a'.repeat(8000)}`];
  const sample = <T>(xs: T[], n: number): T[] => Array.from({ length: n }, () => pick(xs));
  const cases: Case[] = [];
  for (const r of routes) {
    const sessions: (string | undefined)[] = [undefined, r.path === '/api/session/logout' ? spare : admin];
    for (const token of sessions) {
      const base = { method: r.method, token, streams: r.streams, last: r.path === '/api/session/logout' && !!token };
      const paths = r.params.length ? validParam(r.path).map((v) => fill(r.path, v)) : [r.path];
      const [main] = paths;
      const who = token ? 'session' : 'anonymous';
      const full = r.path === '/api/session' && r.method === 'GET';
      const variants = r.body ? bodies(r.body) : full ? generic : sample(generic, 3);
      // Without a session a private route answers 401 once the body is parsed: a seeded sample suffices.
      for (const v of token || r.public || full ? variants : variants.filter(() => random() < 0.15)) {
        cases.push({ ...base, label: `${r.method} ${r.path} ${who} body ${v.label}`, path: main!, ...(v.text !== undefined ? { text: v.text } : {}), ...(v.headers ? { headers: v.headers } : {}) });
      }
      for (const p of paths.slice(1)) cases.push({ ...base, label: `${r.method} ${p} ${who}`, path: p });
      for (const h of r.params.length ? HOSTILE_PARAMS : []) cases.push({ ...base, label: `${r.method} ${r.path} ${who} param ${h.slice(0, 30)}`, path: fill(r.path, h) });
      const queries = r.query.length || full
        ? [...genericQueries, ...r.query.flatMap((q) => [`${q}=__proto__`, `${q}=1e400`, `${q}=-1`, `${q}=1&${q}=2`, `${q}[a]=1`, `${q}=%00`, `${q}=${'9'.repeat(400)}`, `${q}=`, `${q}=0x10`, `${q}=5&__proto__=1`])]
        : sample(genericQueries, 2);
      for (const q of queries) cases.push({ ...base, label: `${r.method} ${r.path} ${who} ?${q.slice(0, 40)}`, path: `${main}?${q}` });
    }
  }
  // Hostile session tokens: as bearer, plugin token and event-stream query token.
  for (const tok of ['__proto__', 'constructor', 'toString', '..', 'x'.repeat(8000)]) {
    cases.push({ label: `bearer ${tok.slice(0, 20)}`, method: 'GET', path: '/api/session', headers: { authorization: `Bearer ${tok}` } });
    cases.push({ label: `plugin ${tok.slice(0, 20)}`, method: 'GET', path: '/api/session', headers: { 'vmware-api-session-id': tok } });
    cases.push({ label: `events ?session=${tok.slice(0, 20)}`, method: 'GET', path: `/api/events?session=${encodeURIComponent(tok)}`, streams: true });
  }

  // Run them, 16 at a time, the logout of the spare session last.
  const failures: string[] = [];
  let count = 0;
  const run = async (c: Case) => {
    try {
      const a = await send(c.method, c.path, c);
      count++;
      if (a.status >= 500 || a.status === 0) failures.push(`${c.label}: ${a.status} ${a.body}`);
    } catch (e) {
      failures.push(`${c.label}: ${(e as Error).message}`);
    }
  };
  const queue = cases.filter((c) => !c.last);
  await Promise.all(Array.from({ length: 16 }, async () => { for (let c; (c = queue.shift());) await run(c); }));
  for (const c of cases.filter((x) => x.last)) await run(c);

  assert.deepEqual(failures.slice(0, 40), [], `${failures.length} of ${cases.length} requests failed`);
  assert.equal(count, cases.length);
  const health = await t.call<{ status: string }>('GET', '/api/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  assert.equal((await t.call('GET', '/api/vms', { token: admin })).status, 200, 'a real session still works');
});
