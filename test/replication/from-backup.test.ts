// Replication from the latest restore point in the repository: a replication job with source
// "backup" builds its replica from the VM's newest restore point (no snapshot of the running VM);
// its disk equals, hash for hash, the disk of a replica made directly from a snapshot of the same
// state; a run without a newer restore point sends nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { JobRun, ReplicaState, ReplicationJob } from '../../backend/api/contract.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { replicaDisks } from '../../backend/replication/replica-vm.ts';
import { REPLICA_OF_FIELD } from '../../backend/replication/marks.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';

let t: TestService;
let token: string;
let vs: VSphere;
before(async () => { t = await startTestService(); token = await t.login(); vs = await connectToLab(t.lab); });
after(async () => { await vs?.close(); await t?.stop(); });

const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1' };

async function ok(r: { status: number; body: JobRun }): Promise<JobRun> {
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const done = await t.waitRun(token, r.body.id, 90_000);
  assert.ok(done.status === 'success' || done.status === 'warning', JSON.stringify(done));
  return done;
}

/** SHA-256 of each disk of a VM, read whole from the datastore (the top of its chain). */
async function diskHashes(vmMoref: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await replicaDisks(vs, { type: 'VirtualMachine', value: vmMoref })) {
    const { extentPath } = await vs.datastores.resolveExtent(d.fileName);
    const h = createHash('sha256');
    const step = 8 << 20;
    for (let at = 0; at < d.capacityBytes; at += step) {
      const buf = await vs.datastores.read(extentPath, { start: at, end: Math.min(d.capacityBytes, at + step) });
      h.update(buf);
      if (buf.length < Math.min(step, d.capacityBytes - at)) h.update(Buffer.alloc(Math.min(step, d.capacityBytes - at) - buf.length));
    }
    out.push(h.digest('hex'));
  }
  return out;
}

test('a replica from the latest restore point equals the replica made directly from the same state', async () => {
  const src = (await t.lab.control.vms())['linux-db01']!;
  const direct = await ok(await t.call<JobRun>('POST', `/api/vms/${src.moref}/replicate`, { token, body: { ...dr, suffix: '-direct' } }));
  assert.match(direct.vms[0]!.message ?? '', /Created replica linux-db01-direct/);
  const directReplica = /\((vm-\d+)\)/.exec(direct.vms[0]!.message!)![1]!;
  await ok(await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [src.moref] } }));
  // The direct replica keeps its disks but stops being the VM's replica, so the job seeds a second one beside it.
  const directHashes = await diskHashes(directReplica);
  await vs.customFields.setByName({ type: 'VirtualMachine', value: directReplica }, REPLICA_OF_FIELD, '');

  const job = await t.call<ReplicationJob>('POST', '/api/replication-jobs', {
    token, body: {
      name: 'from backup', vmIds: [src.moref], source: 'backup', target: { ...dr, suffix: '-frombackup' }, schedule: { cron: null },
      rpoMinutes: 60, keepPoints: 3, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' }, enabled: true,
    },
  });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  // Counts every snapshot call on the production VM during the run (a delay-only lab fault counts its hits).
  const watch = await Promise.all(['CreateSnapshot_Task', 'CreateSnapshotEx_Task'].map((method) => t.lab.control.injectFault({ method, fault: '', delayMs: 1, vm: 'linux-db01', count: -1 })));
  const run = await ok(await t.call<JobRun>('POST', `/api/replication-jobs/${job.body.id}/run`, { token }));
  const hits = (await t.lab.control.faults()).filter((f) => watch.some((w) => w.id === f.id)).reduce((n, f) => n + f.hits, 0);
  await t.lab.control.clearFaults();
  assert.equal(hits, 0, 'no snapshot of the production VM');
  assert.match(run.vms[0]!.message ?? '', /Created replica linux-db01-frombackup .*from restore point rp-/);
  const fromBackup = /\((vm-\d+)\)/.exec(run.vms[0]!.message!)![1]!;

  const b = await diskHashes(fromBackup);
  assert.equal(directHashes.length, src.disks.length);
  assert.deepEqual(b, directHashes, 'the same disks, byte for byte');

  const list = (await t.call<ReplicaState[]>('GET', '/api/replicas', { token })).body;
  const mine = list.find((r) => r.state !== 'none' && r.replicaName === 'linux-db01-frombackup') as Extract<ReplicaState, { replicaVmId: string }>;
  assert.equal(mine.points?.length, 1);
  assert.equal(mine.rpo?.level, 'ok');

  const again = await ok(await t.call<JobRun>('POST', `/api/replication-jobs/${job.body.id}/run`, { token }));
  assert.match(again.vms[0]!.message ?? '', /has the newest restore point .* already: nothing to send/);
  assert.equal(again.vms[0]!.bytesRead, 0);
});
