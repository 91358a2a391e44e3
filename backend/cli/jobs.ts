// `stillpoint jobs` — list, show, create, run, delete backup jobs (see `help` and `commands` below).
import type { Job, JobInput, JobRun, RunStatus } from '../api/contract.ts';
import { flag, formatTime, option, table } from './format.ts';
import { followRun } from './follow.ts';
import { showHelp, usageError, wantsHelp, type Help } from './help.ts';
import { resolveVms } from './resolve.ts';
import { ServiceClient } from './service-client.ts';

export const help: Help = {
  usage: ['stillpoint jobs [list|show|create|run|delete] … [--json]'],
  summary: 'Backup jobs: which VMs, when (cron), how many restore points to keep, app-aware settings.',
  examples: ['stillpoint jobs', 'stillpoint jobs show nightly', 'stillpoint jobs create nightly --vm win-app01 --cron "0 22 * * *"', 'stillpoint jobs run nightly'],
};

export const commands: Record<string, Help> = {
  list: {
    usage: ['stillpoint jobs [list] [--json]'],
    summary: 'list the jobs with their VM count, schedule, next and last run (local time)',
    options: [['--json', 'the jobs as JSON']],
    examples: ['stillpoint jobs', 'stillpoint jobs list --json'],
  },
  show: {
    usage: ['stillpoint jobs show <job name or id> [--json]'],
    summary: 'one job in full: VMs, schedule, retention, app-aware settings, last and next run',
    options: [['--json', 'the job as JSON']],
    examples: ['stillpoint jobs show nightly', 'stillpoint jobs show job-3f2a --json'],
  },
  create: {
    usage: [
      'stillpoint jobs create <name> --vm <vm> [--vm <vm>…] [--cron "<min hour dom mon dow>"]',
      '  [--keep-last N] [--daily N] [--weekly N] [--monthly N] [--yearly N]',
      '  [--no-quiesce] [--on-quiesce-failure fail|fallback] [--vss full|copy]',
      '  [--concurrency N] [--disabled] [--json]',
    ],
    summary: 'create a backup job',
    options: [
      ['--vm VM', 'a VM to back up (name, id, or site:name); repeat for more'],
      ['--cron EXPR', 'when to run, in the service\'s time zone (default: manual only)'],
      ['--keep-last N', 'restore points to keep per VM (default 7)'],
      ['--daily/--weekly/--monthly/--yearly N', 'also keep the last point of N days, weeks, months, years'],
      ['--no-quiesce', 'crash-consistent snapshots (no VMware Tools quiescing / VSS)'],
      ['--on-quiesce-failure X', 'fallback (default): a crash-consistent point with a warning; fail: the VM fails'],
      ['--vss full|copy', 'VSS backup type (default copy; full lets applications truncate their logs)'],
      ['--concurrency N', 'VMs backed up at once, 1..8 (default 2)'],
      ['--disabled', 'create it switched off (its schedule does not run)'],
      ['--json', 'the new job as JSON'],
    ],
    examples: [
      'stillpoint jobs create nightly --vm win-app01 --vm linux-db01 --cron "0 22 * * *" --keep-last 14',
      'stillpoint jobs create weekly-db --vm linux-db01 --cron "0 3 * * 6" --keep-last 4 --monthly 12 --on-quiesce-failure fail',
      'stillpoint jobs create adhoc --vm vm-47 --no-quiesce',
    ],
  },
  run: {
    usage: ['stillpoint jobs run <job name or id> [--no-wait] [--json]'],
    summary: 'run a job now and follow it with a progress bar',
    options: [['--no-wait', 'start it and return (follow later with `stillpoint runs follow <id>`)'], ['--json', 'the finished run as JSON']],
    examples: ['stillpoint jobs run nightly', 'stillpoint jobs run nightly --no-wait'],
  },
  delete: {
    usage: ['stillpoint jobs delete <job name or id> [--json]'],
    summary: 'delete a job; its restore points stay in the repository',
    examples: ['stillpoint jobs delete adhoc'],
  },
};

/** A job as text, one setting per line. */
export function describeJob(j: Job, vmNames: Map<string, string>): string {
  const r = j.retention;
  const keep = [r.keepLast !== undefined ? `last ${r.keepLast}` : '', r.daily ? `${r.daily} daily` : '', r.weekly ? `${r.weekly} weekly` : '',
    r.monthly ? `${r.monthly} monthly` : '', r.yearly ? `${r.yearly} yearly` : ''].filter(Boolean).join(', ') || 'everything';
  const a = j.appAware;
  const lines: [string, string][] = [
    ['Job', `${j.name} (${j.id}), ${j.kind}${j.enabled ? '' : ', disabled'}`],
    ['VMs', j.vmIds.map((id) => vmNames.has(id) ? `${vmNames.get(id)} (${id})` : id).join(', ') || '-'],
    ...(j.folderIds?.length ? [['Folders', j.folderIds.join(', ')] as [string, string]] : []),
    ['Schedule', j.schedule.cron ? `cron "${j.schedule.cron}"` : 'manual'],
    ['Next run', j.enabled && j.nextRun ? formatTime(j.nextRun) : '-'],
    ['Last run', j.lastRun ? `${j.lastRun.status}${j.lastRun.endedAt ? ` at ${formatTime(j.lastRun.endedAt)}` : ''} (${j.lastRun.id})` : '-'],
    ['Keep', keep],
    ['Quiesce', a.quiesce ? `yes, VSS ${a.vssBackupType}; on failure ${a.onQuiesceFailure === 'fail' ? 'the VM fails' : 'crash-consistent with a warning'}` : 'no (crash-consistent)'],
    ...(a.preFreeze ? [['Pre-freeze', `script (${a.preFreeze.interpreter ?? 'default shell'}, ${a.preFreeze.timeoutSec} s)`] as [string, string]] : []),
    ...(a.postThaw ? [['Post-thaw', `script (${a.postThaw.interpreter ?? 'default shell'}, ${a.postThaw.timeoutSec} s)`] as [string, string]] : []),
    ...(a.guestCredentialId ? [['Credential', a.guestCredentialId] as [string, string]] : []),
    ['Concurrency', `${j.concurrency} VM${j.concurrency === 1 ? '' : 's'} at once`],
    ['Created', formatTime(j.createdAt)],
  ];
  return lines.map(([k, v]) => `${(k + ':').padEnd(13)} ${v}`).join('\n') + '\n';
}

export async function run(args: string[]): Promise<number> {
  const askedHelp = wantsHelp(args);
  const json = flag(args, '--json');
  const [sub = 'list', ...rest] = args;
  if (askedHelp) return args.length && commands[sub] ? showHelp(commands[sub]) : showHelp(help, commands);
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
          jobs.map((j) => [j.name, j.vmIds.length, j.schedule.cron ?? 'manual', j.enabled && j.nextRun ? formatTime(j.nextRun) : '-', j.lastRun ? `${j.lastRun.status} ${j.lastRun.endedAt ? formatTime(j.lastRun.endedAt) : ''}`.trim() : '-', j.enabled ? 'yes' : 'no'])));
        return 0;
      }
      case 'show': {
        if (rest.length !== 1) return usageError('jobs show', 'name one job', commands.show!);
        const j = await find(rest[0]);
        const names = json ? new Map<string, string>() : new Map((await client.get<{ id: string; name: string }[]>('/api/vms')).map((v) => [v.id, v.name]));
        out(j, describeJob(j, names));
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
        if (rest.length !== 1 || !vmNames.length) {
          return usageError('jobs create', rest.length > 1 ? `unexpected '${rest[1]}'` : rest.length ? 'give at least one --vm' : 'name the job', commands.create!);
        }
        input.name = rest[0]!;
        input.vmIds = (await resolveVms(client, vmNames)).map((v) => v.id);
        const j = await client.post<Job>('/api/jobs', input);
        out(j, `Created job '${j.name}' (${j.id})${j.nextRun ? `, next run ${formatTime(j.nextRun)}` : ', run manually'}.\n`);
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
        return usageError('jobs', `unknown command '${sub}'`, help, commands);
    }
  } catch (e) {
    process.stderr.write(`stillpoint jobs: ${(e as Error).message}\n`);
    return 1;
  }
}

const ok = (s: RunStatus) => s === 'success' || s === 'warning';
