// The worker side of isolation.ts: imports the module named in workerData and either runs one export
// once ('once') or builds a handler with it and answers method calls ('serve'). Errors go back as
// plain { name, message, code } so FsError codes survive the thread boundary.
// A 'serve' worker loads its module at once and says { ready: true }; its factory runs when the first
// message ({ seq, init: args }) comes, so it can wait loaded and idle as a spare (isolation.ts).
// A result wrapped in Transfer (transfer.ts) goes back with its buffers moved, not copied.
import { enableCompileCache } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { Transfer } from './transfer.ts';

// Most of a new worker's start is loading its module graph (type stripping, compiling): V8's code
// cache on disk (NODE_COMPILE_CACHE, else the temp folder) halves it. Without one, starts are slower.
try { enableCompileCache(); } catch { /* no cache */ }

interface Data { mode: 'once' | 'serve'; moduleUrl: string; exportName: string; args?: unknown[] }
const { mode, moduleUrl, exportName, args } = workerData as Data;
const port = parentPort!;

function plain(e: unknown): { name: string; message: string; code?: string } {
  const err = e as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
  };
}

async function exported(): Promise<(...a: unknown[]) => unknown> {
  const mod = await import(moduleUrl) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new TypeError(`${moduleUrl} has no function export '${exportName}'`);
  return fn as (...a: unknown[]) => unknown;
}

if (mode === 'once') {
  try {
    const fn = await exported();
    port.postMessage({ ok: await fn(...(args ?? [])) });
  } catch (e) {
    port.postMessage({ error: plain(e) });
  }
} else {
  const loaded = exported();
  loaded.then(() => port.postMessage({ ready: true }), () => port.postMessage({ ready: false })); // its error shows on the first call
  let handler: Promise<Record<string, unknown>> | undefined;
  port.on('message', async (m: { seq: number; method?: string; args?: unknown[]; init?: unknown[] }) => {
    try {
      if (m.init) {
        handler ??= loaded.then((fn) => fn(...m.init!) as Promise<Record<string, unknown>>);
        await handler;
        port.postMessage({ seq: m.seq, ok: true });
        return;
      }
      handler ??= loaded.then((fn) => fn(...(args ?? [])) as Promise<Record<string, unknown>>);
      const h = await handler;
      const method = String(m.method);
      const f = h[method];
      if (method === 'constructor' || method.startsWith('_') || typeof f !== 'function') throw new TypeError(`no method '${method}'`);
      const r = await (f as (...a: unknown[]) => unknown).apply(h, m.args ?? []);
      if (r instanceof Transfer) port.postMessage({ seq: m.seq, ok: r.value }, r.list);
      else port.postMessage({ seq: m.seq, ok: r });
    } catch (e) {
      port.postMessage({ seq: m.seq, error: plain(e) });
    }
  });
}
