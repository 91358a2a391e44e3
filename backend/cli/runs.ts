// `stillpoint runs` — the run history: backups, restores and maintenance, what each did and why it
// failed. Also how to pick up a run again after the CLI stopped following it (e.g. the service
// restarted and did not come back in time).
//   stillpoint runs [list] [--limit N] [--json]
//   stillpoint runs show <run id> [--json]
//   stillpoint runs follow <run id> [--json]
import type { JobRun, RunStatus } from '../api/contract.ts';
import { flag, formatTime, option, table } from './format.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';
import { followRun } from './follow.ts';
import { formatBytes } from './progress.ts';
import { ServiceClient } from './service-client.ts';

export const help: Help = {
  usage: ['stillpoint runs [list|show|follow] … [--json]'],
  summary: 'The run history: backups, restores, file restores and repository maintenance (retention, GC,\nverify), what each did and why it failed.',
  examples: ['stillpoint runs', 'stillpoint runs show run-8c1f', 'stillpoint runs follow run-8c1f'],
};

export const commands: Record<string, Help> = {
  list: {
    usage: ['stillpoint runs [list] [--limit N] [--status S] [--kind K] [--since 24h|7d|ISO time] [--json]'],
    summary: 'the latest runs, newest first (local time); filtered, the runs behind a dashboard figure',
    options: [
      ['--limit N', 'how many (default 20)'],
      ['--status S', 'runs with a VM (or, without VMs, the run) that ended success, warning, failed or cancelled'],
      ['--kind K', 'backup, restore, file-restore, replicate, replication, verify, retention, gc, catalog…'],
      ['--since T', 'started since: a span back from now (24h, 7d) or an ISO time (2026-12-01T00:00:00Z)'],
      ['--json', 'the runs as JSON'],
    ],
    examples: ['stillpoint runs', 'stillpoint runs --status failed --since 24h', 'stillpoint runs list --kind restore --limit 100 --json'],
  },
  show: {
    usage: ['stillpoint runs show <run id> [--json]'],
    summary: 'one run: status, times, each VM\'s result, consistency, restore point, data read and stored, errors',
    options: [['--json', 'the run as JSON']],
    examples: ['stillpoint runs show run-8c1f', 'stillpoint runs show run-8c1f --json'],
  },
  follow: {
    usage: ['stillpoint runs follow <run id> [--json]'],
    summary: 'follow a running run to its end with a progress bar (reconnects through a service restart)',
    options: [['--json', 'the finished run as JSON']],
    notes: 'STILLPOINT_RECONNECT_SECONDS (default 30) bounds how long the service may be away.',
    examples: ['stillpoint runs follow run-8c1f'],
  },
};

export async function run(args: string[]): Promise<number> {
  const askedHelp = wantsHelp(args);
  const json = flag(args, '--json');
  // `stillpoint runs --status failed` lists: options alone mean the list.
  const sub = !args[0] || args[0].startsWith('--') ? 'list' : args[0];
  const rest = sub === args[0] ? args.slice(1) : args;
  if (askedHelp) return args.length && commands[sub] ? showHelp(commands[sub]) : showHelp(help, commands);
  try {
    const client = new ServiceClient();
    const one = async (id: string | undefined): Promise<JobRun> => {
      if (!id || rest.length !== 1) throw new UsageMistake(id ? `unexpected '${rest[1]}'` : 'give the run id');
      return client.get<JobRun>(`/api/runs/${encodeURIComponent(id)}`);
    };
    switch (sub) {
      case 'list': {
        const limit = option(rest, '--limit') ?? '20';
        if (!/^[1-9]\d*$/.test(limit)) throw new Error('--limit needs a whole number above 0');
        const q = new URLSearchParams({ limit });
        for (const k of ['status', 'kind', 'since'] as const) { const v = option(rest, `--${k}`); if (v) q.set(k, v); }
        const runs = await client.get<JobRun[]>(`/api/runs?${q}`);
        if (json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
        else process.stdout.write(table(['ID', 'KIND', 'STATUS', 'STARTED', 'ENDED', 'WHAT'],
          runs.map((r) => [r.id, r.kind, r.status, formatTime(r.startedAt), formatTime(r.endedAt), what(r)])));
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
        return usageError('runs', `unknown command '${sub}'`, help, commands);
    }
  } catch (e) {
    if (e instanceof UsageMistake) return usageError(`runs ${sub}`, e.message, commands[sub] ?? help);
    process.stderr.write(`stillpoint runs: ${(e as Error).message}\n`);
    return 1;
  }
}

class UsageMistake extends Error {}

const ok = (s: RunStatus) => s === 'success' || s === 'warning';

function what(r: JobRun): string {
  const owner = r.jobName ?? r.forJob?.name;
  const vms = r.vms.map((v) => v.vmName).join(', ');
  return [owner ? `job ${owner}` : '', vms].filter(Boolean).join(': ') || (r.message ?? '');
}

/** The run as text: status and times, then each VM with its result and why it failed. */
export function describe(r: JobRun): string {
  const lines = [`Run ${r.id} (${r.kind}${r.jobName ? `, job ${r.jobName}` : ''}): ${r.status}, started ${formatTime(r.startedAt)}` +
    `${r.endedAt ? `, ended ${formatTime(r.endedAt)}` : `, ${r.progress}% done`}${r.initiatedBy ? `, by ${r.initiatedBy}` : ''}`];
  if (r.message) lines.push(`  ${r.message}`);
  for (const v of r.vms) {
    lines.push(`  ${v.vmName}: ${v.status}${v.status === 'running' ? ` (${v.phase}, ${v.progress}%)` : ''}` +
      `${v.consistency ? `, ${v.consistency}-consistent` : ''}${v.restorePointId ? `, restore point ${v.restorePointId}` : ''}` +
      `, read ${formatBytes(v.bytesRead)}, stored ${formatBytes(v.bytesStored)}${v.message && !ok(v.status) ? `: ${v.message}` : ''}`);
    for (const w of v.warnings) lines.push(`    warning: ${w}`);
  }
  return lines.join('\n') + '\n';
}
