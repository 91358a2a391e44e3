// The task and event types Stillpoint registers with vCenter (plugin/extension.ts declares them in
// its extension) and runs its work under, so operations show in vCenter's Recent Tasks and Events.
export const EXTENSION_KEY = 'com.stillpoint.plugin';

export const TASK_TYPES = {
  backup: `${EXTENSION_KEY}.BackupVm`,
  restore: `${EXTENSION_KEY}.RestoreVm`,
  restoreFiles: `${EXTENSION_KEY}.RestoreGuestFiles`,
  replicate: `${EXTENSION_KEY}.ReplicateVm`,
  failover: `${EXTENSION_KEY}.FailoverVm`,
  verify: `${EXTENSION_KEY}.VerifyRepository`,
} as const;

export const EVENT_TYPES = {
  backupSucceeded: `${EXTENSION_KEY}.BackupSucceeded`,
  backupWarning: `${EXTENSION_KEY}.BackupWarning`,
  backupFailed: `${EXTENSION_KEY}.BackupFailed`,
  restoreSucceeded: `${EXTENSION_KEY}.RestoreSucceeded`,
  restoreFailed: `${EXTENSION_KEY}.RestoreFailed`,
  rpoExceeded: `${EXTENSION_KEY}.RpoExceeded`,
  rpoMet: `${EXTENSION_KEY}.RpoMet`,
  /** A replica's newest recovery point is older than its replication job's RPO (warning over 1×, error over 2×). */
  replicaRpoExceeded: `${EXTENSION_KEY}.ReplicaRpoExceeded`,
  replicaRpoMet: `${EXTENSION_KEY}.ReplicaRpoMet`,
  repositoryNearlyFull: `${EXTENSION_KEY}.RepositoryNearlyFull`,
  repositorySpaceOk: `${EXTENSION_KEY}.RepositorySpaceOk`,
  verifyDamage: `${EXTENSION_KEY}.VerifyFoundDamage`,
  verifyClean: `${EXTENSION_KEY}.VerifyClean`,
} as const;
