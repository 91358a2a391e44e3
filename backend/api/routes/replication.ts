// Replication to the DR site: an on-demand run (POST /vms/:id/replicate), a VM's replica state and the
// list of replicas. Replicating needs backup privileges on the source VM and, at the DR target, the
// privileges of a restore to a new VM (folder, datastore, resource pool, the mapped networks), all
// checked in the user's own vCenter session before the run starts.
import type { JobRun, ReplicaState, ReplicateRequest } from '../contract.ts';
import { param, VM_ID } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref, type Schema } from '../schema.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import type { MoRef } from '../../vsphere/index.ts';
import { resolvePlacement } from '../../restore/placement.ts';
import { checkMappedNetworks, resolveFolder } from '../../replication/replica-vm.ts';
import { checkTarget } from '../../replication/replicate-vm.ts';
import type { ReplicaStatus } from '../../replication/replica-state.ts';
import { requireOnVms, requirePrivileges, requireVisible, siteSession } from './operations.ts';
import type { InventoryApi } from './vms.ts';
import { visibleVm } from './vms.ts';

export interface ReplicationDeps {
  inventory: InventoryApi;
  replicate(vmId: string, req: ReplicateRequest, user: UserContext): Promise<JobRun>;
  /** The replica of a VM (site-qualified id), read from vCenter. */
  replicaOf(vmId: string): Promise<ReplicaStatus | undefined>;
  /** Every replica, with the site-qualified ids of the replica and its source. */
  replicas(): Promise<(ReplicaStatus & { replicaId: string })[]>;
  /** Whether a replicate run of the VM is going now. */
  syncing(vmId: string): boolean;
}

const name = { type: 'string', minLength: 1, maxLength: 256 } as const;
export const ReplicateRequestSchema: Schema = ref('ReplicateRequest', {
  type: 'object', additionalProperties: false, required: ['host', 'datastore'],
  properties: {
    host: name, datastore: name, folder: name,
    suffix: { type: 'string', minLength: 1, maxLength: 40, pattern: '^[^/\\\\\\[\\]%]+$' },
    networkMap: { type: 'array', maxItems: 64, items: { type: 'object', additionalProperties: false, required: ['source', 'target'], properties: { source: name, target: name } } },
    keep: { type: 'integer', minimum: 1, maximum: 28 },
  },
});

export function toReplicaState(vmId: string, s: ReplicaStatus, replicaId: string, syncing: boolean): ReplicaState {
  return {
    vmId, replicaVmId: replicaId, targetHost: s.host ?? '', recoveryPoints: s.points.length,
    // 'syncing' recorded on the replica by a run that is not going any more: it was interrupted (service stopped).
    state: syncing ? 'syncing' : s.state === 'syncing' ? 'error' : s.state,
    replicaName: s.replicaName,
    ...(s.sourceName ? { sourceName: s.sourceName } : {}),
    ...(s.lastSync ? { lastSync: s.lastSync } : {}), ...(s.durationMs !== undefined ? { lastSyncDurationMs: s.durationMs } : {}),
    ...(s.bytes !== undefined ? { lastSyncBytes: s.bytes } : {}), ...(s.consistency ? { consistency: s.consistency } : {}),
    ...(s.error ? { error: s.error } : !syncing && s.state === 'syncing' ? { error: 'The last replication run was interrupted; the next run reverts the replica to its latest recovery point and writes it again.' } : {}),
    points: s.points.map((p) => ({ id: p.id, name: p.name, createdAt: p.takenAt ?? p.createdAt, ...(p.consistency ? { consistency: p.consistency } : {}) })),
  };
}

export function replicationRoutes(d: ReplicationDeps): RouteDef[] {
  return [
    {
      method: 'post', path: '/vms/:id/replicate', tag: 'replication', status: 202, body: ReplicateRequestSchema,
      summary: 'Replicate a VM to the DR site now (creates its replica on the first run)',
      handler: async ({ req, user, body }) => {
        const id = param(req, 'id', VM_ID, 'VM');
        const r = body as ReplicateRequest;
        await requireVisible(user, [id]);
        checkTarget(r);
        await requireOnVms(user, [id], 'Replicating', PRIVILEGES.backup);
        // The DR target as the run will resolve it, in the user's own session: what the user cannot see is not found.
        const { vs, prefix } = siteSession(user, id);
        const unqualified = (arg: string) => (prefix && arg.startsWith(prefix) ? arg.slice(prefix.length) : arg);
        const pl = await resolvePlacement(vs, unqualified(r.host), unqualified(r.datastore));
        const folder = await resolveFolder(vs, pl, r.folder && unqualified(r.folder));
        const nets = await checkMappedNetworks(vs, pl.host.ref, pl.host.name, r.networkMap ?? []);
        const mapped = [...new Set((r.networkMap ?? []).map((m) => m.target))].map((n) => [n, nets.get(n)!] as [string, MoRef]);
        const rules = PRIVILEGES.restoreNew;
        await requirePrivileges(vs, `Replicating to host '${pl.host.name}'`, [
          { entity: folder, label: `VM folder ${folder.value} of datacenter '${pl.datacenter.name}'`, rules, on: 'folder' },
          { entity: pl.datastore.ref, label: `datastore '${pl.datastore.name}' (${pl.datastore.ref.value})`, rules, on: 'datastore' },
          { entity: pl.pool, label: `the resource pool of host '${pl.host.name}' (${pl.pool.value})`, rules, on: 'pool' },
          ...mapped.map(([n, ref]) => ({ entity: ref, label: `network '${n}' (${ref.value})`, rules, on: 'network' as const })),
        ]);
        // Later runs write into the existing replica and manage its snapshots: the user must hold that on it.
        const existing = await d.replicaOf(id);
        if (existing) {
          await requirePrivileges(vs, `Replicating into replica '${existing.replicaName}'`, [{
            entity: existing.replica, label: `replica VM '${existing.replicaName}' (${existing.replica.value})`, on: 'vm',
            rules: [{ on: 'vm', privileges: ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.State.RevertToSnapshot'] }],
          }]);
        }
        return d.replicate(id, r, user);
      },
    },
    {
      method: 'get', path: '/vms/:id/replica', tag: 'replication', summary: 'The VM\'s replica at the DR site: state, last sync, recovery points (state none when it is not replicated)',
      handler: async ({ req, user }): Promise<ReplicaState> => {
        const id = param(req, 'id', VM_ID, 'VM');
        await visibleVm(d.inventory, user, id);
        const s = await d.replicaOf(id);
        if (!s) return { vmId: id, state: 'none' };
        const { prefix } = siteSession(user, id);
        return toReplicaState(id, s, `${prefix}${s.replica.value}`, d.syncing(id));
      },
    },
    {
      method: 'get', path: '/replicas', tag: 'replication', summary: 'Replicas the user can see (the replica VM and its source visible)',
      handler: async ({ user }): Promise<ReplicaState[]> => {
        const visible = await user.session.visibleVmIds();
        const out: ReplicaState[] = [];
        for (const s of await d.replicas()) {
          if (!visible.has(s.replicaId)) continue;
          if (s.sourceVmId && !visible.has(s.sourceVmId)) continue;
          out.push(toReplicaState(s.sourceVmId ?? '', s, s.replicaId, s.sourceVmId ? d.syncing(s.sourceVmId) : false));
        }
        return out;
      },
    },
  ];
}
