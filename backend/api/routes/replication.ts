// Replication to the DR site: an on-demand run (POST /vms/:id/replicate), a VM's replica state and the
// list of replicas. Replicating needs backup privileges on the source VM and, at the DR target, the
// privileges of a restore to a new VM (folder, datastore, resource pool, the mapped networks), all
// checked in the user's own vCenter session before the run starts.
import type { JobRun, ReplicaRpo, ReplicaState, ReplicateRequest, ReplicationJob, ReplicationJobInput } from '../contract.ts';
import { param, UUID_ID, VM_ID } from '../http.ts';
import { AppAwareSchema } from '../schemas.ts';
import { Conflict, Forbidden, InvalidRequest, NotFound } from '../../common/errors.ts';
import type { JobStore } from '../../jobs/store.ts';
import type { Job } from '../../model/job.ts';
import { DEFAULT_SUFFIX, isReplicationJob } from '../../replication/jobs/job-input.ts';
import { checkReplicationJob, replicationJobDraft, replicationJobToDto } from '../replication-jobs.ts';
import type { ListedReplica } from '../../replication/jobs/health-check.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref, type Schema } from '../schema.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { checkMappedNetworks, resolveFolder, resolveReplicaPlacement } from '../../replication/replica-vm.ts';
import { checkTarget } from '../../replication/replicate-vm.ts';
import type { ReplicaStatus } from '../../replication/replica-state.ts';
import { requireGuestUse, requireOnVms, requirePrivileges, requireVisible, siteSession } from './operations.ts';
import type { InventoryApi } from './vms.ts';
import { visibleVm } from './vms.ts';

export interface ReplicationDeps {
  inventory: InventoryApi;
  replicate(vmId: string, req: ReplicateRequest, user: UserContext): Promise<JobRun>;
  /** The replica of a VM (site-qualified id), read from vCenter; `site`: where it is, when not at the VM's own site. */
  replicaOf(vmId: string): Promise<(ReplicaStatus & { site?: string }) | undefined>;
  /** A site's moref as an id the API hands out. */
  formatId?(site: string, moref: string): string;
  /** Every replica, with the site-qualified ids of the replica and its source. */
  replicas(): Promise<(ReplicaStatus & { replicaId: string })[]>;
  /** Whether a replicate run of the VM is going now. */
  syncing(vmId: string): boolean;
  /** Replication jobs (kind 'replication' in the job store); absent: the routes for them are not served. */
  jobs?: ReplicationJobDeps;
}

export interface ReplicationJobDeps {
  store: JobStore;
  /** The site ids, the primary first. */
  sites: string[];
  jobVms(job: Pick<Job, 'vmIds' | 'folderIds'>): Promise<string[]>;
  runJob(jobId: string, user: UserContext): Promise<JobRun>;
  /** A job was created, changed or deleted (schedule, events). */
  changed(job?: Job): void;
  /** RPO compliance of the listed replicas (raising the vCenter events of level changes), by replica id. */
  observe(list: ListedReplica[]): Promise<Map<string, ReplicaRpo>>;
  /** Whether a run of a replication job is writing the VM's replica now. */
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

const netMap = { type: 'array', maxItems: 64, items: { type: 'object', additionalProperties: false, required: ['source', 'target'], properties: { source: name, target: name } } } as const;
export const ReplicationJobInputSchema: Schema = ref('ReplicationJobInput', {
  type: 'object', additionalProperties: false, required: ['name', 'vmIds', 'target', 'schedule', 'rpoMinutes', 'keepPoints', 'appAware', 'enabled'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    vmIds: { type: 'array', items: { type: 'string', pattern: '^(?:[a-z][a-z0-9-]{0,31}:)?vm-\\d{1,12}$' }, maxItems: 5000, uniqueItems: true },
    folderIds: { type: 'array', items: { type: 'string', pattern: '^(?:[a-z][a-z0-9-]{0,31}:)?[a-z]+-[a-z]?\\d{1,12}$' }, maxItems: 100, uniqueItems: true },
    target: {
      type: 'object', additionalProperties: false, required: ['host', 'datastore'],
      properties: {
        site: { type: 'string', minLength: 1, maxLength: 32, description: 'a configured site id (default the primary)' },
        host: name, datastore: name, folder: name, pool: name,
        suffix: { type: 'string', minLength: 1, maxLength: 40, pattern: '^[^/\\\\\\[\\]%]+$' },
        networkMap: netMap,
      },
    },
    source: { type: 'string', enum: ['snapshot', 'backup'], description: "'snapshot' (default): a consistent snapshot of the running VM; 'backup': the VM's newest restore point in the repository" },
    schedule: { type: 'object', additionalProperties: false, required: ['cron'], properties: { cron: { oneOf: [{ type: 'string', minLength: 1, maxLength: 128 }, { type: 'null' }] } } },
    rpoMinutes: { type: 'integer', minimum: 1, maximum: 10080 },
    keepPoints: { type: 'integer', minimum: 1, maximum: 28 },
    appAware: AppAwareSchema,
    concurrency: { type: 'integer', minimum: 1, maximum: 8 },
    enabled: { type: 'boolean' },
  },
});

/** The DR target's privileges in the user's own session at the DR site (restore to a new VM there, the mapped networks). */
async function requireDrTarget(vs: VSphere, r: { host: string; datastore: string; folder?: string; pool?: string; networkMap?: { source: string; target: string }[] }): Promise<void> {
  const pl = await resolveReplicaPlacement(vs, r);
  const folder = await resolveFolder(vs, pl, r.folder);
  const nets = await checkMappedNetworks(vs, pl.host.ref, pl.host.name, r.networkMap ?? []);
  const mapped = [...new Set((r.networkMap ?? []).map((m) => m.target))].map((n) => [n, nets.get(n)!] as [string, MoRef]);
  const rules = PRIVILEGES.restoreNew;
  await requirePrivileges(vs, `Replicating to host '${pl.host.name}'`, [
    { entity: folder, label: `VM folder ${folder.value} of datacenter '${pl.datacenter.name}'`, rules, on: 'folder' },
    { entity: pl.datastore.ref, label: `datastore '${pl.datastore.name}' (${pl.datastore.ref.value})`, rules, on: 'datastore' },
    { entity: pl.pool, label: r.pool ? `resource pool '${r.pool}' (${pl.pool.value})` : `the resource pool of host '${pl.host.name}' (${pl.pool.value})`, rules, on: 'pool' },
    ...mapped.map(([n, ref]) => ({ entity: ref, label: `network '${n}' (${ref.value})`, rules, on: 'network' as const })),
  ]);
}

/** What of a job's DR target decides where a replica is made: fixed once the job's VMs have replicas. */
const PLACEMENT_FIELDS = ['site', 'host', 'datastore', 'folder', 'pool', 'suffix'] as const;

/**
 * Editing a job may change its network mapping, schedule, RPO, points, source and application-aware
 * settings at any time; its placement (site, host, datastore, folder, pool, suffix) only while none of
 * its VMs has a replica yet: a run writes into the existing replica wherever it is, so a changed
 * placement would be ignored, or (another site) leave the old replica behind.
 */
async function refuseMovingReplicas(old: Job, input: ReplicationJobInput, primary: string, jobVms: ReplicationJobDeps['jobVms'],
  replicaOf: ReplicationDeps['replicaOf']): Promise<void> {
  const before = replicationJobToDto(old).target;
  const after = { ...input.target, site: input.target.site ?? primary, suffix: input.target.suffix ?? DEFAULT_SUFFIX };
  const changed = PLACEMENT_FIELDS.filter((f) => (before[f] ?? '') !== (after[f] ?? ''));
  if (!changed.length) return;
  const members = await jobVms(old);
  const withReplica: string[] = [];
  for (const vm of members) {
    const r = await replicaOf(vm).catch(() => undefined);
    if (r) withReplica.push(r.replicaName);
  }
  if (!withReplica.length) return;
  throw new Conflict(`Job '${old.name}' already has replicas (${withReplica.slice(0, 5).join(', ')}${withReplica.length > 5 ? ', …' : ''}): ` +
    `its ${changed.join(', ')} cannot change, as the next run writes into these replicas where they are. ` +
    'Keep the target and change the network mapping, schedule, RPO, recovery points or application-aware settings; ' +
    'to replicate elsewhere, create a new job (and delete these replicas when the new ones are ready).');
}

export function toReplicaState(vmId: string, s: ReplicaStatus, replicaId: string, syncing: boolean): Extract<ReplicaState, { replicaVmId: string }> {
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
    ...(s.failover?.failback ? { failback: { at: s.failover.failback.at, ...(s.failover.failback.newVm ? { newVmName: s.failover.failback.newVm.name } : {}) } } : {}),
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
        await requireDrTarget(vs, { ...r, host: unqualified(r.host), datastore: unqualified(r.datastore), ...(r.folder ? { folder: unqualified(r.folder) } : {}) });
        // Later runs write into the existing replica and manage its snapshots: the user must hold that on it.
        const existing = await d.replicaOf(id);
        if (existing && !existing.site) {
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
        const replicaId = s.site && d.formatId ? d.formatId(s.site, s.replica.value) : `${prefix}${s.replica.value}`;
        const state = toReplicaState(id, s, replicaId, d.syncing(id) || !!d.jobs?.syncing(id));
        const rpo = (await d.jobs?.observe([{ ...s, replicaId }]))?.get(replicaId);
        return rpo ? { ...state, rpo } : state;
      },
    },
    {
      method: 'get', path: '/replicas', tag: 'replication', summary: 'Replicas the user can see (the replica VM and its source visible)',
      handler: async ({ user }): Promise<ReplicaState[]> => {
        const visible = await user.session.visibleVmIds();
        const all = await d.replicas();
        // Health is evaluated over every replica (events do not depend on who looks); each user sees theirs.
        const rpo = (await d.jobs?.observe(all)) ?? new Map<string, ReplicaRpo>();
        const out: ReplicaState[] = [];
        for (const s of all) {
          if (!visible.has(s.replicaId)) continue;
          if (s.sourceVmId && !visible.has(s.sourceVmId)) continue;
          const state = toReplicaState(s.sourceVmId ?? '', s, s.replicaId, s.sourceVmId ? d.syncing(s.sourceVmId) || !!d.jobs?.syncing(s.sourceVmId) : false);
          const r = rpo.get(s.replicaId);
          out.push(r ? { ...state, rpo: r } : state);
        }
        return out;
      },
    },
    ...(d.jobs ? replicationJobRoutes(d.jobs, d.replicaOf) : []),
  ];
}

/** CRUD and "run now" of replication jobs; each is a job of kind 'replication' in the one job store. */
function replicationJobRoutes(j: ReplicationJobDeps, replicaOf: ReplicationDeps['replicaOf']): RouteDef[] {
  const primary = j.sites[0]!;
  /** The user's own session at a site (a qualified dummy id picks it). */
  const sessionAt = (user: UserContext, site: string) => siteSession(user, site === primary ? 'vm-0' : `${site}:vm-0`).vs;
  const jobOf = async (user: UserContext, id: string): Promise<Job> => {
    const job = j.store.jobs().find((x) => x.id === id && isReplicationJob(x));
    const visible = job ? await user.session.visibleVmIds() : undefined;
    const members = job ? await j.jobVms(job) : [];
    // A job the user sees none of is answered as not existing.
    if (!job || (members.length && !members.some((m) => visible!.has(m)))) throw new NotFound('Replication job', id, 'list them with GET /api/replication-jobs.');
    return job;
  };
  /**
   * Changing or running a job: every VM visible, backup privileges on them, guest use, and the DR target's privileges at its site.
   * `saved`: the job as it is stored, checked before it is changed or deleted; a DR target of it that no longer resolves
   * (host, datastore or pool gone or moved) does not stop the user from fixing or deleting the job — missing rights still do.
   */
  const requireRights = async (user: UserContext, input: ReplicationJobInput, running?: string, saved = false): Promise<void> => {
    const members = await j.jobVms({ vmIds: input.vmIds, folderIds: input.folderIds ?? [] });
    const visible = await user.session.visibleVmIds();
    if (members.some((m) => !visible.has(m))) throw new Forbidden(`Replication job '${input.name}' includes VMs your vCenter account cannot see: only a user who can see all of them may change or run it.`);
    await requireOnVms(user, members, 'Replicating', PRIVILEGES.backup);
    await requireGuestUse(user, j.store, input.appAware, members, running);
    try {
      await requireDrTarget(sessionAt(user, input.target.site ?? primary), input.target);
    } catch (e) {
      if (!saved || !(e instanceof InvalidRequest || e instanceof NotFound)) throw e;
    }
  };
  const check = (input: ReplicationJobInput) => {
    checkReplicationJob(input, j.sites);
    const id = input.appAware.guestCredentialId;
    if (id && !j.store.credential(id)) throw new NotFound('Guest credential', id, 'store it with POST /api/credentials first.');
  };
  return [
    {
      method: 'get', path: '/replication-jobs', tag: 'replication', summary: 'Replication jobs the user can see (at least one of their VMs visible)',
      handler: async ({ user }): Promise<ReplicationJob[]> => {
        const visible = await user.session.visibleVmIds();
        const out: ReplicationJob[] = [];
        for (const job of j.store.jobs().filter(isReplicationJob)) {
          const members = await j.jobVms(job).catch(() => job.vmIds);
          if (members.length && !members.some((m) => visible.has(m))) continue;
          out.push({ ...replicationJobToDto(job), vmIds: job.vmIds.filter((v) => visible.has(v)) });
        }
        return out;
      },
    },
    {
      method: 'post', path: '/replication-jobs', tag: 'replication', status: 201, body: ReplicationJobInputSchema,
      summary: 'Create a replication job (VMs or folders → DR site, schedule, RPO, recovery points, network mapping)',
      handler: async ({ user, body }): Promise<ReplicationJob> => {
        const input = body as ReplicationJobInput;
        check(input);
        await requireRights(user, input);
        const job = j.store.createJob(replicationJobDraft(input, primary));
        j.changed(job);
        return replicationJobToDto(j.store.job(job.id));
      },
    },
    {
      method: 'get', path: '/replication-jobs/:id', tag: 'replication', summary: 'One replication job',
      handler: async ({ req, user }): Promise<ReplicationJob> => replicationJobToDto(await jobOf(user, param(req, 'id', UUID_ID, 'replication job'))),
    },
    {
      method: 'put', path: '/replication-jobs/:id', tag: 'replication', body: ReplicationJobInputSchema, summary: 'Change a replication job',
      handler: async ({ req, user, body }): Promise<ReplicationJob> => {
        const old = await jobOf(user, param(req, 'id', UUID_ID, 'replication job'));
        await requireRights(user, replicationJobToDto(old), undefined, true);
        const input = body as ReplicationJobInput;
        check(input);
        await requireRights(user, input);
        await refuseMovingReplicas(old, input, primary, j.jobVms, replicaOf);
        const { name, vmIds, folderIds, target, schedule, retention, appAware, concurrency, enabled } = replicationJobDraft(input, primary);
        const job = j.store.updateJob(old.id, { name, vmIds, folderIds, target, schedule, retention, appAware, concurrency, enabled });
        j.changed(job);
        return replicationJobToDto(j.store.job(job.id));
      },
    },
    {
      method: 'delete', path: '/replication-jobs/:id', tag: 'replication', status: 204, summary: 'Delete a replication job (its replicas and their recovery points stay)',
      handler: async ({ req, user }) => {
        const job = await jobOf(user, param(req, 'id', UUID_ID, 'replication job'));
        await requireRights(user, replicationJobToDto(job), undefined, true);
        j.store.deleteJob(job.id);
        j.changed();
        return undefined;
      },
    },
    {
      method: 'post', path: '/replication-jobs/:id/run', tag: 'replication', status: 202, summary: 'Run a replication job now',
      handler: async ({ req, user }): Promise<JobRun> => {
        const job = await jobOf(user, param(req, 'id', UUID_ID, 'replication job'));
        await requireRights(user, replicationJobToDto(job), job.name);
        return j.runJob(job.id, user);
      },
    },
  ];
}
