// Text VMDK descriptors for the flat extents a restore uploads (monolithic flat, createType "vmfs"),
// written the way ESXi writes them.
import { randomBytes } from 'node:crypto';

export interface DescriptorOptions {
  capacityBytes: number;
  /** File name of the extent, relative to the descriptor ("web-flat.vmdk"). */
  extentFile: string;
  /** Controller type of the disk (vim25 name), for ddb.adapterType and the geometry. */
  controllerType?: string;
  /** "vmx-15" or "15". */
  hardwareVersion?: string;
  thin?: boolean;
}

export function adapterTypeOf(controllerType: string | undefined): string {
  const t = controllerType ?? '';
  if (/ParaVirtual/i.test(t)) return 'pvscsi';
  if (/BusLogic/i.test(t)) return 'buslogic';
  if (/LsiLogicSAS/i.test(t)) return 'lsilogic';
  if (/IDE|SATA|AHCI/i.test(t)) return 'ide';
  return 'lsilogic';
}

function hexPairs(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

export function vmdkDescriptor(o: DescriptorOptions): string {
  if (!Number.isSafeInteger(o.capacityBytes) || o.capacityBytes <= 0 || o.capacityBytes % 512) {
    throw new Error(`disk capacity ${o.capacityBytes} is not a positive multiple of 512 bytes`);
  }
  const sectors = o.capacityBytes / 512;
  const adapter = adapterTypeOf(o.controllerType);
  const heads = adapter === 'ide' ? 16 : 255;
  const cylinders = Math.min(Math.floor(sectors / (heads * 63)), adapter === 'ide' ? 16383 : 65535);
  const uuid = randomBytes(16);
  const hw = (o.hardwareVersion ?? '').replace(/^vmx-/, '') || '13';
  const lines = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${randomBytes(4).toString('hex')}`,
    'parentCID=ffffffff',
    'createType="vmfs"',
    '',
    '# Extent description',
    `RW ${sectors} VMFS "${o.extentFile}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    `ddb.adapterType = "${adapter}"`,
    `ddb.geometry.cylinders = "${cylinders}"`,
    `ddb.geometry.heads = "${heads}"`,
    'ddb.geometry.sectors = "63"',
    `ddb.longContentID = "${randomBytes(16).toString('hex')}"`,
    ...(o.thin ? ['ddb.thinProvisioned = "1"'] : []),
    `ddb.uuid = "${hexPairs(uuid.subarray(0, 8))}-${hexPairs(uuid.subarray(8))}"`,
    `ddb.virtualHWVersion = "${hw}"`,
    '',
  ];
  return lines.join('\n');
}

/** File names of the i-th disk of a VM, as vSphere names them: name.vmdk, name_1.vmdk, … */
export function diskFileNames(vmName: string, index: number): { descriptor: string; flat: string } {
  const base = index === 0 ? vmName : `${vmName}_${index}`;
  return { descriptor: `${base}.vmdk`, flat: `${base}-flat.vmdk` };
}
