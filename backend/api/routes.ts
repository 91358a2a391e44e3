// Routes are declared once, with their input schemas: the same declarations mount the Express
// handlers (which validate before the handler runs) and produce the OpenAPI document.
import type { Request, Response, Router } from 'express';
import { handle } from './http.ts';
import { own, parse, toOpenApi, type Schema } from './schema.ts';
import type { UserContext } from './auth.ts';

export interface RouteContext<B = unknown, Q = Record<string, unknown>> {
  req: Request;
  res: Response;
  user: UserContext;
  body: B;
  query: Q;
}

export interface RouteDef {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;                    // express syntax, e.g. /vms/:id
  summary: string;
  tag: string;
  body?: Schema;
  query?: Schema;
  response?: Schema | 'event-stream';
  status?: number;                 // success status, default 200
  public?: boolean;                // no session needed
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (ctx: RouteContext<any, any>) => Promise<unknown>;
}

export function mount(router: Router, defs: RouteDef[]): void {
  for (const d of defs) {
    router[d.method](d.path, handle(async (req, res) => {
      const body = d.body ? parse(d.body, req.body ?? {}, 'body') : undefined;
      const query = d.query ? parse(d.query, coerceQuery(d.query, req.query), 'query') : {};
      const result = await d.handler({ req, res, user: res.locals.user as UserContext, body, query });
      if (res.headersSent) return undefined;
      if (result === undefined) { res.status(d.status ?? 204).end(); return undefined; }
      res.status(d.status ?? 200);
      return result;
    }));
  }
}

/** Query strings arrive as text: turn numeric/boolean fields into numbers/booleans before checking. */
function coerceQuery(schema: Schema, q: Request['query']): Record<string, unknown> {
  // A null-prototype copy: a parameter named __proto__ is an ordinary (unknown) key, never the prototype.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const props = 'type' in schema && schema.type === 'object' ? schema.properties : {};
  for (const [k, v] of Object.entries(q)) {
    const p = own(props, k);
    if (p && 'type' in p && (p.type === 'integer' || p.type === 'number') && typeof v === 'string' && v.trim() !== '') out[k] = Number(v);
    else if (p && 'type' in p && p.type === 'boolean' && (v === 'true' || v === 'false')) out[k] = v === 'true';
    else out[k] = v;
  }
  return out;
}

export function openApiDocument(defs: RouteDef[], info: { version: string }): unknown {
  const components: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of defs) {
    const path = '/api' + d.path.replace(/:(\w+)/g, '{$1}');
    const params = [...d.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (d.query && 'type' in d.query && d.query.type === 'object') {
      for (const [name, s] of Object.entries(d.query.properties)) params.push({ name, in: 'query', required: false, schema: toOpenApi(s, components) as { type: string } });
    }
    const ok = String(d.status ?? 200);
    (paths[path] ??= {})[d.method] = {
      summary: d.summary,
      tags: [d.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(d.body ? { requestBody: { required: true, content: { 'application/json': { schema: toOpenApi(d.body, components) } } } } : {}),
      ...(d.public ? { security: [] } : {}),
      responses: {
        [ok]: d.response === 'event-stream'
          ? { description: 'server-sent events', content: { 'text/event-stream': {} } }
          : { description: 'success', ...(d.response ? { content: { 'application/json': { schema: toOpenApi(d.response, components) } } } : {}) },
        '4XX': { description: 'invalid request', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
        '5XX': { description: 'server or vCenter error', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } } },
      },
    };
  }
  components.ApiError = {
    type: 'object', required: ['error', 'message'],
    properties: { error: { type: 'string' }, message: { type: 'string' }, details: {} },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'Stillpoint API', version: info.version, description: 'Backup, replication and restore for vSphere VMs.' },
    servers: [{ url: '/' }],
    components: {
      schemas: components,
      securitySchemes: {
        vsphereSession: { type: 'apiKey', in: 'header', name: 'vmware-api-session-id', description: 'The plugin session token from htmlClientSdk.app.getSessionInfo()' },
        bearer: { type: 'http', scheme: 'bearer', description: 'Token from POST /api/session/login (standalone UI and CLI)' },
      },
    },
    security: [{ vsphereSession: [] }, { bearer: [] }],
    paths,
  };
}
