// Cross-vCenter replication: the DR site is a second configured vCenter (site "dr", a second lab). A
// replication job from the latest restore point creates the replica in the DR vCenter (never in the
// source's), its disk equal to the source's; the VM's replica, the list of replicas and its RPO name it
// by its site-qualified id. A job replicating from a snapshot to another vCenter is refused at its run
// with what to do instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { JobRun, ReplicaState, ReplicationJob, ReplicationJobInput } from '../../backend/api/contract.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { findReplicas } from '../../backend/replication/marks.ts';
import { replicaDisks } from '../../backend/replication/replica-vm.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';

let prod: Lab;
let dr: Lab;
let t: TestService;
let token: string;
let prodVs: VSphere;
let drVs: VSphere;
before(async () => {
  [prod, dr] = await Promise.all([startLab(), startLab()]);
  t = await startTestService({ lab: prod, extraSites: [{ id: 'dr', lab: dr }] });
  token = await t.login();
  [prodVs, drVs] = await Promise.all([connectToLab(prod), connectToLab(dr)]);
});
after(async () => {
  await Promise.all([prodVs?.close(), drVs?.close()]);
  await t?.stop();
  await Promise.all([prod?.stop(), dr?.stop()]);
});

type Replica = Extract<ReplicaState, { replicaVmId: string }>;
const appAware = { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } as const;
const job = (vmId: string, over: Partial<ReplicationJobInput>): ReplicationJobInput => ({
  name: 'to dr', vmIds: [vmId], source: 'backup', target: { site: 'dr', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-xvc' },
  schedule: { cron: null }, rpoMinutes: 60, keepPoints: 3, appAware: { ...appAware }, enabled: true, ...over,
});

async function hashes(vs: VSphere, moref: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await replicaDisks(vs, { type: 'VirtualMachine', value: moref })) {
    const { extentPath } = await vs.datastores.resolveExtent(d.fileName);
    const h = createHash('sha256');
    for (let at = 0; at < d.capacityBytes; at += 8 << 20) {
      const want = Math.min(8 << 20, d.capacityBytes - at);
      const buf = await vs.datastores.read(extentPath, { start: at, end: at + want });
      h.update(buf);
      if (buf.length < want) h.update(Buffer.alloc(want - buf.length));
    }
    out.push(h.digest('hex'));
  }
  return out;
}

test('a job from the latest restore point replicates a VM of the primary vCenter into the DR vCenter', async () => {
  const src = (await prod.control.vms())['linux-db01']!;
  const b = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [src.moref] } });
  assert.equal((await t.waitRun(token, b.body.id, 90_000)).status, 'success');

  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: job(src.moref, {}) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.target.site, 'dr');
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await t.waitRun(token, r.body.id, 90_000);
  assert.equal(done.status, 'success', JSON.stringify(done));

  const [inDr, inProd] = await Promise.all([findReplicas(drVs), findReplicas(prodVs)]);
  assert.deepEqual(inProd, [], 'nothing made in the source vCenter');
  assert.equal(inDr.length, 1);
  assert.equal(inDr[0]!.name, 'linux-db01-xvc');
  const rep = (await t.call<Replica>('GET', `/api/vms/${src.moref}/replica`, { token })).body;
  assert.equal(rep.replicaVmId, `dr:${inDr[0]!.ref.value}`);
  assert.equal(rep.state, 'ready');
  assert.equal(rep.rpo?.level, 'ok');
  const list = (await t.call<ReplicaState[]>('GET', '/api/replicas', { token })).body as Replica[];
  const mine = list.find((x) => x.replicaVmId === `dr:${inDr[0]!.ref.value}`);
  assert.ok(mine, JSON.stringify(list));
  assert.equal(mine.vmId, src.moref);
  assert.equal(mine.sourceName, 'linux-db01');
  assert.equal(mine.recoveryPoints, 1);
  // The same restore point replicated inside the primary vCenter gives the same disk (from-backup.test.ts shows that
  // equals direct replication of the same state).
  const local = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: job(src.moref, { name: 'local', target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-local' } }) });
  assert.equal(local.status, 201, JSON.stringify(local.body));
  const lr = await t.call<JobRun>('POST', `/api/replication-jobs/${local.body.id}/run`, { token });
  assert.equal((await t.waitRun(token, lr.body.id, 90_000)).status, 'success');
  const localReplica = (await findReplicas(prodVs)).find((x) => x.name === 'linux-db01-local')!;
  assert.deepEqual(await hashes(drVs, inDr[0]!.ref.value), await hashes(prodVs, localReplica.ref.value), 'the same disk in either vCenter');
  assert.equal(await t.call('DELETE', `/api/replication-jobs/${local.body.id}`, { token }).then((x) => x.status), 204);

});

test('replicating from a snapshot to another vCenter is refused at the run, saying what to do', async () => {
  const src = (await prod.control.vms())['win-app01']!;
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: job(src.moref, { name: 'snapshot to dr', source: 'snapshot', target: { site: 'dr', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1' } }) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const r = await t.call<JobRun>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
  const done = await t.waitRun(token, r.body.id, 60_000);
  assert.equal(done.status, 'failed');
  assert.match(done.vms[0]!.message ?? '', /writes only to a DR host of the VM's own vCenter \(site 'primary'\), not to site 'dr'.*latest restore point/);
  assert.deepEqual((await prodVs.snapshots.list({ type: 'VirtualMachine', value: src.moref })).map((s) => s.name), [], 'no snapshot was taken');
});
