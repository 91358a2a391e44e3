// The REST contract between the Stillpoint service and its UI (and the CLI).
// One source of truth: the Express routes implement these shapes, the Angular app and the CLI
// import them as types. All timestamps are ISO-8601 strings, sizes are bytes, durations ms.
//
// Routes (all JSON, under /api; errors are `ApiError` with a 4xx/5xx status):
//   GET    /api/health                         -> Health
//   POST   /api/session/login    LoginRequest  -> LoginResponse      (standalone UI; the plugin inside
//   POST   /api/session/logout                 -> 204                 vCenter sends `vmware-api-session-id`)
//   GET    /api/session                        -> SessionInfo
//   GET    /api/vms                            -> VmSummary[]
//   GET    /api/vms/:id                        -> VmDetail
//   GET    /api/vms/:id/restore-points         -> RestorePoint[]     (newest first)
//   GET    /api/vms/:id/jobs                   -> Job[]
//   GET    /api/vms/:id/runs                   -> JobRun[]           (newest first)
//   GET    /api/vms/:id/replica                -> ReplicaState          (state 'none' when not replicated)
//   POST   /api/vms/:id/replicate ReplicateRequest -> JobRun (202)
//   GET    /api/replicas                       -> ReplicaState[]      (replicas the user can see)
//   POST   /api/backups          BackupRequest -> JobRun (202)       (right-click "Back up now", 1..n VMs)
//   GET    /api/restore-points/:id             -> RestorePoint
//   POST   /api/restore-points/:id/restore RestoreRequest -> JobRun (202)
//   GET    /api/jobs                           -> Job[]
//   POST   /api/jobs             JobInput      -> Job (201)
//   GET    /api/jobs/:id                       -> Job
//   PUT    /api/jobs/:id         JobInput      -> Job
//   DELETE /api/jobs/:id                       -> 204
//   POST   /api/jobs/:id/run                   -> JobRun (202)
//   POST   /api/jobs/:id/vms     { vmIds }     -> Job                 (right-click "Add to job…")
//   GET    /api/runs?limit=N                   -> JobRun[]
//   GET    /api/runs/:id                       -> JobRun
//   POST   /api/runs/:id/cancel                -> JobRun
//   GET    /api/inventory/hosts                -> HostInfo[]
//   GET    /api/inventory/datastores           -> DatastoreInfo[]
//   GET    /api/inventory/folders              -> FolderInfo[]       (VM folders, for folder-based jobs)
//   GET    /api/credentials                    -> GuestCredential[]  (never returns passwords)
//   POST   /api/credentials  GuestCredentialInput -> GuestCredential (201)
//   DELETE /api/credentials/:id                -> 204
//   GET    /api/dashboard                      -> Dashboard
//   GET    /api/events                         -> text/event-stream of ServerEvent (data: JSON)
//   GET    /api/openapi.json                   -> the OpenAPI 3.1 document

export type Consistency = 'application' | 'filesystem' | 'crash';
export type RunStatus = 'queued' | 'running' | 'success' | 'warning' | 'failed' | 'cancelled';
export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';

/**
 * A text the service wrote in English (a phase, an outcome, a warning, a remedy) as a stable message key and
 * its parameters, so the UI can render it from its own catalogs (key "svc.<key>", backend/common/service-text.ts
 * lists the keys). The English text stays in the field beside it for the CLI and other clients. A parameter
 * is data (a VM name, vCenter's own message) or a service text itself, or a list of them.
 */
export interface ServiceText { key: string; params?: Record<string, string | ServiceText | ServiceText[]> }

export interface ApiError {
  error: string;       // machine-readable code, e.g. "not_found", "invalid_request", "vcenter_unreachable"
  message: string;     // what went wrong and what to do next, for a human
  details?: unknown;
}

/** One configured vCenter (a site); its objects' ids are "<id>:<moref>", the primary's bare morefs. */
export interface SiteHealth { id: string; name?: string; url: string; primary: boolean; connected: boolean; message?: string }

/** `vcenter` is the primary site; `sites` lists every site (status is ok only when all are connected). */
export interface Health { status: 'ok' | 'degraded'; version: string; vcenter: { url: string; connected: boolean; message?: string }; sites?: SiteHealth[]; repository: { path: string; ok: boolean; message?: string } }

export interface LoginRequest { username: string; password: string }
export interface LoginResponse { token: string; username: string }
/** sites: the configured vCenters this user has a session at (see Health.sites). */
export interface SessionInfo { username: string; mode: 'plugin' | 'standalone'; sites?: string[] }

export interface VmSummary {
  id: string;                 // managed object id, e.g. "vm-42"; at a site other than the primary "<site>:vm-42"
  name: string;
  site?: string;              // id of the site (vCenter) the VM is in
  powerState: PowerState;
  guestOs: string;            // full name, e.g. "Microsoft Windows Server 2019 (64-bit)"
  guestFamily: 'windows' | 'linux' | 'other';
  toolsRunning: boolean;
  host: string;               // host name
  datastores: string[];
  /**
   * A good (success or warning) restore point or replica newer than the protection window
   * (Dashboard.protectionWindowHours; STILLPOINT_PROTECTION_WINDOW_HOURS, default 26 h).
   */
  protected: boolean;
  /** When the newest good restore point or replica was made. */
  lastProtectedAt?: string;
  /** In at least one enabled job with a schedule (shown apart from "protected"). */
  inScheduledJob?: boolean;
  lastBackup?: { at: string; status: RunStatus; consistency?: Consistency; restorePointId?: string };
  nextRun?: string;
}

export interface DiskInfo { key: number; label: string; capacityBytes: number; file: string; changeId?: string; thin?: boolean }
export interface SnapshotInfo { id: string; name: string; description: string; createdAt: string; quiesced: boolean; children: SnapshotInfo[] }

export interface VmDetail extends VmSummary {
  instanceUuid: string;
  cpu: number;
  memoryMiB: number;
  disks: DiskInfo[];
  snapshots: SnapshotInfo[];
  cbtEnabled: boolean;
  consolidationNeeded: boolean;
}

export interface RestorePoint {
  id: string;
  vmId: string;               // site-qualified like VmSummary.id
  site?: string;              // the site the VM was backed up from (restores go there by default)
  vmName: string;
  createdAt: string;
  consistency: Consistency;
  /** Why the point has that consistency, as vSphere reported it (e.g. "VSS writers took part: …"). */
  consistencyReason?: string;
  logicalBytes: number;       // size of all disks
  storedBytes: number;        // new bytes this restore point added to the repository
  durationMs: number;
  disks: { key: number; label: string; capacityBytes: number }[];
  jobId?: string;
  runId?: string;
  lockedUntil?: string;
  notes?: string;
  warnings: string[];
  /** consistencyReason and warnings as message keys where the service wrote them (warnings: null for a text without a key). */
  texts?: { consistencyReason?: ServiceText; warnings?: (ServiceText | null)[] };
  /** Item restore its VSS manifest allows: 'ntds' (Active Directory objects), 'exchange' (mailbox items). */
  applicationItems?: ('ntds' | 'exchange')[];
}

export interface Script { content: string; interpreter?: string; timeoutSec: number }

export interface AppAwareSettings {
  quiesce: boolean;                           // ask VMware Tools to quiesce (VSS on Windows)
  onQuiesceFailure: 'fail' | 'fallback';      // fallback = crash-consistent restore point with a warning
  vssBackupType: 'copy' | 'full';             // full truncates application logs
  preFreeze?: Script;                         // run in the guest before the snapshot
  postThaw?: Script;                          // run in the guest after the snapshot (always, once pre-freeze ran)
  guestCredentialId?: string;
}

export interface RetentionPolicy { keepLast?: number; daily?: number; weekly?: number; monthly?: number; yearly?: number }

export interface JobInput {
  name: string;
  /** What the job does (default backup). */
  kind?: 'backup';
  vmIds: string[];
  /** VM folders whose VMs (recursively) the job also backs up, resolved at each run. */
  folderIds?: string[];
  schedule: { cron: string | null };          // null = manual only
  retention: RetentionPolicy;
  appAware: AppAwareSettings;
  concurrency: number;                        // VMs backed up at once, 1..8
  enabled: boolean;
  /** Who gets this job's run reports besides the global recipients (contracts/notifications.ts). */
  notify?: { recipients: string[] };
}

export interface Job extends Omit<JobInput, 'kind'> { id: string; kind: 'backup' | 'replication' | 'copy' | 'verify'; createdAt: string; nextRun?: string; lastRun?: { id: string; status: RunStatus; endedAt?: string } }

/** With jobId, the run belongs to that job and uses its settings (every VM must be in the job). */
export interface BackupRequest { vmIds: string[]; jobId?: string }

export type RestoreTarget =
  | { kind: 'new'; name: string; host: string; datastore: string; powerOn: boolean }
  | { kind: 'original'; confirm: true; powerOn: boolean };
export interface RestoreRequest { target: RestoreTarget }
/** GET /api/restore-points/:id/target-name?name=…: whether a VM of that name already exists in the restore point's vCenter. */
export interface TargetNameCheck { name: string; available: boolean; existingVmIds?: string[] }

export interface JobRunVm {
  vmId: string;
  vmName: string;
  status: RunStatus;
  phase: string;              // e.g. "pre-freeze", "snapshot", "reading disks", "removing snapshot"
  progress: number;           // 0..100
  bytesRead: number;
  bytesStored: number;
  durationMs: number;
  consistency?: Consistency;
  restorePointId?: string;
  message?: string;
  /** For a failed VM: what to do about it. */
  hint?: string;
  warnings: string[];
  /** phase, message, hint and warnings as message keys where the service wrote them (warnings: null for a text without a key). */
  texts?: { phase?: ServiceText; message?: ServiceText; hint?: ServiceText; warnings?: (ServiceText | null)[] };
}

export type RunKind = 'failover' | 'failover-test' | 'failover-planned' | 'failover-undo' | 'failover-permanent' | 'failback' | 'failover-plan' | 'backup' | 'restore' | 'file-restore' | 'replicate' | 'replication' | 'copy' | 'verify' | 'retention' | 'gc' | 'catalog' | 'ad-restore' | 'exchange-restore' | 'exchange-send';

export interface JobRun {
  id: string;
  /** backup/restore/replication work on VMs; retention, gc and verify are repository maintenance (no VMs). */
  kind: RunKind;
  initiatedBy?: string;
  /** What a maintenance run did (e.g. the restore points retention removed), or a run-level problem. */
  message?: string;
  /** message as a message key, when the service wrote it. */
  texts?: { message?: ServiceText };
  /** Maintenance for one job (its retention). */
  forJob?: { id: string; name: string };
  jobId?: string;
  jobName?: string;
  startedAt: string;
  endedAt?: string;
  status: RunStatus;
  progress: number;           // 0..100 over all VMs
  vms: JobRunVm[];
}

/** A VM's replica at the DR site; state 'none' when the VM is not replicated (a 404 means the VM is unknown or hidden). */
export type ReplicaState =
  | { vmId: string; state: 'none' }
  | { vmId: string; replicaVmId: string; targetHost: string; lastSync?: string; recoveryPoints: number; state: 'ready' | 'syncing' | 'failedOver' | 'error' } & ReplicaDetail;

/** More of a replica (backend/replication): its name, the last run's figures and its recovery points (snapshots on the replica), oldest first. */
export interface ReplicaDetail {
  replicaName?: string; sourceName?: string; lastSyncDurationMs?: number; lastSyncBytes?: number;
  consistency?: 'application' | 'filesystem' | 'crash'; error?: string;
  points?: { id: string; name: string; createdAt: string; consistency?: 'application' | 'filesystem' | 'crash' }[];
  /** RPO compliance, for a replica of a replication job's VM. */
  rpo?: import('./contracts/replication-jobs.ts').ReplicaRpo;
  /** A failback that has switched back and waits for commit or undo (to the original VM, or to the new VM it names). */
  failback?: { at: string; newVmName?: string };
}

/** POST /api/vms/:id/replicate: an on-demand replication to the DR site (the replica is created on the first run). */
export interface ReplicateRequest { host: string; datastore: string; folder?: string; suffix?: string; networkMap?: { source: string; target: string }[]; keep?: number }

export interface HostInfo { id: string; name: string; cluster?: string; datastores: string[]; site?: string }
export interface DatastoreInfo { id: string; name: string; capacityBytes: number; freeBytes: number; site?: string }
export interface FolderInfo { id: string; name: string; path: string; site?: string }

export interface GuestCredentialInput { name: string; username: string; password: string }
export interface GuestCredential { id: string; name: string; username: string }

export interface Dashboard {
  /** scheduled: VMs in an enabled job with a schedule, protected or not. */
  vms: { total: number; protected: number; unprotected: number; scheduled?: number };
  /** The window "protected" is measured against, in hours. */
  protectionWindowHours?: number;
  /**
   * Outcomes of finished runs of every kind started since `since`: one per VM of a run, one per run
   * without VMs (maintenance). GET /api/runs?status=…&since=… lists the runs behind each figure.
   */
  last24h: { success: number; warning: number; failed: number; cancelled: number; since: string };
  repository: { capacityBytes: number; usedBytes: number; logicalBytes: number; dedupRatio: number; restorePoints: number };
  running: JobRun[];
  growth: { date: string; storedBytes: number }[];          // per day, cumulative repository size
  durations: { at: string; vmName: string; durationMs: number }[];
}

export type ServerEvent =
  | { type: 'run'; run: JobRun }
  | { type: 'restorePoint'; restorePoint: RestorePoint }
  | { type: 'job'; job: Job };
export * from './contracts/files.ts';
export * from './contracts/file-restore-runs.ts';
export * from './contracts/active-directory.ts';
export * from './contracts/exchange.ts';
export * from './contracts/publish.ts';
export * from './contracts/catalog.ts';
export * from './contracts/replication-jobs.ts';
export * from './contracts/notifications.ts';
export * from './contracts/repository.ts';
