// The inventory as the UI sees it: every site's VMs (read with the service account, cached briefly so a
// dashboard refresh does not re-read 2,000 VMs) joined with Stillpoint's protection state. Ids are
// site-qualified (model/site.ts): the primary's stay bare morefs, the others' are "<site>:<moref>".
import { guestFamily } from '../model/guest.ts';
import type { DatastoreInfo, FolderInfo, HostInfo, RunStatus, VmDetail, VmSummary, Consistency } from '../api/contract.ts';
import type { InventoryApi } from '../api/routes/vms.ts';
import type { VSphere, VmInfo } from '../vsphere/index.ts';
import type { SnapshotNode } from '../vsphere/index.ts';
import { inventoryEpoch } from './user-session.ts';
import type { SnapshotInfo } from '../api/contract.ts';
import { childLog } from '../common/log.ts';
import { isProtected } from './protection.ts';
import type { Sites } from './sites.ts';

const log = childLog('inventory');

export interface ProtectionState {
  /** VM ids in at least one enabled job (folder members included), with the next run and whether a job is scheduled. */
  protectedVms(): Promise<Map<string, { nextRun?: string; scheduled?: boolean }>>;
  /** When each VM's newest good restore point or replica was made (service/protection.ts). */
  lastProtected(): Promise<Map<string, string>>;
  /** The protection window in hours. */
  windowHours: number;
  lastBackup(vmId: string): { at: string; status: RunStatus; consistency?: Consistency; restorePointId?: string } | undefined;
}

const TTL_MS = 5_000;

interface SiteCache { at: number; vms: Promise<VmInfo[]>; hostNames: Promise<Map<string, string>>; dsNames: Promise<Map<string, string>> }
interface SiteInventory { site: string; vms: VmInfo[]; hosts: Map<string, string>; dss: Map<string, string> }

export class InventoryView implements InventoryApi {
  readonly #sites: Sites;
  readonly #protection: ProtectionState;
  readonly #cache = new Map<string, SiteCache>();

  constructor(sites: Sites, protection: ProtectionState) {
    this.#sites = sites;
    this.#protection = protection;
  }

  invalidate(): void {
    this.#cache.clear();
    inventoryEpoch.value++;
  }

  #load(site: string): SiteCache {
    let c = this.#cache.get(site);
    if (!c || Date.now() - c.at > TTL_MS) {
      const vs = this.#sites.vs(site);
      const fresh: SiteCache = {
        at: Date.now(),
        vms: vs.then((v) => v.inventory.vms()),
        hostNames: vs.then((v) => v.inventory.hosts()).then((hs) => new Map(hs.map((h) => [h.ref.value, h.name]))),
        dsNames: vs.then((v) => v.inventory.datastores()).then((ds) => new Map(ds.map((d) => [d.ref.value, d.name]))),
      };
      c = fresh;
      this.#cache.set(site, fresh);
      Promise.all([fresh.vms, fresh.hostNames, fresh.dsNames]).catch(() => { if (this.#cache.get(site) === fresh) this.#cache.delete(site); });
    }
    return c;
  }

  async #site(site: string): Promise<SiteInventory> {
    const c = this.#load(site);
    const [vms, hosts, dss] = await Promise.all([c.vms, c.hostNames, c.dsNames]);
    return { site, vms, hosts, dss };
  }

  /**
   * Every site's answer: a site that cannot be read is left out (and logged) while another answers;
   * when none answers, the first site's error is thrown (503 with the reason).
   */
  async #each<T>(fn: (site: string) => Promise<T>): Promise<T[]> {
    const ids = this.#sites.ids();
    const results = await Promise.allSettled(ids.map(fn));
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (!ok.length) throw (results[0] as PromiseRejectedResult).reason;
    results.forEach((r, i) => { if (r.status === 'rejected') log.warn({ site: ids[i], err: (r.reason as Error)?.message }, 'site left out of the inventory'); });
    return ok;
  }

  #id(site: string, moref: string): string { return this.#sites.format(site, moref); }

  /** The service account's VM infos at every site, with their qualified ids. */
  async vmInfos(): Promise<(VmInfo & { id: string; site: string })[]> {
    return (await this.#each((s) => this.#site(s))).flatMap((inv) => inv.vms.map((v) => ({ ...v, id: this.#id(inv.site, v.ref.value), site: inv.site })));
  }

  /** When each VM's newest good restore point or replica was made. */
  lastProtected(): Promise<Map<string, string>> { return this.#protection.lastProtected(); }

  async vms(): Promise<VmSummary[]> {
    const invs = await this.#each((s) => this.#site(s));
    const [prot, good] = await Promise.all([this.#protection.protectedVms(), this.#protection.lastProtected()]);
    return invs.flatMap((inv) => inv.vms.filter((v) => !v.template).map((v) => this.#summary(inv, v, prot, good)));
  }

  async vm(id: string): Promise<VmDetail | undefined> {
    const ref = this.#sites.tryParse(id);
    if (!ref) return undefined;
    const inv = await this.#site(ref.site);
    const v = inv.vms.find((x) => x.ref.value === ref.moref);
    if (!v) return undefined;
    const vs = await this.#sites.vs(ref.site);
    const extra = await vs.pc.retrieveOne<{ 'config.hardware.numCPU'?: number; 'config.hardware.memoryMB'?: number }>(v.ref, ['config.hardware.numCPU', 'config.hardware.memoryMB']).catch(() => ({} as Record<string, number | undefined>));
    return {
      ...this.#summary(inv, v, await this.#protection.protectedVms(), await this.#protection.lastProtected()),
      instanceUuid: v.instanceUuid ?? '',
      cpu: extra['config.hardware.numCPU'] ?? 0,
      memoryMiB: extra['config.hardware.memoryMB'] ?? 0,
      disks: v.disks.map((d) => ({ key: d.key, label: d.label, capacityBytes: d.capacityBytes, file: d.fileName, ...(d.changeId ? { changeId: d.changeId } : {}), ...(d.thin !== undefined ? { thin: d.thin } : {}) })),
      snapshots: v.snapshots.map(snapshotDto),
      cbtEnabled: v.cbtEnabled,
      consolidationNeeded: v.consolidationNeeded,
    };
  }

  /** VM folders with their inventory paths ("Lab-DC/vm/Production"; "dr: Lab-DC/vm/Production" at other sites than the primary). */
  async folders(): Promise<FolderInfo[]> {
    return (await this.#each((s) => this.#folders(s))).flat().sort((a, b) => a.path.localeCompare(b.path));
  }

  async #folders(site: string): Promise<FolderInfo[]> {
    const vs = await this.#sites.vs(site);
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
    const prefix = site === this.#sites.primary ? '' : `${site}: `;
    return folders.filter((f) => f.props.childType?.includes('VirtualMachine')).map((f) => ({
      id: this.#id(site, f.ref.value), name: f.props.name ?? f.ref.value, path: prefix + path(f.ref.value),
      site,
    }));
  }

  /** VM ids inside the given folders (recursively), as vCenter sees them now. */
  async folderMembers(folderIds: string[]): Promise<string[]> {
    if (!folderIds.length) return [];
    const ids = new Set<string>();
    for (const id of folderIds) {
      const { site, moref, vs } = await this.#sites.resolve(id, 'folder');
      const list = await vs.pc.retrieveAllOfType<{ name?: string }>('VirtualMachine', ['name'], { container: { type: 'Folder', value: moref } });
      for (const v of list) ids.add(this.#id(site, v.ref.value));
    }
    return [...ids];
  }

  async hosts(): Promise<HostInfo[]> {
    return (await this.#each(async (site) => {
      const vs = await this.#sites.vs(site);
      const [hosts, clusters, dss] = await Promise.all([vs.inventory.hosts(), vs.inventory.clusters(), this.#load(site).dsNames]);
      return hosts.map((h): HostInfo => {
        const cluster = clusters.find((c) => c.hosts.some((r) => r.value === h.ref.value));
        return {
          id: this.#id(site, h.ref.value), name: h.name, ...(cluster ? { cluster: cluster.name } : {}),
          datastores: h.datastores.map((d) => dss.get(d.value) ?? d.value), site,
        };
      });
    })).flat();
  }

  async datastores(): Promise<DatastoreInfo[]> {
    return (await this.#each(async (site) => {
      const vs = await this.#sites.vs(site);
      return (await vs.inventory.datastores()).map((d): DatastoreInfo => ({ id: this.#id(site, d.ref.value), name: d.name, capacityBytes: d.capacity, freeBytes: d.freeSpace, site }));
    })).flat();
  }

  #summary(inv: SiteInventory, v: VmInfo, prot: Map<string, { nextRun?: string; scheduled?: boolean }>, good: Map<string, string>): VmSummary {
    const id = this.#id(inv.site, v.ref.value);
    const last = this.#protection.lastBackup(id);
    const p = prot.get(id);
    const lastGood = good.get(id);
    return {
      id,
      name: v.name,
      site: inv.site,
      powerState: v.powerState,
      guestOs: v.guestFullName ?? v.guestId ?? 'unknown',
      guestFamily: guestFamily(v.guestId),
      toolsRunning: v.toolsRunningStatus === 'guestToolsRunning',
      host: v.host ? inv.hosts.get(v.host.value) ?? v.host.value : '',
      datastores: v.datastores.map((d) => inv.dss.get(d.value) ?? d.value),
      protected: isProtected(lastGood, this.#protection.windowHours),
      ...(lastGood ? { lastProtectedAt: lastGood } : {}),
      inScheduledJob: p?.scheduled === true,
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

