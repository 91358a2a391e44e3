// The repository page (contracts/repository.ts): usage and growth as the dashboard counts them,
// restore points per VM, immutability locks, and the retention preview computed by the very function
// the job's retention run uses (jobs/maintenance.ts retentionPlan). Reading shows only the VMs and
// jobs the user's own vCenter session can see; applying a job's retention needs Global.Settings on
// the root folder, as running GC or verify does (POST /api/maintenance/:kind/run).
import type { Dashboard, JobRun } from '../contract.ts';
import type { JobRetentionPreviewDto, RepositoryOverviewDto, RepositoryVmDto, RetentionPreviewDto, RetentionPointDto } from '../contracts/repository.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import type { Schema } from '../schema.ts';
import type { Repository, RestorePoint } from '../../repository/repository.ts';
import type { JobStore } from '../../jobs/store.ts';
import type { JobRunner } from '../../jobs/runner.ts';
import type { Job } from '../../model/job.ts';
import { retentionPlan } from '../../jobs/maintenance.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { InvalidRequest, NotFound } from '../../common/errors.ts';
import { hasRetention } from '../../model/retention.ts';
import { param, UUID_ID } from '../http.ts';
import { runToDto } from '../mappers.ts';
import { requirePrivileges, siteSession } from './operations.ts';

export interface RepositoryPageDeps {
  repo(): Promise<Repository>;
  store: JobStore;
  runner: JobRunner;
  /** A job's VMs now: listed ones plus the members of its folders. */
  jobVms(job: Pick<Job, 'vmIds' | 'folderIds'>): Promise<string[]>;
  /** The dashboard's figures for the VMs the user sees: the page shows the same usage and growth. */
  dashboard(visible: Set<string>): Promise<Dashboard>;
  maintenance(): { kind: 'gc' | 'verify'; nextRun?: string }[];
}

const PreviewQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: { jobId: { type: 'string', minLength: 1, maxLength: 64, description: 'one job; omitted: every job with a retention policy' } },
};

async function requireAdmin(user: UserContext, what: string): Promise<void> {
  const { vs } = siteSession(user, '');
  await requirePrivileges(vs, what, [{ entity: vs.client.serviceContent.rootFolder, label: 'the root folder', rules: PRIVILEGES.administer, on: 'root' }]);
}

/** Restore points per VM: count, oldest and newest, bytes they added; newest-protected VMs first. */
export function pointsPerVm(points: RestorePoint[]): RepositoryVmDto[] {
  const byVm = new Map<string, RepositoryVmDto>();
  for (const p of points) {
    const v = byVm.get(p.vm.id) ?? { vmId: p.vm.id, vmName: p.vm.name, restorePoints: 0, oldest: p.createdAt, newest: p.createdAt, storedBytes: 0, logicalBytes: 0 };
    v.restorePoints++;
    v.storedBytes += p.newStoredBytes;
    v.logicalBytes += p.logicalBytes;
    if (p.createdAt < v.oldest) v.oldest = p.createdAt;
    if (p.createdAt >= v.newest) { v.newest = p.createdAt; v.vmName = p.vm.name; }
    byVm.set(p.vm.id, v);
  }
  return [...byVm.values()].sort((a, b) => a.vmName.localeCompare(b.vmName) || a.vmId.localeCompare(b.vmId));
}

export function repositoryRoutes(d: RepositoryPageDeps): RouteDef[] {
  /** Jobs the user may look into: every VM the job covers is visible to the user's session. */
  const visibleJobs = async (visible: Set<string>, jobId?: string): Promise<{ job: Job; members: string[] }[]> => {
    const jobs = jobId ? d.store.jobs().filter((j) => j.id === jobId) : d.store.jobs();
    const out: { job: Job; members: string[] }[] = [];
    for (const job of jobs) {
      const members = await d.jobVms(job);
      if (members.every((m) => visible.has(m))) out.push({ job, members });
    }
    // A hidden job's id answers like one that does not exist.
    if (jobId && !out.length) throw new NotFound('Job', jobId, 'it may have been deleted; list jobs with GET /api/jobs.');
    return out;
  };

  return [
    {
      method: 'get', path: '/repository', tag: 'repository',
      summary: 'The repository at a glance: usage and growth (as the dashboard counts them), restore points per VM, immutability locks',
      handler: async ({ user }): Promise<RepositoryOverviewDto> => {
        const visible = await user.session.visibleVmIds();
        const repo = await d.repo();
        const [board, stats, space, points] = await Promise.all([d.dashboard(visible), repo.stats(), repo.space(), repo.listRestorePoints()]);
        const mine = points.filter((p) => visible.has(p.vm.id));
        const now = Date.now();
        const r = board.repository;
        return {
          usage: {
            sizeOnDiskBytes: r.usedBytes, logicalBytes: r.logicalBytes, dataBytes: stats.nonZeroBytes, dedupRatio: r.dedupRatio,
            reductionRatio: stats.dedupRatio, capacityBytes: r.capacityBytes, ...(space ? { freeBytes: space.freeBytes } : {}),
            restorePoints: r.restorePoints, chunks: stats.chunks, packs: stats.packs, encrypted: stats.encrypted,
          },
          growth: board.growth,
          vms: pointsPerVm(mine),
          locks: mine.filter((p) => p.lockedUntil && Date.parse(p.lockedUntil) > now)
            .map((p) => ({ restorePointId: p.id, vmId: p.vm.id, vmName: p.vm.name, createdAt: p.createdAt, lockedUntil: p.lockedUntil! }))
            .sort((a, b) => a.lockedUntil.localeCompare(b.lockedUntil)),
          maintenance: d.maintenance(),
        };
      },
    },
    {
      method: 'get', path: '/repository/retention-preview', tag: 'repository', query: PreviewQuery,
      summary: "The restore points each job's retention would remove now, computed by the retention run's own function",
      handler: async ({ user, query }): Promise<RetentionPreviewDto> => {
        const visible = await user.session.visibleVmIds();
        const repo = await d.repo();
        const names = new Map((await repo.listRestorePoints()).map((p) => [p.id, p.vm.name]));
        const point = (p: { id: string; vmId: string; createdAt: string }): RetentionPointDto => ({ id: p.id, vmId: p.vmId, vmName: names.get(p.id) ?? p.vmId, createdAt: p.createdAt });
        const jobs: JobRetentionPreviewDto[] = [];
        for (const { job, members } of await visibleJobs(visible, (query as { jobId?: string }).jobId)) {
          if (job.kind !== 'backup' || !hasRetention(job.retention)) continue;
          const plan = await retentionPlan(repo, members, job);
          jobs.push({
            jobId: job.id, jobName: job.name, retention: { ...job.retention },
            remove: plan.remove.map(point), keep: plan.keep.map((k) => ({ ...point(k), reasons: k.reasons })),
          });
        }
        return { jobs };
      },
    },
    {
      method: 'post', path: '/repository/retention/:jobId/run', tag: 'repository', status: 202,
      summary: "Apply a job's retention now (removes what the preview lists); needs Global.Settings, as managing the repository does",
      handler: async ({ req, user }): Promise<JobRun> => {
        const jobId = param(req, 'jobId', UUID_ID, 'job');
        const [{ job }] = await visibleJobs(await user.session.visibleVmIds(), jobId);
        if (job.kind !== 'backup' || !hasRetention(job.retention)) throw new InvalidRequest(`Job '${job.name}' has no retention policy: give it one (e.g. keep the last 7) first.`);
        await requireAdmin(user, `Applying the retention of job '${job.name}'`);
        return runToDto(d.runner.runTask('retention', user.username, job));
      },
    },
  ];
}
