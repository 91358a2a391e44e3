// Where a restored VM goes: host, datastore, resource pool, VM folder and datacenter, resolved from
// names or managed object ids, with the checks a user gets a clear answer from.
import { InvalidRequest, NotFound } from '../common/errors.ts';
import type { DatacenterInfo, DatastoreInfo, HostInfo, MoRef, VSphere } from '../vsphere/index.ts';

export interface Placement {
  host: HostInfo;
  datastore: DatastoreInfo;
  datacenter: DatacenterInfo;
  /** The host's compute resource (cluster or standalone host) and its root resource pool. */
  computeResource: MoRef;
  pool: MoRef;
  /** The datacenter's VM folder. */
  folder: MoRef;
}

function pick<T extends { ref: MoRef; name: string }>(items: T[], arg: string): T | undefined {
  return items.find((i) => i.ref.value === arg) ?? items.find((i) => i.name === arg)
    ?? items.find((i) => i.name.toLowerCase() === arg.toLowerCase());
}

const list = (names: string[]): string => names.length ? names.sort().join(', ') : '(none)';

/** The datacenter an inventory object is in (walks the parent chain). */
export async function datacenterOf(vs: VSphere, ref: MoRef): Promise<DatacenterInfo> {
  let cur: MoRef | undefined = ref;
  for (let depth = 0; cur && cur.type !== 'Datacenter' && depth < 32; depth++) {
    cur = (await vs.pc.retrieveOne<{ parent?: MoRef }>(cur, ['parent'])).parent;
  }
  const dcs = await vs.inventory.datacenters();
  const dc = cur && dcs.find((d) => d.ref.value === cur.value);
  if (!dc) throw new Error(`cannot find the datacenter of ${ref.type} ${ref.value}; refresh the inventory and retry`);
  return dc;
}

/** Resolves and checks host + datastore for a new VM. */
export async function resolvePlacement(vs: VSphere, hostArg: string, datastoreArg: string): Promise<Placement> {
  if (!hostArg?.trim()) throw new InvalidRequest('target.host is required: give the name or id of the ESXi host to restore to.');
  if (!datastoreArg?.trim()) throw new InvalidRequest('target.datastore is required: give the name or id of the datastore to restore to.');
  const [hosts, datastores] = await Promise.all([vs.inventory.hosts(), vs.inventory.datastores()]);
  const host = pick(hosts, hostArg.trim());
  if (!host) throw new NotFound('Host', hostArg, `choose one of: ${list(hosts.map((h) => h.name))}.`);
  const mounted = datastores.filter((d) =>
    host.datastores.some((r) => r.value === d.ref.value) || d.hosts.some((r) => r.value === host.ref.value));
  const datastore = pick(datastores, datastoreArg.trim());
  if (!datastore) {
    throw new NotFound('Datastore', datastoreArg, `datastores mounted on ${host.name}: ${list(mounted.map((d) => d.name))}.`);
  }
  if (!mounted.some((d) => d.ref.value === datastore.ref.value)) {
    throw new InvalidRequest(`Datastore '${datastore.name}' is not mounted on host '${host.name}': choose one of ${list(mounted.map((d) => d.name))}, or another host.`);
  }
  if (!datastore.accessible) throw new InvalidRequest(`Datastore '${datastore.name}' is not accessible: fix the storage or choose another datastore.`);
  if (host.connectionState && host.connectionState !== 'connected') {
    throw new InvalidRequest(`Host '${host.name}' is ${host.connectionState}: reconnect it or choose another host.`);
  }
  if (host.inMaintenanceMode) throw new InvalidRequest(`Host '${host.name}' is in maintenance mode: exit maintenance mode or choose another host.`);
  if (!host.parent) throw new Error(`host ${host.name} has no compute resource; refresh the inventory and retry`);
  const { resourcePool } = await vs.pc.retrieveOne<{ resourcePool?: MoRef }>(host.parent, ['resourcePool']);
  if (!resourcePool) throw new Error(`the compute resource of host ${host.name} has no resource pool`);
  const datacenter = await datacenterOf(vs, host.ref);
  if (!datacenter.vmFolder) throw new Error(`datacenter ${datacenter.name} has no VM folder`);
  return { host, datastore, datacenter, computeResource: host.parent, pool: resourcePool, folder: datacenter.vmFolder };
}

/** Networks visible from a host, by name. */
export async function hostNetworks(vs: VSphere, host: MoRef): Promise<Map<string, MoRef>> {
  const { network } = await vs.pc.retrieveOne<{ network?: MoRef[] }>(host, ['network']);
  const refs = network ?? [];
  const out = new Map<string, MoRef>();
  if (!refs.length) return out;
  const props = await vs.pc.retrieve<{ name?: string }>(refs, ['name']);
  for (const p of props) if (p.props.name) out.set(p.props.name, p.ref);
  return out;
}
