import { pino, type DestinationStream, type Logger } from 'pino';

/** Keys whose values are secrets anywhere in a log record; pino replaces them before writing. */
const SECRET_PATHS = [
  'password', 'passphrase', 'secret', 'ticket', 'cloneTicket', 'sessionToken', 'token', 'key',
  'credentials', 'auth', 'authorization', 'cookie', 'headers.cookie', 'headers.authorization',
  'headers["vmware-api-session-id"]',
  '*.password', '*.passphrase', '*.secret', '*.ticket', '*.cloneTicket', '*.sessionToken', '*.token',
  '*.credentials', '*.auth', '*.authorization', '*.cookie',
];

/**
 * Readable lines on a terminal, JSON lines otherwise (files, pipes, log collectors).
 * STILLPOINT_LOG_FORMAT=json|pretty overrides; pino-pretty is loaded only when used.
 */
async function destination(): Promise<DestinationStream> {
  const format = process.env.STILLPOINT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    return pretty({ destination: 2, sync: true, colorize: !!process.stderr.isTTY, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name,module',
      messageFormat: '{if module}{module}: {end}{msg}', singleLine: true });
  }
  return pino.destination({ fd: 2, sync: true });
}

/** The process-wide structured logger. Level from STILLPOINT_LOG_LEVEL (default info; `silent` in tests). */
/** Logs go to stderr, so command output on stdout (tables, --json) stays clean. */
export const log: Logger = pino({
  name: 'stillpoint',
  level: process.env.STILLPOINT_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info'),
  redact: { paths: SECRET_PATHS, censor: '[redacted]' },
}, await destination());

export function childLog(module: string, bindings: Record<string, unknown> = {}): Logger {
  return log.child({ module, ...bindings });
}
