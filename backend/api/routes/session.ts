import { Auth } from '../auth.ts';
import type { LoginRequest } from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { Schema } from '../schema.ts';

const LoginSchema: Schema = {
  type: 'object', additionalProperties: false, required: ['username', 'password'],
  properties: { username: { type: 'string', minLength: 1, maxLength: 256 }, password: { type: 'string', maxLength: 1024 } },
};

export function sessionRoutes(auth: Auth): RouteDef[] {
  return [
    {
      method: 'post', path: '/session/login', tag: 'session', public: true, body: LoginSchema,
      summary: 'Log in with vCenter credentials (standalone UI and CLI); returns a bearer token',
      // Failed logins are limited per source address (429 with Retry-After beyond the limit): see Auth.
      handler: ({ req, body }) => auth.login((body as LoginRequest).username, (body as LoginRequest).password, auth.sourceOf(req)),
    },
    {
      method: 'post', path: '/session/logout', tag: 'session', summary: 'End this session',
      handler: async ({ req }) => {
        const token = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
        if (token) await auth.logout(token);
        return undefined;
      },
    },
    {
      method: 'get', path: '/session', tag: 'session', summary: 'Who is logged in',
      handler: async ({ user }) => ({ username: user.username, mode: user.mode, ...(user.session.siteIds ? { sites: [...user.session.siteIds] } : {}) }),
    },
  ];
}
