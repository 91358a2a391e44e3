// Errors the service reports to its callers. Every error names what went wrong and what to do
// next; `status` is the HTTP status the API answers with, `code` a stable machine-readable id.

export class StillpointError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  constructor(status: number, code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class InvalidRequest extends StillpointError {
  constructor(message: string, details?: unknown) { super(400, 'invalid_request', message, details); }
}
export class Unauthorized extends StillpointError {
  constructor(message = 'Not signed in: log in with your vCenter credentials, or open Stillpoint from the vSphere Client.') {
    super(401, 'unauthorized', message);
  }
}
export class Forbidden extends StillpointError {
  constructor(message: string) { super(403, 'forbidden', message); }
}
export class NotFound extends StillpointError {
  constructor(what: string, id: string, hint = '') {
    super(404, 'not_found', `${what} '${id}' does not exist${hint ? `: ${hint}` : '.'}`);
  }
}
export class Conflict extends StillpointError {
  constructor(message: string, details?: unknown) { super(409, 'conflict', message, details); }
}
export class Unavailable extends StillpointError {
  constructor(code: string, message: string, cause?: unknown) { super(503, code, message, undefined, { cause }); }
}
