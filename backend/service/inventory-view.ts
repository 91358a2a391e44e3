// The inventory as the UI sees it: vCenter's VMs (read with the service account, cached briefly so a
// dashboard refresh does not re-read 2,000 VMs) joined with Stillpoint's protection state.
import { guestFamily } from '../model/guest.ts';
import type { DatastoreInfo, FolderInfo, HostInfo, RunStatus, VmDetail, VmSummary, Consistency } from '../api/contract.ts';
import type { InventoryApi } from '../api/routes/vms.ts';
import type { VSphere, VmInfo } from '../vsphere/index.ts';
import type { SnapshotNode } from '../vsphere/index.ts';
import { inventoryEpoch } from './user-session.ts';
import type { SnapshotInfo } from '../api/contract.ts';

export interface ProtectionState {
  /** VM ids in at least one enabled job (folder members included), with that job's next run. */
  protectedVms(): Promise<Map<string, { nextRun?: string }>>;
  lastBackup(vmId: string): { at: string; status: RunStatus; consistency?: Consistency; restorePointId?: string } | undefined;
}

const TTL_MS = 5_000;

export class InventoryView implements InventoryApi {
  readonly #vs: () => Promise<VSphere>;
  readonly #protection: ProtectionState;
  #cache: { at: number; vms: Promise<VmInfo[]>; hostNames: Promise<Map<string, string>>; dsNames: Promise<Map<string, string>> } | undefined;

  constructor(vs: () => Promise<VSphere>, protection: ProtectionState) {
    this.#vs = vs;
    this.#protection = protection;
  }

  invalidate(): void {
    this.#cache = undefined;
    inventoryEpoch.value++;
  }

  #load() {
    if (!this.#cache || Date.now() - this.#cache.at > TTL_MS) {
      const vs = this.#vs();
      const c = {
        at: Date.now(),
        vms: vs.then((v) => v.inventory.vms()),
        hostNames: vs.then((v) => v.inventory.hosts()).then((hs) => new Map(hs.map((h) => [h.ref.value, h.name]))),
        dsNames: vs.then((v) => v.inventory.datastores()).then((ds) => new Map(ds.map((d) => [d.ref.value, d.name]))),
      };
      this.#cache = c;
      Promise.all([c.vms, c.hostNames, c.dsNames]).catch(() => { if (this.#cache === c) this.#cache = undefined; });
    }
    return this.#cache;
  }

  async vmInfos(): Promise<VmInfo[]> { return this.#load().vms; }

  async vms(): Promise<VmSummary[]> {
    const c = this.#load();
    const [vms, hosts, dss] = await Promise.all([c.vms, c.hostNames, c.dsNames]);
    const prot = await this.#protection.protectedVms();
    return vms.filter((v) => !v.template).map((v) => this.#summary(v, hosts, dss, prot));
  }

  async vm(id: string): Promise<VmDetail | undefined> {
    const c = this.#load();
    const [vms, hosts, dss] = await Promise.all([c.vms, c.hostNames, c.dsNames]);
    const v = vms.find((x) => x.ref.value === id);
    if (!v) return undefined;
    const vs = await this.#vs();
    const extra = await vs.pc.retrieveOne<{ 'config.hardware.numCPU'?: number; 'config.hardware.memoryMB'?: number }>(v.ref, ['config.hardware.numCPU', 'config.hardware.memoryMB']).catch(() => ({} as Record<string, number | undefined>));
    return {
      ...this.#summary(v, hosts, dss, await this.#protection.protectedVms()),
      instanceUuid: v.instanceUuid ?? '',
      cpu: extra['config.hardware.numCPU'] ?? 0,
      memoryMiB: extra['config.hardware.memoryMB'] ?? 0,
      disks: v.disks.map((d) => ({ key: d.key, label: d.label, capacityBytes: d.capacityBytes, file: d.fileName, ...(d.changeId ? { changeId: d.changeId } : {}), ...(d.thin !== undefined ? { thin: d.thin } : {}) })),
      snapshots: v.snapshots.map(snapshotDto),
      cbtEnabled: v.cbtEnabled,
      consolidationNeeded: v.consolidationNeeded,
    };
  }

  /** VM folders with their inventory paths ("Lab-DC/vm/Production"). */
  async folders(): Promise<FolderInfo[]> {
    const vs = await this.#vs();
    type F = { name?: string; parent?: { type: string; value: string }; childType?: string[] };
    const [folders, dcs] = await Promise.all([
      vs.pc.retrieveAllOfType<F>('Folder', ['name', 'parent', 'childType']),
      vs.pc.retrieveAllOfType<F>('Datacenter', ['name', 'parent']),
    ]);
    const byId = new Map([...folders, ...dcs].map((f) => [f.ref.value, f.props]));
    const path = (id: string): string => {
      const p = byId.get(id);
      if (!p) return '';
      const up = p.parent && byId.has(p.parent.value) && byId.get(p.parent.value)!.parent ? path(p.parent.value) : '';
      return up ? `${up}/${p.name}` : p.name ?? id;
    };
    return folders.filter((f) => f.props.childType?.includes('VirtualMachine')).map((f) => ({ id: f.ref.value, name: f.props.name ?? f.ref.value, path: path(f.ref.value) }))
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  /** VM ids inside the given folders (recursively), as vCenter sees them now. */
  async folderMembers(folderIds: string[]): Promise<string[]> {
    if (!folderIds.length) return [];
    const vs = await this.#vs();
    const ids = new Set<string>();
    for (const id of folderIds) {
      const list = await vs.pc.retrieveAllOfType<{ name?: string }>('VirtualMachine', ['name'], { container: { type: 'Folder', value: id } });
      for (const v of list) ids.add(v.ref.value);
    }
    return [...ids];
  }

  async hosts(): Promise<HostInfo[]> {
    const vs = await this.#vs();
    const [hosts, clusters, dss] = await Promise.all([vs.inventory.hosts(), vs.inventory.clusters(), this.#load().dsNames]);
    return hosts.map((h) => {
      const cluster = clusters.find((c) => c.hosts.some((r) => r.value === h.ref.value));
      return { id: h.ref.value, name: h.name, ...(cluster ? { cluster: cluster.name } : {}), datastores: h.datastores.map((d) => dss.get(d.value) ?? d.value) };
    });
  }

  async datastores(): Promise<DatastoreInfo[]> {
    const vs = await this.#vs();
    return (await vs.inventory.datastores()).map((d) => ({ id: d.ref.value, name: d.name, capacityBytes: d.capacity, freeBytes: d.freeSpace }));
  }

  #summary(v: VmInfo, hosts: Map<string, string>, dss: Map<string, string>, prot: Map<string, { nextRun?: string }>): VmSummary {
    const last = this.#protection.lastBackup(v.ref.value);
    const p = prot.get(v.ref.value);
    return {
      id: v.ref.value,
      name: v.name,
      powerState: v.powerState,
      guestOs: v.guestFullName ?? v.guestId ?? 'unknown',
      guestFamily: guestFamily(v.guestId),
      toolsRunning: v.toolsRunningStatus === 'guestToolsRunning',
      host: v.host ? hosts.get(v.host.value) ?? v.host.value : '',
      datastores: v.datastores.map((d) => dss.get(d.value) ?? d.value),
      protected: p !== undefined,
      ...(last ? { lastBackup: last } : {}),
      ...(p?.nextRun ? { nextRun: p.nextRun } : {}),
    };
  }
}


function snapshotDto(n: SnapshotNode): SnapshotInfo {
  return {
    id: n.ref.value, name: n.name, description: n.description, createdAt: new Date(n.createTime).toISOString(),
    quiesced: n.quiesced, children: n.children.map(snapshotDto),
  };
}

