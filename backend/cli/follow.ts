// Follows a run on the service until it ends, drawing a progress bar per run on a terminal and
// printing phase changes otherwise.
import type { JobRun } from '../api/contract.ts';
import { progressBar } from './progress.ts';
import type { ServiceClient } from './service-client.ts';

export async function followRun(client: ServiceClient, run: JobRun, opts: { quiet?: boolean } = {}): Promise<JobRun> {
  const bar = opts.quiet ? { update() {}, done() {} } : progressBar(run.kind === 'restore' ? 'restore' : 'backup', { unit: 'count' });
  let last = run;
  const phases = new Map<string, string>();
  const show = (r: JobRun) => {
    bar.update(r.progress, 100);
    if (opts.quiet || process.stderr.isTTY) return;
    for (const v of r.vms) {
      if (phases.get(v.vmId) === v.phase) continue;
      phases.set(v.vmId, v.phase);
      process.stderr.write(`${v.vmName}: ${v.phase}\n`);
    }
  };
  show(run);
  const ended = (r: JobRun) => r.status !== 'running' && r.status !== 'queued';
  const ac = new AbortController();
  const poll = (async () => {
    // Events can be missed around connection set-up: a slow poll makes sure the end is seen.
    while (!ac.signal.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      if (ac.signal.aborted) return;
      const r = await client.get<JobRun>(`/api/runs/${run.id}`).catch(() => undefined);
      if (r) { last = r; show(r); if (ended(r)) ac.abort(); }
    }
  })();
  if (!ended(run)) {
    await client.events((type, data) => {
      if (type !== 'run') return;
      const r = (data as { run: JobRun }).run;
      if (r.id !== run.id) return;
      last = r;
      show(r);
      if (ended(r)) return true;
    }, ac.signal).catch(() => undefined);
  }
  ac.abort();
  await poll;
  bar.done();
  return ended(last) ? last : client.get<JobRun>(`/api/runs/${run.id}`);
}
