// The VM a restore creates (backend/restore/vm-spec.ts), without a lab: from the configuration
// captured at backup time, the disks' controller/unit placement and the VirtualMachineConfigSpec:
// same guest, CPU, memory, firmware, hardware version; controllers re-created; disks attached to the
// uploaded files; NICs on the same networks with new MACs, or disconnected when the network is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfigSpec, placeDisks, type PlannedDisk } from '../../backend/restore/vm-spec.ts';
import type { VmConfig } from '../../backend/model/vm-config.ts';
import type { MoRef, VirtualDevice } from '../../backend/vsphere/index.ts';

const GiB = 1024 ** 3;

/** A Windows database server: PVSCSI + shared LSI SAS + SATA controllers, four disks, three NICs. */
const cfg: VmConfig = {
  version: 1,
  name: 'sql01',
  guestId: 'windows2019srv_64Guest',
  numCPUs: 8,
  numCoresPerSocket: 4,
  memoryMB: 32768,
  firmware: 'efi',
  hardwareVersion: 'vmx-19',
  vmPathName: '[prod-ds1] sql01/sql01.vmx',
  controllers: [
    { key: 1000, type: 'ParaVirtualSCSIController', busNumber: 0 },
    { key: 1001, type: 'VirtualLsiLogicSASController', busNumber: 1, sharedBus: 'physicalSharing' },
    { key: 15000, type: 'VirtualAHCIController', busNumber: 0 },
  ],
  disks: [
    { key: 2000, label: 'Hard disk 1', capacityBytes: 60 * GiB, controllerKey: 1000, unitNumber: 0, thin: true, diskMode: 'persistent', fileName: '[prod-ds1] sql01/sql01.vmdk' },
    { key: 2001, label: 'Hard disk 2', capacityBytes: 200 * GiB, controllerKey: 1001, unitNumber: 3, thin: false, diskMode: 'independent_persistent', fileName: '[prod-ds1] sql01/sql01_1.vmdk' },
    { key: 16000, label: 'Hard disk 3', capacityBytes: 10 * GiB, controllerKey: 15000, unitNumber: 0, fileName: '[prod-ds1] sql01/sql01_2.vmdk' },
  ],
  nics: [
    { key: 4000, type: 'VirtualVmxnet3', network: 'VM Network', macAddress: '00:50:56:aa:bb:cc', addressType: 'assigned', connected: true },
    { key: 4001, type: 'VirtualE1000e', network: 'Backup Net', connected: false },
  ],
};

const rpDisk = (key: number | string, capacity = GiB) => ({ key: String(key), capacity });
const networks = new Map<string, MoRef>([
  ['VM Network', { type: 'Network', value: 'network-11' }],
  ['Backup Net', { type: 'Network', value: 'network-12' }],
]);

/** The restore plan as restore-vm.ts makes it: placement from placeDisks, files in the new VM's folder. */
function planned(c: VmConfig, disks: { key: string; capacity: number }[], name = 'sql01-restored', ds = 'dr-ds1'): PlannedDisk[] {
  const placed = placeDisks(c, disks);
  return disks.map((d, i) => {
    const p = placed.get(d.key)!;
    const ctrl = c.controllers.find((x) => x.key === p.controllerKey);
    return {
      key: d.key, label: p.cfg?.label ?? `disk ${d.key}`, capacity: d.capacity, thin: p.cfg?.thin ?? true, diskMode: p.cfg?.diskMode ?? 'persistent',
      controllerKey: p.controllerKey, unitNumber: p.unitNumber, ...(ctrl ? { controllerType: ctrl.type } : {}),
      descriptorPath: `[${ds}] ${name}/${name}${i ? `_${i}` : ''}.vmdk`, flatPath: `[${ds}] ${name}/${name}${i ? `_${i}` : ''}-flat.vmdk`,
    };
  });
}

const added = (spec: { deviceChange?: { operation?: string; fileOperation?: string; device: VirtualDevice }[] }) => {
  for (const c of spec.deviceChange ?? []) assert.equal(c.operation, 'add');
  return (spec.deviceChange ?? []).map((c) => c.device);
};
const isController = (d: VirtualDevice) => /Controller$/.test(d._type ?? '');

test('placeDisks: disks keep the controller and unit they had', () => {
  const placed = placeDisks(cfg, [rpDisk(2000), rpDisk(2001), rpDisk(16000)]);
  assert.deepEqual([...placed].map(([k, p]) => [k, p.controllerKey, p.unitNumber, p.cfg?.label]), [
    ['2000', 1000, 0, 'Hard disk 1'], ['2001', 1001, 3, 'Hard disk 2'], ['16000', 15000, 0, 'Hard disk 3'],
  ]);
});

test('placeDisks: disks the configuration does not place go on the first SCSI controller, on free units, never unit 7', () => {
  const full: VmConfig = {
    ...cfg,
    disks: [0, 1, 2, 3, 4, 5, 6, 8].map((u) => ({ key: 2000 + u, label: `d${u}`, capacityBytes: GiB, controllerKey: 1000, unitNumber: u, fileName: `[ds] x/x_${u}.vmdk` })),
  };
  // Only the disks of this restore take units: 2003 keeps unit 3, the others fill 0, 1, …
  const placed = placeDisks(full, [rpDisk(2003), rpDisk(9001), rpDisk(9002)]);
  assert.deepEqual(placed.get('2003'), { controllerKey: 1000, unitNumber: 3, cfg: full.disks[3] });
  assert.deepEqual(placed.get('9001'), { controllerKey: 1000, unitNumber: 0 });
  assert.deepEqual(placed.get('9002'), { controllerKey: 1000, unitNumber: 1 });

  const busy = placeDisks(full, [...full.disks.map((d) => rpDisk(d.key)), rpDisk(9001)]);
  assert.deepEqual(busy.get('9001'), { controllerKey: 1000, unitNumber: 9 }, 'after units 0-6 and 8 are used: 9 (7 is the controller\'s)');
});

test('placeDisks: a disk known to the configuration without a unit keeps its description; without SCSI controller, key 1000', () => {
  const noUnit: VmConfig = { ...cfg, disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: GiB, fileName: '[ds] x/x.vmdk', thin: false }] };
  assert.deepEqual(placeDisks(noUnit, [rpDisk(2000)]).get('2000'), { controllerKey: 1000, unitNumber: 0, cfg: noUnit.disks[0] });
  const sataOnly: VmConfig = { ...cfg, controllers: [{ key: 15000, type: 'VirtualAHCIController', busNumber: 0 }], disks: [] };
  assert.deepEqual(placeDisks(sataOnly, [rpDisk(2000), rpDisk(2001)]).get('2001'), { controllerKey: 1000, unitNumber: 1 });
});

test('buildConfigSpec: the new VM has the original guest, CPUs, memory, firmware and hardware version, in its own folder', () => {
  const { spec, warnings } = buildConfigSpec({ name: 'sql01-restored', datastore: 'dr-ds1', cfg, disks: planned(cfg, [rpDisk(2000)]), networks });
  assert.deepEqual(warnings, []);
  assert.equal(spec.name, 'sql01-restored');
  assert.equal(spec.guestId, 'windows2019srv_64Guest');
  assert.equal(spec.numCPUs, 8);
  assert.equal(spec.numCoresPerSocket, 4);
  assert.equal(spec.memoryMB, 32768);
  assert.equal(spec.firmware, 'efi');
  assert.equal(spec.version, 'vmx-19');
  assert.deepEqual(spec.files, { vmPathName: '[dr-ds1] sql01-restored/sql01-restored.vmx' });
  // Optional settings the backup did not capture are left to vCenter's defaults.
  const bare: VmConfig = { version: 1, name: 'tiny', guestId: 'otherGuest64', numCPUs: 1, memoryMB: 512, controllers: [], disks: [], nics: [] };
  const b = buildConfigSpec({ name: 'tiny2', datastore: 'ds', cfg: bare, disks: [], networks }).spec;
  for (const k of ['firmware', 'version', 'numCoresPerSocket']) assert.ok(!(k in b), `${k} is not set`);
  assert.deepEqual(b.deviceChange, []);
});

test('buildConfigSpec: every captured controller is re-created (type, bus, sharing) and disks hang on their controller', () => {
  const disks = planned(cfg, [rpDisk(2000, 60 * GiB), rpDisk(2001, 200 * GiB), rpDisk(16000, 10 * GiB)]);
  const devices = added(buildConfigSpec({ name: 'sql01-restored', datastore: 'dr-ds1', cfg, disks, networks }).spec);
  const ctrls = devices.filter(isController);
  assert.deepEqual(ctrls.map((c) => [c._type, c.busNumber, c.sharedBus]), [
    ['ParaVirtualSCSIController', 0, 'noSharing'],
    ['VirtualLsiLogicSASController', 1, 'physicalSharing'],
    ['VirtualAHCIController', 0, undefined],
  ]);
  const keys = devices.map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length, 'device keys are unique');
  assert.ok(keys.every((k) => k < 0), 'new devices have temporary (negative) keys');

  const vdisks = devices.filter((d) => d._type === 'VirtualDisk');
  assert.equal(vdisks.length, 3);
  const ctrlOf = (d: VirtualDevice) => ctrls.find((c) => c.key === d.controllerKey)?._type;
  assert.deepEqual(vdisks.map((d) => [ctrlOf(d), d.unitNumber]), [['ParaVirtualSCSIController', 0], ['VirtualLsiLogicSASController', 3], ['VirtualAHCIController', 0]]);
  assert.deepEqual(vdisks.map((d) => [d.capacityInBytes, d.capacityInKB]), [[60 * GiB, 60 * GiB / 1024], [200 * GiB, 200 * GiB / 1024], [10 * GiB, 10 * GiB / 1024]]);
  assert.deepEqual(vdisks.map((d) => d.backing), [
    { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: '[dr-ds1] sql01-restored/sql01-restored.vmdk', diskMode: 'persistent', thinProvisioned: true },
    { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: '[dr-ds1] sql01-restored/sql01-restored_1.vmdk', diskMode: 'independent_persistent', thinProvisioned: false },
    { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: '[dr-ds1] sql01-restored/sql01-restored_2.vmdk', diskMode: 'persistent', thinProvisioned: true },
  ]);
  // The uploaded files are attached: asking vCenter to create (or replace) them would wipe the restored data.
  const spec = buildConfigSpec({ name: 'sql01-restored', datastore: 'dr-ds1', cfg, disks, networks }).spec;
  assert.ok(spec.deviceChange!.every((c) => c.fileOperation === undefined), 'no fileOperation');
});

test('buildConfigSpec: IDE disks use the default IDE controllers; disks on a controller not captured share one new PVSCSI', () => {
  const base = planned(cfg, [rpDisk(2000)])[0]!;
  const disks: PlannedDisk[] = [
    { ...base, key: '3000', controllerKey: 200, unitNumber: 0, descriptorPath: '[ds] v/v_ide.vmdk' },
    { ...base, key: '3001', controllerKey: 1003, unitNumber: 0, descriptorPath: '[ds] v/v_a.vmdk' },
    { ...base, key: '3002', controllerKey: 1004, unitNumber: 1, descriptorPath: '[ds] v/v_b.vmdk' },
  ];
  const devices = added(buildConfigSpec({ name: 'v', datastore: 'ds', cfg, disks, networks }).spec);
  const ctrls = devices.filter(isController);
  assert.equal(ctrls.length, cfg.controllers.length + 1, 'one extra controller, not one per disk');
  const extra = ctrls.at(-1)!;
  assert.equal(extra._type, 'ParaVirtualSCSIController');
  assert.equal(extra.sharedBus, 'noSharing');
  const vdisks = devices.filter((d) => d._type === 'VirtualDisk');
  assert.deepEqual(vdisks.map((d) => d.controllerKey), [200, extra.key, extra.key]);
  assert.deepEqual(vdisks.map((d) => d.unitNumber), [0, 0, 1]);
});

test('buildConfigSpec: NICs are re-created on the same networks with new MACs and their connect-at-power-on setting', () => {
  const { spec, warnings } = buildConfigSpec({ name: 'v', datastore: 'ds', cfg, disks: [], networks });
  assert.deepEqual(warnings, []);
  const nics = added(spec).filter((d) => !isController(d));
  assert.deepEqual(nics.map((n) => n._type), ['VirtualVmxnet3', 'VirtualE1000e']);
  assert.deepEqual(nics.map((n) => n.backing), [
    { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'VM Network', network: { type: 'Network', value: 'network-11' } },
    { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'Backup Net', network: { type: 'Network', value: 'network-12' } },
  ]);
  for (const n of nics) {
    assert.equal(n.addressType, 'generated', 'a new MAC: the original VM may still be running');
    assert.equal(n.macAddress, undefined);
  }
  assert.deepEqual(nics.map((n) => n.connectable?.startConnected), [true, false]);
});

test('buildConfigSpec: a NIC whose network the host lacks goes on another network, disconnected; with no network at all it is left out', () => {
  const moved: VmConfig = { ...cfg, nics: [{ key: 4000, type: 'VirtualVmxnet3', network: 'Prod VLAN 12', connected: true }, { key: 4001, type: 'VirtualE1000', connected: true }] };
  const only = new Map<string, MoRef>([['DR Network', { type: 'Network', value: 'network-99' }]]);
  const r = buildConfigSpec({ name: 'v', datastore: 'ds', cfg: moved, disks: [], networks: only });
  const nics = added(r.spec).filter((d) => !isController(d));
  assert.equal(nics.length, 2);
  for (const n of nics) {
    assert.deepEqual(n.backing, { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: 'DR Network', network: { type: 'Network', value: 'network-99' } });
    assert.equal(n.connectable?.startConnected, false, 'not connected to a network it was not on');
  }
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /'Prod VLAN 12' does not exist on the host.*'DR Network', disconnected/);

  const none = buildConfigSpec({ name: 'v', datastore: 'ds', cfg: moved, disks: [], networks: new Map() });
  assert.deepEqual(added(none.spec).filter((d) => !isController(d)), []);
  assert.equal(none.warnings.length, 2);
  assert.match(none.warnings[0]!, /network adapter 4000 .*'Prod VLAN 12'.*left out: the host has no network/);
});
