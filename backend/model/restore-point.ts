// What a restore point says about itself. Stored inside the repository with the point, so a copy
// of the repository knows, without the service's data folder, where each point came from, how
// consistent it is and why, what went wrong, where the application databases are and how the
// disks are laid out.
import type { ConsistencyVerdict } from './consistency.ts';
import type { VmConfig } from './vm-config.ts';
import type { VssManifest } from './vss.ts';

export interface RestorePointSource {
  /** Site id in the configuration that took the point (may differ on another installation). */
  site?: string;
  /** vCenter's instance UUID (ServiceContent.about.instanceUuid) and URL. */
  vcenter: { instanceUuid: string; url?: string };
  vm: { moref: string; instanceUuid?: string; name: string };
}

export interface RestorePointOrigin {
  /** 'job': a scheduled or manual run of a job; 'on-demand': "Back up now" outside a job. */
  kind: 'job' | 'on-demand';
  jobId?: string;
  jobName?: string;
  runId?: string;
  initiatedBy?: string;
}

export interface PartitionEntry {
  index: number;
  /** Bytes from the start of the disk. */
  start: number;
  length: number;
  /** GPT type GUID or MBR type byte as "0x83". */
  type: string;
  /** Known name of the type ("Microsoft basic data", "Linux filesystem", "FAT32 (LBA)", …). */
  typeName?: string;
  /** GPT partition name. */
  name?: string;
  /** MBR: logical partition inside an extended one. */
  logical?: boolean;
}

export interface DiskLayout {
  controller?: { type: string; busNumber: number; unitNumber?: number };
  thin?: boolean;
  partitioning: { scheme: 'gpt' | 'mbr' | 'none' | 'unreadable'; partitions: PartitionEntry[]; diskGuid?: string; note?: string };
}

export interface RestorePointMetadata {
  source: RestorePointSource;
  origin: RestorePointOrigin;
  consistency: ConsistencyVerdict;
  warnings: string[];
  vss?: VssManifest;
  vmConfig?: VmConfig;
  /** Per disk key ("2000"). */
  layouts: Record<string, DiskLayout>;
}
