// The Express application: security headers, the plugin's static files (manifest, UI), the API
// with authentication, and JSON errors. Wiring to vSphere and the repository happens in
// backend/service.ts; this file only knows the ApiServices interface.
import express, { type Express } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Auth } from './auth.ts';
import type { EventBus } from './events.ts';
import { errorHandler, notFoundRoute } from './http.ts';
import { mount, openApiDocument, type RouteDef } from './routes.ts';
import { sessionRoutes } from './routes/session.ts';
import { vmRoutes, type InventoryApi } from './routes/vms.ts';
import type { Health } from './contract.ts';
import { Unauthorized } from '../common/errors.ts';

export interface ApiServices {
  version: string;
  rootDir: string;                        // project root: ui/dist, manifest/, test/devhost/
  devHost: boolean;
  /** Origins allowed to frame the plugin views (the registered vCenter). */
  frameAncestors: string[];
  auth: Auth;
  events: EventBus;
  health(): Promise<Health>;
  inventory: InventoryApi;
  extraRoutes?: RouteDef[];
  /**
   * Demo and tests only: what the vSphere Client does at login — hand out a UI session token for
   * vCenter credentials — so the dev host can give plugin frames a token the backend really clones.
   */
  devHostUiSession?: (username: string, password: string) => Promise<string>;
}

export function createApp(s: ApiServices): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': [
        "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
        "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
        `frame-ancestors 'self'${s.frameAncestors.map((o) => ' ' + o).join('')}`,
      ].join('; '),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Strict-Transport-Security': 'max-age=31536000',
    });
    next();
  });

  const routes: RouteDef[] = [
    {
      method: 'get', path: '/health', tag: 'service', public: true, summary: 'Service, vCenter and repository health',
      handler: () => s.health(),
    },
    ...sessionRoutes(s.auth),
    ...vmRoutes(s.inventory),
    ...(s.extraRoutes ?? []),
    {
      method: 'get', path: '/events', tag: 'service', summary: 'Live progress as server-sent events', response: 'event-stream',
      handler: async ({ req, res, user }) => {
        const visible = await user.session.visibleVmIds();
        if (res.destroyed || !res.socket || res.socket.destroyed) return undefined; // the client left while vCenter answered
        // The stream stops on the request's 'close', which a request whose body was read (any Content-Length)
        // has emitted already: the response's 'close' (the client is gone) stops it too, else it would leak.
        res.once('close', () => req.emit('close'));
        // The same rule as the REST routes: runs of VMs the user cannot see stay hidden, jobs show only visible VMs.
        s.events.stream(req, res, (e) => {
          if (e.type === 'job') return { type: 'job', job: { ...e.job, vmIds: e.job.vmIds.filter((id) => visible.has(id)) } };
          if (e.type === 'run') return e.run.vms.every((v) => visible.has(v.vmId)) ? e : undefined;
          return visible.has(e.restorePoint.vmId) ? e : undefined;
        });
        return undefined;
      },
    },
  ];
  const openapi = openApiDocument([...routes, { method: 'get', path: '/openapi.json', tag: 'service', public: true, summary: 'This document', handler: async () => undefined }], { version: s.version });

  if (s.devHost && s.devHostUiSession) {
    const issue = s.devHostUiSession;
    routes.push({
      method: 'post', path: '/devhost/ui-session', tag: 'dev host', public: true, body: {
        type: 'object', additionalProperties: false, required: ['username', 'password'],
        properties: { username: { type: 'string', minLength: 1, maxLength: 256 }, password: { type: 'string', maxLength: 1024 } },
      },
      summary: 'Demo only: a vSphere Client session token for the dev host (as vCenter gives the real client)',
      handler: async ({ body }) => {
        const b = body as { username: string; password: string };
        try {
          return { sessionToken: await issue(b.username, b.password) };
        } catch {
          throw new Unauthorized('vCenter refused the user name or password.');
        }
      },
    });
  }

  // The htmlClientSdk stand-in lives under /api like vCenter's own, but is public (demo/tests only).
  if (s.devHost) app.get('/api/ui/htmlClientSdk.js', (_req, res) => { res.sendFile(join(s.rootDir, 'test', 'devhost', 'htmlClientSdk.js')); });

  const api = express.Router();
  api.use(express.json({ limit: '1mb', strict: false }));
  api.get('/openapi.json', (_req, res) => { res.json(openapi); });
  const publicRoutes = routes.filter((r) => r.public);
  mount(api, publicRoutes);
  api.use(s.auth.middleware());
  mount(api, routes.filter((r) => !r.public));
  api.use(notFoundRoute);
  app.use('/api', api);

  // The plugin itself: manifest, UI, and (demo/tests only) the dev host and its SDK stand-in.
  app.get('/plugin.json', (_req, res) => { res.sendFile(join(s.rootDir, 'manifest', 'plugin.json')); });
  app.use('/manifest', express.static(join(s.rootDir, 'manifest'), { index: false }));
  const uiDist = join(s.rootDir, 'ui', 'dist', 'browser');
  if (existsSync(uiDist)) app.use('/ui', express.static(uiDist));
  if (s.devHost) {
    app.use('/devhost', express.static(join(s.rootDir, 'test', 'devhost')));
    app.get('/', (_req, res) => { res.redirect('/devhost/'); });
  } else {
    app.get('/', (_req, res) => { res.redirect('/ui/'); });
  }
  app.use(notFoundRoute);
  app.use(errorHandler);
  return app;
}
