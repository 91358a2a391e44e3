// Lets CLI users name VMs the way they see them (name) or as vCenter ids (vm-42).
import type { VmSummary } from '../api/contract.ts';
import type { ServiceClient } from './service-client.ts';

export async function resolveVms(client: ServiceClient, names: string[]): Promise<VmSummary[]> {
  const vms = await client.get<VmSummary[]>('/api/vms');
  return names.map((n) => {
    const byId = vms.find((v) => v.id === n);
    if (byId) return byId;
    const byName = vms.filter((v) => v.name === n);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw new Error(`several VMs are named '${n}' (${byName.map((v) => v.id).join(', ')}): give the id instead`);
    throw new Error(`no VM named '${n}' that you can see; list them with \`stillpoint vms\``);
  });
}
