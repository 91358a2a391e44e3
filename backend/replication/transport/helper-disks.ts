// Hot-add at the vSphere level: attaching replica disks to the transporter's helper VM with
// ReconfigVM (an existing disk file, no fileOperation), finding them again, and detaching them
// (remove without fileOperation: the files stay). The transporter uses it for its work and at its
// start (leftovers of a killed predecessor); the service uses it to free the helper after a run
// whose transporter died.
import type { MoRef, VirtualDevice, VSphere } from '../../vsphere/index.ts';
import { findReplicas } from '../marks.ts';

const SCSI = /SCSIController$|^VirtualLsiLogic|^ParaVirtualSCSI/;

export interface AttachedDisk {
  /** The helper's device key of the attached disk. */
  key: number;
  controllerKey: number;
  unitNumber: number;
  /** The file the helper's backing names: the top of the replica disk's chain. */
  fileName: string;
  capacity: number;
  uuid?: string;
}

async function devices(vs: VSphere, vm: MoRef): Promise<VirtualDevice[]> {
  const p = await vs.pc.retrieveOne<{ 'config.hardware.device'?: VirtualDevice[] }>(vm, ['config.hardware.device']);
  return p['config.hardware.device'] ?? [];
}

const isDisk = (d: VirtualDevice) => d._type === 'VirtualDisk';
const fileOf = (d: VirtualDevice) => ((d.backing ?? {}) as { fileName?: string }).fileName ?? '';
/** "[ds] folder/x.vmdk" → "[ds] folder/" */
export const folderOf = (file: string) => file.slice(0, file.lastIndexOf('/') + 1);

/**
 * Attaches disks (by any file name of their chain) to the helper's first SCSI controller, in free
 * units; returns the helper's new devices in the order of `files`.
 */
export async function attachDisks(vs: VSphere, helper: MoRef, files: { fileName: string; capacity: number }[]): Promise<AttachedDisk[]> {
  const before = await devices(vs, helper);
  const ctrl = before.find((d) => SCSI.test(d._type ?? ''));
  if (!ctrl) throw new Error(`The transporter's VM ${helper.value} has no SCSI controller: add a paravirtual SCSI controller to it, then pair again.`);
  const used = new Set(before.filter((d) => d.controllerKey === ctrl.key && d.unitNumber !== undefined).map((d) => d.unitNumber!));
  used.add(7);
  const units: number[] = [];
  for (let u = 0; u < 16 && units.length < files.length; u++) if (!used.has(u)) units.push(u);
  if (units.length < files.length) throw new Error(`The transporter's VM ${helper.value} has ${units.length} free SCSI units for ${files.length} disks: detach disks from it.`);
  await vs.vms.reconfigure(helper, {
    deviceChange: files.map((f, i) => ({
      operation: 'add',
      device: {
        _type: 'VirtualDisk', key: -100 - i, controllerKey: ctrl.key, unitNumber: units[i]!, capacityInKB: Math.floor(f.capacity / 1024), capacityInBytes: f.capacity,
        backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: f.fileName, diskMode: 'persistent' },
      },
    })),
  } as never);
  const after = await devices(vs, helper);
  return units.map((u, i) => {
    const d = after.find((x) => isDisk(x) && x.controllerKey === ctrl.key && x.unitNumber === u);
    if (!d) throw new Error(`The disk ${files[i]!.fileName} is not on unit ${u} of the transporter's VM after attaching it.`);
    const b = (d.backing ?? {}) as { uuid?: string };
    return { key: d.key, controllerKey: ctrl.key, unitNumber: u, fileName: fileOf(d), capacity: files[i]!.capacity, ...(b.uuid ? { uuid: b.uuid } : {}) };
  });
}

/** Detaches these devices (files kept). Devices already gone are skipped. */
export async function detachDisks(vs: VSphere, helper: MoRef, keys: number[]): Promise<number> {
  const list = (await devices(vs, helper)).filter((d) => isDisk(d) && keys.includes(d.key));
  if (!list.length) return 0;
  await vs.vms.reconfigure(helper, { deviceChange: list.map((device) => ({ operation: 'remove', device })) } as never);
  return list.length;
}

/** The helper's disks whose files are in one of these datastore folders ("[ds] dir/"). */
export async function disksInFolders(vs: VSphere, helper: MoRef, folders: string[]): Promise<{ key: number; fileName: string }[]> {
  return (await devices(vs, helper)).filter((d) => isDisk(d) && folders.includes(folderOf(fileOf(d)))).map((d) => ({ key: d.key, fileName: fileOf(d) }));
}

/**
 * Detaches from the helper every disk whose file is in one of this VM's folders (its own folder and
 * its disks' folders): what a run writing that VM's disks (a replica, or an original VM during a
 * failback) left attached when its transporter died. Returns the files detached.
 */
export async function detachVmLeftovers(vs: VSphere, helper: MoRef, vm: MoRef): Promise<string[]> {
  const p = await vs.pc.retrieveOne<{ 'config.files.vmPathName'?: string; 'config.hardware.device'?: VirtualDevice[] }>(vm, ['config.files.vmPathName', 'config.hardware.device']);
  const folders = new Set<string>();
  if (p['config.files.vmPathName']) folders.add(folderOf(p['config.files.vmPathName']));
  for (const d of p['config.hardware.device'] ?? []) if (isDisk(d) && fileOf(d)) folders.add(folderOf(fileOf(d)));
  const left = await disksInFolders(vs, helper, [...folders]);
  if (left.length) await detachDisks(vs, helper, left.map((d) => d.key));
  return left.map((d) => d.fileName);
}

/** Detaches every disk of a Stillpoint replica from the helper (what a killed run or transporter left). */
export async function detachReplicaLeftovers(vs: VSphere, helper: MoRef, only?: MoRef): Promise<string[]> {
  const replicas = (await findReplicas(vs)).filter((r) => !only || r.ref.value === only.value);
  const folders: string[] = [];
  for (const r of replicas) {
    const p = await vs.pc.retrieveOne<{ 'config.files.vmPathName'?: string }>(r.ref, ['config.files.vmPathName']).catch(() => ({} as { 'config.files.vmPathName'?: string }));
    const path = p['config.files.vmPathName'];
    if (path) folders.push(folderOf(path));
  }
  const left = await disksInFolders(vs, helper, folders);
  if (left.length) await detachDisks(vs, helper, left.map((d) => d.key));
  return left.map((d) => d.fileName);
}
