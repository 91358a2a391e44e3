// The daily summary: the dashboard's figures (protection and the last 24 hours, counted exactly as the
// dashboard counts them, see service/views.ts) and the runs that need attention, as e-mail and JSON.
import type { Run } from '../model/job.ts';
import { duration, esc, kindWord, STATUS_COLOURS, STATUS_WORDS } from './format.ts';
import type { Rendered } from './run-report.ts';

export interface SummaryFigures {
  vms: { total: number; protected: number; unprotected: number };
  last24h: { success: number; warning: number; failed: number; cancelled: number };
  repository: { usedBytes: number; capacityBytes: number; restorePoints: number };
}

export function renderSummary(f: SummaryFigures, problems: Run[], opts: { serviceUrl?: string; date: string }): Rendered {
  const l = f.last24h;
  const subject = `[Stillpoint] Daily summary ${opts.date}: ${l.failed} failed, ${l.warning} with warnings, ${l.success} succeeded, ${l.cancelled} cancelled; ${f.vms.unprotected} of ${f.vms.total} VMs not protected`;
  const cell = 'style="padding:4px 8px;border-bottom:1px solid #ddd;text-align:left"';
  const base = opts.serviceUrl?.replace(/\/$/, '');
  const rows = problems.map((r) => {
    const bad = r.vms.filter((v) => v.status === 'failed' || v.status === 'cancelled' || v.status === 'warning');
    const what = bad.length ? bad.map((v) => `${v.vmName}: ${v.message ?? v.warnings.join(' ')}`).join('; ') : r.message ?? '';
    return `<tr><td ${cell}>${esc(new Date(r.startedAt).toUTCString())}</td><td ${cell}>${esc(r.jobName ?? kindWord(r.kind))}</td>`
      + `<td ${cell}><span style="color:${STATUS_COLOURS[r.status]};font-weight:bold">${STATUS_WORDS[r.status]}</span></td><td ${cell}>${esc(what)}</td>`
      + `<td ${cell}>${r.endedAt ? duration(Date.parse(r.endedAt) - Date.parse(r.startedAt)) : ''}</td></tr>`;
  }).join('\n');
  const link = (status: string) => (base ? `${base}/ui/#/runs?status=${status}&since=24h` : undefined);
  const count = (n: number, status: keyof typeof STATUS_WORDS) => {
    const href = link(status);
    const label = `${n} ${STATUS_WORDS[status].toLowerCase()}`;
    return href ? `<a href="${esc(href)}" style="color:${STATUS_COLOURS[status]}">${label}</a>` : `<span style="color:${STATUS_COLOURS[status]}">${label}</span>`;
  };
  const html = `<!doctype html><html><body style="font-family:Metropolis,'Segoe UI',Arial,sans-serif;color:#21333b">
<h2>Stillpoint daily summary, ${esc(opts.date)}</h2>
<p><strong>Protection:</strong> ${f.vms.protected} of ${f.vms.total} VMs protected, ${f.vms.unprotected} not protected.</p>
<p><strong>Last 24 hours:</strong> ${count(l.success, 'success')}, ${count(l.warning, 'warning')}, ${count(l.failed, 'failed')}, ${count(l.cancelled, 'cancelled')}.</p>
<p><strong>Repository:</strong> ${f.repository.restorePoints} restore points.</p>
${problems.length ? `<h3>Runs that need attention</h3><table style="border-collapse:collapse;font-size:14px">
<thead><tr><th ${cell}>Started</th><th ${cell}>Job or kind</th><th ${cell}>Result</th><th ${cell}>Problem</th><th ${cell}>Duration</th></tr></thead>
<tbody>
${rows}
</tbody></table>` : '<p>No run needed attention.</p>'}
</body></html>`;
  const text = [
    `Stillpoint daily summary, ${opts.date}`,
    `Protection: ${f.vms.protected} of ${f.vms.total} VMs protected, ${f.vms.unprotected} not protected.`,
    `Last 24 hours: ${l.success} success, ${l.warning} warning, ${l.failed} failed, ${l.cancelled} cancelled.`,
    `Repository: ${f.repository.restorePoints} restore points.`,
    ...problems.map((r) => `- ${r.startedAt} ${r.jobName ?? kindWord(r.kind)}: ${STATUS_WORDS[r.status]}`),
  ].join('\n');
  return { subject, html, text };
}
