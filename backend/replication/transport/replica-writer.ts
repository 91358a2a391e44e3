// The replica-writer interface: how one run's data gets into the replica's disks. Two transports:
//   full-upload  one datastore HTTP PUT of each whole disk (works everywhere; sends the capacity);
//   hot-add      a paired transporter at the DR site attaches the replica's disks to its helper VM
//                and writes only the pieces that differ (sends about the changed bytes).
// A run opens a writer for its disks, writes each disk along its plan and closes the writer on every
// path (hot-add detaches there).
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';
import type { DiskChangeExtent } from '../../vsphere/index.ts';

export type TransportName = 'full-upload' | 'hot-add';

/** Why a disk's ranges are what they are. */
export type PlanReason =
  | 'seed'      // the first run: the whole disk
  | 'cbt'       // the areas CBT reports changed since the last run
  | 'digest';   // CBT cannot be trusted (no previous changeId, reset, resize): every range compared

export interface ReplicaDiskTarget {
  label: string;
  capacity: number;
  /** The replica disk as vSphere names it now: the top of its chain. */
  fileName: string;
  /** The local datastore path of the file a full upload writes (the top's extent, or the new flat file). */
  extentPath: string;
}

export interface DiskWork {
  index: number;
  source: DiskSource;
  target: ReplicaDiskTarget;
  /** Sorted, disjoint ranges of the source that may differ from the replica. */
  ranges: DiskChangeExtent[];
  reason: PlanReason;
}

export interface DiskWritten {
  label: string;
  path: string;
  /** Bytes that crossed the wire to the DR site for this disk (data, framing, digests). */
  bytesSent: number;
  /** Data bytes written into the replica's disk. */
  bytesWritten: number;
  /** Bytes of the ranges looked at (changed per CBT, or compared by digest). */
  bytesConsidered: number;
  /** SHA-256 of what was written, when the transport wrote the whole disk. */
  sha256?: string;
}

export interface ReplicaWriter {
  readonly transport: TransportName;
  /** Whether the writer can write only some ranges (else every disk is written whole). */
  readonly partial: boolean;
  /** Makes the replica's disks writable (hot-add: attach them to the helper). */
  open(disks: ReplicaDiskTarget[], signal?: AbortSignal): Promise<void>;
  write(work: DiskWork, opts: { onBytes?: (n: number) => void; signal?: AbortSignal }): Promise<DiskWritten>;
  /** Called on every path, after success or failure: hot-add detaches the disks. Never throws; returns warnings. */
  close(): Promise<string[]>;
}
