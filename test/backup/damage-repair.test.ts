// A damaged chunk does not spread through CBT incrementals: after verify marks it, the next
// incremental backup of the VM reads those chunks again from the VM (not only the changed areas)
// and stores good copies, so the new point and the old ones that share the chunks verify clean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { backupVm } from '../../backend/backup/backup-vm.ts';
import { DEFAULT_SETTINGS, sha256File, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

let env: BackupEnv;
before(async () => { env = await startBackupEnv(); });
after(async () => { await env?.close(); });

function packs(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.pack')).map((f) => join(dir, f));
}

test('verify marks a damaged chunk; the next CBT incremental re-reads it from the VM and verify is clean again', async () => {
  const vmId = await env.vmId('linux-db01');
  const flat = (await env.lab.control.vms())['linux-db01']!.disks[0]!.flatPath;
  const first = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  const pack = packs(join(env.dir, 'repo', 'packs')).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  const fd = openSync(pack, 'r+');
  writeSync(fd, Buffer.from([1, 2, 3]), 0, 3, 4096);
  closeSync(fd);
  const found = await env.repo.verify();
  assert.equal(found.ok, false);
  assert.ok(found.affected.some((a) => a.restorePoint === first.restorePoint.id));

  const second = await backupVm(env, { vmId, settings: DEFAULT_SETTINGS });
  assert.equal(second.disks[0]!.plan, 'incremental', 'an incremental, whose changed areas do not include the damaged chunk');
  assert.ok(second.warnings.some((w) => /found damaged in the previous restore point (was|were) read again from the VM/.test(w)), second.warnings.join(' | '));
  const again = await env.repo.verify();
  assert.equal(again.ok, true, JSON.stringify(again.damaged));
  const out = join(env.dir, 'first.img');
  await env.repo.restoreDisk(first.restorePoint.id, first.disks[0]!.key, out);
  assert.equal(await sha256File(out), await sha256File(flat), 'the older point restores whole again: it shares the re-stored chunk');
});
