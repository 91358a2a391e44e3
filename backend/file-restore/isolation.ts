/**
 * Isolation for code that parses guest-controlled bytes (filesystems, databases found in backups).
 * A hostile or damaged image must not hang, exhaust or crash the service, so such code runs in a
 * `worker_threads` Worker with a heap limit (`resourceLimits`) and a time bound per call. A call that
 * runs over its time terminates the worker and fails with IsolationError('ETIMEOUT'); running out of
 * heap fails with 'EMEMORY'; any other death of the worker with 'ECRASH'. The service goes on.
 *
 * One-shot jobs (the catalog builder, a consistency check):
 *
 *   import { runIsolated } from '../file-restore/isolation.ts';
 *   const n = await runIsolated<number>(new URL('./count-files.ts', import.meta.url), 'countFiles',
 *     [img.descriptor()], { timeoutMs: 60_000, maxHeapMb: 256 });
 *
 * The module is imported inside a fresh worker, `exportName` is called with `args` (structured
 * clone: plain data, Buffers/ArrayBuffers, a DiskImageDescriptor) and its (awaited) result comes back
 * the same way. A thrown error comes back as an Error with the same name, message and `code` (an
 * FsError keeps `code: 'ECORRUPT'` etc.). `transfer` lists ArrayBuffers of `args` to move instead of
 * copy. `signal` aborts (terminates the worker, 'EABORTED').
 *
 * Long-lived workers (a browse session that keeps parsed state between calls):
 *
 *   const w = new IsolatedWorker(moduleUrl, 'openHandler', [descriptors], { timeoutMs: 20_000, maxHeapMb: 512 });
 *   const entries = await w.call<Entry[]>('list', ['vol1', 'ref']);
 *   await w.close();
 *
 * `exportName` is a factory: called once per worker with `args`, it returns an object whose methods
 * `call()` invokes. When a call exceeds its time, the worker (and every call running in it, which fail
 * with 'ERESTARTED') is terminated; the next call starts a new worker, which runs the factory again.
 * A method may return `new Transfer(value, [buffers])` (transfer.ts) to move its buffers back.
 *
 * Spares: loading a worker's module graph (type stripping, compiling) costs 1–2 s on a busy machine,
 * far more than the first call's work. While someone holds `keepSpare(moduleUrl, exportName, heapMb)`,
 * one worker of that kind is kept started, its module loaded, idle (no state, no data: its factory
 * has not run) and unref'ed; an IsolatedWorker created with `{ spare: true }` adopts it, giving it
 * its factory args by a first message, and the next spare starts a moment later, once no worker of
 * its kind is running a call (loading it would take CPU from a download or listing under way). The
 * last release terminates the spare.
 */
import { Worker, type Transferable } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

export type IsolationErrorCode = 'ETIMEOUT' | 'EMEMORY' | 'ECRASH' | 'ERESTARTED' | 'EABORTED' | 'ECLOSED';

export class IsolationError extends Error {
  readonly code: IsolationErrorCode;
  constructor(code: IsolationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'IsolationError';
  }
}

export interface IsolationOptions {
  /** Time bound of one call (default 30 s). */
  timeoutMs?: number;
  /** Old-generation heap of the worker in MiB (default 256). */
  maxHeapMb?: number;
  /** What the work is, for error messages ("listing C:\\Users"). */
  label?: string;
}

/** A long-lived worker's options: `spare` adopts a started worker kept by keepSpare() when there is one. */
export interface WorkerOptions extends IsolationOptions { spare?: boolean }

const WORKER = new URL('./isolation-worker.ts', import.meta.url);
const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_HEAP = 256;

/** The error a dead worker gives its callers. */
function deathError(label: string, e: unknown, heapMb: number): IsolationError {
  const err = e as { code?: string; message?: string } | undefined;
  if (err?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new IsolationError('EMEMORY', `${label} needed more than ${heapMb} MiB and was stopped: the data it reads is probably damaged or hostile.`, { cause: e });
  }
  return new IsolationError('ECRASH', `${label} crashed (${err?.message ?? String(e)}); the data it reads may be damaged. Try again, or report it with the restore point id.`, { cause: e });
}

/** Rebuilds an error the worker sent: same name, message and code. */
function revive(s: { name: string; message: string; code?: string; stack?: string }): Error {
  const e = new Error(s.message) as Error & { code?: string };
  e.name = s.name;
  if (s.code !== undefined) e.code = s.code;
  return e;
}

function moduleHref(m: string | URL): string {
  const href = typeof m === 'string' ? (m.startsWith('file:') ? m : new URL(m, 'file://').href) : m.href;
  fileURLToPath(href); // only local modules
  return href;
}

function spawn(mode: 'once' | 'serve', moduleUrl: string | URL, exportName: string, args: unknown[] | undefined, heapMb: number, transfer?: readonly Transferable[]): Worker {
  return new Worker(WORKER, {
    workerData: { mode, moduleUrl: moduleHref(moduleUrl), exportName, args },
    transferList: transfer as Transferable[] | undefined,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(32, Math.max(4, heapMb >> 4)), stackSizeMb: 4 },
    stdout: false, stderr: false,
  });
}

interface Spare { worker: Worker; ready: Promise<boolean>; drop: () => void }
interface SpareKind { holders: number; spare: Spare | undefined; timer: NodeJS.Timeout | undefined; moduleUrl: string | URL; exportName: string; heapMb: number }
const spares = new Map<string, SpareKind>();
/** Calls running in IsolatedWorkers, by spare key: a new spare waits until its kind is idle. */
const running = new Map<string, number>();
/** Delay before the next spare starts after one was adopted: the adopter's first calls go first. */
const RESPARE_MS = 3000;

const spareKey = (moduleUrl: string | URL, exportName: string, heapMb: number) => `${moduleHref(moduleUrl)}#${exportName}@${heapMb}`;

function startSpare(k: SpareKind): void {
  if (k.spare || k.holders === 0) return;
  const w = spawn('serve', k.moduleUrl, k.exportName, undefined, k.heapMb);
  let settle: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((r) => { settle = r; });
  const onMessage = (m: { ready?: boolean }) => { if (typeof m?.ready === 'boolean') settle(m.ready); };
  const onDeath = () => { settle(false); if (k.spare?.worker === w) k.spare = undefined; };
  w.on('message', onMessage);
  w.on('error', onDeath);
  w.on('exit', onDeath);
  w.unref();
  k.spare = { worker: w, ready, drop: () => { w.off('message', onMessage); w.off('error', onDeath); w.off('exit', onDeath); settle(true); } };
}

/**
 * Keeps one started worker of this kind waiting for an IsolatedWorker with `{ spare: true }` (see the
 * header) until the returned release is called (once per holder; the last one terminates the spare).
 */
export function keepSpare(moduleUrl: string | URL, exportName: string, heapMb = DEFAULT_HEAP): () => void {
  const key = spareKey(moduleUrl, exportName, heapMb);
  let k = spares.get(key);
  if (!k) spares.set(key, k = { holders: 0, spare: undefined, timer: undefined, moduleUrl, exportName, heapMb });
  const kind = k;
  kind.holders++;
  startSpare(kind);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--kind.holders > 0) return;
    clearTimeout(kind.timer);
    kind.timer = undefined;
    const s = kind.spare;
    kind.spare = undefined;
    spares.delete(key);
    if (s) { s.drop(); void s.worker.terminate(); }
  };
}

/** Resolves when a spare of this kind has its module loaded (false: none is kept, or it failed to load). */
export async function spareReady(moduleUrl: string | URL, exportName: string, heapMb = DEFAULT_HEAP): Promise<boolean> {
  const k = spares.get(spareKey(moduleUrl, exportName, heapMb));
  if (!k) return false;
  if (!k.spare) { clearTimeout(k.timer); k.timer = undefined; startSpare(k); }
  const s = k.spare;
  if (!s) return false;
  s.worker.ref(); // an idle spare is unref'ed: while someone waits for it, it keeps the process alive
  try { return await s.ready; } finally { if (k.spare === s) s.worker.unref(); }
}

/** The spare of this kind, taken out of the pool (the next one starts after RESPARE_MS). */
function adoptSpare(moduleUrl: string | URL, exportName: string, heapMb: number): Worker | undefined {
  const k = spares.get(spareKey(moduleUrl, exportName, heapMb));
  const s = k?.spare;
  if (!k || !s) return undefined;
  k.spare = undefined;
  s.drop();
  if (!k.timer) respareLater(k, spareKey(moduleUrl, exportName, heapMb));
  return s.worker;
}

/** Starts the next spare RESPARE_MS from now, or later if workers of its kind are running calls then. */
function respareLater(k: SpareKind, key: string): void {
  k.timer = setTimeout(() => {
    k.timer = undefined;
    if ((running.get(key) ?? 0) > 0 && k.holders > 0) respareLater(k, key);
    else startSpare(k);
  }, RESPARE_MS);
  k.timer.unref();
}

/** Runs `exportName(...args)` of `moduleUrl` in a fresh, bounded worker and returns its result. */
export function runIsolated<T>(moduleUrl: string | URL, exportName: string, args: unknown[],
  opts: IsolationOptions & { transfer?: readonly Transferable[]; signal?: AbortSignal } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
  const heapMb = opts.maxHeapMb ?? DEFAULT_HEAP;
  const label = opts.label ?? `${exportName} (isolated)`;
  if (opts.signal?.aborted) return Promise.reject(new IsolationError('EABORTED', `${label} was cancelled.`));
  return new Promise<T>((resolve, reject) => {
    const w = spawn('once', moduleUrl, exportName, args, heapMb, opts.transfer);
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      f();
      void w.terminate();
    };
    const timer = setTimeout(() => finish(() => reject(new IsolationError('ETIMEOUT', `${label} took longer than ${timeoutMs} ms and was stopped: the data it reads may be damaged or hostile.`))), timeoutMs);
    const onAbort = () => finish(() => reject(new IsolationError('EABORTED', `${label} was cancelled.`)));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    w.on('message', (m: { ok?: unknown; error?: { name: string; message: string; code?: string } }) => {
      finish(() => (m.error ? reject(revive(m.error)) : resolve(m.ok as T)));
    });
    w.on('error', (e) => finish(() => reject(deathError(label, e, heapMb))));
    w.on('exit', (code) => finish(() => reject(deathError(label, new Error(`worker exited with code ${code}`), heapMb))));
  });
}

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; method: string }

/**
 * A long-lived isolated worker holding state made by a factory export. Calls may overlap; each has its
 * own time bound. The worker is unref'ed while idle (it never keeps the process alive).
 */
export class IsolatedWorker {
  readonly #moduleUrl: string | URL;
  readonly #exportName: string;
  readonly #args: unknown[];
  readonly #timeoutMs: number;
  readonly #heapMb: number;
  readonly #label: string;
  readonly #spare: boolean;
  readonly #kind: string;
  #worker: Worker | undefined;
  #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;
  /** Workers started so far (1 after the first call; more after restarts). */
  starts = 0;
  lastUsed = Date.now();

  constructor(moduleUrl: string | URL, exportName: string, args: unknown[], opts: WorkerOptions = {}) {
    this.#moduleUrl = moduleUrl;
    this.#exportName = exportName;
    this.#args = args;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT;
    this.#heapMb = opts.maxHeapMb ?? DEFAULT_HEAP;
    this.#label = opts.label ?? exportName;
    this.#spare = opts.spare ?? false;
    this.#kind = spareKey(moduleUrl, exportName, this.#heapMb);
  }

  /** Keeps `running` in step with #pending (a spare of this kind waits while calls run). */
  #counted(delta: number): void {
    const n = (running.get(this.#kind) ?? 0) + delta;
    if (n > 0) running.set(this.#kind, n); else running.delete(this.#kind);
  }

  /** Calls if the worker is running calls now. */
  get busy(): boolean { return this.#pending.size > 0; }

  #start(): Worker {
    // The factory's args go in the first message, so a spare (started without them) serves as well.
    const w = (this.#spare ? adoptSpare(this.#moduleUrl, this.#exportName, this.#heapMb) : undefined)
      ?? spawn('serve', this.#moduleUrl, this.#exportName, undefined, this.#heapMb);
    w.postMessage({ seq: 0, init: this.#args });
    this.starts++;
    w.on('message', (m: { seq: number; ok?: unknown; error?: { name: string; message: string; code?: string } }) => {
      const p = this.#pending.get(m.seq);
      if (!p) return;
      this.#pending.delete(m.seq);
      this.#counted(-1);
      clearTimeout(p.timer);
      if (this.#pending.size === 0) w.unref();
      if (m.error) p.reject(revive(m.error)); else p.resolve(m.ok);
    });
    const die = (e: unknown) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      this.#failAll(deathError(this.#label, e, this.#heapMb));
    };
    w.on('error', die);
    w.on('exit', (code) => die(new Error(`worker exited with code ${code}`)));
    w.unref();
    return w;
  }

  #failAll(e: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#counted(-all.length);
    for (const p of all) { clearTimeout(p.timer); p.reject(e); }
  }

  /** Kills the worker now (its calls fail with `reason`); the next call starts a new one. */
  #kill(reason: Error): void {
    const w = this.#worker;
    this.#worker = undefined;
    this.#failAll(reason);
    if (w) void w.terminate();
  }

  /** Calls `method(...args)` on the factory's object in the worker. */
  call<T>(method: string, args: unknown[] = [], opts: { timeoutMs?: number; transfer?: readonly Transferable[] } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new IsolationError('ECLOSED', `${this.#label} is closed.`));
    this.lastUsed = Date.now();
    const w = this.#worker ??= this.#start();
    const seq = ++this.#seq;
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.has(seq)) return;
        this.#pending.delete(seq);
        this.#counted(-1);
        reject(new IsolationError('ETIMEOUT', `${this.#label}: ${method} took longer than ${timeoutMs} ms and was stopped: the data it reads may be damaged or hostile.`));
        this.#kill(new IsolationError('ERESTARTED', `${this.#label}: ${method} was stopped because another request on the same data ran over its time; try again.`));
      }, timeoutMs);
      this.#pending.set(seq, { resolve: resolve as (v: unknown) => void, reject, timer, method });
      this.#counted(1);
      w.ref();
      w.postMessage({ seq, method, args }, (opts.transfer ?? []) as Transferable[]);
    });
  }

  /** Stops the worker; pending calls fail with 'ECLOSED'. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    this.#failAll(new IsolationError('ECLOSED', `${this.#label} was closed.`));
    if (w) await w.terminate();
  }
}
