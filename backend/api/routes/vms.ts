import { NotFound } from '../../common/errors.ts';
import type { UserContext } from '../auth.ts';
import type { DatastoreInfo, FolderInfo, HostInfo, VmDetail, VmSummary } from '../contract.ts';
import { param, VM_ID } from '../http.ts';
import type { RouteDef } from '../routes.ts';

/** What the VM routes need; vCenter's view of the inventory joined with Stillpoint's protection state. */
export interface InventoryApi {
  vms(): Promise<VmSummary[]>;
  vm(id: string): Promise<VmDetail | undefined>;
  hosts(): Promise<HostInfo[]>;
  datastores(): Promise<DatastoreInfo[]>;
  folders(): Promise<FolderInfo[]>;
}

/** A VM the user cannot see is answered exactly like a VM that does not exist. */
export async function visibleVm(inv: InventoryApi, user: UserContext, id: string): Promise<VmDetail> {
  const visible = await user.session.visibleVmIds();
  const vm = visible.has(id) ? await inv.vm(id) : undefined;
  if (!vm) throw new NotFound('VM', id, 'it may have been deleted, or your vCenter account cannot see it.');
  return vm;
}

export function vmRoutes(inv: InventoryApi): RouteDef[] {
  return [
    {
      method: 'get', path: '/vms', tag: 'inventory', summary: 'VMs you can see in vCenter, with protection state',
      handler: async ({ user }) => {
        const visible = await user.session.visibleVmIds();
        return (await inv.vms()).filter((v) => visible.has(v.id));
      },
    },
    {
      method: 'get', path: '/vms/:id', tag: 'inventory', summary: 'One VM: disks, snapshots, CBT state',
      handler: ({ req, user }) => visibleVm(inv, user, param(req, 'id', VM_ID, 'VM')),
    },
    { method: 'get', path: '/inventory/hosts', tag: 'inventory', summary: 'Hosts (restore and replication targets)', handler: () => inv.hosts() },
    { method: 'get', path: '/inventory/datastores', tag: 'inventory', summary: 'Datastores', handler: () => inv.datastores() },
    { method: 'get', path: '/inventory/folders', tag: 'inventory', summary: 'VM folders (for folder-based jobs)', handler: () => inv.folders() },
  ];
}
