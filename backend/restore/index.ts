// Full VM restore: restoreVm() and its types.
export { restoreVm } from './restore-vm.ts';
export type { RestoreTarget, RestoreProgress, RestoreResult, RestoredDisk, RestoreDeps, RestoreOptions } from './types.ts';
export { RestoreFailed, RestoreCancelled } from './errors.ts';
export type { RestoreFailureDetails } from './errors.ts';
export { resolvePlacement, type Placement } from './placement.ts';
export { VerifyMismatch } from './verify.ts';
