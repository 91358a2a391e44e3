// Property collector and inventory against the lab vCenter.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContainerView, VM_PROPERTIES, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: property collector and inventory', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
  });
  after(() => stopLabSession(lab, vs));

  it('lists every VM with the backup-relevant properties', async () => {
    const vms = await vs.inventory.vms();
    assert.deepEqual(vms.map((v) => v.name).sort(), Object.keys(labVms).sort());
    for (const vm of vms) {
      const l = labVms[vm.name]!;
      assert.equal(vm.ref.type, 'VirtualMachine');
      assert.equal(vm.ref.value, l.moref);
      assert.equal(vm.powerState, l.powerState);
      assert.equal(vm.guestId, l.guestId);
      assert.ok(vm.guestFullName);
      assert.equal(vm.toolsRunningStatus, l.toolsRunning ? 'guestToolsRunning' : 'guestToolsNotRunning');
      assert.match(vm.instanceUuid ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(vm.vmPathName, l.vmxPath);
      assert.equal(vm.host?.type, 'HostSystem');
      assert.ok(vm.datastores.length >= 1 && vm.datastores.every((d) => d.type === 'Datastore'));
      assert.equal(typeof vm.cbtEnabled, 'boolean');
      assert.equal(vm.consolidationNeeded, false);
      assert.deepEqual(vm.snapshots, []);
      assert.equal(vm.disks.length, l.disks.length);
      for (const [i, d] of vm.disks.entries()) {
        assert.equal(d.key, l.disks[i]!.key);
        assert.equal(d.fileName, l.disks[i]!.fileName);
        assert.equal(d.capacityBytes, l.disks[i]!.capacityBytes);
        assert.equal(d.backingType, 'VirtualDiskFlatVer2BackingInfo');
        assert.equal(d.diskMode, 'persistent');
        assert.equal(typeof d.thin, 'boolean');
        assert.ok(d.label);
        assert.equal(d.datastore?.type, 'Datastore');
      }
    }
  });

  it('pages RetrievePropertiesEx (page size 1) with the same result', async (t) => {
    const all = await vs.pc.retrieveAllOfType<{ name: string }>('VirtualMachine', ['name']);
    const pages: number[] = [];
    const view = await ContainerView.create(vs.client, ['VirtualMachine']);
    try {
      const names: string[] = [];
      for await (const page of vs.pc.retrievePages([view.filterSpec('VirtualMachine', ['name'])], { pageSize: 1 })) {
        pages.push(page.length);
        for (const o of page) names.push(o.propSet![0]!.val as string);
      }
      // vCenter honours maxObjects (one page per VM here, continued with ContinueRetrievePropertiesEx);
      // vcsim 0.24.2 returns everything in one page and no token.
      assert.ok(pages.length === all.length || pages.length === 1, `pages: ${pages.join(',')}`);
      if (pages.length === 1) t.diagnostic('the lab vCenter does not page RetrievePropertiesEx');
      assert.deepEqual(names.sort(), all.map((o) => o.props.name).sort());
    } finally {
      await view.destroy();
    }
  });

  it('reads one VM by ref and by name/uuid', async () => {
    const l = labVms['win-app01']!;
    const ref = await vs.vms.findByName('win-app01');
    assert.equal(ref.value, l.moref);
    const vm = await vs.vms.get(l.moref);
    assert.equal(vm.name, 'win-app01');
    const byUuid = await vs.vms.findByUuid(vm.instanceUuid!);
    assert.equal(byUuid.value, l.moref);
  });

  it('lists hosts, datastores, clusters and datacenters', async () => {
    const [hosts, dss, clusters, dcs] = await Promise.all([
      vs.inventory.hosts(), vs.inventory.datastores(), vs.inventory.clusters(), vs.inventory.datacenters(),
    ]);
    assert.ok(hosts.length >= 1);
    for (const h of hosts) {
      assert.ok(h.name);
      assert.equal(h.connectionState, 'connected');
    }
    const dsNames = dss.map((d) => d.name);
    for (const l of Object.values(labVms)) assert.ok(dsNames.includes(l.datastore), l.datastore);
    for (const d of dss) {
      assert.ok(d.capacity > 0 && d.freeSpace >= 0 && d.freeSpace <= d.capacity, `${d.name} ${d.capacity} ${d.freeSpace}`);
      assert.ok(d.url);
      assert.equal(d.accessible, true);
    }
    assert.ok(clusters.length >= 1 && clusters.every((c) => c.hosts.length >= 1));
    assert.ok(dcs.length >= 1 && dcs.every((d) => d.path && d.datastores.length >= 1));
  });

  it('exports the property set the bench compares', () => {
    assert.ok(VM_PROPERTIES.includes('config.hardware.device') && VM_PROPERTIES.includes('snapshot'));
  });
});
