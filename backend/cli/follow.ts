// Follows a run on the service until it ends, drawing a progress bar per run on a terminal and
// printing phase changes otherwise. The service may restart meanwhile: the follower reconnects (with
// backoff, for up to STILLPOINT_RECONNECT_SECONDS, default 30 s of the service being away) and
// re-reads the run after every (re)connection, so no final status is missed (a restarted service
// marks the run it interrupted failed). When the service stays away or no longer knows the run, it
// gives up with a message naming the run and how to look at it later.
import type { JobRun } from '../api/contract.ts';
import { progressBar } from './progress.ts';
import { ServiceError, type ServiceClient } from './service-client.ts';

const ended = (r: JobRun) => r.status !== 'running' && r.status !== 'queued';

/** Errors after which the service may come back: it is not reachable, or a proxy says it is away. */
const retryable = (e: unknown) => e instanceof ServiceError && ((e.status === 0 && e.code === 'unreachable') || [502, 503, 504].includes(e.status));

function reconnectMs(): number {
  const s = Number(process.env.STILLPOINT_RECONNECT_SECONDS ?? 30);
  return (Number.isFinite(s) && s > 0 ? s : 30) * 1000;
}

export async function followRun(client: ServiceClient, run: JobRun, opts: { quiet?: boolean } = {}): Promise<JobRun> {
  const bar = opts.quiet ? { update() {}, done() {} } : progressBar(run.kind.replace('-', ' '), { unit: 'percent' });
  let last = run;
  const phases = new Map<string, string>();
  const show = (r: JobRun) => {
    bar.update(r.progress, 100, r.vms.reduce((n, v) => n + v.bytesRead, 0));
    if (opts.quiet || process.stderr.isTTY) return;
    for (const v of r.vms) {
      if (phases.get(v.vmId) === v.phase) continue;
      phases.set(v.vmId, v.phase);
      process.stderr.write(`${v.vmName}: ${v.phase}\n`);
    }
  };
  // Events and reads may arrive out of order: an ended run stays ended.
  const take = (r: JobRun) => {
    if (ended(last) && !ended(r)) return;
    last = r;
    show(r);
  };
  const note = (text: string) => { bar.done(); process.stderr.write(text); };
  if (!opts.quiet) note(`Following run ${run.id} (Ctrl-C stops following it, not the run).\n`);
  show(run);

  const boundMs = reconnectMs();
  const later = `check it later with \`stillpoint runs show ${run.id}\``;
  let downSince: number | undefined;
  let delayMs = 250;
  let lost = false;
  try {
    while (!ended(last)) {
      const ac = new AbortController();
      let problem: unknown;
      try {
        await client.events((type, data) => {
          if (type !== 'run') return;
          const r = (data as { run: JobRun }).run;
          if (r.id !== run.id) return;
          take(r);
          return ended(r);
        }, {
          signal: ac.signal,
          // Once the stream is open every change reaches it; what changed before (while the
          // service was away, or while the stream was being set up) is read now.
          onOpen: () => {
            client.get<JobRun>(`/api/runs/${run.id}`).then((r) => {
              if (lost) note(`Reconnected to the Stillpoint service; run ${run.id} is ${r.status}.\n`);
              lost = false;
              downSince = undefined;
              delayMs = 250;
              take(r);
              if (ended(r)) ac.abort();
            }, (e: unknown) => { problem = e; ac.abort(); });
          },
        });
      } catch (e) {
        problem = e;
      }
      if (ended(last)) break;
      problem ??= new ServiceError(0, 'unreachable', 'the event stream stopped');
      if (problem instanceof ServiceError && problem.status === 404) {
        throw new Error(`The Stillpoint service at ${client.baseUrl} does not know run ${run.id} (any more): list the runs with \`stillpoint runs\`.`);
      }
      if (!retryable(problem)) {
        const e = problem as Error;
        throw e instanceof ServiceError ? new ServiceError(e.status, e.code, `${e.message} (Stopped following run ${run.id}: ${later}.)`) : e;
      }
      const why = (problem as Error).message;
      downSince ??= Date.now();
      if (!lost) {
        lost = true;
        note(`Lost the Stillpoint service while following run ${run.id} (${why}); reconnecting for up to ${boundMs / 1000} s…\n`);
      }
      const left = boundMs - (Date.now() - downSince);
      if (left <= 0) {
        throw new Error(`The Stillpoint service at ${client.baseUrl} did not come back within ${boundMs / 1000} s (${why}). ` +
          `Run ${run.id} may still be going, or is marked failed when the service starts again: ${later}.`);
      }
      await new Promise((r) => setTimeout(r, Math.min(delayMs, left)));
      delayMs = Math.min(delayMs * 2, 2000);
    }
  } finally {
    bar.done();
  }
  return last;
}
