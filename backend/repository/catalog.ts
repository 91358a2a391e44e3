// Restore-point catalog: the records that describe each restore point (VM identity, disks, sizes,
// consistency, CBT change ids, notes, vmConfig, lock date). Stored under 'r' + id in the index,
// sealed with the repository key when the repository is encrypted.
import { randomBytes } from 'node:crypto';
import type { Level } from 'level';
import { rpKey } from './format.ts';
import { openMeta, sealMeta, type RepoKeys } from './crypto.ts';

export type Consistency = 'application' | 'filesystem' | 'crash';

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
  vmConfig?: unknown;
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

export function isLocked(rp: RestorePoint, now = Date.now()): boolean {
  return !!rp.lockedUntil && Date.parse(rp.lockedUntil) > now;
}
