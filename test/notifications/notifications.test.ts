// E-mail reports and the webhook against real peers: an SMTP server (smtp-server, child process on
// loopback) and a node:http server. A job run with an injected failure delivers one report naming the
// VM, the error and what to do, to the global and the job's own recipients; the daily summary counts
// what the dashboard counts; "send test message" reaches both; the SMTP password is used, sealed at
// rest and never shown.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestService, type TestService } from '../helpers/service.ts';
import { startSmtpReceiver, startWebhookReceiver, type SmtpReceiver, type WebhookReceiver } from './receivers.ts';
import type { Dashboard, Job, JobInput, JobRun, NotificationSettingsDto, NotificationTestResult, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
let smtp: SmtpReceiver;
let hook: WebhookReceiver;
let token: string;
const SMTP_PASSWORD = 'Smtp-Secret-9!';

before(async () => {
  [smtp, hook, t] = await Promise.all([startSmtpReceiver(), startWebhookReceiver(), startTestService()]);
  token = await t.login();
});
after(async () => { await t?.stop(); await smtp?.stop(); await hook?.stop(); });

test('settings: saved, password write-only and sealed on disk, bad addresses refused', async () => {
  const put = await t.call<NotificationSettingsDto>('PUT', '/api/notifications/settings', {
    token, body: {
      smtp: { host: '127.0.0.1', port: smtp.port, security: 'none', username: 'stillpoint', password: SMTP_PASSWORD, from: 'Stillpoint <backup@lab.local>' },
      recipients: ['ops@lab.local'], jobReports: 'always', otherRunProblems: true, dailySummary: { enabled: false, hour: 7 },
      webhook: { url: hook.url, enabled: true },
    },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.smtp?.passwordSet, true);
  assert.ok(!JSON.stringify(put.body).includes(SMTP_PASSWORD), 'the password is never sent back');
  const got = await t.call<NotificationSettingsDto>('GET', '/api/notifications/settings', { token });
  assert.deepEqual(got.body, put.body);
  const onDisk = readFileSync(join(t.dataDir, 'notifications.json'), 'utf8');
  assert.ok(!onDisk.includes(SMTP_PASSWORD), 'the password is sealed at rest');
  assert.match(onDisk, /"smtpPasswordSealed": "sp1:/);
  const bad = await t.call<{ message: string }>('PUT', '/api/notifications/settings', { token, body: { recipients: ['not an address'] } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /not an e-mail address/);
});

test('a job run with an injected failure delivers one report naming the VM, the error and what to do', async () => {
  const vms = (await t.call<VmSummary[]>('GET', '/api/vms', { token })).body;
  const vm = vms.find((v) => v.name === 'linux-db01')!;
  const input: JobInput = {
    name: 'Nightly DB', vmIds: [vm.id], schedule: { cron: null }, retention: { keepLast: 3 },
    appAware: { quiesce: false, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, concurrency: 1, enabled: true,
    notify: { recipients: ['dba@lab.local'] },
  };
  const job = await t.call<Job>('POST', '/api/jobs', { token, body: input });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  assert.deepEqual(job.body.notify, { recipients: ['dba@lab.local'] });
  await t.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01', count: 1, message: 'Unable to access file [prod-ds1] linux-db01/linux-db01.vmx' });
  const started = await t.call<JobRun>('POST', `/api/jobs/${job.body.id}/run`, { token });
  const run = await t.waitRun(token, started.body.id);
  assert.equal(run.status, 'failed');

  const report = await smtp.waitFor((all) => all.find((m) => m.mail.subject?.includes('Nightly DB')), 'the run report');
  assert.match(report.mail.subject ?? '', /^\[Stillpoint\] Failed: Backup job 'Nightly DB' \(1 VM, 1 failed\)$/);
  assert.deepEqual([...report.to].sort(), ['dba@lab.local', 'ops@lab.local'], 'global and job recipients');
  assert.equal(report.user, 'stillpoint');
  assert.equal(report.password, SMTP_PASSWORD, 'the stored password authenticates');
  const html = String(report.mail.html);
  assert.match(html, /<td[^>]*>linux-db01<\/td>/);
  assert.match(html, />Failed</);
  assert.ok(html.includes(run.vms[0]!.message!.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')), `the error is in the report: ${run.vms[0]!.message}`);
  assert.match(html, /What to do:<\/em> \S/);
  assert.match(report.mail.text ?? '', /linux-db01: Failed[\s\S]*Error: [\s\S]*What to do: \S/);
  assert.match(html, new RegExp(`/ui/#/runs\\?run=${run.id}`), 'a link to the run');

  const post = await hook.waitFor((all) => all.find((p) => (p.body.run as { id?: string } | undefined)?.id === run.id), 'the webhook post');
  assert.equal(post.body.event, 'run.finished');
  assert.match(String(post.body.text), /Failed: Backup job 'Nightly DB'/);
  const hv = (post.body.run as { vms: { name: string; status: string; error?: string; remedy?: string }[] }).vms[0]!;
  assert.equal(hv.name, 'linux-db01');
  assert.equal(hv.status, 'failed');
  assert.equal(hv.error, run.vms[0]!.message);
  assert.ok(hv.remedy);

  // One report per run: the test message sent afterwards arrives behind it, with no second report.
  const tested = await t.call<NotificationTestResult>('POST', '/api/notifications/test', { token, body: {} });
  assert.equal(tested.status, 200, JSON.stringify(tested.body));
  assert.equal(tested.body.email?.ok, true, tested.body.email?.message);
  assert.equal(tested.body.webhook?.ok, true, tested.body.webhook?.message);
  await smtp.waitFor((all) => all.find((m) => m.mail.subject === '[Stillpoint] Test message'), 'the test message');
  await hook.waitFor((all) => all.find((p) => p.body.event === 'test'), 'the test post');
  assert.equal(smtp.messages.filter((m) => m.mail.subject?.includes('Nightly DB')).length, 1, 'exactly one report for the run');
  assert.equal(hook.posts.filter((p) => (p.body.run as { id?: string } | undefined)?.id === run.id).length, 1);
});

test('the daily summary counts what the dashboard counts', async () => {
  const dash = (await t.call<Dashboard>('GET', '/api/dashboard', { token })).body;
  assert.ok(dash.last24h.failed >= 1, JSON.stringify(dash.last24h));
  const sent = await t.call<{ subject: string }>('POST', '/api/notifications/summary', { token });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const mail = await smtp.waitFor((all) => all.find((m) => m.mail.subject?.startsWith('[Stillpoint] Daily summary')), 'the daily summary');
  const l = dash.last24h;
  assert.match(mail.mail.text ?? '', new RegExp(`Last 24 hours: ${l.success} success, ${l.warning} warning, ${l.failed} failed, ${l.cancelled} cancelled\\.`));
  assert.match(mail.mail.text ?? '', new RegExp(`Protection: ${dash.vms.protected} of ${dash.vms.total} VMs protected, ${dash.vms.unprotected} not protected\\.`));
  assert.match(mail.mail.subject ?? '', new RegExp(`${l.failed} failed`));
  assert.match(String(mail.mail.html), /Nightly DB/, 'the failed run is listed');
  const post = await hook.waitFor((all) => all.find((p) => p.body.event === 'summary'), 'the summary post');
  const { since: _s, ...posted } = post.body.last24h as Dashboard['last24h'];
  const { since: _d, ...shown } = dash.last24h;
  assert.deepEqual(posted, shown);
});

test('a restricted user may not read or change the notification settings', async () => {
  const restricted = await t.login('restricted');
  const r = await t.call<{ message: string }>('GET', '/api/notifications/settings', { token: restricted });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.match(r.body.message, /Global\.Settings/);
});
