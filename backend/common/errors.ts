// Errors the engine reports to its callers. Every error names what went wrong and what to do next;
// `kind` says what sort of problem it is (the API turns it into an HTTP status, the CLI into an
// exit code), `code` is a stable machine-readable id.

export type ErrorKind = 'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable' | 'failed' | 'cancelled';

export class StillpointError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details?: unknown;
  constructor(kind: ErrorKind, code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export class InvalidRequest extends StillpointError {
  constructor(message: string, details?: unknown) { super('invalid', 'invalid_request', message, details); }
}
export class Unauthorized extends StillpointError {
  constructor(message = 'Not signed in: log in with your vCenter credentials, or open Stillpoint from the vSphere Client.') {
    super('unauthorized', 'unauthorized', message);
  }
}
export class Forbidden extends StillpointError {
  constructor(message: string) { super('forbidden', 'forbidden', message); }
}
export class NotFound extends StillpointError {
  constructor(what: string, id: string, hint = '') {
    super('not_found', 'not_found', `${what} '${id}' does not exist${hint ? `: ${hint}` : '.'}`);
  }
}
export class Conflict extends StillpointError {
  constructor(message: string, details?: unknown) { super('conflict', 'conflict', message, details); }
}
export class Unavailable extends StillpointError {
  constructor(code: string, message: string, cause?: unknown) { super('unavailable', code, message, undefined, { cause }); }
}
