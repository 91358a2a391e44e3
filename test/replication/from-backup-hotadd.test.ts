// Replication from the latest restore point through a transporter at the DR site: the seed is a full
// upload; the next run (after known byte ranges changed and a new backup) compares the whole disk by
// digest and sends about the changed bytes over hot-add; the replica's disk then equals the source as
// it was backed up, and nothing stays attached to the helper VM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import type { JobRun, ReplicationJob } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { diskShaViaHelper, helperAttached, pairAndStartTransporter, shaOfFile, type TransporterProc } from './transport-lab.ts';

const MiB = 1024 * 1024;
const VM = 'linux-db01';

let lab: Lab;
let t: TestService;
let vs: VSphere;
let token: string;
let transporter: TransporterProc;

before(async () => {
  lab = await startLab({ replication: true });
  t = await startTestService({ lab, register: false });
  token = await t.login();
  vs = await connectToLab(lab);
  transporter = await pairAndStartTransporter(t);
});
after(async () => {
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  await vs?.close();
  await t?.stop();
  await lab?.stop();
});

const source = async () => (await lab.control.vms())[VM]!.disks[0]!;

/** Backs the VM up and returns the source disk's hash at that moment (nothing writes it meanwhile). */
async function backup(): Promise<string> {
  const d = await source();
  const sha = await shaOfFile(d.flatPath, d.capacityBytes);
  const r = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [(await lab.control.vms())[VM]!.moref] } });
  assert.equal((await t.waitRun(token, r.body.id, 120_000)).status, 'success');
  return sha;
}

async function run(jobId: string): Promise<JobRun> {
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${jobId}/run`, { token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await t.waitRun(token, r.body.id, 240_000);
  assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
  return done;
}

test('from the latest restore point: seed by full upload, then hot-add sends about the changed bytes; the replica equals the backed-up disk', async () => {
  const vmId = (await lab.control.vms())[VM]!.moref;
  const first = await backup();
  const job = await t.call<ReplicationJob>('POST', '/api/replication-jobs', {
    token, body: {
      name: 'from backup by hot-add', vmIds: [vmId], source: 'backup', target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-fb' },
      schedule: { cron: null }, rpoMinutes: 60, keepPoints: 5, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
    },
  });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  const seed = await run(job.body.id);
  assert.match(seed.vms[0]!.message ?? '', /Created replica linux-db01-fb .*by full upload \(whole disks\)/);
  const cap = (await source()).capacityBytes;
  assert.equal(seed.vms[0]!.bytesRead, cap);
  assert.equal(await diskShaViaHelper(vs, lab, `${VM}-fb`), first, 'the seed is the first backup');

  const writes = [{ start: 2 * MiB + 100, length: 200 * 1024 }, { start: 20 * MiB, length: MiB }];
  for (const w of writes) await lab.control.writeDisk(VM, 0, w.start, randomBytes(w.length));
  const changed = writes.reduce((n, w) => n + w.length, 0);
  const second = await backup();
  assert.notEqual(second, first);
  const next = await run(job.body.id);
  assert.match(next.vms[0]!.message ?? '', /Updated replica linux-db01-fb .*from restore point rp-.*by hot-add/);
  const sent = next.vms[0]!.bytesRead;
  assert.ok(sent >= changed, `sent ${sent} B, fewer than the ${changed} B changed`);
  assert.ok(sent <= 1.1 * changed + cap / 256, `hot-add sent ${sent} B for ${changed} B changed of a ${cap} B disk`);
  assert.deepEqual(await helperAttached(lab), [], 'no replica disk stays attached to the helper');
  assert.equal(await diskShaViaHelper(vs, lab, `${VM}-fb`), second, 'the replica is the second backup');
});
