// The replica VM: created on the first run at the DR host/datastore/folder with the source's
// configuration (CPU, memory, controllers, disks; NICs remapped by the network mapping, unmapped NICs
// disconnected), powered off and marked as a replica. Its disks are matched to the source's by order.
import { Conflict, InvalidRequest, NotFound } from '../common/errors.ts';
import type { VmConfig } from '../model/vm-config.ts';
import { formatDatastorePath, disksOf, type DiskInfo, type MoRef, type VirtualDevice, type VSphere } from '../vsphere/index.ts';
import { datastoreFileExists, deleteDatastoreFile, makeDirectory } from '../restore/datastore-files.ts';
import { hostNetworks, type Placement } from '../restore/placement.ts';
import { buildConfigSpec, placeDisks, vmPathName, type PlannedDisk } from '../restore/vm-spec.ts';
import { diskFileNames, vmdkDescriptor } from '../restore/vmdk.ts';
import { REPLICA_OF_FIELD, replicaAnnotation } from './marks.ts';

export interface NetworkMapping { source: string; target: string }

/** The source's configuration with its NICs moved to their DR networks; unmapped NICs stay disconnected. */
export function mapNetworks(cfg: VmConfig, map: NetworkMapping[]): { cfg: VmConfig; unmapped: string[] } {
  const to = new Map(map.map((m) => [m.source, m.target]));
  const unmapped: string[] = [];
  const nics = cfg.nics.map((n) => {
    const target = n.network !== undefined ? to.get(n.network) : undefined;
    if (target !== undefined) return { ...n, network: target };
    unmapped.push(`network adapter ${n.key} on '${n.network ?? '?'}'`);
    return { ...n, connected: false };
  });
  return { cfg: { ...cfg, nics }, unmapped };
}

/** Checks that every mapped DR network exists on the DR host. */
export async function checkMappedNetworks(vs: VSphere, host: MoRef, hostName: string, map: NetworkMapping[]): Promise<Map<string, MoRef>> {
  const nets = await hostNetworks(vs, host);
  const missing = [...new Set(map.map((m) => m.target))].filter((t) => !nets.has(t));
  if (missing.length) {
    throw new InvalidRequest(`Network${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} of the network mapping ${missing.length > 1 ? 'do' : 'does'} not exist on DR host '${hostName}': ` +
      `choose among ${[...nets.keys()].sort().map((n) => `'${n}'`).join(', ') || '(none)'}.`);
  }
  return nets;
}

export interface NewReplica { name: string; placement: Placement; folder: MoRef; cfg: VmConfig; sourceDisks: DiskInfo[]; sourceName: string; sourceUuid: string }

export interface ReplicaFiles { dir: string; disks: PlannedDisk[] }

/** The planned files of a new replica: one descriptor + flat extent per source disk, in the source's order. */
export function planReplicaFiles(r: Pick<NewReplica, 'name' | 'placement' | 'cfg' | 'sourceDisks'>): ReplicaFiles {
  const name = vmPathName(r.name);
  const ds = r.placement.datastore.name;
  const keyed = r.sourceDisks.map((d) => ({ key: String(d.key), capacity: d.capacityBytes }));
  const placed = placeDisks(r.cfg, keyed);
  const disks = r.sourceDisks.map((d, i) => {
    const p = placed.get(String(d.key))!;
    const files = diskFileNames(name, i);
    const ctrl = r.cfg.controllers.find((c) => c.key === p.controllerKey);
    if (d.capacityBytes <= 0 || d.capacityBytes % 1024) throw new InvalidRequest(`${d.label} has ${d.capacityBytes} bytes, not a whole number of KiB: it cannot be replicated as a vSphere disk.`);
    return {
      key: String(d.key), label: d.label, capacity: d.capacityBytes, thin: p.cfg?.thin ?? d.thin ?? true, diskMode: p.cfg?.diskMode ?? 'persistent',
      controllerKey: p.controllerKey, unitNumber: p.unitNumber, ...(ctrl ? { controllerType: ctrl.type } : {}),
      descriptorPath: formatDatastorePath({ datastore: ds, path: `${name}/${files.descriptor}` }),
      flatPath: formatDatastorePath({ datastore: ds, path: `${name}/${files.flat}` }),
    } satisfies PlannedDisk;
  });
  return { dir: formatDatastorePath({ datastore: ds, path: name }), disks };
}

/** Creates the replica's folder and disk descriptors (the flat extents are uploaded next). */
export async function prepareReplicaFiles(vs: VSphere, r: NewReplica, files: ReplicaFiles, signal?: AbortSignal): Promise<void> {
  if ((await vs.inventory.findVmsByName(r.name)).length) {
    throw new Conflict(`A VM named '${r.name}' already exists but is not marked as the replica of '${r.sourceName}': rename it, or choose another replica name suffix.`);
  }
  if (await datastoreFileExists(vs, `${files.dir}/`, r.placement.datacenter.path)) {
    throw new Conflict(`The folder ${files.dir} already exists on datastore '${r.placement.datastore.name}': remove it, or choose another replica name suffix.`);
  }
  await makeDirectory(vs, files.dir, r.placement.datacenter.ref);
  for (const d of files.disks) {
    const flatName = d.flatPath.slice(d.flatPath.lastIndexOf('/') + 1);
    const text = vmdkDescriptor({
      capacityBytes: d.capacity, extentFile: flatName, thin: d.thin,
      ...(d.controllerType ? { controllerType: d.controllerType } : {}), ...(r.cfg.hardwareVersion ? { hardwareVersion: r.cfg.hardwareVersion } : {}),
    });
    await vs.datastores.put(d.descriptorPath, Buffer.from(text, 'utf8'), { dcPath: r.placement.datacenter.path, ...(signal ? { signal } : {}) });
  }
}

/** Creates the replica VM around its uploaded disks, powered off, with its marks. */
export async function createReplicaVm(vs: VSphere, r: NewReplica, files: ReplicaFiles, networks: Map<string, MoRef>): Promise<{ ref: MoRef; warnings: string[] }> {
  const { spec, warnings } = buildConfigSpec({ name: r.name, datastore: r.placement.datastore.name, cfg: r.cfg, disks: files.disks, networks });
  spec.annotation = replicaAnnotation(r.sourceName, r.sourceUuid);
  const ref = await vs.vms.create({ folder: r.folder, pool: r.placement.pool, host: r.placement.host.ref, config: spec });
  await vs.customFields.setByName(ref, REPLICA_OF_FIELD, r.sourceUuid);
  return { ref, warnings };
}

/** Removes a replica the first run was making (VM and folder); never throws, returns what is left. */
export async function removeHalfMadeReplica(vs: VSphere, ref: MoRef | undefined, dir: string, placement: Placement): Promise<string[]> {
  const left: string[] = [];
  if (ref) {
    await vs.vms.destroy(ref).catch(async (e: Error) => {
      await vs.vms.unregister(ref).catch(() => left.push(`VM ${ref.value}: delete it from the vSphere Client (${e.message})`));
    });
  }
  try {
    if (await datastoreFileExists(vs, `${dir}/`, placement.datacenter.path)) await deleteDatastoreFile(vs, dir, placement.datacenter.ref);
  } catch (e) {
    left.push(`${dir}: delete it from the datastore browser (${(e as Error).message})`);
  }
  return left;
}

/** The replica's disks in device order (the order they were created in: the source's order). */
export async function replicaDisks(vs: VSphere, replica: MoRef): Promise<DiskInfo[]> {
  const { 'config.hardware.device': devices } = await vs.pc.retrieveOne<{ 'config.hardware.device'?: VirtualDevice[] }>(replica, ['config.hardware.device']);
  return disksOf(devices);
}

/** The VM folder a replica goes to: a folder id or name in the DR datacenter, else the datacenter's VM folder. */
export async function resolveFolder(vs: VSphere, placement: Placement, arg: string | undefined): Promise<MoRef> {
  if (!arg?.trim()) return placement.folder;
  const folders = await vs.pc.retrieveAllOfType<{ name?: string; childType?: string[] }>('Folder', ['name', 'childType'], { container: placement.datacenter.ref });
  const vmFolders = folders.filter((f) => f.props.childType?.includes('VirtualMachine'));
  const a = arg.trim();
  const f = vmFolders.find((x) => x.ref.value === a) ?? vmFolders.find((x) => x.props.name === a) ?? vmFolders.find((x) => x.props.name?.toLowerCase() === a.toLowerCase());
  if (!f) throw new NotFound('VM folder', arg, `folders of datacenter '${placement.datacenter.name}': ${vmFolders.map((x) => x.props.name).sort().join(', ') || '(none)'}.`);
  return f.ref;
}
