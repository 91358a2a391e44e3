// File catalog of restore points (issue 11): versions of a file across a VM's restore points, the
// catalog's state, what changed between two points (with the mass-encryption check) and what each
// volume's filesystem says about its own consistency.
//
//   GET  /api/vms/:id/file-versions?name=GLOB&limit=   -> FileVersions
//   GET  /api/restore-points/:id/catalog               -> CatalogStatus
//   POST /api/restore-points/:id/catalog               -> CatalogStatus (202: build or rebuild now)
//   GET  /api/restore-points/:id/changes?against=RP    -> CatalogChanges (409 while a catalog is built)
//   GET  /api/restore-points/:id/filesystems           -> VolumeConsistency[] (409 while the catalog is built)

export type CatalogState = 'ready' | 'queued' | 'building' | 'failed' | 'missing';

export interface VolumeConsistency {
  volumeId: string;
  name: string;
  filesystem?: string;
  label?: string;
  /** What the filesystem says about itself: clean, or what a mount would have to repair (dirty flag, journal, orphans). */
  consistency?: { clean: boolean; summary: string; details?: Record<string, unknown> };
  /** Why the volume was not catalogued. */
  problem?: string;
  files: number;
  bytes: number;
}

export interface MassEncryptionCheck {
  warning: boolean;
  /** Files of judgeable size (≥ 1 KiB) in the earlier point. */
  filesBefore: number;
  rewrittenHighEntropy: number;
  renamedUnknownExtension: number;
  affected: number;
  /** affected / filesBefore, 0..1. */
  share: number;
  volumes: { volume: string; filesBefore: number; rewrittenHighEntropy: number; renamedUnknownExtension: number; affected: number; share: number }[];
  newExtensions: Record<string, number>;
  examples: string[];
  thresholds: { highEntropy: number; lowEntropy: number; minFiles: number; minShare: number; manyFiles: number };
  summary: string;
}

export interface CatalogStatus {
  restorePointId: string;
  state: CatalogState;
  /** 0..100 while queued or building. */
  progress?: number;
  phase?: string;
  /** The 'catalog' run that builds it. */
  runId?: string;
  /** Why the build failed. */
  message?: string;
  builtAt?: string;
  files?: number;
  volumes?: VolumeConsistency[];
  /** The comparison with the VM's previous point made when the catalog was built. */
  comparedWith?: { restorePointId: string; added: number; removed: number; changed: number; renamed: number; massEncryption: MassEncryptionCheck };
}

export interface FileVersion {
  volumeId: string;
  path: string;
  size: number;
  mtime?: string;
  /** The restore points (oldest first) holding this version: same size and modification time. */
  restorePoints: string[];
  firstSeen: string;
  lastSeen: string;
}

export interface FileVersions {
  pattern: string;
  /** Every restore point of the VM, newest first, with its catalog's state (missing ones are being built). */
  restorePoints: { id: string; createdAt: string; catalog: CatalogState }[];
  matches: { restorePointId: string; createdAt: string; volumeId: string; path: string; size: number; mtime?: string }[];
  versions: FileVersion[];
  /** More matches than `limit`. */
  truncated: boolean;
  searchMs: number;
}

export interface ChangedFileDto { volumeId: string; path: string; before: { size: number; mtime?: string; entropy?: number }; after: { size: number; mtime?: string; entropy?: number } }

export interface CatalogChanges {
  /** The earlier and the later point (whatever order they were asked in). */
  from: string;
  to: string;
  totals: { added: number; removed: number; changed: number; renamed: number; addedBytes: number; removedBytes: number; changedBytes: number };
  folders: { volumeId: string; folder: string; added: number; removed: number; changed: number; renamed: number; addedBytes: number; removedBytes: number; changedBytes: number }[];
  added: { volumeId: string; path: string; size: number; mtime?: string }[];
  removed: { volumeId: string; path: string; size: number; mtime?: string }[];
  changed: ChangedFileDto[];
  renamed: { volumeId: string; from: string; to: string; size: number; mtime?: string }[];
  /** A list was cut at `limit` (totals and folders are always complete). */
  truncated: boolean;
  massEncryption: MassEncryptionCheck;
}
