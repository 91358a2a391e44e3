// Backups, restore points, restores, jobs, runs, guest credentials and the dashboard. Every VM a
// request names must be visible to the user's own vCenter session, and the user's own vCenter
// session must hold the privileges the action needs (model/privileges.ts, README "Authorization"),
// checked before any work starts: the work itself runs with the service account.
import type { Dashboard, GuestCredentialInput, Job, JobInput, JobRun, RestorePoint, RestoreRequest, BackupRequest, TargetNameCheck } from '../contract.ts';
import type { Job as JobModel } from '../../model/job.ts';
import { jobDraftFromDto, jobToDto, runToDto } from '../mappers.ts';
import { Conflict, Forbidden, NotFound, InvalidRequest } from '../../common/errors.ts';
import { param, UUID_ID, VM_ID } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { AppAwareSchema, BackupRequestSchema, JobInputSchema, LimitQuery, RestoreRequestSchema, RunsQuery, VmIdsSchema } from '../schemas.ts';
import { runMatches, type RunFilter } from '../../model/run-filter.ts';
import type { JobRunner } from '../../jobs/runner.ts';
import type { Schema } from '../schema.ts';
import { Authorization, NoPermissionError, type MoRef, type VSphere } from '../../vsphere/index.ts';
import { PRIVILEGES, type PrivilegeRule, type PrivilegeTarget } from '../../model/privileges.ts';
import { credentialVisibleTo, isCredentialOwner, type GuestCredential as CredentialModel } from '../../model/credential.ts';
import type { AppAwareSettings } from '../../model/app-aware.ts';
import { hostNetworks, resolvePlacement } from '../../restore/placement.ts';
import { nicNetwork } from '../../restore/vm-spec.ts';
import type { VmConfigNic } from '../../model/vm-config.ts';
import { DEFAULT_APP_AWARE } from '../../model/app-aware.ts';
import type { JobStore } from '../../jobs/store.ts';
import { parseCron, CronError } from '../../jobs/cron.ts';
import type { InventoryApi } from './vms.ts';
import { visibleVm } from './vms.ts';
import { count } from '../../common/units.ts';

export const RP_ID = /^rp-[0-9A-Za-z-]{1,64}$/;

/** GET /restore-points/:id/target-name?name=…: the name the restored VM would get. */
const TargetNameQuery: Schema = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 80 } },
};


export interface OperationsDeps {
  store: JobStore;
  runner: JobRunner;
  inventory: InventoryApi;
  restorePoints(vmId?: string): Promise<RestorePoint[]>;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
  /** The NICs a full VM restore of the point recreates (from its stored VM configuration). */
  restorePointNics(id: string): Promise<Pick<VmConfigNic, 'network'>[]>;
  restore(rp: RestorePoint, req: RestoreRequest, user: UserContext): Promise<JobRun>;
  dashboard(visible: Set<string>): Promise<Dashboard>;
  /** Called after any job change (rescheduling). */
  jobsChanged(job?: Job): void;
  /** A job's VMs now: listed ones plus the members of its folders. */
  jobVms(job: Pick<JobInput, 'vmIds' | 'folderIds'>): Promise<string[]>;
  /** "Back up now"; with jobId as part of that job. */
  backupNow(vmIds: string[], initiatedBy: string, jobId?: string): Promise<JobRun>;
  /** Scheduled repository maintenance and when it runs next. */
  maintenance(): { kind: 'gc' | 'verify'; nextRun?: string }[];
}

export async function requireVisible(user: UserContext, vmIds: string[]): Promise<void> {
  const visible = await user.session.visibleVmIds();
  const hidden = vmIds.filter((id) => !visible.has(id));
  if (hidden.length) throw new NotFound('VM', hidden.join(', '), 'it may have been deleted, or your vCenter account cannot see it.');
}

// --- vCenter privileges of the user's own session

/** The user's own vCenter session at the site of a (site-qualified) id, and the id there. */
export function siteSession(user: UserContext, qualifiedId: string): { vs: VSphere; local: string; prefix: string } {
  const s = user.session as unknown as { vsphere?: VSphere; sites?: { site: string; vs: VSphere }[] };
  if (!s.vsphere || !s.sites) throw new Forbidden('Your session cannot be checked for vCenter privileges: log in again.');
  const i = qualifiedId.indexOf(':');
  if (i < 0) return { vs: s.vsphere, local: qualifiedId, prefix: '' };
  const site = qualifiedId.slice(0, i);
  const at = s.sites.find((x) => x.site === site);
  if (!at) throw new Forbidden(`You have no vCenter session at site '${site}': log in there first.`);
  return { vs: at.vs, local: qualifiedId.slice(i + 1), prefix: `${site}:` };
}

interface PrivilegeCheck { entity: MoRef; label: string; rules: readonly PrivilegeRule[]; on: PrivilegeTarget }

const authorizations = new WeakMap<VSphere, Authorization>();

/**
 * Asks vCenter (HasPrivilegeOnEntities, the user's own session) whether the user holds every
 * privilege the checks name; 403 naming each missing privilege and its object otherwise.
 */
export async function requirePrivileges(vs: VSphere, what: string, checks: PrivilegeCheck[]): Promise<void> {
  const wanted = checks.map((c) => ({ ...c, privileges: c.rules.filter((r) => r.on === c.on).flatMap((r) => r.privileges) }))
    .filter((c) => c.privileges.length);
  if (!wanted.length) return;
  let authz = authorizations.get(vs);
  if (!authz) { authz = new Authorization(vs.client, vs.session); authorizations.set(vs, authz); }
  const entities = [...new Map(wanted.map((c) => [`${c.entity.type}:${c.entity.value}`, c.entity])).values()];
  const privs = [...new Set(wanted.flatMap((c) => c.privileges))];
  let answers: Awaited<ReturnType<Authorization['hasPrivilegeOnEntities']>>;
  try {
    answers = await authz.hasPrivilegeOnEntities(entities, privs);
  } catch (e) {
    // vCenter refuses the question for an object the user may not even read: nothing is granted.
    if (!(e instanceof NoPermissionError)) throw e;
    answers = entities.map((entity) => ({ entity, granted: new Map() }));
  }
  const missing: string[] = [];
  for (const c of wanted) {
    const a = answers.find((x) => x.entity.type === c.entity.type && x.entity.value === c.entity.value);
    const lacks = c.privileges.filter((p) => a?.granted.get(p) !== true);
    if (lacks.length) missing.push(`${lacks.join(', ')} on ${c.label}`);
  }
  if (missing.length) throw new Forbidden(`${what}: your vCenter account lacks the privilege ${missing.join('; ')}.`);
}

async function vmLabel(vs: VSphere, moref: string): Promise<string> {
  const name = await vs.pc.retrieveOne<{ name?: string }>({ type: 'VirtualMachine', value: moref }, ['name']).then((p) => p.name, () => undefined);
  return `VM '${name ?? moref}' (${moref})`;
}

/** The privileges of `rules` on each VM (site-qualified ids), checked at each VM's own site. */
export async function requireOnVms(user: UserContext, vmIds: string[], what: string, rules: readonly PrivilegeRule[]): Promise<void> {
  const bySite = new Map<VSphere, string[]>();
  for (const id of vmIds) {
    const { vs, local } = siteSession(user, id);
    bySite.set(vs, [...(bySite.get(vs) ?? []), local]);
  }
  for (const [vs, morefs] of bySite) {
    const checks = await Promise.all(morefs.map(async (m) => ({ entity: { type: 'VirtualMachine', value: m }, label: await vmLabel(vs, m), rules, on: 'vm' as const })));
    await requirePrivileges(vs, what, checks);
  }
}

/** Whether the user holds Global.Settings (vCenter administrators) at the primary site. */
async function isVcAdmin(user: UserContext): Promise<boolean> {
  const { vs } = siteSession(user, '');
  try {
    await requirePrivileges(vs, 'administer', [{ entity: vs.client.serviceContent.rootFolder, label: 'the root folder', rules: PRIVILEGES.administer, on: 'root' }]);
    return true;
  } catch (e) {
    if (e instanceof Forbidden) return false;
    throw e;
  }
}

/** Guest work a job's settings imply: scripts, or any use of a guest credential. */
const usesGuest = (a: Pick<AppAwareSettings, 'preFreeze' | 'postThaw' | 'guestCredentialId'>): boolean => Boolean(a.preFreeze || a.postThaw || a.guestCredentialId);

/**
 * Using a guest credential (in a job, or by running a job that has one): the credential must be the
 * user's own or shared (others are answered as not existing), and the user needs the guest
 * operations privileges on every VM it would be used on.
 */
export async function requireGuestUse(user: UserContext, store: JobStore, appAware: Pick<AppAwareSettings, 'preFreeze' | 'postThaw' | 'guestCredentialId'>, vmIds: string[],
  runningJob?: string): Promise<void> {
  if (!usesGuest(appAware)) return;
  const id = appAware.guestCredentialId;
  const cred = id ? store.credential(id) : undefined;
  if (id && (!cred || !credentialVisibleTo(cred, user.username))) {
    if (runningJob !== undefined) {
      throw new Forbidden(`Job '${runningJob}' runs guest work with a guest credential that is private to another user: only its owner may run it, or the job must use a credential of yours or a shared one.`);
    }
    throw new InvalidRequest(`Invalid request: body.appAware.guestCredentialId '${id}' is not a stored guest credential.`);
  }
  await requireOnVms(user, vmIds, 'Running guest scripts with a guest credential', PRIVILEGES.guestScripts);
}

/** A credential as the API shows it. */
const credentialDto = (c: CredentialModel) => ({ id: c.id, name: c.name, username: c.username, owner: c.owner, scope: c.scope });

/** POST /credentials: GuestCredentialInput plus the scope (private by default). */
const CredentialCreateSchema: Schema = {
  type: 'object', additionalProperties: false, required: ['name', 'username', 'password'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    username: { type: 'string', minLength: 1, maxLength: 256 },
    password: { type: 'string', maxLength: 1024 },
    scope: { type: 'string', enum: ['private', 'shared'], description: "'private' (default): only you see and use it; 'shared': every user sees it, and may use it where vCenter grants them guest operations on the job's VMs" },
  },
};

async function checkJob(input: JobInput, store: JobStore, inventory: InventoryApi): Promise<void> {
  if (input.vmIds.length === 0 && !input.folderIds?.length) throw new InvalidRequest('Invalid request: a job needs at least one VM (body.vmIds) or VM folder (body.folderIds).');
  if (input.folderIds?.length) {
    const known = new Set((await inventory.folders()).map((f) => f.id));
    const unknown = input.folderIds.filter((id) => !known.has(id));
    if (unknown.length) throw new InvalidRequest(`Invalid request: body.folderIds: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not a VM folder' : 'are not VM folders'}; list them with GET /api/inventory/folders.`);
  }
  if (input.schedule.cron !== null) {
    try { parseCron(input.schedule.cron); } catch (e) { if (e instanceof CronError) throw new InvalidRequest(`Invalid request: body.schedule.cron: ${e.message}`); throw e; }
  }
  const id = input.appAware.guestCredentialId;
  if (id && !store.credentials().some((c) => c.id === id)) throw new InvalidRequest(`Invalid request: body.appAware.guestCredentialId '${id}' is not a stored guest credential.`);
  if ((input.appAware.preFreeze || input.appAware.postThaw) && !id) {
    throw new InvalidRequest('Invalid request: pre-freeze/post-thaw scripts run in the guest and need guest credentials (body.appAware.guestCredentialId).');
  }
}

export function operationRoutes(d: OperationsDeps): RouteDef[] {
  // A job is shown to a user who can see at least one of its VMs, with only those VMs; changing or
  // running it needs every one of its VMs (folder members included) to be visible to the user.
  const shownJob = async (user: UserContext, model: JobModel): Promise<Job | undefined> => {
    const job = jobToDto(model);
    const visible = await user.session.visibleVmIds();
    const members = await d.jobVms(job);
    if (members.length > 0 && !members.some((id) => visible.has(id))) return undefined;
    return { ...job, vmIds: job.vmIds.filter((id) => visible.has(id)) };
  };
  const jobForUser = async (user: UserContext, id: string): Promise<Job> => {
    const job = await shownJob(user, d.store.job(id));
    // The same answer as for a job that does not exist: a hidden job's id reveals nothing.
    if (!job) throw new NotFound('Job', id, 'it may have been deleted; list jobs with GET /api/jobs.');
    return job;
  };
  /** A run is shown when the user sees all its VMs and, for a job's run or a job's maintenance, that job. */
  const runVisible = async (user: UserContext, run: { vms: { vmId: string }[]; jobId?: string; forJob?: { id: string } }, visible: Set<string>): Promise<boolean> => {
    if (!run.vms.every((v) => visible.has(v.vmId))) return false;
    const jobId = run.forJob?.id ?? (run.vms.length ? undefined : run.jobId);
    if (!jobId) return true;
    const job = d.store.jobs().find((j) => j.id === jobId);
    return job ? (await shownJob(user, job)) !== undefined : false;
  };
  /** Starting or changing a job's work: backup privileges on every VM, guest use when it runs guest work. */
  /** `running`: the job runs as it is (its name for messages), rather than being created or changed. */
  const requireJobRights = async (user: UserContext, job: Pick<JobInput, 'appAware' | 'name'>, members: string[], running = false): Promise<void> => {
    await requireOnVms(user, members, 'Backing up', PRIVILEGES.backup);
    await requireGuestUse(user, d.store, job.appAware, members, running ? job.name : undefined);
  };
  const requireWholeJob = async (user: UserContext, job: Pick<JobInput, 'vmIds' | 'folderIds' | 'name'>): Promise<string[]> => {
    const members = await d.jobVms(job);
    const visible = await user.session.visibleVmIds();
    if (members.some((m) => !visible.has(m))) {
      throw new Forbidden(`Job '${job.name}' includes VMs your vCenter account cannot see: only a user who can see all of them may change or run it.`);
    }
    return members;
  };
  /** VMs (ids) in the vCenter of `siteVmId` whose name is `name` (vCenter compares names case-sensitively). */
  const vmsNamed = async (siteVmId: string, name: string): Promise<string[]> => {
    const i = siteVmId.indexOf(':');
    const prefix = i < 0 ? '' : siteVmId.slice(0, i + 1);
    const atSite = (id: string) => (prefix ? id.startsWith(prefix) : !id.includes(':'));
    return (await d.inventory.vms()).filter((v) => atSite(v.id) && v.name === name.trim()).map((v) => v.id);
  };
  return [
    // --- backups and restore points
    {
      method: 'post', path: '/backups', tag: 'backup', status: 202, body: BackupRequestSchema,
      summary: 'Back up VMs now (the VM\'s job settings apply, else defaults)',
      handler: async ({ body, user }) => {
        const b = body as BackupRequest;
        await requireVisible(user, b.vmIds);
        if (b.jobId) await jobForUser(user, b.jobId);
        await requireOnVms(user, b.vmIds, 'Backing up', PRIVILEGES.backup);
        // The settings that will apply (as backupNow picks them): the job's, else each VM's first enabled backup job.
        const all = d.store.jobs();
        for (const id of b.vmIds) {
          let settings = b.jobId ? all.find((j) => j.id === b.jobId) : undefined;
          if (!b.jobId) {
            for (const j of all.filter((x) => x.enabled && x.kind === 'backup')) {
              if ((await d.jobVms(j).catch(() => j.vmIds)).includes(id)) { settings = j; break; }
            }
          }
          if (settings) await requireGuestUse(user, d.store, settings.appAware, [id], settings.name);
        }
        return d.backupNow(b.vmIds, user.username, b.jobId);
      },
    },
    {
      method: 'get', path: '/vms/:id/restore-points', tag: 'backup', summary: 'Restore points of a VM, newest first',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', VM_ID, 'VM');
        await requireVisible(user, [id]);
        return d.restorePoints(id);
      },
    },
    {
      method: 'get', path: '/restore-points/:id', tag: 'backup', summary: 'One restore point',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', RP_ID, 'restore point');
        const rp = await d.restorePoint(id);
        if (!rp) throw new NotFound('Restore point', id);
        await requireVisible(user, [rp.vmId]);
        return rp;
      },
    },
    {
      method: 'get', path: '/restore-points/:id/target-name', tag: 'restore', query: TargetNameQuery,
      summary: 'Whether a new VM restored from this point may take a name: no VM of that name exists in the point\'s vCenter',
      handler: async ({ req, user, query }): Promise<TargetNameCheck> => {
        const id = param(req, 'id', RP_ID, 'restore point');
        const rp = await d.restorePoint(id);
        if (!rp) throw new NotFound('Restore point', id);
        await requireVisible(user, [rp.vmId]);
        const name = (query as { name: string }).name;
        const taken = await vmsNamed(rp.vmId, name);
        return { name, available: taken.length === 0, ...(taken.length ? { existingVmIds: taken } : {}) };
      },
    },
    {
      method: 'post', path: '/restore-points/:id/restore', tag: 'restore', status: 202, body: RestoreRequestSchema,
      summary: 'Restore the VM of a restore point, to a new VM or over the original',
      handler: async ({ req, user, body }) => {
        const id = param(req, 'id', RP_ID, 'restore point');
        const r = body as RestoreRequest;
        const rp = await d.restorePoint(id);
        if (!rp) throw new NotFound('Restore point', id);
        await requireVisible(user, [rp.vmId]);
        if (r.target.kind === 'original' && r.target.confirm !== true) {
          throw new InvalidRequest('Restoring over the original VM replaces its disks: confirm with target.confirm = true.');
        }
        const { vs, local, prefix } = siteSession(user, rp.vmId);
        // After the privilege checks: a name already in use is refused before the run starts (the run checks
        // again, just before creating the VM).
        const start = async (): Promise<JobRun> => {
          if (r.target.kind === 'new' && (await vmsNamed(rp.vmId, r.target.name)).length) {
            throw new Conflict(`A VM named '${r.target.name.trim()}' already exists in this vCenter: choose another name for the restored VM, or restore over the original VM.`);
          }
          return d.restore(rp, r, user);
        };
        if (r.target.kind === 'original') {
          const rules = [...PRIVILEGES.restoreOriginal, ...(r.target.powerOn ? PRIVILEGES.restoreOriginalPowerOn : [])];
          await requirePrivileges(vs, 'Restoring over the original VM', [{ entity: { type: 'VirtualMachine', value: local }, label: await vmLabel(vs, local), rules, on: 'vm' }]);
        } else {
          // Placement as the restore will resolve it, but in the user's own session: what the user cannot see is not found.
          const unqualified = (arg: string) => (prefix && arg.startsWith(prefix) ? arg.slice(prefix.length) : arg);
          let pl: Awaited<ReturnType<typeof resolvePlacement>>;
          try {
            pl = await resolvePlacement(vs, unqualified(r.target.host), unqualified(r.target.datastore));
          } catch (e) {
            // A target that is invalid or unknown for the service account too fails in the restore run,
            // as it always did (with the run's message); one only the user cannot see is refused here.
            if (e instanceof InvalidRequest) return start();
            if (!(e instanceof NotFound)) throw e;
            const atSite = (id: string) => (prefix ? id.startsWith(prefix) : !id.includes(':'));
            const known = (items: { id: string; name: string }[], arg: string) => items.some((x) => atSite(x.id)
              && (x.id === arg || x.id === prefix + arg || x.name.toLowerCase() === arg.trim().toLowerCase()));
            const [hosts, datastores] = await Promise.all([d.inventory.hosts(), d.inventory.datastores()]);
            if (known(hosts, r.target.host) && known(datastores, r.target.datastore)) throw e;
            return start();
          }
          const folderName = await vs.pc.retrieveOne<{ name?: string }>(pl.folder, ['name']).then((p) => p.name ?? pl.folder.value, () => pl.folder.value);
          const rules = [...PRIVILEGES.restoreNew, ...(r.target.powerOn ? PRIVILEGES.restoreNewPowerOn : [])];
          // The networks the restored NICs will be put on, as the restore will choose them on this host.
          const nics = await d.restorePointNics(rp.id);
          const hostNets = nics.length ? await hostNetworks(vs, pl.host.ref) : new Map<string, MoRef>();
          const networks = new Map(nics.flatMap((n) => { const at = nicNetwork(n, hostNets); return at ? [[at[1].value, at] as const] : []; }));
          await requirePrivileges(vs, `Restoring to a new VM on host '${pl.host.name}'`, [
            { entity: pl.folder, label: `folder '${folderName}' of datacenter '${pl.datacenter.name}' (${pl.folder.value})`, rules, on: 'folder' },
            { entity: pl.datastore.ref, label: `datastore '${pl.datastore.name}' (${pl.datastore.ref.value})`, rules, on: 'datastore' },
            { entity: pl.pool, label: `the resource pool of host '${pl.host.name}' (${pl.pool.value})`, rules, on: 'pool' },
            ...[...networks.values()].map(([name, ref]) => ({ entity: ref, label: `network '${name}' (${ref.value})`, rules, on: 'network' as const })),
          ]);
        }
        return start();
      },
    },
    {
      method: 'get', path: '/vms/:id/jobs', tag: 'jobs', summary: 'Jobs that protect a VM',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', VM_ID, 'VM');
        await visibleVm(d.inventory, user, id);
        const mine: Job[] = [];
        for (const j of d.store.jobs()) {
          if (!(await d.jobVms(j)).includes(id)) continue;
          const shown = await shownJob(user, j);
          if (shown) mine.push(shown);
        }
        return mine;
      },
    },
    {
      method: 'get', path: '/vms/:id/runs', tag: 'jobs', summary: 'Backup and restore history of a VM', query: LimitQuery,
      handler: async ({ req, user, query }) => {
        const id = param(req, 'id', VM_ID, 'VM');
        await requireVisible(user, [id]);
        return d.store.runs({ vmId: id, limit: (query as { limit?: number }).limit ?? 50 }).map(runToDto);
      },
    },
    // --- jobs
    {
      method: 'get', path: '/jobs', tag: 'jobs', summary: 'All jobs',
      handler: async ({ user }) => (await Promise.all(d.store.jobs().map((j) => shownJob(user, j)))).filter((j): j is Job => j !== undefined),
    },
    {
      method: 'post', path: '/jobs', tag: 'jobs', status: 201, body: JobInputSchema, summary: 'Create a job',
      handler: async ({ body, user }) => {
        const input = body as JobInput;
        await requireVisible(user, input.vmIds);
        await checkJob(input, d.store, d.inventory);
        await requireJobRights(user, input, await requireWholeJob(user, input));
        const job = d.store.createJob(jobDraftFromDto(input));
        d.jobsChanged(jobToDto(job));
        return jobToDto(d.store.job(job.id));
      },
    },
    {
      method: 'get', path: '/jobs/:id', tag: 'jobs', summary: 'One job',
      handler: async ({ req, user }) => jobForUser(user, param(req, 'id', UUID_ID, 'job')),
    },
    {
      method: 'put', path: '/jobs/:id', tag: 'jobs', body: JobInputSchema, summary: 'Change a job',
      handler: async ({ req, body, user }) => {
        const id = param(req, 'id', UUID_ID, 'job');
        const input = body as JobInput;
        const current = await jobForUser(user, id);
        // This route writes backup jobs: a replication job keeps its kind and target (routes/replication.ts).
        if (current.kind !== 'backup') throw new InvalidRequest(`Job '${current.name}' is a ${current.kind} job: change it with PUT /api/replication-jobs/${id}.`);
        await requireWholeJob(user, jobToDto(d.store.job(id)));
        await requireVisible(user, input.vmIds);
        await checkJob(input, d.store, d.inventory);
        await requireJobRights(user, input, await requireWholeJob(user, input));
        const { kind: _kind, target: _target, ...change } = jobDraftFromDto(input);
        const job = d.store.updateJob(id, change);
        d.jobsChanged(jobToDto(job));
        return jobToDto(d.store.job(id));
      },
    },
    {
      method: 'delete', path: '/jobs/:id', tag: 'jobs', summary: 'Delete a job (its restore points stay)',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', UUID_ID, 'job');
        await jobForUser(user, id);
        await requireWholeJob(user, jobToDto(d.store.job(id)));
        d.store.deleteJob(id);
        d.jobsChanged();
        return undefined;
      },
    },
    {
      method: 'post', path: '/jobs/:id/run', tag: 'jobs', status: 202, summary: 'Run a job now',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', UUID_ID, 'job');
        await jobForUser(user, id);
        const job = jobToDto(d.store.job(id));
        await requireJobRights(user, job, await requireWholeJob(user, job), true);
        return runToDto(await d.runner.runJob(job.id, user.username));
      },
    },
    {
      method: 'post', path: '/jobs/:id/vms', tag: 'jobs', body: VmIdsSchema, summary: 'Add VMs to a job',
      handler: async ({ req, body, user }) => {
        const id = param(req, 'id', UUID_ID, 'job');
        await jobForUser(user, id);
        const job = jobToDto(d.store.job(id));
        const ids = (body as { vmIds: string[] }).vmIds;
        await requireVisible(user, ids);
        await requireWholeJob(user, job);
        await requireJobRights(user, job, await requireWholeJob(user, { ...job, vmIds: [...new Set([...job.vmIds, ...ids])] }), true);
        const updated = jobToDto(d.store.updateJob(job.id, { vmIds: [...new Set([...job.vmIds, ...ids])] }));
        d.jobsChanged(updated);
        return updated;
      },
    },
    {
      method: 'get', path: '/app-aware/defaults', tag: 'jobs', summary: 'Application-aware settings new jobs start with', response: AppAwareSchema,
      handler: async () => ({ ...DEFAULT_APP_AWARE }),
    },
    // --- repository maintenance
    {
      method: 'get', path: '/maintenance', tag: 'repository', summary: 'Scheduled repository maintenance (GC, verify) and when it runs next',
      handler: async () => d.maintenance(),
    },
    {
      method: 'post', path: '/maintenance/:kind/run', tag: 'repository', status: 202,
      summary: 'Run a maintenance task now (gc or verify); needs Global.Settings, as managing the repository does',
      handler: async ({ req, user }) => {
        const kind = param(req, 'kind', /^(gc|verify)$/, 'maintenance task (gc or verify)') as 'gc' | 'verify';
        if (!(await isVcAdmin(user))) throw new Forbidden(`Running ${kind} on the repository needs the vCenter privilege Global.Settings on the root folder.`);
        return runToDto(d.runner.runTask(kind, user.username));
      },
    },
    // --- runs
    {
      method: 'get', path: '/runs', tag: 'jobs', query: RunsQuery,
      summary: 'Recent runs, newest first; filtered by outcome, kind and start time, they are the runs behind a dashboard figure',
      handler: async ({ user, query }) => {
        const q = query as RunFilter & { limit?: number };
        const visible = await user.session.visibleVmIds();
        const since = q.since && /^\d+[hd]$/.test(q.since)
          ? new Date(Date.now() - Number.parseInt(q.since, 10) * (q.since.endsWith('d') ? 86_400_000 : 3_600_000)).toISOString() : q.since;
        const filter: RunFilter = { ...(q.status ? { status: q.status } : {}), ...(q.kind ? { kind: q.kind } : {}), ...(since ? { since } : {}), ...(q.until ? { until: q.until } : {}) };
        const filtered = Object.keys(filter).length > 0;
        const runs = d.store.runs({ limit: filtered ? 10_000 : q.limit ?? 100 }).filter((r) => runMatches(r, filter));
        const shown = await Promise.all(runs.map((r) => runVisible(user, r, visible)));
        return runs.filter((_, i) => shown[i]).slice(0, q.limit ?? (filtered ? 1000 : 100)).map(runToDto);
      },
    },
    {
      method: 'get', path: '/runs/:id', tag: 'jobs', summary: 'One run',
      handler: async ({ req, user }) => {
        const run = d.store.run(param(req, 'id', UUID_ID, 'run'));
        await requireVisible(user, run.vms.map((v) => v.vmId));
        if (!(await runVisible(user, run, await user.session.visibleVmIds()))) throw new NotFound('Run', run.id);
        return runToDto(run);
      },
    },
    {
      method: 'post', path: '/runs/:id/cancel', tag: 'jobs', summary: 'Cancel a running run',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', UUID_ID, 'run');
        const run = d.store.run(id);
        await requireVisible(user, run.vms.map((v) => v.vmId));
        if (!(await runVisible(user, run, await user.session.visibleVmIds()))) throw new NotFound('Run', id);
        return runToDto(d.runner.cancel(id));
      },
    },
    // --- guest credentials (model/credential.ts: owner and scope)
    {
      method: 'get', path: '/credentials', tag: 'jobs', summary: 'Guest OS credentials you may use: your own and shared ones (no passwords)',
      handler: async ({ user }) => d.store.credentials().filter((c) => credentialVisibleTo(c, user.username)).map(credentialDto),
    },
    {
      method: 'post', path: '/credentials', tag: 'jobs', status: 201, body: CredentialCreateSchema, summary: 'Store guest OS credentials (encrypted), owned by you',
      handler: async ({ body, user }) => credentialDto(d.store.addCredential(body as GuestCredentialInput & { scope?: 'private' | 'shared' }, user.username)),
    },
    {
      method: 'delete', path: '/credentials/:id', tag: 'jobs', summary: 'Delete stored guest credentials (the owner, or a vCenter user holding Global.Settings)',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', UUID_ID, 'credential');
        const cred = d.store.credential(id);
        const admin = cred && !isCredentialOwner(cred, user.username) ? await isVcAdmin(user) : false;
        // Another user's private credential does not exist for this user (unless a vCenter administrator).
        if (!cred || (!credentialVisibleTo(cred, user.username) && !admin)) throw new NotFound('Guest credential', id);
        if (!isCredentialOwner(cred, user.username) && !admin) {
          throw new Forbidden(`Guest credential '${cred.name}' is shared by ${cred.owner}: only its owner, or a vCenter user holding Global.Settings, may delete it.`);
        }
        const users = d.store.credentialUsers(id);
        if (users.length) {
          const names: string[] = [];
          for (const j of d.store.jobs().filter((x) => users.includes(x.id))) if (await shownJob(user, j)) names.push(`'${j.name}'`);
          const others = users.length - names.length;
          const list = [...names, ...(others ? [`${count(others, 'job')} you cannot see`] : [])].join(', ');
          throw new Conflict(`Guest credential '${cred.name}' is used by ${list}: change those jobs first.`);
        }
        d.store.deleteCredential(id);
        return undefined;
      },
    },
    // --- dashboard
    {
      method: 'get', path: '/dashboard', tag: 'service', summary: 'Protection, results, repository and running work at a glance',
      handler: async ({ user }) => d.dashboard(await user.session.visibleVmIds()),
    },
  ];
}
