// Application-aware processing: how a consistent snapshot is taken, for backup and replication alike.

/** A script run in the guest through guest operations. */
export interface Script {
  content: string;
  /** Interpreter path or name; default: cmd.exe on Windows, /bin/sh elsewhere. */
  interpreter?: string;
  timeoutSec: number;
}

export interface AppAwareSettings {
  /** Ask VMware Tools to quiesce (VSS on Windows). */
  quiesce: boolean;
  /** 'fallback': a crash-consistent point with a warning; 'fail': the VM fails. */
  onQuiesceFailure: 'fail' | 'fallback';
  /** 'full' lets applications truncate their logs. */
  vssBackupType: 'copy' | 'full';
  preFreeze?: Script;
  /** Runs right after the snapshot, and on every path once pre-freeze ran. */
  postThaw?: Script;
  guestCredentialId?: string;
}

export const DEFAULT_APP_AWARE: Readonly<AppAwareSettings> = Object.freeze({ quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' });
