// Public shapes of full VM restore.
import type { Repository } from '../repository/repository.ts';
import type { VSphere } from '../vsphere/index.ts';

export type RestoreTarget =
  /** A new VM; host and datastore by name or by managed object id. */
  | { kind: 'new'; name: string; host: string; datastore: string; powerOn: boolean }
  /** Over the VM the restore point was taken from: its disks are overwritten (confirm must be true). */
  | { kind: 'original'; confirm: true; powerOn: boolean };

/** Progress of one phase; done/total are bytes for the data phases ('uploading disk …', 'verifying disk …'), else 0/0 or 0/1/1/1. */
export interface RestoreProgress { phase: string; done: number; total: number }

export interface RestoreDeps { vs: VSphere; repo: Repository }

export interface RestoreOptions {
  onProgress?: (p: RestoreProgress) => void;
  /** Aborts between and during uploads; what the restore created is cleaned up. */
  signal?: AbortSignal;
}

export interface RestoredDisk {
  /** Device key in the restore point ("2000"). */
  key: string;
  bytes: number;
  /** SHA-256 (hex) of the disk's bytes, computed while uploading and checked by reading the file back. */
  sha256: string;
}

export interface RestoreResult {
  vmId: string;
  vmName: string;
  disks: RestoredDisk[];
  verified: true;
}
