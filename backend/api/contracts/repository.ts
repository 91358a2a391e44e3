// The repository page (issue 14 item 8): usage and growth, restore points per VM, immutability locks,
// and the retention preview. Verify and GC start through POST /api/maintenance/:kind/run.
//
// Routes (under /api):
//   GET  /api/repository                               -> RepositoryOverviewDto
//   GET  /api/repository/retention-preview[?jobId=…]   -> RetentionPreviewDto
//   POST /api/repository/retention/:jobId/run          -> JobRun (202; needs Global.Settings on the root folder)
//
// Usage and growth are the dashboard's own figures (service/views.ts dashboard()), so the two pages agree.

export interface RepositoryUsageDto {
  /** Pack files on disk (the dashboard's "used"). */
  sizeOnDiskBytes: number;
  /** Sum of the disk capacities of every restore point (what full copies would take). */
  logicalBytes: number;
  /** Non-zero data of every restore point, before deduplication and compression. */
  dataBytes: number;
  /** logicalBytes / sizeOnDiskBytes: the dashboard's ratio. */
  dedupRatio: number;
  /** dataBytes / sizeOnDiskBytes: what deduplication and compression save on real data. */
  reductionRatio: number;
  /** Size and free space of the file system the repository lives on (0 when the storage cannot tell). */
  capacityBytes: number;
  freeBytes?: number;
  restorePoints: number;
  chunks: number;
  packs: number;
  encrypted: boolean;
}

export interface RepositoryVmDto {
  vmId: string;
  vmName: string;
  restorePoints: number;
  oldest: string;
  newest: string;
  /** Bytes these points added to the repository when they were written. */
  storedBytes: number;
  logicalBytes: number;
}

export interface RepositoryLockDto {
  restorePointId: string;
  vmId: string;
  vmName: string;
  createdAt: string;
  lockedUntil: string;
}

export interface RepositoryOverviewDto {
  usage: RepositoryUsageDto;
  /** Cumulative bytes stored, per day (the dashboard's growth chart). */
  growth: { date: string; storedBytes: number }[];
  vms: RepositoryVmDto[];
  /** Restore points that are immutable now (not deleted by retention, prune or delete until the date). */
  locks: RepositoryLockDto[];
  /** Scheduled maintenance and when it runs next. */
  maintenance: { kind: 'gc' | 'verify'; nextRun?: string }[];
}

export interface RetentionPointDto { id: string; vmId: string; vmName: string; createdAt: string }

export interface JobRetentionPreviewDto {
  jobId: string;
  jobName: string;
  retention: { keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; keepYearly?: number };
  /** The points the job's next retention run removes, newest first per VM. */
  remove: RetentionPointDto[];
  keep: (RetentionPointDto & { reasons: string[] })[];
}

export interface RetentionPreviewDto { jobs: JobRetentionPreviewDto[] }
