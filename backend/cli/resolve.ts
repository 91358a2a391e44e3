// Lets CLI users name VMs the way they see them (name, or site:name when several vCenters hold the
// name) or as ids (vm-42, dr:vm-42).
import type { VmSummary } from '../api/contract.ts';
import type { ServiceClient } from './service-client.ts';

export async function resolveVms(client: ServiceClient, names: string[]): Promise<VmSummary[]> {
  const vms = await client.get<VmSummary[]>('/api/vms');
  return names.map((n) => {
    const byId = vms.find((v) => v.id === n);
    if (byId) return byId;
    let byName = vms.filter((v) => v.name === n);
    const i = n.indexOf(':');
    if (!byName.length && i > 0) byName = vms.filter((v) => v.site === n.slice(0, i) && v.name === n.slice(i + 1));
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw new Error(`several VMs are named '${n}' (${byName.map((v) => v.id).join(', ')}): give the id${byName.some((v) => v.site) ? ' or site:name' : ''} instead`);
    throw new Error(`no VM named '${n}' that you can see; list them with \`stillpoint vms\``);
  });
}
