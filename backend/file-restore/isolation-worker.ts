// The worker side of isolation.ts: imports the module named in workerData and either runs one export
// once ('once') or builds a handler with it and answers method calls ('serve'). Errors go back as
// plain { name, message, code } so FsError codes survive the thread boundary.
import { parentPort, workerData } from 'node:worker_threads';

interface Data { mode: 'once' | 'serve'; moduleUrl: string; exportName: string; args: unknown[] }
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
    port.postMessage({ ok: await fn(...args) });
  } catch (e) {
    port.postMessage({ error: plain(e) });
  }
} else {
  let handler: Promise<Record<string, unknown>> | undefined;
  port.on('message', async (m: { seq: number; method: string; args: unknown[] }) => {
    try {
      handler ??= exported().then((fn) => fn(...args) as Promise<Record<string, unknown>>);
      const h = await handler;
      const f = h[m.method];
      if (m.method === 'constructor' || m.method.startsWith('_') || typeof f !== 'function') throw new TypeError(`no method '${m.method}'`);
      port.postMessage({ seq: m.seq, ok: await (f as (...a: unknown[]) => unknown).apply(h, m.args) });
    } catch (e) {
      port.postMessage({ seq: m.seq, error: plain(e) });
    }
  });
}
