// The replica VM: created on the first run at the DR host/datastore/folder with the source's
// configuration (CPU, memory, controllers, disks; NICs remapped by the network mapping, unmapped NICs
// disconnected), powered off and marked as a replica, in the job's resource pool (default the DR host's
// root pool). Its disks are matched to the source's by order.
import { Conflict, InvalidRequest, NotFound } from '../common/errors.ts';
import type { VmConfig } from '../model/vm-config.ts';
import { formatDatastorePath, disksOf, type DiskInfo, type MoRef, type VirtualDevice, type VSphere } from '../vsphere/index.ts';
import { datastoreFileExists, deleteDatastoreFile, makeDirectory } from '../restore/datastore-files.ts';
import { hostNetworks, resolvePlacement, type Placement } from '../restore/placement.ts';
import { buildConfigSpec, placeDisks, vmPathName, type PlannedDisk } from '../restore/vm-spec.ts';
import { diskFileNames, vmdkDescriptor } from '../restore/vmdk.ts';
import { REPLICA_OF_FIELD, replicaAnnotation } from './marks.ts';
import { editNics, readNics, type NicEdit } from './failover/vm-ops.ts';
import { count } from '../common/units.ts';

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

/** The DR host, datastore and resource pool of a replica, checked before anything is done to the source. */
export async function resolveReplicaPlacement(vs: VSphere, t: { host: string; datastore: string; pool?: string }): Promise<Placement> {
  const placement = await resolvePlacement(vs, t.host, t.datastore);
  return { ...placement, pool: await resolvePool(vs, placement, t.pool) };
}

/**
 * The resource pool a replica goes to: a pool id or name under the DR host's cluster (or standalone
 * host), else its root pool. A pool of another cluster is refused: vCenter places a VM only in a pool
 * of its host's own compute resource.
 */
export async function resolvePool(vs: VSphere, placement: Placement, arg: string | undefined): Promise<MoRef> {
  if (!arg?.trim()) return placement.pool;
  const a = arg.trim();
  const pools = await vs.pc.retrieveAllOfType<{ name?: string; owner?: MoRef }>('ResourcePool', ['name', 'owner'], { container: placement.datacenter.ref });
  const own = pools.filter((p) => p.props.owner?.value === placement.computeResource.value);
  const byName = (list: typeof pools) => list.find((x) => x.props.name === a) ?? list.find((x) => x.props.name?.toLowerCase() === a.toLowerCase());
  const found = pools.find((x) => x.ref.value === a) ?? byName(own) ?? byName(pools);
  const ownNames = own.map((p) => `'${p.props.name}'`).sort().join(', ') || '(none)';
  const crName = async (ref: MoRef) => (await vs.pc.retrieveOne<{ name?: string }>(ref, ['name']).catch(() => ({ name: undefined }))).name ?? ref.value;
  const mine = await crName(placement.computeResource);
  if (!found) throw new NotFound('Resource pool', arg, `resource pools of '${mine}' (the compute resource of DR host '${placement.host.name}'): ${ownNames}.`);
  if (found.props.owner?.value !== placement.computeResource.value) {
    const theirs = found.props.owner ? await crName(found.props.owner) : '?';
    throw new InvalidRequest(`Resource pool '${found.props.name ?? a}' belongs to '${theirs}', not to '${mine}' of DR host '${placement.host.name}': ` +
      `choose one of ${ownNames}, or a DR host of '${theirs}'.`);
  }
  return found.ref;
}

/**
 * Puts the replica's NICs on the networks the job's mapping gives now (a run after the seed applies the
 * current mapping; NICs of unmapped networks are set not to connect). NICs are matched to the source's
 * by order, as they were created. Returns what changed, for the run's message.
 */
export async function applyNetworkMap(vs: VSphere, replica: MoRef, mapped: VmConfig['nics']): Promise<{ changed: string[]; warning?: string }> {
  const nics = await readNics(vs, replica);
  if (nics.length !== mapped.length) {
    return { changed: [], warning: `The network mapping was not applied: the replica has ${count(nics.length, 'network adapter')}, the source ${mapped.length}. Edit the replica's adapters in the vSphere Client, or delete the replica to seed a new one.` };
  }
  const edits: NicEdit[] = [];
  const said: string[] = [];
  for (const [i, n] of nics.entries()) {
    const want = mapped[i];
    if (!want) continue;
    const now = n.backing?.deviceName;
    if (want.connected === false) {
      if (n.connectable?.startConnected || n.connectable?.connected) { edits.push({ key: n.key, connected: false, startConnected: false }); said.push(`network adapter ${n.key} disconnected (not mapped)`); }
    } else if (want.network && (want.network !== now || !n.connectable?.startConnected)) {
      edits.push({ key: n.key, network: want.network, startConnected: true });
      said.push(`network adapter ${n.key} → '${want.network}'`);
    }
  }
  await editNics(vs, replica, edits);
  return { changed: said };
}
