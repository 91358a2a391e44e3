// Restore-point catalog: the records that describe each restore point (VM identity, disks, sizes,
// consistency, CBT change ids, notes, vmConfig, lock date, and the self-describing metadata: source,
// origin, consistency verdict, warnings, VSS manifest, VM configuration, disk layouts). Stored under
// 'r' + id in the index, sealed with the repository key when the repository is encrypted.
import { randomBytes } from 'node:crypto';
import type { Level } from 'level';
import { rpKey } from './format.ts';
import { openMeta, sealMeta, type RepoKeys } from './crypto.ts';
import { CONSISTENCIES, type Consistency } from '../model/consistency.ts';
import type { RestorePointMetadata } from '../model/restore-point.ts';

export type { Consistency } from '../model/consistency.ts';
export type { RestorePointMetadata } from '../model/restore-point.ts';

export interface VmIdentity {
  /** vSphere managed object id (moref), e.g. "vm-42". */
  id: string;
  name: string;
  /** vSphere instanceUuid. */
  uuid?: string;
}

export interface DiskInfo {
  /** vSphere device key (or any id unique within the VM), e.g. "2000". */
  key: string;
  label: string;
  /** Bytes. */
  capacity: number;
  /** Datastore path of the backing file, e.g. "[ds1] vm/vm.vmdk". */
  file?: string;
  /** CBT change id the disk was read at (the next incremental asks for changes since this). */
  changeId?: string;
}

export interface DiskRecord extends DiskInfo {
  chunks: number;
  zeroChunks: number;
  /** Chunks stored new by this restore point, and their raw / stored bytes. */
  newChunks: number;
  newRawBytes: number;
  newStoredBytes: number;
}

export interface RestorePoint {
  id: string;
  vm: VmIdentity;
  consistency: Consistency;
  notes?: string;
  /** What the caller passed as `vmConfig` (kept for records written before `metadata`; new writes also put a VmConfig in metadata.vmConfig). */
  vmConfig?: unknown;
  /** Where the point came from, why it is as consistent as it is, what went wrong, VSS, VM config, disk layouts. Absent on old records. */
  metadata?: RestorePointMetadata;
  /** Warnings of a point written without `metadata` (with metadata they are in metadata.warnings). */
  warnings?: string[];
  parent?: string;
  createdAt: string;
  completedAt: string;
  chunkSize: number;
  disks: DiskRecord[];
  /** Sum of disk capacities / non-zero bytes / bytes this restore point added to the repository. */
  logicalBytes: number;
  nonZeroBytes: number;
  newStoredBytes: number;
  /** Immutable until this time (ISO): delete and retention refuse it. */
  lockedUntil?: string;
}

/** Time-sortable ids: rp-20261125T071732Z-1a2b3c. */
export function newRestorePointId(at = new Date()): string {
  const t = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `rp-${t}-${randomBytes(3).toString('hex')}`;
}

type DB = Level<Buffer, Buffer>;

export async function getRecord(db: DB, keys: RepoKeys | undefined, id: string): Promise<RestorePoint | undefined> {
  const v = await db.get(rpKey(id));
  return v ? openMeta<RestorePoint>(v, keys) : undefined;
}

export function recordOps(rp: RestorePoint, keys: RepoKeys | undefined): { type: 'put'; key: Buffer; value: Buffer }[] {
  return [{ type: 'put', key: rpKey(rp.id), value: sealMeta(rp, keys) }];
}

export async function* allRecords(db: DB, keys: RepoKeys | undefined): AsyncGenerator<RestorePoint> {
  for await (const v of db.values({ gte: Buffer.from('r'), lt: Buffer.from('s') })) yield openMeta<RestorePoint>(v, keys);
}

/** What is wrong with a metadata object given to beginRestorePoint (undefined: nothing). Checks the shape, not the content. */
export function metadataProblem(m: RestorePointMetadata): string | undefined {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(m)) return 'metadata must be an object';
  if (!isObj(m.source) || !isObj(m.source.vcenter) || typeof m.source.vcenter.instanceUuid !== 'string') return 'metadata.source.vcenter.instanceUuid is required';
  if (!isObj(m.source.vm) || typeof m.source.vm.moref !== 'string' || typeof m.source.vm.name !== 'string') return 'metadata.source.vm needs moref and name';
  if (!isObj(m.origin) || (m.origin.kind !== 'job' && m.origin.kind !== 'on-demand')) return "metadata.origin.kind must be 'job' or 'on-demand'";
  if (!isObj(m.consistency) || !CONSISTENCIES.includes(m.consistency.consistency) || typeof m.consistency.reason !== 'string') {
    return 'metadata.consistency needs consistency (application, filesystem or crash) and a reason';
  }
  if (!Array.isArray(m.warnings) || m.warnings.some((w) => typeof w !== 'string')) return 'metadata.warnings must be a list of texts';
  if (!isObj(m.layouts)) return 'metadata.layouts must be an object keyed by disk key';
  if (m.vss !== undefined && (!isObj(m.vss) || !Array.isArray(m.vss.writers))) return 'metadata.vss must be a VSS manifest with writers';
  return undefined;
}

/** A point's warnings, wherever its record keeps them. */
/** Sort order of restore point lists: newest first (ties: the later id first). */
export function byNewest(a: RestorePoint, b: RestorePoint): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1;
}

export function warningsOf(rp: RestorePoint): string[] {
  return rp.metadata?.warnings ?? rp.warnings ?? [];
}

export function isLocked(rp: RestorePoint, now = Date.now()): boolean {
  return !!rp.lockedUntil && Date.parse(rp.lockedUntil) > now;
}
