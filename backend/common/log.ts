import { pino, type Logger } from 'pino';

/** Keys whose values are secrets anywhere in a log record; pino replaces them before writing. */
const SECRET_PATHS = [
  'password', 'passphrase', 'secret', 'ticket', 'cloneTicket', 'sessionToken', 'token', 'key',
  'credentials', 'auth', 'authorization', 'cookie', 'headers.cookie', 'headers.authorization',
  'headers["vmware-api-session-id"]',
  '*.password', '*.passphrase', '*.secret', '*.ticket', '*.cloneTicket', '*.sessionToken', '*.token',
  '*.credentials', '*.auth', '*.authorization', '*.cookie',
];

/** The process-wide structured logger. Level from STILLPOINT_LOG_LEVEL (default info; `silent` in tests). */
/** Logs go to stderr, so command output on stdout (tables, --json) stays clean. */
export const log: Logger = pino({
  name: 'stillpoint',
  level: process.env.STILLPOINT_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info'),
  redact: { paths: SECRET_PATHS, censor: '[redacted]' },
}, pino.destination({ fd: 2, sync: true }));

export function childLog(module: string, bindings: Record<string, unknown> = {}): Logger {
  return log.child({ module, ...bindings });
}
