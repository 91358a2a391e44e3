// The backup engine against the lab vCenter: consistency as vSphere reports it, incremental reads
// that follow CBT, restore points that restore byte-identical, and no snapshot left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { backupVm } from '../../backend/backup/backup-vm.ts';
import { DEFAULT_SETTINGS, sha256File, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

let env: BackupEnv;
before(async () => { env = await startBackupEnv(); });
after(async () => { await env?.close(); });

async function snapshotsOf(vmId: string) {
  return env.vs.snapshots.list({ type: 'VirtualMachine', value: vmId });
}

test('Windows VM: quiesced VSS snapshot with writers → application-consistent, restores byte-identical', async () => {
  const vmId = await env.vmId('win-app01');
  const flat = (await env.lab.control.vms())['win-app01']!.disks[0]!.flatPath;
  const before = await sha256File(flat);
  const r = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  assert.equal(r.consistency, 'application', r.reason);
  assert.match(r.reason, /SqlServerWriter/);
  assert.equal(r.disks[0]!.plan, 'allocated');
  assert.deepEqual(await snapshotsOf(vmId), []);
  const out = join(env.dir, 'win.img');
  await env.repo.restoreDisk(r.restorePoint.id, r.disks[0]!.key, out);
  assert.equal(await sha256File(out), before);
});

test('Linux VM: changed areas only on the second backup, and both restore points restore exactly', async () => {
  const vmId = await env.vmId('linux-db01');
  const disk = (await env.lab.control.vms())['linux-db01']!.disks[0]!;
  const first = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  assert.equal(first.consistency, 'filesystem');
  const v1 = await sha256File(disk.flatPath);

  // The guest writes 3 small ranges (one spanning a chunk boundary) and rewrites most of one chunk.
  const cs = env.repo.config.chunkSize;
  const writes = [[5 * 4096, 1000], [cs - 100, 300], [disk.capacityBytes - 8192, 8192], [2 * cs + 4096, (cs * 3) / 4]] as const;
  for (const [off, len] of writes) await env.lab.control.writeDisk('linux-db01', 0, off, randomBytes(len));
  const v2 = await sha256File(disk.flatPath);
  assert.notEqual(v1, v2);

  const second = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  assert.equal(second.disks[0]!.plan, 'incremental');
  // Reads track the changed bytes: the mostly rewritten chunk whole, elsewhere only the changed areas
  // at vSphere's change-tracking granularity (64 KiB in the lab), the rest of those chunks from the parent.
  const block = 64 * 1024;
  assert.ok(second.bytesRead >= cs, `read only ${second.bytesRead} bytes`);
  assert.ok(second.bytesRead <= cs + 4 * block, `read ${second.bytesRead} bytes for ${cs * 0.75 + 9492} changed`);
  assert.equal(second.restorePoint.parent, first.restorePoint.id);

  const o1 = join(env.dir, 'l1.img');
  const o2 = join(env.dir, 'l2.img');
  await env.repo.restoreDisk(first.restorePoint.id, first.disks[0]!.key, o1);
  await env.repo.restoreDisk(second.restorePoint.id, second.disks[0]!.key, o2);
  assert.equal(await sha256File(o1), v1);
  assert.equal(await sha256File(o2), v2);
  assert.deepEqual(await snapshotsOf(vmId), []);
});

test('tools not running: quiesce silently ignored by vSphere → recorded crash-consistent with a warning', async () => {
  const vms = await env.lab.control.vms();
  const name = Object.keys(vms).find((n) => !vms[n]!.toolsRunning && vms[n]!.powerState === 'poweredOn');
  assert.ok(name, `the lab has a powered-on VM without tools: ${JSON.stringify(Object.keys(vms))}`);
  const r = await backupVm(env, { vmId: vms[name]!.moref, settings: DEFAULT_SETTINGS });
  assert.equal(r.consistency, 'crash');
  assert.ok(r.warnings.some((w) => /crash-consistent/.test(w)), r.warnings.join('; '));
});
