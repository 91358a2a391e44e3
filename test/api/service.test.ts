// The service's API against a lab vCenter: inventory, clear errors for bad input, and a service
// that stays up whatever it is sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, VmDetail, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
let token: string;
before(async () => { t = await startTestService(); token = await t.login(); });
after(async () => { await t?.stop(); });

test('health is public and reports vCenter connected', async () => {
  const r = await t.call<{ status: string; vcenter: { connected: boolean } }>('GET', '/api/health');
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'ok');
  assert.equal(r.body.vcenter.connected, true);
});

test('inventory lists the lab VMs with guest, power and host', async () => {
  const r = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  assert.equal(r.status, 200);
  const names = r.body.map((v) => v.name);
  for (const n of ['win-app01', 'linux-db01']) assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
  const win = r.body.find((v) => v.name === 'win-app01')!;
  assert.match(win.id, /^vm-\d+$/);
  assert.equal(win.guestFamily, 'windows');
  assert.equal(win.powerState, 'poweredOn');
  assert.ok(win.host.length > 0);
  assert.equal(win.protected, false);
});

test('one VM shows its disks, snapshots and CBT state', async () => {
  const list = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  const id = list.body.find((v) => v.name === 'linux-db01')!.id;
  const r = await t.call<VmDetail>('GET', `/api/vms/${id}`, { token });
  assert.equal(r.status, 200);
  assert.equal(r.body.name, 'linux-db01');
  assert.ok(r.body.disks.length >= 1);
  const vms = await t.lab.control.vms();
  const labVm = vms['linux-db01']!;
  assert.equal(r.body.id, labVm.moref);
  assert.equal(r.body.disks[0]!.file, labVm.disks[0]!.fileName);
  assert.equal(r.body.disks[0]!.capacityBytes, labVm.disks[0]!.capacityBytes);
  assert.ok(r.body.disks[0]!.capacityBytes > 0);
  assert.equal(typeof r.body.cbtEnabled, 'boolean');
  assert.ok(Array.isArray(r.body.snapshots));
});

test('unknown and malformed VM ids get 404 and 400 with a message', async () => {
  const missing = await t.call<ApiError>('GET', '/api/vms/vm-999999', { token });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'not_found');
  assert.match(missing.body.message, /vm-999999/);
  const bad = await t.call<ApiError>('GET', '/api/vms/..%2Fetc', { token });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'invalid_request');
});

test('requests without a valid session get 401', async () => {
  assert.equal((await t.call('GET', '/api/vms')).status, 401);
  assert.equal((await t.call('GET', '/api/vms', { token: 'not-a-token' })).status, 401);
  assert.equal((await t.call('GET', '/api/vms', { headers: { 'vmware-api-session-id': 'forged' } })).status, 401);
});

test('wrong password is refused with 401 and a message', async () => {
  const r = await t.call<ApiError>('POST', '/api/session/login', { body: { username: t.lab.username, password: 'wrong' } });
  assert.equal(r.status, 401);
  assert.match(r.body.message, /user name or password|credentials/i);
});

test('malformed JSON, unknown fields and wrong types are 400s; the service stays up', async () => {
  const a = await t.call<ApiError>('POST', '/api/session/login', { rawBody: '{"username":' });
  assert.equal(a.status, 400);
  assert.equal(a.body.error, 'invalid_json');
  const b = await t.call<ApiError>('POST', '/api/session/login', { body: { username: 'x', password: 'y', admin: true } });
  assert.equal(b.status, 400);
  assert.match(b.body.message, /body\.admin is not a known field/);
  const c = await t.call<ApiError>('POST', '/api/session/login', { body: { username: 5, password: 'y' } });
  assert.equal(c.status, 400);
  assert.match(c.body.message, /body\.username must be a string/);
  const d = await t.call<ApiError>('GET', '/api/no-such-route', { token });
  assert.equal(d.status, 404);
  assert.equal((await t.call('GET', '/api/health')).status, 200);
});

test('the plugin server serves the manifest and UI over HTTPS with a CSP that lets only vCenter frame it', async () => {
  const m = await t.call<{ manifestVersion: string }>('GET', '/plugin.json');
  assert.equal(m.status, 200);
  assert.ok(m.body.manifestVersion);
  const csp = String(m.headers['content-security-policy']);
  assert.match(csp, new RegExp(`frame-ancestors 'self' ${new URL(t.lab.sdkUrl).origin.replace(/[.]/g, '\\.')}(;|$)`));
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-eval|\*/);
  const ui = await t.call<string>('GET', '/ui/');
  assert.equal(ui.status, 200);
  assert.match(String(ui.headers['content-type']), /text\/html/);
});

test('OpenAPI document describes the routes', async () => {
  const r = await t.call<{ openapi: string; paths: Record<string, unknown> }>('GET', '/api/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.body.openapi, '3.1.0');
  assert.ok(r.body.paths['/api/vms/{id}']);
  assert.ok(r.body.paths['/api/session/login']);
});
