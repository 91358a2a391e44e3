// Repository and run history as the UI sees them: restore points joined with the runs that made
// them (warnings, job), and the dashboard's figures.
import type { GrowthHistory } from './growth-history.ts';
import { declaredDatabases } from '../app-items/locate.ts';
import type { Dashboard, JobRun, RestorePoint } from '../api/contract.ts';
import type { Run } from '../model/job.ts';
import { outcomes } from '../model/run-filter.ts';
import type { Repository, RestorePoint as RepoPoint } from '../repository/repository.ts';
import type { JobStore } from '../jobs/store.ts';
import type { VmSummary } from '../api/contract.ts';
import { textKey, textKeys, textsOf } from '../api/service-texts.ts';

/** `siteOf` names the site of a (qualified) VM id when several vCenters are configured. */
/** `runs` is only called for points of older versions, which do not record their origin themselves. */
export function restorePointDto(rp: RepoPoint, runs: () => Run[], siteOf?: (vmId: string) => string | undefined): RestorePoint {
  const site = siteOf?.(rp.vm.id);
  // The point says itself where it came from; only points of older versions need the run history.
  const m = rp.metadata;
  const run = m ? undefined : runs().find((r) => r.vms.some((v) => v.restorePointId === rp.id && r.kind === 'backup'));
  const v = run?.vms.find((x) => x.restorePointId === rp.id);
  const jobId = m ? m.origin.jobId : run?.jobId;
  const runId = m ? m.origin.runId : run?.id;
  return {
    id: rp.id,
    vmId: rp.vm.id,
    vmName: rp.vm.name,
    ...(site ? { site } : {}),
    createdAt: rp.createdAt,
    consistency: rp.consistency,
    logicalBytes: rp.logicalBytes,
    storedBytes: rp.newStoredBytes,
    durationMs: v?.durationMs ?? Math.max(0, Date.parse(rp.completedAt) - Date.parse(rp.createdAt)),
    disks: rp.disks.map((d) => ({ key: Number(d.key), label: d.label, capacityBytes: d.capacity })),
    ...(m ? { consistencyReason: m.consistency.reason } : {}),
    ...(jobId ? { jobId } : {}),
    ...(runId ? { runId } : {}),
    ...(rp.lockedUntil ? { lockedUntil: rp.lockedUntil } : {}),
    ...(rp.notes ? { notes: rp.notes } : {}),
    warnings: m ? [...m.warnings] : v?.warnings ?? [],
    ...withPointTexts(m ? m.consistency.reason : undefined, m ? m.warnings : v?.warnings ?? []),
    ...(m?.vss && declaredDatabases(m.vss).length ? { applicationItems: [...new Set(declaredDatabases(m.vss).map((d) => d.writer))] } : {}),
  };
}

function withPointTexts(reason: string | undefined, warnings: readonly string[]): Pick<RestorePoint, 'texts'> {
  const texts = textsOf({ consistencyReason: textKey(reason), warnings: textKeys(warnings) });
  return texts ? { texts } : {};
}

/** The "last 24 hours" figures: finished runs of every kind (backup, restore, replication, file restore, catalog, maintenance). */
export function lastDayCounts(runs: Run[], now = Date.now()): Dashboard['last24h'] {
  const since = new Date(now - 24 * 3600_000).toISOString();
  const c = { success: 0, warning: 0, failed: 0, cancelled: 0, since };
  for (const r of runs) {
    if (r.startedAt < since || r.status === 'running' || r.status === 'queued') continue;
    for (const st of outcomes(r)) if (st === 'success' || st === 'warning' || st === 'failed' || st === 'cancelled') c[st]++;
  }
  return c;
}

export async function dashboard(repo: Repository, store: JobStore, active: JobRun[], vms: VmSummary[], visible: Set<string>, opts: { protectionWindowHours?: number; growth?: GrowthHistory } = {}): Promise<Dashboard> {
  const mine = vms.filter((v) => visible.has(v.id));
  const runs = store.runs({ limit: 10_000 }).filter((r) => r.vms.every((v) => visible.has(v.vmId)));
  const last24h = lastDayCounts(runs);
  const [stats, space, points] = await Promise.all([repo.stats(), repo.space(), repo.listRestorePoints()]);
  const myPoints = points.filter((p) => visible.has(p.vm.id));
  const perDay = new Map<string, number>();
  for (const p of myPoints) perDay.set(p.createdAt.slice(0, 10), (perDay.get(p.createdAt.slice(0, 10)) ?? 0) + p.newStoredBytes);
  let cumulative = 0;
  const estimated = [...perDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([date, n]) => ({ date, storedBytes: (cumulative += n) }));
  opts.growth?.record(stats.packBytes);
  const growth = opts.growth ? opts.growth.series(estimated) : estimated;
  const durations = runs.filter((r) => r.kind === 'backup' && r.endedAt).slice(0, 50).flatMap((r) =>
    r.vms.filter((v) => v.status === 'success' || v.status === 'warning').map((v) => ({ at: r.endedAt!, vmName: v.vmName, durationMs: v.durationMs }))).reverse();
  return {
    vms: {
      total: mine.length, protected: mine.filter((v) => v.protected).length, unprotected: mine.filter((v) => !v.protected).length,
      scheduled: mine.filter((v) => v.inScheduledJob).length,
    },
    ...(opts.protectionWindowHours ? { protectionWindowHours: opts.protectionWindowHours } : {}),
    last24h,
    repository: {
      capacityBytes: space?.totalBytes ?? 0,
      usedBytes: stats.packBytes,
      logicalBytes: stats.logicalBytes,
      dedupRatio: stats.packBytes ? stats.logicalBytes / stats.packBytes : 0,
      restorePoints: myPoints.length,
    },
    running: active.filter((r) => r.vms.every((v) => visible.has(v.vmId))),
    growth,
    durations,
  };
}
