// Full VM restore through the API, as the restore wizard and the CLI drive it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, JobRun, VmSummary } from '../../backend/api/contract.ts';

let t: TestService;
let token: string;
before(async () => { t = await startTestService(); token = await t.login(); });
after(async () => { await t?.stop(); });

const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

test('back up, then restore to a new VM on the DR site: the VM appears with disks equal to the restore point', async () => {
  const src = (await t.lab.control.vms())['linux-db01']!;
  const atBackup = await sha(src.disks[0]!.flatPath);
  const b = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [src.moref] } });
  const backup = await t.waitRun(token, b.body.id);
  const rpId = backup.vms[0]!.restorePointId!;
  await t.lab.control.writeDisk('linux-db01', 0, 0, Buffer.alloc(65536, 0xee)); // the source moves on

  const r = await t.call<JobRun>('POST', `/api/restore-points/${rpId}/restore`, {
    token, body: { target: { kind: 'new', name: 'linux-db01-restored', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: true } },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'restore');
  const done = await t.waitRun(token, r.body.id);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.match(done.vms[0]!.message ?? '', /linux-db01-restored/);

  const vms = await t.call<VmSummary[]>('GET', '/api/vms', { token });
  const restored = vms.body.find((v) => v.name === 'linux-db01-restored');
  assert.ok(restored, 'the restored VM is in the inventory');
  assert.equal(restored.host, 'esx-dr-01.lab.local');
  assert.equal(restored.powerState, 'poweredOn');
  const lab = (await t.lab.control.vms())['linux-db01-restored'];
  assert.ok(lab, 'the lab knows the restored VM');
  assert.equal(await sha(lab.disks[0]!.flatPath), atBackup);
  assert.notEqual(await sha(src.disks[0]!.flatPath), atBackup);
  const history = await t.call<JobRun[]>('GET', `/api/vms/${src.moref}/runs`, { token });
  assert.ok(history.body.some((h) => h.id === r.body.id && h.kind === 'restore'));
});

test('restore input errors: no confirm for the original, unknown host, bad name, unknown restore point', async () => {
  const src = (await t.lab.control.vms())['win-app01']!;
  const b = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [src.moref] } });
  const rpId = (await t.waitRun(token, b.body.id)).vms[0]!.restorePointId!;
  const noConfirm = await t.call<ApiError>('POST', `/api/restore-points/${rpId}/restore`, { token, body: { target: { kind: 'original', confirm: false, powerOn: false } } });
  assert.equal(noConfirm.status, 400);
  assert.match(noConfirm.body.message, /confirm/);
  const badKind = await t.call<ApiError>('POST', `/api/restore-points/${rpId}/restore`, { token, body: { target: { kind: 'elsewhere' } } });
  assert.equal(badKind.status, 400);
  assert.match(badKind.body.message, /kind must be one of 'new', 'original'/);
  const badName = await t.call<ApiError>('POST', `/api/restore-points/${rpId}/restore`, { token, body: { target: { kind: 'new', name: 'a/b', host: 'x', datastore: 'y', powerOn: false } } });
  assert.equal(badName.status, 400);
  const missing = await t.call<ApiError>('POST', '/api/restore-points/rp-20000101T000000Z-000000/restore', { token, body: { target: { kind: 'original', confirm: true, powerOn: false } } });
  assert.equal(missing.status, 404);
  const unknownHost = await t.call<JobRun>('POST', `/api/restore-points/${rpId}/restore`, { token, body: { target: { kind: 'new', name: 'x1', host: 'nope.lab.local', datastore: 'dr-ds1', powerOn: false } } });
  assert.equal(unknownHost.status, 202);
  const failed = await t.waitRun(token, unknownHost.body.id);
  assert.equal(failed.status, 'failed');
  assert.match(failed.vms[0]!.message ?? '', /nope\.lab\.local/);
});
