// Full VM restore to a new VM, against the lab vCenter: the VM appears with the same configuration and
// byte-identical disks on another host/datastore; bad requests are refused before anything is created;
// failures and cancellation midway leave nothing behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureVmConfig } from '../../backend/sources/snapshot/vm-config.ts';
import { Conflict, InvalidRequest, NotFound } from '../../backend/common/errors.ts';
import type { Repository, RestorePoint } from '../../backend/repository/repository.ts';
import { RestoreCancelled, RestoreFailed, restoreVm, type RestoreProgress } from '../../backend/restore/index.ts';
import { mor, parseVmdkDescriptor, type VSphere } from '../../backend/vsphere/index.ts';
import { startLab, type Lab, type LabVm } from '../lab/lab.ts';
import { backUp, connect, datastoreDir, datastoreListing, readLocal, sha256, tempRepo } from './helpers.ts';

const MiB = 1024 * 1024;

describe('restore: to a new VM', () => {
  let lab: Lab;
  let vs: VSphere;
  let repo: Repository;
  let tmp: string;
  let src: LabVm;
  let rp: RestorePoint;
  let atBackup: Buffer;
  let drDir: string;

  before(async () => {
    lab = await startLab({ images: false });
    vs = await connect(lab);
    ({ repo, dir: tmp } = await tempRepo());
    // Known content at several places of win-app01's disk, and a NIC to re-create.
    await lab.control.writeDisk('win-app01', 0, 0, randomBytes(3 * MiB));
    await lab.control.writeDisk('win-app01', 0, 40 * MiB + 4097, randomBytes(MiB + 5));
    await vs.vms.reconfigure(mor('VirtualMachine', (await lab.control.vms())['win-app01']!.moref), {
      deviceChange: [{
        operation: 'add',
        device: {
          _type: 'VirtualVmxnet3', key: -1, addressType: 'generated',
          backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network' },
          connectable: { startConnected: true, allowGuestControl: true, connected: true },
        },
      }],
    });
    src = (await lab.control.vms())['win-app01']!;
    rp = await backUp(vs, repo, 'win-app01', src);
    atBackup = readLocal(src.disks[0]!.flatPath);
    drDir = await datastoreDir(vs, 'dr-ds1');
    // The VM keeps running and changing after the backup.
    await lab.control.writeDisk('win-app01', 0, 0, randomBytes(MiB));
  });
  after(async () => {
    await repo?.close();
    await vs?.close();
    await lab?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('restores to a new VM on another host and datastore: same configuration, byte-identical disk, powered on', async () => {
    const progress: RestoreProgress[] = [];
    const res = await restoreVm({ vs, repo }, rp.id,
      { kind: 'new', name: 'win-app01-restored', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: true },
      { onProgress: (p) => progress.push(p) });
    assert.equal(res.vmName, 'win-app01-restored');
    assert.equal(res.verified, true);
    assert.equal(res.disks.length, 1);
    assert.equal(res.disks[0]!.key, '2000');
    assert.equal(res.disks[0]!.bytes, src.disks[0]!.capacityBytes);
    assert.equal(res.disks[0]!.sha256, sha256(atBackup));

    // In the inventory, on the DR host, powered on, disk on dr-ds1.
    const inv = (await vs.inventory.vms()).find((v) => v.name === 'win-app01-restored');
    assert.ok(inv, 'the restored VM is in the inventory');
    assert.equal(inv.ref.value, res.vmId);
    assert.equal(inv.powerState, 'poweredOn');
    const hosts = await vs.inventory.hosts();
    assert.equal(hosts.find((h) => h.ref.value === inv.host?.value)?.name, 'esx-dr-01.lab.local');
    assert.equal(inv.disks.length, 1);
    assert.equal(inv.disks[0]!.fileName, '[dr-ds1] win-app01-restored/win-app01-restored.vmdk');
    assert.equal(inv.disks[0]!.capacityBytes, src.disks[0]!.capacityBytes);

    // Same configuration as the source at backup time; the NIC is new (own MAC) on the same network.
    const before = rp.vmConfig as Awaited<ReturnType<typeof captureVmConfig>>;
    const now = await captureVmConfig(vs, inv.ref);
    assert.equal(now.guestId, before.guestId);
    assert.equal(now.numCPUs, before.numCPUs);
    assert.equal(now.memoryMB, before.memoryMB);
    assert.equal(now.firmware, before.firmware);
    assert.equal(now.hardwareVersion, before.hardwareVersion);
    assert.deepEqual(now.controllers.map((c) => [c.type, c.busNumber]), before.controllers.map((c) => [c.type, c.busNumber]));
    assert.deepEqual(now.disks.map((d) => [d.capacityBytes, d.unitNumber, d.thin]), before.disks.map((d) => [d.capacityBytes, d.unitNumber, d.thin]));
    assert.equal(before.nics.length, 1);
    assert.equal(now.nics.length, 1);
    assert.equal(now.nics[0]!.type, 'VirtualVmxnet3');
    assert.equal(now.nics[0]!.network, 'VM Network');
    assert.ok(now.nics[0]!.macAddress && now.nics[0]!.macAddress !== before.nics[0]!.macAddress, 'a new MAC address');

    // Real VMDK files on the datastore: descriptor + flat extent identical to the source at backup time.
    const folder = join(drDir, 'win-app01-restored');
    const flat = readLocal(join(folder, 'win-app01-restored-flat.vmdk'));
    assert.equal(flat.length, atBackup.length);
    assert.ok(flat.equals(atBackup), 'restored flat file is byte-identical to the source at backup time');
    assert.ok(!flat.equals(readLocal(src.disks[0]!.flatPath)), 'and not the source as it is now');
    const desc = parseVmdkDescriptor(readLocal(join(folder, 'win-app01-restored.vmdk')).toString('utf8'));
    assert.equal(desc.createType, 'vmfs');
    assert.deepEqual(desc.extents, [{ access: 'RW', sizeSectors: atBackup.length / 512, type: 'VMFS', file: 'win-app01-restored-flat.vmdk' }]);
    assert.equal(desc.ddb.adapterType, 'lsilogic');
    assert.ok(desc.ddb['geometry.cylinders'] && desc.ddb.uuid);

    // Progress: every phase in order, byte counts up to the disk size.
    const phases = [...new Set(progress.map((p) => p.phase))];
    assert.deepEqual(phases, ['validating', 'uploading disk disk-1000-0', 'creating VM', 'verifying disk disk-1000-0', 'powering on']);
    const up = progress.filter((p) => p.phase.startsWith('uploading'));
    assert.deepEqual(up.at(-1), { phase: 'uploading disk disk-1000-0', done: atBackup.length, total: atBackup.length });
    assert.ok(up.length > 2 && up.every((p, i) => i === 0 || p.done >= up[i - 1]!.done));
    const ver = progress.filter((p) => p.phase.startsWith('verifying'));
    assert.equal(ver.at(-1)!.done, atBackup.length);
  });

  it('restores several disks (name.vmdk, name_1.vmdk), takes host and datastore by id, and leaves the VM off when asked', async () => {
    // A two-disk restore point: win-app01's disk plus a second 8 MiB disk on unit 1 of the same controller.
    const cfg = structuredClone(rp.vmConfig) as Awaited<ReturnType<typeof captureVmConfig>>;
    cfg.disks.push({ ...cfg.disks[0]!, key: 2001, label: 'Hard disk 2', capacityBytes: 8 * MiB, unitNumber: 1, thin: false, fileName: '[prod-ds1] win-app01/win-app01_1.vmdk' });
    const second = Buffer.alloc(8 * MiB);
    randomBytes(MiB).copy(second, 2 * MiB + 512);
    const w = await repo.beginRestorePoint({ vm: rp.vm, consistency: 'crash', vmConfig: cfg });
    const d1 = await w.addDisk({ key: '2000', label: 'disk-1000-0', capacity: atBackup.length });
    await d1.write(0, atBackup);
    await d1.finish();
    const d2 = await w.addDisk({ key: '2001', label: 'Hard disk 2', capacity: second.length });
    await d2.write(0, second);
    await d2.finish();
    const rp2 = await w.commit();

    const host = (await vs.inventory.hosts()).find((h) => h.name === 'esx-prod-02.lab.local')!;
    const ds = (await vs.inventory.datastores()).find((d) => d.name === 'prod-ds2')!;
    const res = await restoreVm({ vs, repo }, rp2.id, { kind: 'new', name: 'win-app01-copy', host: host.ref.value, datastore: ds.ref.value, powerOn: false });
    assert.deepEqual(res.disks.map((d) => [d.key, d.bytes, d.sha256]), [['2000', atBackup.length, sha256(atBackup)], ['2001', second.length, sha256(second)]]);
    const vm = await vs.vms.get(res.vmId);
    assert.equal(vm.powerState, 'poweredOff');
    assert.equal(vm.host?.value, host.ref.value);
    assert.deepEqual(vm.disks.map((d) => [d.fileName, d.capacityBytes, d.unitNumber, d.thin]), [
      ['[prod-ds2] win-app01-copy/win-app01-copy.vmdk', atBackup.length, 0, true],
      ['[prod-ds2] win-app01-copy/win-app01-copy_1.vmdk', second.length, 1, false],
    ]);
    assert.equal(vm.disks[0]!.controllerKey, vm.disks[1]!.controllerKey);
    assert.ok(readLocal(join(ds.url!, 'win-app01-copy', 'win-app01-copy-flat.vmdk')).equals(atBackup));
    assert.ok(readLocal(join(ds.url!, 'win-app01-copy', 'win-app01-copy_1-flat.vmdk')).equals(second));
    const desc = parseVmdkDescriptor(readLocal(join(ds.url!, 'win-app01-copy', 'win-app01-copy_1.vmdk')).toString('utf8'));
    assert.equal(desc.extents[0]!.file, 'win-app01-copy_1-flat.vmdk');
    assert.equal(desc.extents[0]!.sizeSectors, second.length / 512);
  });

  it('refuses bad requests with clear errors and creates nothing', async () => {
    const vmsBefore = (await vs.inventory.vms()).map((v) => v.name).sort();
    const filesBefore = datastoreListing(lab);
    assert.ok(filesBefore.includes('dr-ds1/win-app01-restored/win-app01-restored-flat.vmdk'), 'the listing sees restored files');
    const deps = { vs, repo };
    const to = (over: Record<string, unknown>) => ({ kind: 'new' as const, name: 'restored-x', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false, ...over });

    await assert.rejects(restoreVm(deps, rp.id, to({ name: 'linux-db01' })),
      (e: Error) => e instanceof Conflict && /VM named 'linux-db01' already exists/.test(e.message) && /choose another name/.test(e.message));
    await assert.rejects(restoreVm(deps, rp.id, to({ host: 'esx-nowhere.lab.local' })),
      (e: Error) => e instanceof NotFound && /Host 'esx-nowhere.lab.local' does not exist/.test(e.message) && /esx-dr-01\.lab\.local, esx-prod-01\.lab\.local, esx-prod-02\.lab\.local/.test(e.message));
    await assert.rejects(restoreVm(deps, rp.id, to({ datastore: 'dr-ds9' })),
      (e: Error) => e instanceof NotFound && /Datastore 'dr-ds9' does not exist/.test(e.message) && /mounted on esx-dr-01\.lab\.local: dr-ds1/.test(e.message));
    await assert.rejects(restoreVm(deps, rp.id, to({ datastore: 'prod-ds1' })),
      (e: Error) => e instanceof InvalidRequest && /'prod-ds1' is not mounted on host 'esx-dr-01\.lab\.local'.*dr-ds1/.test(e.message));
    await assert.rejects(restoreVm(deps, rp.id, to({ name: 'web/01' })), (e: Error) => e instanceof InvalidRequest && /cannot be used in datastore paths/.test(e.message));
    // '..' would name the datastore's parent folder (and a failed restore's cleanup would delete '[dr-ds1] ..').
    for (const name of ['..', '.']) {
      await assert.rejects(restoreVm(deps, rp.id, to({ name })), (e: Error) => e instanceof InvalidRequest && /must not be '\.', '\.\.' or only dots/.test(e.message), name);
    }
    await assert.rejects(restoreVm(deps, 'rp-20990101T000000Z-000000', to({})), (e: Error) => e instanceof NotFound && /Restore point/.test(e.message));
    // Not enough space: a (sparse) restore point of a 300 GiB disk, more than the lab datastore's free space.
    const big = await backUp(vs, repo, 'web-off01', (await lab.control.vms())['web-off01']!, { capacity: 300 * 1024 ** 3 });
    await assert.rejects(restoreVm(deps, big.id, to({})),
      (e: Error) => e instanceof InvalidRequest && /Datastore 'dr-ds1' has [\d.]+ GiB free but the restore needs 300\.\d GiB/.test(e.message) && /thin/.test(e.message));
    // A leftover folder of the same name is never reused (the cleanup would delete it).
    const stray = join(drDir, 'restored-x');
    rmSync(stray, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stray);
    await assert.rejects(restoreVm(deps, rp.id, to({})), (e: Error) => e instanceof Conflict && /folder \[dr-ds1\] restored-x already exists/.test(e.message));
    assert.ok(existsSync(stray), 'the existing folder is left alone');
    rmSync(stray, { recursive: true });

    assert.deepEqual((await vs.inventory.vms()).map((v) => v.name).sort(), vmsBefore);
    assert.deepEqual(datastoreListing(lab), filesBefore);
  });

  it('cleans up when cancelled during the upload', async () => {
    const filesBefore = datastoreListing(lab);
    const ac = new AbortController();
    let sawUpload = false;
    const err = await restoreVm({ vs, repo }, rp.id, { kind: 'new', name: 'restored-cancel', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false }, {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase.startsWith('uploading') && p.done >= 20 * MiB && !ac.signal.aborted) {
          sawUpload = existsSync(join(drDir, 'restored-cancel', 'restored-cancel-flat.vmdk'));
          ac.abort();
        }
      },
    }).then(() => assert.fail('the restore should have been cancelled'), (e: unknown) => e);
    assert.ok(sawUpload, 'the flat file was being written when the restore was cancelled');
    assert.ok(err instanceof RestoreCancelled, String(err));
    assert.equal(err.details.phase, 'uploading disk disk-1000-0');
    assert.deepEqual(err.details.cleanedUp, ['deleted [dr-ds1] restored-cancel']);
    assert.deepEqual(err.details.leftBehind, []);
    assert.match(err.message, /cancelled while uploading disk disk-1000-0\. Cleaned up: deleted \[dr-ds1\] restored-cancel/);
    assert.ok(!(await vs.inventory.vms()).some((v) => v.name === 'restored-cancel'));
    assert.deepEqual(datastoreListing(lab), filesBefore);
  });

  it('destroys the half-made VM when verification finds different bytes on the datastore', async () => {
    const filesBefore = datastoreListing(lab);
    let vmSeen = false;
    const err = await restoreVm({ vs, repo }, rp.id, { kind: 'new', name: 'restored-corrupt', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: true }, {
      onProgress: (p) => {
        if (p.phase === 'creating VM' && p.done === 0) {
          // The storage silently changes a byte of the uploaded extent.
          const fd = openSync(join(drDir, 'restored-corrupt', 'restored-corrupt-flat.vmdk'), 'r+');
          writeSync(fd, Buffer.from([atBackup[12345]! ^ 0xff]), 0, 1, 12345);
          closeSync(fd);
        }
        if (p.phase.startsWith('verifying')) vmSeen = true;
      },
    }).then(() => assert.fail('verification should have failed'), (e: unknown) => e);
    assert.ok(vmSeen);
    assert.ok(err instanceof RestoreFailed && !(err instanceof RestoreCancelled), String(err));
    assert.match(err.message, /verification failed for disk-1000-0/);
    assert.equal(err.details.phase, 'verifying disk disk-1000-0');
    assert.equal(err.details.cleanedUp.length, 2);
    assert.match(err.details.cleanedUp[0]!, /^destroyed VM 'restored-corrupt' \(vm-\d+\)$/);
    assert.equal(err.details.cleanedUp[1], 'deleted [dr-ds1] restored-corrupt');
    assert.ok(!(await vs.inventory.vms()).some((v) => v.name === 'restored-corrupt'), 'the VM is gone');
    assert.deepEqual(datastoreListing(lab), filesBefore);
  });

  it('cleans up when the read-back breaks off, and when CreateVM_Task fails', async () => {
    const filesBefore = datastoreListing(lab);
    await lab.control.injectFault({ method: 'DatastoreGet', fault: 'ReadFault', path: 'restored-rf-flat.vmdk', afterBytes: 5 * MiB });
    const e1 = await restoreVm({ vs, repo }, rp.id, { kind: 'new', name: 'restored-rf', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false })
      .then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(e1 instanceof RestoreFailed, String(e1));
    assert.equal(e1.details.phase, 'verifying disk disk-1000-0');
    assert.match(e1.message, /reading \[dr-ds1\] restored-rf\/restored-rf-flat\.vmdk back broke off/);
    assert.match(e1.details.cleanedUp.join(' | '), /destroyed VM 'restored-rf'.*\| deleted \[dr-ds1\] restored-rf$/);

    await lab.control.injectFault({ method: 'CreateVM_Task', fault: 'FileFault', message: 'lab: cannot create the VM' });
    const e2 = await restoreVm({ vs, repo }, rp.id, { kind: 'new', name: 'restored-cf', host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', powerOn: false })
      .then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(e2 instanceof RestoreFailed, String(e2));
    assert.equal(e2.details.phase, 'creating VM');
    assert.match(e2.message, /failed while creating VM: FileFault: lab: cannot create the VM\. Cleaned up: deleted \[dr-ds1\] restored-cf\./);
    assert.deepEqual(e2.details.cleanedUp, ['deleted [dr-ds1] restored-cf']);

    assert.ok(!(await vs.inventory.vms()).some((v) => v.name.startsWith('restored-')));
    assert.deepEqual(datastoreListing(lab), filesBefore);
  });
});
