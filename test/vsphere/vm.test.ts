// VM lifecycle against the lab vCenter: create (with polymorphic device specs), reconfigure, power, destroy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManagedObjectNotFoundError, type VSphere, type MoRef } from '../../backend/vsphere/index.ts';
import { startLab, type Lab } from '../lab/lab.ts';
import { connect } from './helpers.ts';

describe('vsphere: virtual machines', () => {
  let lab: Lab;
  let vs: VSphere;
  before(async () => {
    lab = await startLab({ images: false });
    vs = await connect(lab);
  });
  after(async () => {
    await vs?.close();
    await lab?.stop();
  });

  it('creates a VM with a controller and a thin disk, reconfigures, powers and destroys it', async () => {
    const [dc] = await vs.inventory.datacenters();
    const [cluster] = await vs.inventory.clusters();
    const { resourcePool } = await vs.pc.retrieveOne<{ resourcePool: MoRef }>(cluster!.ref, ['resourcePool']);
    const ds = (await vs.inventory.datastores())[0]!;
    const requests: string[] = [];
    const onRequest = (xml: string): void => { requests.push(xml); };
    vs.client.soap.on('request', onRequest);
    const ref = await vs.vms.create({
      folder: dc!.vmFolder!, pool: resourcePool,
      config: {
        name: 'restored-vm', guestId: 'otherLinux64Guest', numCPUs: 2, memoryMB: 1024,
        files: { vmPathName: `[${ds.name}]` },
        deviceChange: [
          { operation: 'add', device: { _type: 'ParaVirtualSCSIController', key: -100, busNumber: 0, sharedBus: 'noSharing' } },
          {
            operation: 'add', fileOperation: 'create',
            device: {
              _type: 'VirtualDisk', key: -101, controllerKey: -100, unitNumber: 0, capacityInKB: 8 * 1024,
              backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: `[${ds.name}] restored-vm/restored-vm.vmdk`, diskMode: 'persistent', thinProvisioned: true },
            },
          },
        ],
      },
    });
    vs.client.soap.removeListener('request', onRequest);
    if (process.env.SHOW_XML) console.log(requests.find((x) => x.includes('CreateVM_Task')));
    // The wire format carries the concrete device and backing types, in schema order.
    const create = requests.find((x) => x.includes('CreateVM_Task'))!;
    assert.match(create, /<vim25:device xsi:type="vim25:VirtualDisk"/);
    assert.match(create, /<vim25:backing xsi:type="vim25:VirtualDiskFlatVer2BackingInfo"/);
    assert.ok(create.indexOf('<vim25:name>restored-vm') < create.indexOf('<vim25:guestId>'), 'name before guestId');
    assert.ok(create.indexOf('<vim25:key>-101') < create.indexOf('<vim25:capacityInKB>'), 'VirtualDevice fields before VirtualDisk fields');

    const vm = await vs.vms.get(ref);
    assert.equal(vm.name, 'restored-vm');
    assert.equal(vm.disks.length, 1);
    assert.equal(vm.disks[0]!.capacityBytes, 8 * 1024 * 1024);
    assert.equal(vm.disks[0]!.thin, true);
    assert.equal((await vs.vms.findByName('restored-vm')).value, ref.value);

    await vs.vms.reconfigure(ref, { memoryMB: 2048, annotation: 'restored by Stillpoint' });
    const p = await vs.pc.retrieveOne<{ 'config.hardware.memoryMB': number; 'config.annotation': string }>(ref, ['config.hardware.memoryMB', 'config.annotation']);
    assert.equal(p['config.hardware.memoryMB'], 2048);
    assert.equal(p['config.annotation'], 'restored by Stillpoint');

    await vs.vms.powerOn(ref);
    assert.equal((await vs.vms.get(ref)).powerState, 'poweredOn');
    await vs.vms.powerOff(ref);
    assert.equal((await vs.vms.get(ref)).powerState, 'poweredOff');
    await vs.vms.destroy(ref);
    await assert.rejects(vs.vms.get(ref), ManagedObjectNotFoundError);
    await assert.rejects(vs.vms.findByName('restored-vm'), ManagedObjectNotFoundError);
  });
});
