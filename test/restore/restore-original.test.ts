// Full VM restore over the original VM, against the lab vCenter: the disk becomes byte-identical to the
// restore point again and the VM ends in the power state asked for; missing confirmation, snapshots and
// a changed disk layout are refused without touching the VM.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Conflict, InvalidRequest, NotFound } from '../../backend/common/errors.ts';
import type { Repository, RestorePoint } from '../../backend/repository/repository.ts';
import { RestoreCancelled, restoreVm, type RestoreProgress, type RestoreTarget } from '../../backend/restore/index.ts';
import { mor, type VSphere } from '../../backend/vsphere/index.ts';
import { startLab, type Lab, type LabVm } from '../lab/lab.ts';
import { backUp, connect, readLocal, sha256, tempRepo } from './helpers.ts';

const MiB = 1024 * 1024;

describe('restore: over the original VM', () => {
  let lab: Lab;
  let vs: VSphere;
  let repo: Repository;
  let tmp: string;
  let labVms: Record<string, LabVm>;
  let rpWin: RestorePoint;
  let winAtBackup: Buffer;

  const power = async (name: string): Promise<string> => (await vs.vms.get(labVms[name]!.moref)).powerState;
  const garbage = async (name: string): Promise<void> => {
    const size = labVms[name]!.disks[0]!.capacityBytes;
    await lab.control.writeDisk(name, 0, 0, randomBytes(2 * MiB));
    await lab.control.writeDisk(name, 0, size - MiB - 3, randomBytes(MiB));
  };

  before(async () => {
    lab = await startLab({ images: false });
    vs = await connect(lab);
    ({ repo, dir: tmp } = await tempRepo());
    labVms = await lab.control.vms();
    await lab.control.writeDisk('win-app01', 0, 7 * MiB, randomBytes(4 * MiB));
    rpWin = await backUp(vs, repo, 'win-app01', labVms['win-app01']!);
    winAtBackup = readLocal(labVms['win-app01']!.disks[0]!.flatPath);
  });
  after(async () => {
    await repo?.close();
    await vs?.close();
    await lab?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('overwrites the disk with the restore point (byte-identical) and leaves the VM off or on as asked', async () => {
    const flatPath = labVms['win-app01']!.disks[0]!.flatPath;
    assert.equal(await power('win-app01'), 'poweredOn');
    await garbage('win-app01');
    assert.ok(!readLocal(flatPath).equals(winAtBackup), 'the guest changed the disk');

    const progress: RestoreProgress[] = [];
    const res = await restoreVm({ vs, repo }, rpWin.id, { kind: 'original', confirm: true, powerOn: false }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(res, {
      vmId: labVms['win-app01']!.moref, vmName: 'win-app01', verified: true,
      disks: [{ key: '2000', bytes: winAtBackup.length, sha256: sha256(winAtBackup) }],
    });
    assert.ok(readLocal(flatPath).equals(winAtBackup), 'the disk is byte-identical to the restore point');
    assert.equal(await power('win-app01'), 'poweredOff', 'powered off (hard) and left off');
    assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['validating', 'powering off', 'uploading disk disk-1000-0', 'verifying disk disk-1000-0']);

    await vs.vms.powerOn(mor('VirtualMachine', labVms['win-app01']!.moref));
    await garbage('win-app01');
    const res2 = await restoreVm({ vs, repo }, rpWin.id, { kind: 'original', confirm: true, powerOn: true });
    assert.equal(res2.disks[0]!.sha256, sha256(winAtBackup));
    assert.ok(readLocal(flatPath).equals(winAtBackup));
    assert.equal(await power('win-app01'), 'poweredOn', 'powered on again as asked');
    // The VM is the same one, with the same disk file.
    assert.equal((await vs.vms.get(labVms['win-app01']!.moref)).disks[0]!.fileName, labVms['win-app01']!.disks[0]!.fileName);
  });

  it('a cancelled restore leaves the VM off and says its disk is partly overwritten; running it again restores it', async () => {
    const flatPath = labVms['win-app01']!.disks[0]!.flatPath;
    if (await power('win-app01') !== 'poweredOn') await vs.vms.powerOn(mor('VirtualMachine', labVms['win-app01']!.moref));
    await garbage('win-app01');
    const ac = new AbortController();
    const err = await restoreVm({ vs, repo }, rpWin.id, { kind: 'original', confirm: true, powerOn: true }, {
      signal: ac.signal,
      onProgress: (p) => { if (p.phase.startsWith('uploading') && p.done >= 16 * MiB) ac.abort(); },
    }).then(() => assert.fail('the restore should have been cancelled'), (e: unknown) => e);
    assert.ok(err instanceof RestoreCancelled, String(err));
    assert.equal(err.details.vmId, labVms['win-app01']!.moref);
    assert.deepEqual(err.details.leftBehind, [`disk disk-1000-0 ([prod-ds1] win-app01/win-app01-flat.vmdk) may be partly overwritten`]);
    assert.match(err.message, /cancelled while uploading disk disk-1000-0\. The VM was left powered off: run the restore again/);
    assert.equal(await power('win-app01'), 'poweredOff', 'not powered on after a cancelled restore');
    assert.ok(!readLocal(flatPath).equals(winAtBackup));

    await restoreVm({ vs, repo }, rpWin.id, { kind: 'original', confirm: true, powerOn: true });
    assert.ok(readLocal(flatPath).equals(winAtBackup));
    assert.equal(await power('win-app01'), 'poweredOn');
  });

  it('finds the VM by its instance UUID when its id changed', async () => {
    const web = labVms['web-off01']!;
    const uuid = (await vs.vms.get(web.moref)).instanceUuid!;
    const rp = await backUp(vs, repo, 'web-off01', web, { vmId: 'vm-424242' });
    const at = readLocal(web.disks[0]!.flatPath);
    await garbage('web-off01');
    const res = await restoreVm({ vs, repo }, rp.id, { kind: 'original', confirm: true, powerOn: false });
    assert.equal(res.vmId, web.moref);
    assert.ok(readLocal(web.disks[0]!.flatPath).equals(at));
    assert.equal(await power('web-off01'), 'poweredOff');
    // Neither id nor UUID: the VM is gone.
    const gone = await backUp(vs, repo, 'web-off01', web, { vmId: 'vm-424243', uuid: '50000000-0000-0000-0000-00000000dead' });
    await assert.rejects(restoreVm({ vs, repo }, gone.id, { kind: 'original', confirm: true, powerOn: false }),
      (e: Error) => e instanceof NotFound && /no longer exists.*restore to a new VM/.test(e.message));
    assert.notEqual(uuid, '50000000-0000-0000-0000-00000000dead');
  });

  it('refuses without confirmation, with snapshots, or with a changed disk layout, and changes nothing', async () => {
    const db = labVms['linux-db01']!;
    const rpDb = await backUp(vs, repo, 'linux-db01', db);
    await garbage('linux-db01');
    const now = sha256(readLocal(db.disks[0]!.flatPath));
    const deps = { vs, repo };

    await assert.rejects(restoreVm(deps, rpDb.id, { kind: 'original', powerOn: false } as unknown as RestoreTarget),
      (e: Error) => e instanceof InvalidRequest && /set target\.confirm to true/.test(e.message));
    await assert.rejects(restoreVm(deps, rpDb.id, { kind: 'original', confirm: 'yes', powerOn: false } as unknown as RestoreTarget),
      (e: Error) => e instanceof InvalidRequest && /confirm/.test(e.message));

    const snap = await vs.snapshots.create(mor('VirtualMachine', db.moref), { name: 'before-upgrade' });
    await assert.rejects(restoreVm(deps, rpDb.id, { kind: 'original', confirm: true, powerOn: false }),
      (e: Error) => e instanceof Conflict && /'linux-db01' has snapshots \('before-upgrade'\): delete them/.test(e.message));
    await vs.snapshots.remove(snap.node.ref);

    // A restore point whose disk is larger than the VM's disk now.
    const resized = await backUp(vs, repo, 'linux-db01', db, { capacity: db.disks[0]!.capacityBytes * 2 });
    await assert.rejects(restoreVm(deps, resized.id, { kind: 'original', confirm: true, powerOn: true }),
      (e: Error) => e instanceof Conflict && /no longer match restore point/.test(e.message) && /key 2000, 134217728 bytes/.test(e.message));

    assert.equal(sha256(readLocal(db.disks[0]!.flatPath)), now, 'the disk was not touched');
    assert.equal(await power('linux-db01'), 'poweredOn', 'the VM was not powered off');
  });
});
