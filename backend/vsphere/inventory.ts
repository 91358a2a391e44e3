// Inventory reads: every VM with what the backup engine needs (one container view + paged
// RetrievePropertiesEx), plus hosts, datastores, clusters and datacenters.
import { ManagedObjectNotFoundError } from './faults.ts';
import { ApiWrapper, type ObjectProps, type RetrieveOptions } from './property-collector.ts';
import type {
  MoRef, VirtualDevice, VirtualDeviceBackingInfo, VirtualDisk, VirtualMachineSnapshotInfo, VirtualMachineSnapshotTree,
} from './types.ts';

export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';

export type DiskInfo = {
  key: number;
  label: string;
  capacityBytes: number;
  /** "[datastore] folder/vm.vmdk" — the current (leaf) backing file. */
  fileName: string;
  datastore?: MoRef;
  /** CBT change id of this backing (the one to store after a backup, read from the snapshot's config). */
  changeId?: string;
  diskMode?: string;
  thin?: boolean;
  /** vim25 backing type, e.g. VirtualDiskFlatVer2BackingInfo, VirtualDiskRawDiskMappingVer1BackingInfo. */
  backingType: string;
  controllerKey?: number;
  unitNumber?: number;
  uuid?: string;
  /** Backing file chain from the leaf's parent down to the base disk. */
  parents: string[];
};

export type SnapshotNode = {
  ref: MoRef;
  name: string;
  description: string;
  id?: number;
  createTime: Date;
  state: string;
  quiesced: boolean;
  backupManifest?: string;
  children: SnapshotNode[];
};

export type VmInfo = {
  ref: MoRef;
  name: string;
  instanceUuid?: string;
  biosUuid?: string;
  powerState: PowerState;
  guestId?: string;
  guestFullName?: string;
  toolsRunningStatus?: string;
  toolsVersionStatus?: string;
  hardwareVersion?: string;
  template: boolean;
  vmPathName?: string;
  host?: MoRef;
  datastores: MoRef[];
  cbtEnabled: boolean;
  consolidationNeeded: boolean;
  disks: DiskInfo[];
  snapshots: SnapshotNode[];
  currentSnapshot?: MoRef;
};

export type HostInfo = { ref: MoRef; name: string; connectionState?: string; powerState?: string; inMaintenanceMode?: boolean; parent?: MoRef; datastores: MoRef[]; product?: string };
export type DatastoreInfo = { ref: MoRef; name: string; capacity: number; freeSpace: number; url?: string; type?: string; accessible: boolean; hosts: MoRef[] };
export type ClusterInfo = { ref: MoRef; name: string; hosts: MoRef[]; datastores: MoRef[] };
export type DatacenterInfo = { ref: MoRef; name: string; /** Inventory path from the root folder ("DC0" or "Folder/DC0"): the dcPath of datastore URLs. */ path: string; datastores: MoRef[]; vmFolder?: MoRef; hostFolder?: MoRef };

/** The VM properties the inventory reads (also used by the govmomi comparison bench). */
export const VM_PROPERTIES = [
  'name', 'config.instanceUuid', 'config.uuid', 'config.guestId', 'config.guestFullName', 'config.version',
  'config.template', 'config.changeTrackingEnabled', 'config.hardware.device', 'summary.config.vmPathName',
  'runtime.powerState', 'runtime.host', 'runtime.consolidationNeeded', 'guest.toolsRunningStatus',
  'guest.toolsVersionStatus2', 'datastore', 'snapshot',
];

type VmProps = {
  name: string; 'config.instanceUuid'?: string; 'config.uuid'?: string; 'config.guestId'?: string; 'config.guestFullName'?: string;
  'config.version'?: string; 'config.template'?: boolean; 'config.changeTrackingEnabled'?: boolean;
  'config.hardware.device'?: VirtualDevice[]; 'summary.config.vmPathName'?: string; 'runtime.powerState': PowerState;
  'runtime.host'?: MoRef; 'runtime.consolidationNeeded'?: boolean; 'guest.toolsRunningStatus'?: string;
  'guest.toolsVersionStatus2'?: string; datastore?: MoRef[]; snapshot?: VirtualMachineSnapshotInfo;
};

export function isDisk(d: VirtualDevice): d is VirtualDisk {
  return d._type === 'VirtualDisk' || (d as VirtualDisk).capacityInKB !== undefined && !!d.backing?.fileName && d._type === undefined;
}

/** Disks of a device list (config.hardware.device of a VM or of a snapshot's config). */
export function disksOf(devices: VirtualDevice[] | undefined): DiskInfo[] {
  return (devices ?? []).filter(isDisk).map((d) => {
    const b = (d.backing ?? {}) as VirtualDeviceBackingInfo;
    const parents: string[] = [];
    for (let p = b.parent; p; p = p.parent) if (p.fileName) parents.push(p.fileName);
    const info: DiskInfo = {
      key: d.key,
      label: d.deviceInfo?.label ?? `disk-${d.key}`,
      capacityBytes: d.capacityInBytes || d.capacityInKB * 1024,
      fileName: b.fileName ?? '',
      backingType: b._type ?? 'VirtualDeviceBackingInfo',
      parents,
    };
    if (b.datastore) info.datastore = b.datastore;
    if (b.changeId) info.changeId = b.changeId;
    if (b.diskMode) info.diskMode = b.diskMode;
    if (b.thinProvisioned !== undefined) info.thin = b.thinProvisioned;
    if (d.controllerKey !== undefined) info.controllerKey = d.controllerKey;
    if (d.unitNumber !== undefined) info.unitNumber = d.unitNumber;
    if (b.uuid) info.uuid = b.uuid;
    return info;
  });
}

export function snapshotTree(list: VirtualMachineSnapshotTree[] | undefined): SnapshotNode[] {
  return (list ?? []).map((t) => {
    const n: SnapshotNode = {
      ref: t.snapshot, name: t.name, description: t.description ?? '', createTime: t.createTime, state: t.state,
      quiesced: !!t.quiesced, children: snapshotTree(t.childSnapshotList),
    };
    if (t.id !== undefined) n.id = t.id;
    if (t.backupManifest) n.backupManifest = t.backupManifest;
    return n;
  });
}

/** Depth-first list of a snapshot tree. */
export function flattenSnapshots(nodes: SnapshotNode[]): SnapshotNode[] {
  return nodes.flatMap((n) => [n, ...flattenSnapshots(n.children)]);
}

function toVmInfo(o: ObjectProps<VmProps>): VmInfo {
  const p = o.props;
  const vm: VmInfo = {
    ref: o.ref,
    name: p.name,
    powerState: p['runtime.powerState'],
    template: !!p['config.template'],
    datastores: p.datastore ?? [],
    cbtEnabled: !!p['config.changeTrackingEnabled'],
    consolidationNeeded: !!p['runtime.consolidationNeeded'],
    disks: disksOf(p['config.hardware.device']),
    snapshots: snapshotTree(p.snapshot?.rootSnapshotList),
  };
  const opt: [keyof VmInfo, unknown][] = [
    ['instanceUuid', p['config.instanceUuid']], ['biosUuid', p['config.uuid']], ['guestId', p['config.guestId']],
    ['guestFullName', p['config.guestFullName']], ['toolsRunningStatus', p['guest.toolsRunningStatus']],
    ['toolsVersionStatus', p['guest.toolsVersionStatus2']], ['hardwareVersion', p['config.version']],
    ['vmPathName', p['summary.config.vmPathName']], ['host', p['runtime.host']], ['currentSnapshot', p.snapshot?.currentSnapshot],
  ];
  for (const [k, v] of opt) if (v !== undefined && v !== null) (vm as Record<string, unknown>)[k] = v;
  return vm;
}

export class Inventory extends ApiWrapper {
  /** Every VM (templates included) under the root folder, or under `container`. */
  async vms(opts: RetrieveOptions & { container?: MoRef } = {}): Promise<VmInfo[]> {
    const res = await this.pc.retrieveAllOfType<VmProps>('VirtualMachine', VM_PROPERTIES, opts);
    return res.filter((o) => o.props.name !== undefined).map(toVmInfo);
  }

  /** One VM by reference; ManagedObjectNotFound if it does not exist (any more). */
  async vm(ref: MoRef): Promise<VmInfo> {
    const [o] = await this.pc.retrieve<VmProps>([ref], VM_PROPERTIES);
    if (!o || o.props.name === undefined) {
      const err = o?.missing && Object.values(o.missing)[0];
      throw err ?? new ManagedObjectNotFoundError('', { obj: ref });
    }
    return toVmInfo(o);
  }

  async hosts(): Promise<HostInfo[]> {
    type P = { name: string; 'runtime.connectionState'?: string; 'runtime.powerState'?: string; 'runtime.inMaintenanceMode'?: boolean; parent?: MoRef; datastore?: MoRef[]; 'summary.config.product.fullName'?: string };
    const res = await this.pc.retrieveAllOfType<P>('HostSystem',
      ['name', 'runtime.connectionState', 'runtime.powerState', 'runtime.inMaintenanceMode', 'parent', 'datastore', 'summary.config.product.fullName']);
    return res.map(({ ref, props: p }) => {
      const h: HostInfo = { ref, name: p.name, datastores: p.datastore ?? [] };
      if (p['runtime.connectionState']) h.connectionState = p['runtime.connectionState'];
      if (p['runtime.powerState']) h.powerState = p['runtime.powerState'];
      if (p['runtime.inMaintenanceMode'] !== undefined) h.inMaintenanceMode = p['runtime.inMaintenanceMode'];
      if (p.parent) h.parent = p.parent;
      if (p['summary.config.product.fullName']) h.product = p['summary.config.product.fullName'];
      return h;
    });
  }

  async datastores(): Promise<DatastoreInfo[]> {
    type P = { 'summary.name': string; 'summary.capacity': number; 'summary.freeSpace': number; 'summary.url'?: string; 'summary.type'?: string; 'summary.accessible'?: boolean; host?: { key: MoRef }[] };
    const res = await this.pc.retrieveAllOfType<P>('Datastore',
      ['summary.name', 'summary.capacity', 'summary.freeSpace', 'summary.url', 'summary.type', 'summary.accessible', 'host']);
    return res.map(({ ref, props: p }) => {
      const d: DatastoreInfo = {
        ref, name: p['summary.name'], capacity: Number(p['summary.capacity'] ?? 0), freeSpace: Number(p['summary.freeSpace'] ?? 0),
        accessible: p['summary.accessible'] !== false, hosts: (p.host ?? []).map((m) => m.key),
      };
      if (p['summary.url']) d.url = p['summary.url'];
      if (p['summary.type']) d.type = p['summary.type'];
      return d;
    });
  }

  async clusters(): Promise<ClusterInfo[]> {
    const res = await this.pc.retrieveAllOfType<{ name: string; host?: MoRef[]; datastore?: MoRef[] }>('ClusterComputeResource', ['name', 'host', 'datastore']);
    return res.map(({ ref, props: p }) => ({ ref, name: p.name, hosts: p.host ?? [], datastores: p.datastore ?? [] }));
  }

  async datacenters(): Promise<DatacenterInfo[]> {
    const dcs = await this.pc.retrieveAllOfType<{ name: string; parent?: MoRef; datastore?: MoRef[]; vmFolder?: MoRef; hostFolder?: MoRef }>(
      'Datacenter', ['name', 'parent', 'datastore', 'vmFolder', 'hostFolder']);
    const folders = await this.pc.retrieveAllOfType<{ name: string; parent?: MoRef }>('Folder', ['name', 'parent']);
    const byId = new Map(folders.map((f) => [f.ref.value, f.props]));
    const root = this.client.serviceContent.rootFolder.value;
    return dcs.map(({ ref, props: p }) => {
      const parts = [p.name];
      for (let f = p.parent; f && f.value !== root; f = byId.get(f.value)?.parent) {
        const fp = byId.get(f.value);
        if (!fp) break;
        parts.unshift(fp.name);
      }
      const dc: DatacenterInfo = { ref, name: p.name, path: parts.join('/'), datastores: p.datastore ?? [] };
      if (p.vmFolder) dc.vmFolder = p.vmFolder;
      if (p.hostFolder) dc.hostFolder = p.hostFolder;
      return dc;
    });
  }

  /** Finds VMs by name (exact); there may be several. */
  async findVmsByName(name: string): Promise<MoRef[]> {
    const res = await this.pc.retrieveAllOfType<{ name: string }>('VirtualMachine', ['name']);
    return res.filter((o) => o.props.name === name).map((o) => o.ref);
  }

  /** SearchIndex.FindByUuid (instance UUID by default, BIOS UUID with instanceUuid=false). */
  async findVmByUuid(uuid: string, instanceUuid = true): Promise<MoRef | undefined> {
    const si = this.client.serviceContent.searchIndex;
    if (!si) throw new Error('no SearchIndex');
    return (await this.client.call<MoRef | undefined>('FindByUuid', { _this: si, uuid, vmSearch: true, instanceUuid })) ?? undefined;
  }
}
