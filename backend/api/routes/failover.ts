// Failover, failback and failover plans (contracts/failover.ts). Each action is checked against the
// user's own vCenter session before its run starts: the replica must be visible, the user must hold
// the action's privileges on it (and on its source, for planned failover and failback), and a guest
// credential must be the user's own or shared.
import type { JobRun } from '../contract.ts';
import type { FailbackNewVmDto, FailbackRequest, FailoverPlan, FailoverPlanInput, FailoverPlanRunRequest, FailoverRequest } from '../contracts/failover.ts';
import { param, VM_ID } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref, type Schema } from '../schema.ts';
import { Conflict, InvalidRequest, NotFound } from '../../common/errors.ts';
import { credentialVisibleTo, type GuestCredential } from '../../model/credential.ts';
import type { FailoverRunKind } from '../../model/job.ts';
import { PRIVILEGES, type PrivilegeRule } from '../../model/privileges.ts';
import { hostNetworks, resolvePlacement } from '../../restore/placement.ts';
import { resolveFolder } from '../../replication/replica-vm.ts';
import { checkNewVmName } from '../../replication/failover/failback-new-vm.ts';
import type { MoRef } from '../../vsphere/index.ts';
import type { ReplicaStatus } from '../../replication/replica-state.ts';
import { checkPlan, planVmIds, type FailoverPlans } from '../../replication/failover/plans.ts';
import { checkReIpRules } from '../../replication/failover/reip.ts';
import { ISOLATED_NETWORK } from '../../replication/failover/test-failover.ts';
import type { FailoverParams, FailoverPlanParams } from '../../replication/failover/run-kinds.ts';
import { requireOnVms, requirePrivileges, requireVisible, siteSession } from './operations.ts';

export interface FailoverRouteDeps {
  start(kind: FailoverRunKind, vmIds: string[], params: FailoverParams | FailoverPlanParams, user: UserContext): Promise<JobRun>;
  /** The replica behind a replica VM id (site-qualified), read from vCenter; undefined when it is none. */
  replica(replicaId: string): Promise<ReplicaStatus | undefined>;
  credential(id: string): GuestCredential | undefined;
  plans: FailoverPlans;
}

const name = { type: 'string', minLength: 1, maxLength: 256 } as const;
const networkMap: Schema = { type: 'array', maxItems: 64, items: { type: 'object', additionalProperties: false, required: ['source', 'target'], properties: { source: name, target: name } } };
const reIp: Schema = {
  type: 'array', maxItems: 32, description: 'A guest address in sourceSubnet gets the same host bits in targetSubnet, the gateway and DNS servers',
  items: {
    type: 'object', additionalProperties: false, required: ['sourceSubnet', 'targetSubnet'],
    properties: { sourceSubnet: { type: 'string', maxLength: 18 }, targetSubnet: { type: 'string', maxLength: 18 }, gateway: { type: 'string', maxLength: 15 }, dns: { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 15 } } },
  },
};
const timeoutSeconds = { type: 'integer', minimum: 1, maximum: 86_400 } as const;

export const FailoverRequestSchema: Schema = ref('FailoverRequest', {
  type: 'object', additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['normal', 'test', 'planned'], description: "'normal' (default), 'test' (isolated network, cleaned up), 'planned' (sync, shut the source down, sync, fail over)" },
    point: { type: 'string', minLength: 1, maxLength: 256, description: 'Recovery point id or name; default the latest' },
    networkMap, reIp, guestCredentialId: { type: 'string', minLength: 1, maxLength: 64 }, isolatedNetwork: name, timeoutSeconds,
  },
});
const PermanentSchema: Schema = ref('PermanentFailoverRequest', { type: 'object', additionalProperties: false, required: ['confirm'], properties: { confirm: { type: 'boolean', description: 'true: the recovery points are removed, the replica becomes the VM, its source leaves replication' } } });
const FailbackSchema: Schema = ref('FailbackRequest', {
  type: 'object', additionalProperties: false,
  properties: {
    action: { type: 'string', enum: ['failback', 'commit', 'undo'] }, commit: { type: 'boolean' }, timeoutSeconds,
    transport: { type: 'string', enum: ['auto', 'hot-add', 'full-upload'], description: "To the original VM: 'hot-add' through a transporter at production (only the changed pieces), 'full-upload' (whole disks), 'auto' (default)" },
    toNew: ref('FailbackNewVm', {
      type: 'object', additionalProperties: false, required: ['name', 'host', 'datastore'],
      description: 'Fail back to a new VM at production (a full copy of the replica); the replica\'s jobs then replicate the new VM',
      properties: { name: { type: 'string', minLength: 1, maxLength: 80 }, host: name, datastore: name, folder: name, networkMap },
    }),
  },
});
const PlanSchema: Schema = ref('FailoverPlanInput', {
  type: 'object', additionalProperties: false, required: ['name', 'groups'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 }, description: { type: 'string', maxLength: 1024 },
    groups: {
      type: 'array', minItems: 1, maxItems: 50, items: {
        type: 'object', additionalProperties: false, required: ['replicaIds'],
        properties: {
          replicaIds: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', pattern: VM_ID.source } },
          delaySeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
          script: { type: 'object', additionalProperties: false, required: ['programPath'], properties: { programPath: { type: 'string', minLength: 1, maxLength: 1024 }, arguments: { type: 'string', maxLength: 4096 }, timeoutSeconds } },
        },
      },
    },
    guestCredentialId: { type: 'string', minLength: 1, maxLength: 64 }, networkMap, reIp,
  },
});
const PlanRunSchema: Schema = ref('FailoverPlanRunRequest', { type: 'object', additionalProperties: false, properties: { mode: { type: 'string', enum: ['normal', 'test'] } } });
const PLAN_ID = /^fp-[0-9a-f-]{36}$/;

export function failoverRoutes(d: FailoverRouteDeps): RouteDef[] {
  const replicaOf = async (user: UserContext, id: string): Promise<ReplicaStatus> => {
    await requireVisible(user, [id]);
    const r = await d.replica(id);
    if (!r) throw new NotFound('Replica', id, 'that VM is not a replica (list replicas with GET /api/replicas).');
    return r;
  };
  /** The rules on the replica VM, and Network.Assign on each named network of its host. */
  const onReplica = async (user: UserContext, id: string, r: ReplicaStatus, what: string, rules: readonly PrivilegeRule[], networks: string[] = []) => {
    const { vs } = siteSession(user, id);
    const label = `replica VM '${r.replicaName}' (${r.replica.value})`;
    const checks: Parameters<typeof requirePrivileges>[2] = [{ entity: r.replica, label, rules, on: 'vm' }];
    if (networks.length) {
      const host = (await vs.vms.get(r.replica)).host;
      const nets = host ? await hostNetworks(vs, host) : new Map<string, MoRef>();
      for (const n of [...new Set(networks)]) {
        const net = nets.get(n);
        if (!net) throw new InvalidRequest(`Network '${n}' does not exist on the replica's host: choose among ${[...nets.keys()].sort().map((x) => `'${x}'`).join(', ') || '(none)'}.`);
        checks.push({ entity: net, label: `network '${n}' (${net.value})`, rules, on: 'network' });
      }
    }
    await requirePrivileges(vs, what, checks);
  };
  const useCredential = async (user: UserContext, id: string | undefined, vmIds: string[]) => {
    if (!id) return;
    const c = d.credential(id);
    if (!c || !credentialVisibleTo(c, user.username)) throw new NotFound('Guest credential', id, 'list yours with GET /api/credentials.');
    await requireOnVms(user, vmIds, 'Running re-IP commands with a guest credential', PRIVILEGES.guestScripts);
  };
  const sourceIdOf = (r: ReplicaStatus) => {
    if (!r.sourceVmId) throw new Conflict(`Replica '${r.replicaName}' does not name its source VM: replicate it once, then try again.`);
    return r.sourceVmId;
  };
  const timeoutMs = (s?: number) => (s ? { timeoutMs: s * 1000 } : {});
  /** A failback to a new VM: the name free, and the restore-to-new-VM privileges where it goes (the replica's vCenter). */
  const onNewVm = async (user: UserContext, replicaId: string, t: FailbackNewVmDto) => {
    const { vs } = siteSession(user, replicaId);
    const pl = await resolvePlacement(vs, t.host, t.datastore);
    const folder = await resolveFolder(vs, pl, t.folder);
    const folderName = await vs.pc.retrieveOne<{ name?: string }>(folder, ['name']).then((p) => p.name ?? folder.value, () => folder.value);
    const rules = [...PRIVILEGES.restoreNew, ...PRIVILEGES.restoreNewPowerOn];
    const nets = await hostNetworks(vs, pl.host.ref);
    const checks: Parameters<typeof requirePrivileges>[2] = [
      { entity: folder, label: `folder '${folderName}' of datacenter '${pl.datacenter.name}' (${folder.value})`, rules, on: 'folder' },
      { entity: pl.datastore.ref, label: `datastore '${pl.datastore.name}' (${pl.datastore.ref.value})`, rules, on: 'datastore' },
      { entity: pl.pool, label: `the resource pool of host '${pl.host.name}' (${pl.pool.value})`, rules, on: 'pool' },
    ];
    for (const n of [...new Set((t.networkMap ?? []).map((m) => m.target))]) {
      const net = nets.get(n);
      if (!net) throw new InvalidRequest(`Network '${n}' does not exist on host '${pl.host.name}': choose among ${[...nets.keys()].sort().map((x) => `'${x}'`).join(', ') || '(none)'}.`);
      checks.push({ entity: net, label: `network '${n}' (${net.value})`, rules, on: 'network' });
    }
    await requirePrivileges(vs, `Failback to a new VM on host '${pl.host.name}'`, checks);
    await checkNewVmName(vs, t.name);
  };

  const plan = (p: FailoverPlan) => p;
  const checkPlanReplicas = async (user: UserContext, input: FailoverPlanInput) => {
    checkPlan(input);
    const ids = input.groups.flatMap((g) => g.replicaIds);
    for (const id of ids) await onReplica(user, id, await replicaOf(user, id), `Failing over replica ${id} in a plan`, PRIVILEGES.failover);
    await useCredential(user, input.guestCredentialId, ids);
  };

  return [
    {
      method: 'post', path: '/replicas/:id/failover', tag: 'failover', status: 202, body: FailoverRequestSchema,
      summary: 'Fail a replica over: normal (start it), test (isolated network, then cleaned up) or planned (sync, shut the source down, sync, fail over)',
      handler: async ({ req, user, body }) => {
        const id = param(req, 'id', VM_ID, 'replica VM');
        const b = body as FailoverRequest;
        checkReIpRules(b.reIp);
        const r = await replicaOf(user, id);
        const mode = b.mode ?? 'normal';
        if (r.failover) throw new Conflict(`Replica '${r.replicaName}' is failed over already (since ${r.failover.at}): undo that failover, make it permanent or fail back first.`);
        if (mode === 'test') {
          await onReplica(user, id, r, 'Test failover', PRIVILEGES.testFailover, [b.isolatedNetwork ?? ISOLATED_NETWORK]);
          return d.start('failover-test', [id], { ...(b.point ? { point: b.point } : {}), ...(b.isolatedNetwork ? { isolatedNetwork: b.isolatedNetwork } : {}), ...timeoutMs(b.timeoutSeconds) }, user);
        }
        if (b.reIp?.length && !b.guestCredentialId) throw new InvalidRequest('Re-IP rules need a guest credential (guestCredentialId): the new addresses are set through guest operations.');
        await onReplica(user, id, r, mode === 'planned' ? 'Planned failover' : 'Failover', PRIVILEGES.failover, (b.networkMap ?? []).map((m) => m.target));
        await useCredential(user, b.guestCredentialId, [id]);
        const params: FailoverParams = {
          ...(b.networkMap ? { networkMap: b.networkMap } : {}), ...(b.reIp ? { reIp: b.reIp } : {}),
          ...(b.guestCredentialId ? { guestCredentialId: b.guestCredentialId } : {}), ...timeoutMs(b.timeoutSeconds),
        };
        if (mode === 'planned') {
          if (b.point) throw new InvalidRequest('A planned failover makes its own recovery point: leave out point.');
          await requireOnVms(user, [sourceIdOf(r)], 'Planned failover (the source VM is synced and shut down)', PRIVILEGES.plannedFailoverSource);
          return d.start('failover-planned', [id], params, user);
        }
        return d.start('failover', [id], { ...params, ...(b.point ? { point: b.point } : {}) }, user);
      },
    },
    {
      method: 'post', path: '/replicas/:id/undo', tag: 'failover', status: 202,
      summary: 'Undo a failover: power the replica off and revert it to its point (what it did while running is discarded); replication resumes',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', VM_ID, 'replica VM');
        const r = await replicaOf(user, id);
        if (!r.failover) throw new Conflict(`Replica '${r.replicaName}' is not failed over: there is nothing to undo.`);
        await onReplica(user, id, r, 'Undo failover', PRIVILEGES.failover);
        return d.start('failover-undo', [id], {}, user);
      },
    },
    {
      method: 'post', path: '/replicas/:id/permanent', tag: 'failover', status: 202, body: PermanentSchema,
      summary: 'Make a failover permanent: remove the recovery points, the replica becomes the VM, its source leaves replication',
      handler: async ({ req, user, body }) => {
        const id = param(req, 'id', VM_ID, 'replica VM');
        if ((body as { confirm?: boolean }).confirm !== true) throw new InvalidRequest('Send confirm: true: a permanent failover removes every recovery point of the replica and cannot be undone.');
        const r = await replicaOf(user, id);
        if (!r.failover) throw new Conflict(`Replica '${r.replicaName}' is not failed over: fail it over first.`);
        await onReplica(user, id, r, 'Permanent failover', PRIVILEGES.permanentFailover);
        return d.start('failover-permanent', [id], { ...(r.sourceVmId ? { sourceVmId: r.sourceVmId } : {}) }, user);
      },
    },
    {
      method: 'post', path: '/replicas/:id/failback', tag: 'failover', status: 202, body: FailbackSchema,
      summary: 'Fail back to the original VM (only what changed on the replica is sent: hot-add through a transporter at production, or a full upload) or to a new VM (a full copy; the replica\'s jobs then replicate it), then commit or undo',
      handler: async ({ req, user, body }) => {
        const id = param(req, 'id', VM_ID, 'replica VM');
        const b = body as FailbackRequest;
        const r = await replicaOf(user, id);
        const action = b.action ?? 'failback';
        if (!r.failover) throw new Conflict(`Replica '${r.replicaName}' is not failed over: there is nothing to fail back.`);
        if (action !== 'failback' && !r.failover.failback) throw new Conflict(`Replica '${r.replicaName}' has no failback waiting for ${action}: fail back first.`);
        if (action === 'failback' && r.failover.failback) throw new Conflict(`Replica '${r.replicaName}' was failed back already: commit or undo that failback.`);
        if (b.toNew && (action !== 'failback' || b.transport)) throw new InvalidRequest('toNew goes with action failback only, and without transport (a new VM gets a full copy).');
        await onReplica(user, id, r, 'Failback', PRIVILEGES.failbackReplica);
        if (b.toNew) {
          await onNewVm(user, id, b.toNew);
          return d.start('failback', [id], { action, toNew: b.toNew, ...(b.commit ? { commit: true } : {}), ...timeoutMs(b.timeoutSeconds) }, user);
        }
        const fb = r.failover.failback;
        await requireOnVms(user, [fb?.newVm ? fb.newVm.newSourceVmId : sourceIdOf(r)], fb?.newVm ? 'Failback (the new VM is deleted or kept)' : 'Failback (the original VM\'s disks are written)', PRIVILEGES.failbackSource);
        return d.start('failback', [id], { action, ...(b.commit ? { commit: true } : {}), ...(b.transport ? { transport: b.transport } : {}), ...timeoutMs(b.timeoutSeconds) }, user);
      },
    },
    {
      method: 'get', path: '/failover-plans', tag: 'failover', summary: 'Failover plans (those whose replicas you can all see)',
      handler: async ({ user }): Promise<FailoverPlan[]> => {
        const visible = await user.session.visibleVmIds();
        return d.plans.list().filter((p) => planVmIds(p).every((id) => visible.has(id))).map(plan);
      },
    },
    {
      method: 'post', path: '/failover-plans', tag: 'failover', status: 201, body: PlanSchema,
      summary: 'Create a failover plan: ordered groups of replicas, delays between groups, optional scripts',
      handler: async ({ user, body }): Promise<FailoverPlan> => {
        await checkPlanReplicas(user, body as FailoverPlanInput);
        return plan(d.plans.create(body as FailoverPlanInput, user.username));
      },
    },
    {
      method: 'get', path: '/failover-plans/:id', tag: 'failover', summary: 'One failover plan',
      handler: async ({ req, user }): Promise<FailoverPlan> => {
        const p = d.plans.get(param(req, 'id', PLAN_ID, 'failover plan'));
        await requireVisible(user, planVmIds(p));
        return plan(p);
      },
    },
    {
      method: 'put', path: '/failover-plans/:id', tag: 'failover', body: PlanSchema, summary: 'Replace a failover plan',
      handler: async ({ req, user, body }): Promise<FailoverPlan> => {
        const id = param(req, 'id', PLAN_ID, 'failover plan');
        await requireVisible(user, planVmIds(d.plans.get(id)));
        await checkPlanReplicas(user, body as FailoverPlanInput);
        return plan(d.plans.update(id, body as FailoverPlanInput));
      },
    },
    {
      method: 'delete', path: '/failover-plans/:id', tag: 'failover', summary: 'Delete a failover plan (its replicas stay as they are)',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', PLAN_ID, 'failover plan');
        await requireVisible(user, planVmIds(d.plans.get(id)));
        d.plans.remove(id);
        return undefined;
      },
    },
    {
      method: 'post', path: '/failover-plans/:id/run', tag: 'failover', status: 202, body: PlanRunSchema,
      summary: 'Run a failover plan as one run (a result per VM): mode normal (default) or test',
      handler: async ({ req, user, body }) => {
        const p = d.plans.get(param(req, 'id', PLAN_ID, 'failover plan'));
        const mode = (body as FailoverPlanRunRequest).mode ?? 'normal';
        const ids = planVmIds(p);
        for (const id of ids) {
          const r = await replicaOf(user, id);
          if (r.failover) throw new Conflict(`Replica '${r.replicaName}' of the plan is failed over already: undo that failover first.`);
          await onReplica(user, id, r, `Failover plan '${p.name}'`, mode === 'test' ? PRIVILEGES.testFailover : PRIVILEGES.failover,
            mode === 'test' ? [ISOLATED_NETWORK] : (p.networkMap ?? []).map((m) => m.target));
        }
        if (mode === 'normal') await useCredential(user, p.guestCredentialId, ids);
        return d.start('failover-plan', ids, { planId: p.id, mode }, user);
      },
    },
  ];
}
