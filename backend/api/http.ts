// Express plumbing shared by every route module: async handlers, JSON errors, request ids.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StillpointError, InvalidRequest, NotFound, type ErrorKind } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import type { ApiError } from './contract.ts';
import { VSphereError } from '../vsphere/faults.ts';

const log = childLog('api');

/** Wraps an async handler so a rejected promise reaches the error handler. */
export function handle(fn: (req: Request, res: Response) => Promise<unknown>): RequestHandler {
  return (req, res, next) => {
    fn(req, res).then((body) => {
      if (res.headersSent || body === undefined) return;
      res.json(body);
    }, next);
  };
}

/** Route parameter by name, checked against a pattern (e.g. managed object ids). */
export function param(req: Request, name: string, pattern: RegExp, what: string): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !pattern.test(v)) {
    const shown = JSON.stringify(String(v).slice(0, 100)).slice(1, -1);
    throw new InvalidRequest(`'${shown}${String(v).length > 100 ? '…' : ''}' is not a valid ${what} id.`);
  }
  return v;
}

/**
 * 429: the caller must slow down (sign-in attempts over the limit). `retryAfterSec` becomes the
 * Retry-After header.
 */
export class TooManyRequests extends Error {
  readonly status = 429;
  readonly code = 'too_many_requests';
  readonly retryAfterSec: number;
  constructor(message: string, retryAfterSec: number) {
    super(message);
    this.name = 'TooManyRequests';
    this.retryAfterSec = retryAfterSec;
  }
}

/**
 * Limits of the HTTPS server, well below Node's defaults (60 s for headers, 300 s for a request):
 * a client that trickles its request in holds a connection for at most this long. The request
 * timeout covers receiving the request only, so the event stream (a response that never ends) is
 * not cut by it. Idle keep-alive connections keep their own, longer timeout.
 */
export const SERVER_LIMITS = {
  /** Whole request head (request line and headers) received within this, from the connection's first byte. */
  headersTimeoutMs: 10_000,
  /** Whole request (head and body, at most 1 MiB) received within this. */
  requestTimeoutMs: 30_000,
  /** How often the server checks the two above (Node's default is 30 s, which would make them up to 30 s late). */
  connectionsCheckingIntervalMs: 1_000,
  /** TLS handshake done within this (Node's default is 120 s): a connection that never says hello is closed. */
  handshakeTimeoutMs: 10_000,
  /** Idle time between requests on a keep-alive connection (longer than the usual load balancer's 60 s). */
  keepAliveTimeoutMs: 65_000,
} as const;

/** A VM id: its managed object id ("vm-42"), at a site other than the primary with the site ("dr:vm-42"). */
export const VM_ID = /^(?:[a-z][a-z0-9-]{0,31}:)?vm-\d{1,12}$/;
export const UUID_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function notFoundRoute(req: Request, _res: Response, next: NextFunction): void {
  next(new NotFound('API route', `${req.method} ${req.path}`, 'see /api/openapi.json for the routes this service offers.'));
}

/** The last middleware: every error becomes an ApiError JSON body; the process never dies of a request. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  let status = 500;
  let body: ApiError;
  if (err instanceof StillpointError) {
    status = HTTP_STATUS[err.kind];
    body = { error: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) };
  } else if (err instanceof VSphereError) {
    status = vsphereStatus(err);
    body = { error: err.fault, message: `${err.message}. ${err.hint}` };
  } else if (isBodyParserError(err)) {
    status = err.status ?? 400;
    body = status === 413
      ? { error: 'too_large', message: 'The request body is too large (limit 1 MiB).' }
      : { error: 'invalid_json', message: `The request body is not valid JSON: ${err.message}` };
  } else if (isStatusError(err)) {
    status = err.status;
    body = { error: err.code ?? 'error', message: err.message };
    if (err instanceof TooManyRequests && !res.headersSent) res.set('Retry-After', String(err.retryAfterSec));
  } else {
    body = { error: 'internal', message: `Internal error: ${(err as Error)?.message ?? String(err)}. The service logs have the details.` };
  }
  if (status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
  else log.debug({ status, code: body.error, method: req.method, path: req.path }, 'request rejected');
  if (res.headersSent) return;
  res.status(status).json(body);
}

/** The HTTP status of each kind of engine error. 499: the client's own cancel (nginx's convention). */
const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, unavailable: 503, failed: 500, cancelled: 499,
};

/** vCenter's answer as an HTTP status: the caller's fault (4xx) or vCenter's (502/503). */
function vsphereStatus(e: VSphereError): number {
  switch (e.fault) {
    case 'InvalidLogin': case 'NotAuthenticated': return 401;
    case 'NoPermission': return 403;
    case 'ManagedObjectNotFound': return 404;
    case 'TaskInProgress': case 'InvalidState': case 'InvalidPowerState': case 'ConcurrentAccess': return 409;
    case 'VCenterUnreachable': case 'ThumbprintMismatch': return 503;
    default: return 502;
  }
}

function isBodyParserError(e: unknown): e is { type: string; status?: number; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string' &&
    ['entity.parse.failed', 'entity.too.large', 'encoding.unsupported', 'charset.unsupported'].includes((e as { type: string }).type);
}

/** Errors from lower layers (e.g. vSphere faults) that carry an HTTP status and a code. */
function isStatusError(e: unknown): e is { status: number; code?: string; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number' &&
    (e as { status: number }).status >= 400 && (e as { status: number }).status < 600;
}
