// Backups, restore points, restores, jobs, runs, guest credentials and the dashboard. Every VM a
// request names must be visible to the user's own vCenter session.
import type { Dashboard, GuestCredentialInput, Job, JobInput, JobRun, ReplicaState, RestorePoint, RestoreRequest, BackupRequest } from '../contract.ts';
import type { Job as JobModel } from '../../model/job.ts';
import { jobDraftFromDto, jobToDto, runToDto } from '../mappers.ts';
import { Forbidden, NotFound, InvalidRequest } from '../../common/errors.ts';
import { param, UUID_ID, VM_ID } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { AppAwareSchema, BackupRequestSchema, CredentialInputSchema, JobInputSchema, LimitQuery, RestoreRequestSchema, VmIdsSchema } from '../schemas.ts';
import type { JobRunner } from '../../jobs/runner.ts';
import { DEFAULT_APP_AWARE } from '../../model/app-aware.ts';
import type { JobStore } from '../../jobs/store.ts';
import { parseCron, CronError } from '../../jobs/cron.ts';
import type { InventoryApi } from './vms.ts';
import { visibleVm } from './vms.ts';

export const RP_ID = /^rp-[0-9A-Za-z-]{1,64}$/;

export interface OperationsDeps {
  store: JobStore;
  runner: JobRunner;
  inventory: InventoryApi;
  restorePoints(vmId?: string): Promise<RestorePoint[]>;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
  restore(rp: RestorePoint, req: RestoreRequest, user: UserContext): Promise<JobRun>;
  dashboard(visible: Set<string>): Promise<Dashboard>;
  /** Called after any job change (rescheduling). */
  jobsChanged(job?: Job): void;
  /** A job's VMs now: listed ones plus the members of its folders. */
  jobVms(job: Pick<JobInput, 'vmIds' | 'folderIds'>): Promise<string[]>;
  /** "Back up now"; with jobId as part of that job. */
  backupNow(vmIds: string[], initiatedBy: string, jobId?: string): Promise<JobRun>;
}

async function requireVisible(user: UserContext, vmIds: string[]): Promise<void> {
  const visible = await user.session.visibleVmIds();
  const hidden = vmIds.filter((id) => !visible.has(id));
  if (hidden.length) throw new NotFound('VM', hidden.join(', '), 'it may have been deleted, or your vCenter account cannot see it.');
}

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
    if (!job) throw new NotFound('Job', id);
    return job;
  };
  const requireWholeJob = async (user: UserContext, job: Pick<JobInput, 'vmIds' | 'folderIds' | 'name'>): Promise<string[]> => {
    const members = await d.jobVms(job);
    const visible = await user.session.visibleVmIds();
    if (members.some((m) => !visible.has(m))) {
      throw new Forbidden(`Job '${job.name}' includes VMs your vCenter account cannot see: only a user who can see all of them may change or run it.`);
    }
    return members;
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
        return d.restore(rp, r, user);
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
    {
      method: 'get', path: '/vms/:id/replica', tag: 'replication', summary: 'The VM\'s replica at the DR site (state none when it is not replicated)',
      handler: async ({ req, user }): Promise<ReplicaState> => {
        const id = param(req, 'id', VM_ID, 'VM');
        await visibleVm(d.inventory, user, id);
        return { vmId: id, state: 'none' };
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
        await requireWholeJob(user, input);
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
        await jobForUser(user, id);
        await requireWholeJob(user, jobToDto(d.store.job(id)));
        await requireVisible(user, input.vmIds);
        await checkJob(input, d.store, d.inventory);
        await requireWholeJob(user, input);
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
        await requireWholeJob(user, job);
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
        const updated = jobToDto(d.store.updateJob(job.id, { vmIds: [...new Set([...job.vmIds, ...ids])] }));
        d.jobsChanged(updated);
        return updated;
      },
    },
    {
      method: 'get', path: '/app-aware/defaults', tag: 'jobs', summary: 'Application-aware settings new jobs start with', response: AppAwareSchema,
      handler: async () => ({ ...DEFAULT_APP_AWARE }),
    },
    // --- runs
    {
      method: 'get', path: '/runs', tag: 'jobs', summary: 'Recent runs, newest first', query: LimitQuery,
      handler: async ({ user, query }) => {
        const visible = await user.session.visibleVmIds();
        return d.store.runs({ limit: (query as { limit?: number }).limit ?? 100 }).filter((r) => r.vms.every((v) => visible.has(v.vmId))).map(runToDto);
      },
    },
    {
      method: 'get', path: '/runs/:id', tag: 'jobs', summary: 'One run',
      handler: async ({ req, user }) => {
        const run = d.store.run(param(req, 'id', UUID_ID, 'run'));
        await requireVisible(user, run.vms.map((v) => v.vmId));
        return runToDto(run);
      },
    },
    {
      method: 'post', path: '/runs/:id/cancel', tag: 'jobs', summary: 'Cancel a running run',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', UUID_ID, 'run');
        await requireVisible(user, d.store.run(id).vms.map((v) => v.vmId));
        return runToDto(d.runner.cancel(id));
      },
    },
    // --- guest credentials
    { method: 'get', path: '/credentials', tag: 'jobs', summary: 'Stored guest OS credentials (no passwords)', handler: async () => d.store.credentials() },
    {
      method: 'post', path: '/credentials', tag: 'jobs', status: 201, body: CredentialInputSchema, summary: 'Store guest OS credentials (encrypted)',
      handler: async ({ body }) => d.store.addCredential(body as GuestCredentialInput),
    },
    {
      method: 'delete', path: '/credentials/:id', tag: 'jobs', summary: 'Delete stored guest credentials',
      handler: async ({ req }) => { d.store.deleteCredential(param(req, 'id', UUID_ID, 'credential')); return undefined; },
    },
    // --- dashboard
    {
      method: 'get', path: '/dashboard', tag: 'service', summary: 'Protection, results, repository and running work at a glance',
      handler: async ({ user }) => d.dashboard(await user.session.visibleVmIds()),
    },
  ];
}
