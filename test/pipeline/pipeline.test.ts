// One pipeline, other ends: a frozen snapshot's disk (datastore HTTP) and a restore point in the
// repository are both disk sources; a block device (the replica's end on a transporter) is a sink.
// Copying either source into a device gives the same bytes, and an incremental plan writes only the
// changed areas into a device that holds the previous state.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { backupVm } from '../../backend/backup/backup-vm.ts';
import { copyDisk, type DiskSource } from '../../backend/pipeline/disk-pipeline.ts';
import { plan } from '../../backend/pipeline/read-plan.ts';
import { SnapshotDiskSource } from '../../backend/sources/snapshot/disk-source.ts';
import { RestorePointDiskSource } from '../../backend/sources/restore-point.ts';
import { BlockDeviceSink } from '../../backend/sinks/block-device.ts';
import { DEFAULT_SETTINGS, sha256File, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

let env: BackupEnv;
before(async () => { env = await startBackupEnv(); });
after(async () => { await env?.close(); });

test('a snapshot\'s disk and a restore point of it, copied by the same pipeline into a device, give the same bytes', async () => {
  const vmId = await env.vmId('linux-db01');
  const labDisk = (await env.lab.control.vms())['linux-db01']!.disks[0]!;
  const r = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  const key = r.disks[0]!.key;
  const original = await sha256File(labDisk.flatPath);

  // From the repository (replication from a backup).
  const fromPoint = await RestorePointDiskSource.open(env.repo, r.restorePoint.id, key);
  const a = join(env.dir, 'from-point.img');
  const sinkA = await BlockDeviceSink.open(a, { create: true, capacity: fromPoint.capacity, chunkSize: env.repo.chunkSize });
  const copiedA = await copyDisk(fromPoint, sinkA, plan('full', undefined, env.repo.chunkSize, fromPoint.capacity));
  await sinkA.finish();
  await fromPoint.close();
  assert.equal(copiedA.bytesRead, labDisk.capacityBytes);
  assert.equal(await sha256File(a), original, 'restore point → device equals the disk');

  // From a snapshot of the running VM (direct replication).
  const ref = { type: 'VirtualMachine', value: vmId };
  const snap = await env.vs.snapshots.create(ref, { name: 'pipeline test', description: 'pipeline test', memory: false, quiesce: false });
  try {
    const fromSnapshot = await SnapshotDiskSource.open(env.vs, snap.disks[0]!);
    const b = join(env.dir, 'from-snapshot.img');
    const sinkB = await BlockDeviceSink.open(b, { create: true, capacity: fromSnapshot.capacity, chunkSize: env.repo.chunkSize });
    await copyDisk(fromSnapshot, sinkB, plan('full', undefined, env.repo.chunkSize, fromSnapshot.capacity));
    await sinkB.finish();
    assert.equal(await sha256File(b), original, 'snapshot → device equals the disk');
  } finally {
    await env.vs.snapshots.remove(snap.node.ref, { consolidate: true });
  }
});

test('an incremental plan patches a device that holds the previous state: only the changed areas are read and written', async () => {
  const cs = 64 * 1024;
  const capacity = 40 * cs + 1000; // not a multiple of the chunk size
  const before = randomBytes(capacity);
  const after = Buffer.from(before);
  const changes = [{ start: 3 * cs + 10, length: 100 }, { start: 7 * cs - 50, length: 120 }, { start: 20 * cs, length: cs }, { start: capacity - 300, length: 300 }];
  for (const c of changes) randomBytes(c.length).copy(after, c.start);
  const reads: { start: number; length: number }[] = [];
  const source: DiskSource = {
    description: 'changed image', capacity,
    async read(start, length) { reads.push({ start, length }); return after.subarray(start, start + length); },
  };
  const dev = join(env.dir, 'replica.img');
  await writeFile(dev, before);
  const sink = await BlockDeviceSink.open(dev, { chunkSize: cs });
  const r = await copyDisk(source, sink, plan('incremental', changes, cs, capacity), { patch: true });
  await sink.finish();
  assert.ok((await readFile(dev)).equals(after), 'the device holds the new state');
  const changed = changes.reduce((n, c) => n + c.length, 0);
  assert.ok(r.bytesRead <= changed + cs, `read ${r.bytesRead} bytes for ${changed} changed`);
  assert.ok(reads.every((x) => x.length <= cs), 'no read larger than a chunk');
});
