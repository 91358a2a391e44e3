// Active Directory objects from a restore point of a domain controller (issue 13): the ntds.dit the
// point's VSS manifest names (NTDS writer), read from the backup with no copy of the volume; browse,
// search, show, LDIF; compare with the live directory and restore into it over LDAPS with the
// user's OWN directory credentials (sent with each request, never stored, never logged).
//
//   GET  /api/restore-points/:id/ad                 AdDatabaseInfo
//   GET  /api/restore-points/:id/ad/children?dn=    AdAnswer<AdObjectSummary[]>
//   GET  /api/restore-points/:id/ad/search?…        AdAnswer<AdObjectSummary[]>
//   GET  /api/restore-points/:id/ad/object?ref=     AdAnswer<AdObject>
//   GET  /api/restore-points/:id/ad/ldif?ref=…      text/plain LDIF (secrets never in it)
//   POST /api/restore-points/:id/ad/compare         AdCompareRequest -> AdComparison
//   POST /api/restore-points/:id/ad/restore         AdRestoreRequest -> JobRun (202, kind 'ad-restore')
//   GET  /api/ad-restores/:runId                    AdRestoreReport (per object results of a run)
//
// Needs: the VM visible and VirtualMachine.Provisioning.GetVmFiles on it (reading its backup). What may
// be written into the directory is the directory's decision, for the account given: a refusal comes
// back with its LDAP result (insufficientAccessRights (50) → status 403).

/** 'dirty': a VSS copy whose logs were not replayed; read as it stands (recent changes may be missing); requiredLogs = the log generations it would need. */
export interface AdConsistency { state: 'clean' | 'dirty'; detail: string; requiredLogs?: { min: number; max: number } }

export interface AdAnswer<T> { consistency: AdConsistency; result: T }

export interface AdObjectSummary {
  dn: string; dnt: number; name: string; objectClass: string[]; objectGUID?: string; objectSid?: string; sAMAccountName?: string;
  deleted: boolean; recycled: boolean; lastKnownParent?: string; hasChildren: boolean;
}

export interface AdObject extends AdObjectSummary {
  attributes: Record<string, string | number | boolean | (string | number | boolean)[]>;
  /** Secret or confidential attributes the object has: named, never shown. */
  withheld: string[];
  problems: { column: string; error: string }[];
}

export interface AdLogFile { name: string; size: number; mtime?: string }

export interface AdDatabaseInfo {
  restorePointId: string;
  /** Guest path from the VSS manifest (e.g. C:\Windows\NTDS\ntds.dit), the volume it was found on, its size. */
  path: string;
  volumeId: string;
  sizeBytes: number;
  logDir?: string;
  logs: AdLogFile[];
  consistency: AdConsistency;
  objectCount: number;
  recycleBin: { enabled: boolean; featureDn?: string; enabledOn: string[] };
  roots: AdObjectSummary[];
}

/** How to reach the live DC, as whom. The password is used for this request only. */
export interface AdConnection {
  /** ldaps://dc01.corp.example:636 */
  url: string;
  username: string;
  password: string;
  /** PEM of the CA that issued the DC's certificate (else the system CAs). */
  caPem?: string;
  /** Name the certificate must carry, when url holds an address. */
  serverName?: string;
}

export interface AdCompareRequest { ref: string; subtree?: boolean; connection: AdConnection }

export type AdCompareStatus = 'unchanged' | 'changed' | 'deleted' | 'missing';

export interface AdObjectComparison {
  dn: string; objectGUID: string; objectSid?: string; name: string; objectClass: string[]; sAMAccountName?: string;
  status: AdCompareStatus; liveDn?: string; moved: boolean; recycled?: boolean;
  attributes: { name: string; backup: string[]; live: string[] }[];
  memberOf: { removed: string[]; added: string[] };
  members: { removed: string[]; added: string[] };
}

export interface AdComparison {
  consistency: AdConsistency; base: string; subtree: boolean; objects: AdObjectComparison[];
  summary: Record<AdCompareStatus, number>;
}

export type AdPasswordOption = { mode: 'none' } | { mode: 'new'; value: string; mustChange?: boolean } | { mode: 'must-change' };

export interface AdRestoreOptions {
  /** 'all' restorable attributes (default) or these names. */
  attributes?: 'all' | string[];
  /** Group memberships back (default true). */
  memberships?: boolean;
  password?: AdPasswordOption;
  accountState?: 'keep' | 'enabled' | 'disabled';
  /** Container DN to restore into (default: where each object was). */
  targetContainer?: string;
  /** Create objects the DC no longer has at all (new objectGUID/objectSid). Default true. */
  recreate?: boolean;
  /**
   * Write back the backed-up owner, group and explicit ACEs of each object's security descriptor (never
   * the SACL). Default: for reanimated and recreated objects, when the DC's differ; false: never.
   */
  permissions?: boolean;
}

export interface AdRestoreRequest { objects: string[]; subtree?: boolean; connection: AdConnection; options?: AdRestoreOptions }

export interface AdObjectRestoreResult {
  dn: string; liveDn: string; objectGUID: string; liveObjectGUID?: string; liveObjectSid?: string;
  action: 'reanimated' | 'recreated' | 'updated';
  /** A reanimated object came back from the Recycle Bin (the DC kept its attributes and links) or from a tombstone. */
  reanimatedFrom?: 'recycle-bin' | 'tombstone';
  /** The live forest's Recycle Bin state, read when the object was found deleted on the DC. */
  recycleBin?: boolean;
  permissions: { status: 'restored' | 'unchanged' | 'not-asked' | 'not-in-backup' | 'failed'; changes: string[] };
  attributesWritten: string[]; groupsAdded: string[]; membersAdded: string[];
  password: 'unchanged' | 'set' | 'must-change' | 'set, must change';
  accountState?: 'enabled' | 'disabled';
  problems: string[];
}

export interface AdRestoreReport {
  runId: string;
  restorePointId: string;
  status: 'running' | 'success' | 'warning' | 'failed';
  done: number;
  total: number;
  results: AdObjectRestoreResult[];
  /** Why the restore stopped: the directory's answer (status 403 for insufficientAccessRights (50), 401 for bad credentials…). */
  error?: { status: number; message: string; ldapCode?: number; ldapResult?: string };
}
