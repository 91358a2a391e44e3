// The process-wide structured logger (pino), created when something is first logged: a command that
// logs nothing (most CLI commands) does not pay for loading pino.
import { createRequire } from 'node:module';
import type { DestinationStream, Logger } from 'pino';

const require = createRequire(import.meta.url);

/** Keys whose values are secrets anywhere in a log record; pino replaces them before writing. */
const SECRET_PATHS = [
  'password', 'passphrase', 'secret', 'ticket', 'cloneTicket', 'sessionToken', 'token', 'key',
  'credentials', 'auth', 'authorization', 'cookie', 'headers.cookie', 'headers.authorization',
  'headers["vmware-api-session-id"]',
  '*.password', '*.passphrase', '*.secret', '*.ticket', '*.cloneTicket', '*.sessionToken', '*.token',
  '*.credentials', '*.auth', '*.authorization', '*.cookie',
];

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/**
 * Readable lines on a terminal, JSON lines otherwise (files, pipes, log collectors).
 * STILLPOINT_LOG_FORMAT=json|pretty overrides; pino-pretty is loaded only when used.
 */
function destination(pino: typeof import('pino').pino): DestinationStream {
  const format = process.env.STILLPOINT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    const pretty = (require('pino-pretty') as typeof import('pino-pretty')).build;
    return pretty({ destination: 2, sync: true, colorize: !!process.stderr.isTTY, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name,module',
      messageFormat: '{if module}{module}: {end}{msg}', singleLine: true });
  }
  return pino.destination({ fd: 2, sync: true });
}

function createRoot(level: string): Logger {
  const { pino } = require('pino') as typeof import('pino');
  return pino({ name: 'stillpoint', level, redact: { paths: SECRET_PATHS, censor: '[redacted]' } }, destination(pino));
}

/**
 * A Logger that becomes the real one on first use. Until then `level` is remembered, a call below the
 * level does nothing, and `child` gives another such logger (with the level it has now, like pino).
 */
function lazyLogger(make: (level: string) => Logger, initialLevel: string): Logger {
  let real: Logger | undefined;
  let level = initialLevel;
  const get = () => (real ??= make(level));
  return new Proxy({} as Logger, {
    get(_t, k) {
      if (!real) {
        if (k === 'level') return level;
        if (k === 'isLevelEnabled') return (l: string) => (LEVELS[l] ?? 0) >= (LEVELS[level] ?? 30);
        if (k === 'child') {
          return (bindings: Record<string, unknown>, options?: { level?: string }) =>
            lazyLogger((l) => get().child(bindings, { ...options, level: l }), options?.level ?? level);
        }
        if (typeof k === 'string' && k in LEVELS && k !== 'silent' && LEVELS[k]! < (LEVELS[level] ?? 30)) return () => {};
      }
      const r = get();
      const v = Reflect.get(r, k, r) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(r) : v;
    },
    set(_t, k, v) {
      if (!real && k === 'level') { level = String(v); return true; }
      return Reflect.set(get(), k, v);
    },
    has(_t, k) { return k in get(); },
  });
}

/** The process-wide structured logger. Level from STILLPOINT_LOG_LEVEL (default info; `silent` in tests). */
/** Logs go to stderr, so command output on stdout (tables, --json) stays clean. */
export const log: Logger = lazyLogger(createRoot,
  process.env.STILLPOINT_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info'));

export function childLog(module: string, bindings: Record<string, unknown> = {}): Logger {
  return log.child({ module, ...bindings });
}
