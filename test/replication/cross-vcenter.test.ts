// Cross-vCenter replication: the DR site is a second configured vCenter (site "dr", a second lab). A
// replication job from the latest restore point creates the replica in the DR vCenter (never in the
// source's), its disk equal to the source's; the VM's replica, the list of replicas and its RPO name it
// by its site-qualified id. A job replicating from a snapshot of the running VM (the default source)
// seeds its replica in the DR vCenter by full upload, then sends only the changed bytes (CBT on the
// source) through a transporter on the DR vCenter's helper VM; the replica equals the source at each point.
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
import { randomBytes } from 'node:crypto';
import { HELPER, diskShaViaHelper, helperAttached, pieceCover, shaOfFile, startTransporter, type TransporterProc } from './transport-lab.ts';

let prod: Lab;
let dr: Lab;
let t: TestService;
let token: string;
let prodVs: VSphere;
let drVs: VSphere;
let transporter: TransporterProc | undefined;
before(async () => {
  [prod, dr] = await Promise.all([startLab(), startLab({ replication: true })]);
  t = await startTestService({ lab: prod, extraSites: [{ id: 'dr', lab: dr }] });
  token = await t.login();
  [prodVs, drVs] = await Promise.all([connectToLab(prod), connectToLab(dr)]);
});
after(async () => {
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
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

test('a job from a snapshot of the running VM seeds a replica in the DR vCenter, then sends only the changed bytes by hot-add at the DR site', async () => {
  // The DR site's transporter: its helper VM in the DR vCenter, paired by the service, the device paths from the DR lab.
  const helper = (await dr.control.vms())[HELPER]!;
  const paired = await t.call<{ token: string }>('POST', '/api/transporters/pair', { token, body: { vm: `dr:${helper.moref}` } });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  transporter = await startTransporter({ lab: dr, serviceUrl: t.service.url, serviceCert: t.service.cert, token: paired.body.token });

  const VM = 'win-app01';
  const src = (await prod.control.vms())[VM]!;
  const sourceSha = async () => { const d = (await prod.control.vms())[VM]!.disks[0]!; return shaOfFile(d.flatPath, d.capacityBytes); };
  const made = await t.call<ReplicationJob>('POST', '/api/replication-jobs', { token, body: job(src.moref, { name: 'snapshot to dr', source: 'snapshot', target: { site: 'dr', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', suffix: '-xsnap' } }) });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const run = async () => {
    const sha = await sourceSha();
    const r = await t.call<JobRun>('POST', `/api/replication-jobs/${made.body.id}/run`, { token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await t.waitRun(token, r.body.id, 180_000);
    assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
    assert.deepEqual(await prodVs.snapshots.list({ type: 'VirtualMachine', value: src.moref }).then((l) => l.map((x) => x.name)), [], 'no snapshot left on the source');
    return { done, sha };
  };

  const seed = await run();
  assert.match(seed.done.vms[0]!.message ?? '', /Created replica win-app01-xsnap .*by full upload \(whole disks\)/);
  const replica = (await findReplicas(drVs)).find((x) => x.name === 'win-app01-xsnap');
  assert.ok(replica, 'the replica is in the DR vCenter');
  assert.equal((await findReplicas(prodVs)).some((x) => x.name === 'win-app01-xsnap'), false, 'nothing made in the source vCenter');
  assert.equal(await diskShaViaHelper(drVs, dr, 'win-app01-xsnap'), seed.sha, 'the seeded replica equals the source at its snapshot');

  // Known byte ranges written as the guest would; the next run sends them (CBT on the source) through the DR transporter.
  const MiB = 1024 * 1024;
  const writes = [{ start: MiB + 512, length: 300 * 1024 }, { start: 9 * MiB, length: MiB }, { start: 30 * MiB + 123, length: 8 * 1024 }];
  for (const w of writes) await prod.control.writeDisk(VM, 0, w.start, randomBytes(w.length));
  const changed = writes.reduce((n, w) => n + w.length, 0);
  const second = await run();
  const v = second.done.vms[0]!;
  assert.match(v.message ?? '', /Updated replica win-app01-xsnap .*by hot-add/);
  assert.ok(v.bytesRead >= changed && v.bytesRead <= 1.1 * changed, `hot-add sent ${v.bytesRead} B for ${changed} B changed`);
  assert.equal(await diskShaViaHelper(drVs, dr, 'win-app01-xsnap'), second.sha, 'the replica equals the source at the second point');
  const rep = (await t.call<Replica>('GET', `/api/vms/${src.moref}/replica`, { token })).body;
  assert.equal(rep.replicaVmId, `dr:${replica.ref.value}`);
  assert.equal(rep.recoveryPoints, 2);
  assert.deepEqual(await helperAttached(dr), [], 'no replica disk stays attached to the DR helper');
  assert.equal(await transporter.stop(), pieceCover(writes), 'the DR transporter wrote exactly the changed pieces');
});
