// Inside the vSphere Client the plugin calls the backend with the user's plugin session token: the
// backend trades it with vCenter for a clone ticket and a session of that same user.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ServerEvent, SessionInfo, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
before(async () => { t = await startTestService(); });
after(async () => { await t?.stop(); });

test('a vSphere Client session token works, and is answered as that user', async () => {
  const token = await t.lab.control.uiSessionToken();
  const who = await t.call<SessionInfo>('GET', '/api/session', { headers: { 'vmware-api-session-id': token } });
  assert.equal(who.status, 200, JSON.stringify(who.body));
  assert.equal(who.body.mode, 'plugin');
  assert.match(who.body.username, new RegExp(t.lab.username.split('@')[0]!, 'i'));
  const vms = await t.call<VmSummary[]>('GET', '/api/vms', { headers: { 'vmware-api-session-id': token } });
  assert.equal(vms.status, 200);
  assert.ok(vms.body.some((v) => v.name === 'win-app01'));
});

test('a token vCenter does not know gets 401, and so does a logged-out one', async () => {
  const r = await t.call('GET', '/api/vms', { headers: { 'vmware-api-session-id': 'ffffffff-0000-4000-8000-000000000000' } });
  assert.equal(r.status, 401);
});

test('the event stream accepts the session as a query parameter and delivers run progress', async () => {
  const token = await t.login();
  const vmId = (await t.lab.control.vms())['linux-db01']!.moref;
  const seen: ServerEvent[] = [];
  const stream = t.events(token, (e) => {
    seen.push(e);
    return e.type === 'run' && e.run.status === 'success';
  });
  assert.equal(await stream.opened, 200);
  const started = await t.call<{ id: string }>('POST', '/api/backups', { token, body: { vmIds: [vmId] } });
  assert.equal(started.status, 202);
  await stream.done;
  const runs = seen.filter((e): e is Extract<ServerEvent, { type: 'run' }> => e.type === 'run' && e.run.id === started.body.id);
  assert.ok(runs.length >= 3, `only ${runs.length} run events`);
  assert.ok(runs.some((e) => e.run.vms[0]!.phase.startsWith('reading')), JSON.stringify(runs.map((e) => e.run.vms[0]!.phase)));
  assert.ok(seen.some((e) => e.type === 'restorePoint' && e.restorePoint.vmId === vmId));
  // Without a session the stream is refused.
  const anon = await t.call('GET', '/api/events');
  assert.equal(anon.status, 401);
});
