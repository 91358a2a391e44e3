// `stillpoint runs` — the run history: backups, restores and maintenance, what each did and why it
// failed. Also how to pick up a run again after the CLI stopped following it (e.g. the service
// restarted and did not come back in time).
//   stillpoint runs [list] [--limit N] [--json]
//   stillpoint runs show <run id> [--json]
//   stillpoint runs follow <run id> [--json]
import type { JobRun, RunStatus } from '../api/contract.ts';
import { flag, option, table } from './format.ts';
import { followRun } from './follow.ts';
import { formatBytes } from './progress.ts';
import { ServiceClient } from './service-client.ts';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  const [sub = 'list', ...rest] = args;
  try {
    const client = new ServiceClient();
    const one = async (id: string | undefined): Promise<JobRun> => {
      if (!id || rest.length !== 1) throw new Error(`usage: stillpoint runs ${sub} <run id> [--json]`);
      return client.get<JobRun>(`/api/runs/${encodeURIComponent(id)}`);
    };
    switch (sub) {
      case 'list': {
        const limit = option(rest, '--limit') ?? '20';
        if (!/^[1-9]\d*$/.test(limit)) throw new Error('--limit needs a whole number above 0');
        const runs = await client.get<JobRun[]>(`/api/runs?limit=${limit}`);
        if (json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
        else process.stdout.write(table(['ID', 'KIND', 'STATUS', 'STARTED', 'ENDED', 'WHAT'],
          runs.map((r) => [r.id, r.kind, r.status, r.startedAt, r.endedAt ?? '-', what(r)])));
        return 0;
      }
      case 'show': {
        const r = await one(rest[0]);
        process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n' : describe(r));
        return 0;
      }
      case 'follow': {
        const r = await followRun(client, await one(rest[0]), { quiet: json });
        process.stdout.write(json ? JSON.stringify(r, null, 2) + '\n' : describe(r));
        return ok(r.status) ? 0 : 1;
      }
      default:
        process.stderr.write(`stillpoint runs: unknown subcommand '${sub}' (list, show, follow)\n`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`stillpoint runs: ${(e as Error).message}\n`);
    return 1;
  }
}

const ok = (s: RunStatus) => s === 'success' || s === 'warning';

function what(r: JobRun): string {
  const owner = r.jobName ?? r.forJob?.name;
  const vms = r.vms.map((v) => v.vmName).join(', ');
  return [owner ? `job ${owner}` : '', vms].filter(Boolean).join(': ') || (r.message ?? '');
}

/** The run as text: status and times, then each VM with its result and why it failed. */
export function describe(r: JobRun): string {
  const lines = [`Run ${r.id} (${r.kind}${r.jobName ? `, job ${r.jobName}` : ''}): ${r.status}, started ${r.startedAt}` +
    `${r.endedAt ? `, ended ${r.endedAt}` : `, ${r.progress}% done`}${r.initiatedBy ? `, by ${r.initiatedBy}` : ''}`];
  if (r.message) lines.push(`  ${r.message}`);
  for (const v of r.vms) {
    lines.push(`  ${v.vmName}: ${v.status}${v.status === 'running' ? ` (${v.phase}, ${v.progress}%)` : ''}` +
      `${v.consistency ? `, ${v.consistency}-consistent` : ''}${v.restorePointId ? `, restore point ${v.restorePointId}` : ''}` +
      `, read ${formatBytes(v.bytesRead)}, stored ${formatBytes(v.bytesStored)}${v.message && !ok(v.status) ? `: ${v.message}` : ''}`);
    for (const w of v.warnings) lines.push(`    warning: ${w}`);
  }
  return lines.join('\n') + '\n';
}
