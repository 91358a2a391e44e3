// The report of one finished run, as an e-mail (HTML with a per-VM table like the run history, and a
// plain-text part) and as the webhook's JSON: which VMs, their result, the error and what to do, the
// duration and the bytes read and stored.
import { formatBytes } from '../common/units.ts';
import type { Run, RunItem } from '../model/job.ts';
import { duration, esc, kindWord, STATUS_COLOURS, STATUS_WORDS } from './format.ts';

export interface Rendered { subject: string; html: string; text: string }

/** What the admin should do about a VM's result (the error's own hint first). */
export function remedy(v: RunItem, run: Run): string {
  if (v.status === 'failed') {
    if (v.hint) return v.hint;
    return run.jobId
      ? 'Fix the cause named in the error, then run the job again (Jobs > Run now) or back up this VM now.'
      : 'Fix the cause named in the error, then start it again.';
  }
  if (v.status === 'cancelled') return 'It was cancelled: start it again when ready.';
  if (v.status === 'warning') return v.warnings.length ? 'The result is usable; check the warnings.' : 'The result is usable.';
  return '';
}

function title(run: Run): string {
  const what = kindWord(run.kind);
  return run.jobName ? `${what} job '${run.jobName}'` : `${what}${run.vms.length === 1 ? ` of ${run.vms[0]!.vmName}` : ''}`;
}

function tally(run: Run): string {
  if (!run.vms.length) return run.message ?? '';
  const bad = run.vms.filter((v) => v.status === 'failed').length;
  const warn = run.vms.filter((v) => v.status === 'warning').length;
  const n = run.vms.length;
  const parts = [`${n} VM${n === 1 ? '' : 's'}`];
  if (bad) parts.push(`${bad} failed`);
  if (warn) parts.push(`${warn} with warnings`);
  return parts.join(', ');
}

export function subjectOf(run: Run): string {
  return `[Stillpoint] ${STATUS_WORDS[run.status]}: ${title(run)} (${tally(run)})`;
}

export function runLink(run: Run, serviceUrl?: string): string | undefined {
  return serviceUrl ? `${serviceUrl.replace(/\/$/, '')}/ui/#/runs?run=${encodeURIComponent(run.id)}` : undefined;
}

export function renderRunReport(run: Run, opts: { serviceUrl?: string } = {}): Rendered {
  const link = runLink(run, opts.serviceUrl);
  const started = new Date(run.startedAt);
  const took = run.endedAt ? duration(Date.parse(run.endedAt) - started.getTime()) : '';
  const head = `${title(run)}: ${STATUS_WORDS[run.status]}`;
  const cell = 'style="padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"';
  const rows = run.vms.map((v) => {
    const error = v.status === 'failed' || v.status === 'cancelled' ? v.message ?? '' : v.warnings.join(' ');
    return `<tr><td ${cell}>${esc(v.vmName)}</td>`
      + `<td ${cell}><span style="color:${STATUS_COLOURS[v.status]};font-weight:bold">${STATUS_WORDS[v.status]}</span></td>`
      + `<td ${cell}>${esc(error)}${remedy(v, run) ? `<br><em>What to do:</em> ${esc(remedy(v, run))}` : ''}</td>`
      + `<td ${cell}>${duration(v.durationMs)}</td>`
      + `<td ${cell}>read ${formatBytes(v.bytesRead)}, stored ${formatBytes(v.bytesStored)}</td></tr>`;
  }).join('\n');
  const table = run.vms.length ? `<table style="border-collapse:collapse;font-size:14px">
<thead><tr><th ${cell}>VM</th><th ${cell}>Result</th><th ${cell}>Error and what to do</th><th ${cell}>Duration</th><th ${cell}>Data</th></tr></thead>
<tbody>
${rows}
</tbody></table>` : `<p>${esc(run.message ?? '')}</p>`;
  const html = `<!doctype html><html><body style="font-family:Metropolis,'Segoe UI',Arial,sans-serif;color:#21333b">
<h2 style="color:${STATUS_COLOURS[run.status]}">${esc(head)}</h2>
<p>Started ${esc(started.toUTCString())}${took ? `, took ${took}` : ''}${run.initiatedBy ? `, started by ${esc(run.initiatedBy)}` : ''}.</p>
${run.message && run.vms.length ? `<p>${esc(run.message)}</p>` : ''}
${table}
${link ? `<p><a href="${esc(link)}">Open this run in Stillpoint</a></p>` : ''}
</body></html>`;
  const lines = run.vms.map((v) => {
    const error = v.status === 'failed' || v.status === 'cancelled' ? v.message ?? '' : v.warnings.join(' ');
    const step = remedy(v, run);
    return `- ${v.vmName}: ${STATUS_WORDS[v.status]}, ${duration(v.durationMs)}, read ${formatBytes(v.bytesRead)}, stored ${formatBytes(v.bytesStored)}`
      + `${error ? `\n  Error: ${error}` : ''}${step ? `\n  What to do: ${step}` : ''}`;
  });
  const text = [head, `Started ${started.toUTCString()}${took ? `, took ${took}` : ''}.`, ...(run.vms.length ? lines : [run.message ?? '']), ...(link ? [`Open: ${link}`] : [])].join('\n');
  return { subject: subjectOf(run), html, text };
}
