// `stillpoint jobs` — list, show, create, run, delete backup jobs.
//   stillpoint jobs [list] [--json]
//   stillpoint jobs show <job> [--json]
//   stillpoint jobs create <name> --vm <vm> [--vm <vm>…] [--cron "0 22 * * *"] [--keep-last N]
//        [--daily N --weekly N --monthly N --yearly N] [--no-quiesce] [--on-quiesce-failure fail|fallback]
//        [--vss full|copy] [--concurrency N] [--disabled]
//   stillpoint jobs run <job> [--no-wait] [--json]
//   stillpoint jobs delete <job>
import type { Job, JobInput, JobRun, RunStatus } from '../api/contract.ts';
import { flag, option, table } from './format.ts';
import { followRun } from './follow.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';

export async function run(args: string[]): Promise<number> {
  const json = flag(args, '--json');
  const [sub = 'list', ...rest] = args;
  try {
    const client = new ServiceClient();
    const find = async (ref: string | undefined): Promise<Job> => {
      if (!ref) throw new Error('name the job (its name or id)');
      const jobs = await client.get<Job[]>('/api/jobs');
      const j = jobs.find((x) => x.id === ref || x.name === ref);
      if (!j) throw new Error(`no job '${ref}'; list them with \`stillpoint jobs\``);
      return j;
    };
    const out = (v: unknown, text: string) => process.stdout.write(json ? JSON.stringify(v, null, 2) + '\n' : text);
    switch (sub) {
      case 'list': {
        const jobs = await client.get<Job[]>('/api/jobs');
        out(jobs, table(['NAME', 'VMS', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'ENABLED'],
          jobs.map((j) => [j.name, j.vmIds.length, j.schedule.cron ?? 'manual', j.nextRun ?? '-', j.lastRun ? `${j.lastRun.status} ${j.lastRun.endedAt ?? ''}`.trim() : '-', j.enabled ? 'yes' : 'no'])));
        return 0;
      }
      case 'show': {
        const j = await find(rest[0]);
        out(j, `${JSON.stringify(j, null, 2)}\n`);
        return 0;
      }
      case 'create': {
        const vmNames: string[] = [];
        for (let v = option(rest, '--vm'); v; v = option(rest, '--vm')) vmNames.push(v);
        const num = (name: string, dflt?: number) => {
          const v = option(rest, name);
          if (v === undefined) return dflt;
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number`);
          return n;
        };
        const input: JobInput = {
          name: '', vmIds: [], schedule: { cron: option(rest, '--cron') ?? null },
          retention: Object.fromEntries(Object.entries({ keepLast: num('--keep-last', 7), daily: num('--daily'), weekly: num('--weekly'), monthly: num('--monthly'), yearly: num('--yearly') }).filter(([, v]) => v !== undefined)),
          appAware: {
            quiesce: !flag(rest, '--no-quiesce'),
            onQuiesceFailure: (option(rest, '--on-quiesce-failure') ?? 'fallback') as 'fail' | 'fallback',
            vssBackupType: (option(rest, '--vss') ?? 'copy') as 'full' | 'copy',
          },
          concurrency: num('--concurrency', 2)!,
          enabled: !flag(rest, '--disabled'),
        };
        if (rest.length !== 1 || !vmNames.length) throw new Error('usage: stillpoint jobs create <name> --vm <vm> [--vm …] [--cron EXPR] [--keep-last N] …');
        input.name = rest[0]!;
        input.vmIds = (await resolveVms(client, vmNames)).map((v) => v.id);
        const j = await client.post<Job>('/api/jobs', input);
        out(j, `Created job '${j.name}' (${j.id})${j.nextRun ? `, next run ${j.nextRun}` : ', run manually'}.\n`);
        return 0;
      }
      case 'run': {
        const noWait = flag(rest, '--no-wait');
        const j = await find(rest[0]);
        const started = await client.post<JobRun>(`/api/jobs/${j.id}/run`);
        const r = noWait ? started : await followRun(client, started, { quiet: json });
        out(r, r.vms.map((v) => `${v.vmName}: ${v.status}${v.consistency ? `, ${v.consistency}-consistent` : ''}${v.message && v.status === 'failed' ? `: ${v.message}` : ''}\n`).join(''));
        return noWait || ok(r.status) ? 0 : 1;
      }
      case 'delete': {
        const j = await find(rest[0]);
        await client.request('DELETE', `/api/jobs/${j.id}`);
        out({ deleted: j.id }, `Deleted job '${j.name}'; its restore points stay in the repository.\n`);
        return 0;
      }
      default:
        process.stderr.write(`stillpoint jobs: unknown subcommand '${sub}' (list, show, create, run, delete)\n`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`stillpoint jobs: ${(e as Error).message}\n`);
    return 1;
  }
}

const ok = (s: RunStatus) => s === 'success' || s === 'warning';
