// Errors of a restore that failed (or was cancelled) after it started changing things in vSphere.
// Request-level problems found before that use InvalidRequest / NotFound / Conflict.
import { StillpointError } from '../common/errors.ts';

export interface RestoreFailureDetails {
  restorePoint: string;
  /** The phase that failed ("uploading disk Hard disk 1", "creating VM", …). */
  phase: string;
  /** What the restore undid ("destroyed VM vm-57", "deleted [dr-ds1] web-restored"). */
  cleanedUp: string[];
  /** What it could not undo: datastore paths or VM ids to remove by hand, or disks left partly overwritten. */
  leftBehind: string[];
  /** The VM the restore made or overwrote, when it still exists. */
  vmId?: string;
}

export class RestoreFailed extends StillpointError {
  declare readonly details: RestoreFailureDetails;
  constructor(message: string, details: RestoreFailureDetails, cause?: unknown, kind: 'failed' | 'cancelled' = 'failed', code = 'restore_failed') {
    super(kind, code, message, details, { cause });
  }
}

/** The caller's AbortSignal fired; what the restore created was cleaned up (see details). */
export class RestoreCancelled extends RestoreFailed {
  constructor(message: string, details: RestoreFailureDetails, cause?: unknown) {
    super(message, details, cause, 'cancelled', 'restore_cancelled');
  }
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  const name = (err as { name?: string } | undefined)?.name;
  return name === 'AbortError';
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
