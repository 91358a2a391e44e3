// The VirtualMachineConfigSpec of a restored VM, from the VmConfig stored with the restore point:
// same guest, CPU, memory, firmware and hardware version; controllers re-created; disks attached to the
// uploaded files (no fileOperation: the files exist); NICs re-created with new MACs on the same network.
import type { VmConfig, VmConfigController, VmConfigDisk, VmConfigNic } from '../model/vm-config.ts';
import type { MoRef, VirtualDevice, VirtualDeviceConfigSpec, VirtualMachineConfigSpec } from '../vsphere/index.ts';
import { InvalidRequest } from '../common/errors.ts';
import { assertEntityName, InvalidEntityName } from '../model/names.ts';

/** One disk of the restore plan. */
export interface PlannedDisk {
  key: string;
  label: string;
  capacity: number;
  thin: boolean;
  diskMode: string;
  /** Controller of the original VM (key in VmConfig.controllers, or a default IDE controller 200/201). */
  controllerKey: number;
  unitNumber: number;
  controllerType?: string;
  /** "[ds] name/name.vmdk" and "[ds] name/name-flat.vmdk". */
  descriptorPath: string;
  flatPath: string;
}

const IDE_CONTROLLER_KEYS = new Set([200, 201]);
const SCSI = /Scsi|SAS|LsiLogic|BusLogic|ParaVirtual/i;

/** Assigns controller/unit to restore-point disks that VmConfig does not place (first SCSI controller, free units). */
export function placeDisks(cfg: VmConfig, disks: { key: string; capacity: number }[]): Map<string, { controllerKey: number; unitNumber: number; cfg?: VmConfigDisk }> {
  const out = new Map<string, { controllerKey: number; unitNumber: number; cfg?: VmConfigDisk }>();
  const used = new Set<string>();
  for (const d of disks) {
    const c = cfg.disks.find((x) => String(x.key) === d.key);
    if (c && c.controllerKey !== undefined && c.unitNumber !== undefined) {
      out.set(d.key, { controllerKey: c.controllerKey, unitNumber: c.unitNumber, cfg: c });
      used.add(`${c.controllerKey}:${c.unitNumber}`);
    }
  }
  const scsi = cfg.controllers.find((c) => SCSI.test(c.type));
  for (const d of disks) {
    if (out.has(d.key)) continue;
    const c = cfg.disks.find((x) => String(x.key) === d.key);
    const ctrl = scsi?.key ?? 1000;
    let unit = 0;
    while (used.has(`${ctrl}:${unit}`) || unit === 7) unit++;
    used.add(`${ctrl}:${unit}`);
    out.set(d.key, { controllerKey: ctrl, unitNumber: unit, ...(c ? { cfg: c } : {}) });
  }
  return out;
}

function controllerDevice(c: VmConfigController, key: number): VirtualDevice {
  const d: VirtualDevice = { _type: c.type, key, busNumber: c.busNumber };
  if (SCSI.test(c.type)) d.sharedBus = c.sharedBus ?? 'noSharing';
  return d;
}

/**
 * The name checked once more where it becomes datastore paths (`[ds] name/name.vmx`): the API
 * refuses such names already, this keeps any other caller from building a path out of the folder.
 */
export function vmPathName(name: string): string {
  try {
    return assertEntityName(name, 'VM name');
  } catch (e) {
    if (e instanceof InvalidEntityName) throw new InvalidRequest(e.message);
    throw e;
  }
}

export interface SpecInput {
  name: string;
  datastore: string;
  cfg: VmConfig;
  disks: PlannedDisk[];
  /** Networks on the target host by name. */
  networks: Map<string, MoRef>;
}

export interface BuiltSpec {
  spec: VirtualMachineConfigSpec;
  /** NICs whose network does not exist on the target host (re-created disconnected on another network, or left out). */
  warnings: string[];
}

export function buildConfigSpec(inp: SpecInput): BuiltSpec {
  const { cfg } = inp;
  const name = vmPathName(inp.name);
  const warnings: string[] = [];
  const changes: VirtualDeviceConfigSpec[] = [];
  const ctrlKey = new Map<number, number>();
  let next = -100;
  // Controllers the disks need (all captured ones: the guest may expect them even without disks).
  for (const c of cfg.controllers) {
    const key = next--;
    ctrlKey.set(c.key, key);
    changes.push({ operation: 'add', device: controllerDevice(c, key) });
  }
  let fallbackScsi: number | undefined;
  for (const d of inp.disks) {
    let ck = ctrlKey.get(d.controllerKey);
    if (ck === undefined && IDE_CONTROLLER_KEYS.has(d.controllerKey)) ck = d.controllerKey; // default IDE controllers exist in every VM
    if (ck === undefined) {
      if (fallbackScsi === undefined) {
        fallbackScsi = next--;
        changes.push({ operation: 'add', device: { _type: 'ParaVirtualSCSIController', key: fallbackScsi, busNumber: cfg.controllers.length, sharedBus: 'noSharing' } });
      }
      ck = fallbackScsi;
    }
    const disk: VirtualDevice = {
      _type: 'VirtualDisk', key: next--, controllerKey: ck, unitNumber: d.unitNumber,
      capacityInKB: Math.floor(d.capacity / 1024), capacityInBytes: d.capacity,
      backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: d.descriptorPath, diskMode: d.diskMode, thinProvisioned: d.thin },
    };
    changes.push({ operation: 'add', device: disk }); // no fileOperation: attach the uploaded files
  }
  for (const n of cfg.nics) {
    const at = nicNetwork(n, inp.networks);
    if (!at) {
      warnings.push(`network adapter ${n.key} (${n.type}) on '${n.network ?? '?'}' was left out: the host has no network`);
      continue;
    }
    const [netName, net] = at;
    const moved = netName !== n.network;
    if (moved) warnings.push(`network '${n.network ?? '?'}' does not exist on the host: network adapter ${n.key} was put on '${netName}', disconnected`);
    const connected = moved ? false : (n.connected ?? true);
    changes.push({
      operation: 'add',
      device: {
        _type: n.type, key: next--, addressType: 'generated',
        backing: { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: netName, network: net },
        connectable: { startConnected: connected, allowGuestControl: true, connected: false },
      },
    });
  }
  const spec: VirtualMachineConfigSpec = {
    name,
    ...(cfg.hardwareVersion ? { version: cfg.hardwareVersion } : {}),
    guestId: cfg.guestId,
    files: { vmPathName: `[${inp.datastore}] ${name}/${name}.vmx` },
    numCPUs: cfg.numCPUs,
    ...(cfg.numCoresPerSocket ? { numCoresPerSocket: cfg.numCoresPerSocket } : {}),
    memoryMB: cfg.memoryMB,
    deviceChange: changes,
    ...(cfg.firmware ? { firmware: cfg.firmware } : {}),
  };
  return { spec, warnings };
}

/**
 * The network (name, ref) a restored NIC lands on: its own network when the target host has it,
 * otherwise the host's first network (disconnected); undefined when the host has none.
 */
export function nicNetwork(nic: Pick<VmConfigNic, 'network'>, networks: Map<string, MoRef>): [string, MoRef] | undefined {
  const own = nic.network ? networks.get(nic.network) : undefined;
  if (own) return [nic.network!, own];
  return [...networks.entries()][0];
}
