// What a restore needs to rebuild a VM, captured from the snapshot's configuration at backup time and
// stored with the restore point (RestorePoint.vmConfig).
import type { VSphere, MoRef, VirtualDevice } from '../../vsphere/index.ts';
import { disksOf } from '../../vsphere/index.ts';

import type { VmConfig, VmConfigController, VmConfigDisk, VmConfigNic } from '../../model/vm-config.ts';

export type { VmConfig, VmConfigController, VmConfigDisk, VmConfigNic };

const CONTROLLER_TYPES = /Controller$/;
const NIC_TYPES = /^Virtual(E1000e?|Vmxnet\d?|Pcnet32|Sriov\w*)$/;

interface ConfigProps {
  'config.hardware.device'?: VirtualDevice[];
  'config.hardware.numCPU'?: number;
  'config.hardware.numCoresPerSocket'?: number;
  'config.hardware.memoryMB'?: number;
  'config.guestId'?: string;
  'config.guestFullName'?: string;
  'config.firmware'?: string;
  'config.version'?: string;
  'config.files.vmPathName'?: string;
  name?: string;
}

/** Reads the configuration of a VM (or of one of its snapshots, whose config is frozen with it). */
export async function captureVmConfig(vs: VSphere, vm: MoRef, snapshot?: MoRef, host?: string): Promise<VmConfig> {
  const vmProps = await vs.pc.retrieveOne<ConfigProps>(vm, ['name', 'config.files.vmPathName', 'config.guestFullName']);
  const p = await vs.pc.retrieveOne<ConfigProps>(snapshot ?? vm, [
    'config.hardware.device', 'config.hardware.numCPU', 'config.hardware.numCoresPerSocket', 'config.hardware.memoryMB',
    'config.guestId', 'config.firmware', 'config.version',
  ]);
  const devices = p['config.hardware.device'] ?? [];
  const controllers: VmConfigController[] = devices
    .filter((d) => CONTROLLER_TYPES.test(d._type ?? '') && d.busNumber !== undefined && /Scsi|SAS|Paravirtual|BusLogic|LsiLogic|SATA|AHCI|NVME/i.test(d._type ?? ''))
    .map((d) => ({ key: d.key, type: d._type!, busNumber: Number(d.busNumber), ...(d.sharedBus ? { sharedBus: String(d.sharedBus) } : {}) }));
  const nics: VmConfigNic[] = devices.filter((d) => NIC_TYPES.test(d._type ?? '')).map((d) => ({
    key: d.key,
    type: d._type!,
    ...(d.backing?.deviceName ? { network: d.backing.deviceName } : {}),
    ...(typeof d.macAddress === 'string' ? { macAddress: d.macAddress } : {}),
    ...(typeof d.addressType === 'string' ? { addressType: d.addressType } : {}),
    ...(d.connectable ? { connected: d.connectable.startConnected } : {}),
  }));
  const disks: VmConfigDisk[] = disksOf(devices).map((d) => ({
    key: d.key, label: d.label, capacityBytes: d.capacityBytes, fileName: d.fileName,
    ...(d.controllerKey !== undefined ? { controllerKey: d.controllerKey } : {}),
    ...(d.unitNumber !== undefined ? { unitNumber: d.unitNumber } : {}),
    ...(d.thin !== undefined ? { thin: d.thin } : {}),
    ...(d.diskMode ? { diskMode: d.diskMode } : {}),
  }));
  return {
    version: 1,
    name: vmProps.name ?? vm.value,
    guestId: p['config.guestId'] ?? 'otherGuest64',
    ...(vmProps['config.guestFullName'] ? { guestFullName: vmProps['config.guestFullName'] } : {}),
    numCPUs: p['config.hardware.numCPU'] ?? 1,
    ...(p['config.hardware.numCoresPerSocket'] ? { numCoresPerSocket: p['config.hardware.numCoresPerSocket'] } : {}),
    memoryMB: p['config.hardware.memoryMB'] ?? 1024,
    ...(p['config.firmware'] ? { firmware: p['config.firmware'] } : {}),
    ...(p['config.version'] ? { hardwareVersion: p['config.version'] } : {}),
    ...(vmProps['config.files.vmPathName'] ? { vmPathName: vmProps['config.files.vmPathName'] } : {}),
    ...(host ? { host } : {}),
    controllers, disks, nics,
  };
}
