// A VM's configuration as captured from the snapshot at backup time: what a restore or a replica
// needs to rebuild the VM (CPU, memory, controllers, disks, NICs).

export interface VmConfigDisk {
  key: number;
  label: string;
  capacityBytes: number;
  controllerKey?: number;
  unitNumber?: number;
  thin?: boolean;
  diskMode?: string;
  /** "[ds] vm/vm.vmdk" at backup time. */
  fileName: string;
}

export interface VmConfigController { key: number; type: string; busNumber: number; sharedBus?: string }
export interface VmConfigNic { key: number; type: string; network?: string; macAddress?: string; addressType?: string; connected?: boolean }

export interface VmConfig {
  version: 1;
  name: string;
  guestId: string;
  guestFullName?: string;
  numCPUs: number;
  numCoresPerSocket?: number;
  memoryMB: number;
  firmware?: string;
  hardwareVersion?: string;
  /** "[ds] vm/vm.vmx" */
  vmPathName?: string;
  host?: string;
  controllers: VmConfigController[];
  disks: VmConfigDisk[];
  nics: VmConfigNic[];
}
