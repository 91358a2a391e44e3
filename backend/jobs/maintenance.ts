// Maintenance of the repository as runs of their own, not the tail of a backup job:
//   retention — a job's policy over the job's own restore points (queued when the job's run ends;
//               on-demand points and other jobs' points are never its to prune),
//   gc        — reclaims chunks no restore point references (scheduled, or on demand),
//   verify    — checks every chunk of every restore point (scheduled, or on demand).
// Each run's message says what it did, so the history shows every point retention removed.
import { count, formatBytes } from '../common/units.ts';
import type { Repository, RestorePoint } from '../repository/repository.ts';
import { decideRetention, type RetentionDecision } from '../repository/retention.ts';
import type { JobRunner } from './runner.ts';
import type { RepositoryTask, TaskContext, TaskOutcome } from './kinds.ts';
import { say, sayList } from '../common/service-text.ts';

export interface MaintenanceDeps {
  repo(): Promise<Repository>;
  /** A job's VMs now (listed and through folders). */
  jobVms(job: NonNullable<TaskContext['job']>): Promise<string[]>;
  /**
   * The file catalogs (file-restore/catalog/service.ts): retention removes a deleted point's catalog
   * at once; GC removes catalogs of points deleted elsewhere (`stillpoint repo prune` on the folder).
   */
  catalogs?: { forget(vmId: string, rpId: string): void; pruneAll(): Promise<number> };
}

export function registerMaintenance(runner: JobRunner, d: MaintenanceDeps): void {
  runner.registerTask(retentionTask(d)).registerTask(gcTask(d)).registerTask(verifyTask(d));
}

function retentionTask(d: MaintenanceDeps): RepositoryTask {
  return {
    kind: 'retention',
    async execute(ctx): Promise<TaskOutcome> {
      const job = ctx.job;
      if (!job) throw new Error('retention runs for a job: name the job');
      const repo = await d.repo();
      const doomed = (await retentionPlan(repo, await d.jobVms(job), job)).remove;
      const removed: string[] = [];
      const warnings: string[] = [];
      for (const [i, r] of doomed.entries()) {
        ctx.signal.throwIfAborted();
        ctx.progress((100 * i) / doomed.length, `removing ${r.id}`);
        try {
          await repo.deleteRestorePoint(r.id);
          removed.push(say('maintenance.removedPoint', { id: r.id, vmId: r.vmId, createdAt: r.createdAt }));
          try { d.catalogs?.forget(r.vmId, r.id); } catch (e) { warnings.push(`Removed ${r.id}, but not its file catalog: ${(e as Error).message}`); }
        } catch (e) {
          warnings.push(`Kept ${r.id}: ${(e as Error).message}`);
        }
      }
      const message = removed.length ? say('maintenance.retentionRemoved', { n: removed.length, job: job.name, points: sayList(removed) }) : say('maintenance.retentionKeptAll', { job: job.name });
      return { status: warnings.length ? 'warning' : 'success', message: [message, ...warnings].join(' '), warnings };
    },
  };
}

/**
 * What the job's retention run would remove and keep now: the run itself and the repository page's
 * preview both ask this, so the preview lists exactly what the run removes.
 * Only this job's own points of its current VMs: on-demand backups and other jobs' points are never the job's to prune.
 */
export async function retentionPlan(repo: Repository, vmIds: string[], job: Pick<NonNullable<TaskContext['job']>, 'id' | 'retention'>): Promise<RetentionDecision> {
  const members = new Set(vmIds);
  const mine = (await repo.listRestorePoints()).filter((p) => members.has(p.vm.id) && madeByJob(p, job.id));
  return mine.length ? decideRetention(mine, job.retention) : { keep: [], remove: [] };
}

/** Points made by a run of this job. Points without a recorded origin (older versions) are kept: better a point too many than one lost. */
function madeByJob(p: RestorePoint, jobId: string): boolean {
  return p.metadata?.origin.kind === 'job' && p.metadata.origin.jobId === jobId;
}

function gcTask(d: MaintenanceDeps): RepositoryTask {
  return {
    kind: 'gc',
    async execute(ctx): Promise<TaskOutcome> {
      const r = await (await d.repo()).gc({ onProgress: (done, total) => ctx.progress(total ? (100 * done) / total : 0, 'collecting garbage') });
      const catalogs = await d.catalogs?.pruneAll().catch(() => 0) ?? 0;
      return {
        status: 'success',
        message: say('maintenance.gcDone', {
          bytes: formatBytes(r.reclaimedBytes), chunks: r.deletedChunks, packs: r.deletedPacks, repacked: r.repackedPacks,
          catalogs: catalogs ? say('maintenance.gcCatalogs', { n: catalogs }) : '',
        }),
      };
    },
  };
}

function verifyTask(d: MaintenanceDeps): RepositoryTask {
  return {
    kind: 'verify',
    async execute(ctx): Promise<TaskOutcome> {
      const r = await (await d.repo()).verify({ onProgress: (done, total) => ctx.progress(total ? (100 * done) / total : 0, 'verifying chunks') });
      if (r.ok) return { status: 'success', message: say('maintenance.verifyOk') };
      const points = r.affected.map((a) => `${a.restorePoint} (${a.vm.name})`);
      throw new Error(`Verify found ${count(r.damaged.length, 'damaged chunk')} affecting ${count(points.length, 'restore point')}: ${points.join(', ')}. Back these VMs up again; damaged points cannot be restored whole.`);
    },
  };
}
