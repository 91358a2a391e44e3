// Waiting on real state in tests: poll a condition (a run's phase, a snapshot in the lab, a file)
// until it holds, with a bound. The pause between polls only paces the polling; the wait ends when
// the condition holds, never because some time passed.

/**
 * Calls `check` until it returns something truthy and returns that; throws after `timeoutMs`
 * naming `what` (and, if given, `describe()` of the state at that moment).
 */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; everyMs?: number; describe?: () => Promise<string> | string } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) {
      const state = opts.describe ? `: ${await opts.describe()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

/** Resolves with `p`, or rejects naming `what` if it has not settled within `timeoutMs`. */
export async function within<T>(what: string, p: Promise<T>, timeoutMs = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
