// The VSS backup components document VMware Tools leaves next to a quiesced Windows snapshot
// (vss-manifest.zip), kept whole: item restore finds application databases (ntds.dit, Exchange
// .edb files) and their logs from it.

export interface VssFile {
  /** Folder in the guest, e.g. "C:\\Windows\\NTDS". */
  path: string;
  /** File name or pattern, e.g. "ntds.dit" or "*.log". */
  filespec: string;
  recursive: boolean;
  /** Where the writer says the file is: "database", "log" or a plain file of the component. */
  role: 'database' | 'log' | 'file';
}

export interface VssComponent {
  name: string;
  logicalPath?: string;
  /** "database" or "filegroup" as VSS declares it. */
  type?: string;
  caption?: string;
  selectable?: boolean;
  files: VssFile[];
}

export interface VssWriter {
  /** VSS writer class id, e.g. "{b2014c9e-8711-4c5c-a5a9-3cf384484757}" for NTDS. */
  writerId: string;
  instanceId?: string;
  /** Friendly name, e.g. "NTDS", "Microsoft Exchange Writer". */
  name: string;
  components: VssComponent[];
}

export interface VssManifest {
  /** "full", "copy", … as VSS reports it. */
  backupType?: string;
  writers: VssWriter[];
}

export const NTDS_WRITER_ID = '{b2014c9e-8711-4c5c-a5a9-3cf384484757}';
export const EXCHANGE_WRITER_ID = '{76fe1ac4-15f7-4bcd-987e-8e1acb462fb7}';
