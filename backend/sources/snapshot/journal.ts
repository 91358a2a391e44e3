// Write-ahead journal of consistent snapshot sessions. Every step that leaves something behind in
// vCenter or in a guest (a frozen application, a snapshot) is recorded durably *before* it is
// started, so after a crash the service knows what to undo: run post-thaw where pre-freeze ran,
// and remove snapshots carrying the session's tag. Entries name the node (ownership.ts) and the
// journal object that wrote them, so a restart in the same process still tells its own live
// sessions from a predecessor's.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, removeFileDurable, writeFileDurable } from '../../common/durable.ts';
import type { Script } from '../../model/app-aware.ts';

export interface SessionRecord {
  id: string;
  vmId: string;
  vmName: string;
  jobId?: string;
  runId?: string;
  /** Written into the snapshot description; finds our snapshots even when the task never returned. */
  tag: string;
  startedAt: string;
  pid: number;
  /** The Stillpoint node that ran the session (absent in entries of older versions). */
  nodeId?: string;
  /** The SessionJournal instance (one per service start) that opened the entry. */
  instance?: string;
  preFreezeStarted: boolean;
  postThawDone: boolean;
  snapshotRequested: boolean;
  snapshotId?: string;
  /** What a recovery needs to thaw the guest if this process dies: the script and whose credentials. */
  postThaw?: Script;
  guestCredentialId?: string;
  guestFamily: 'windows' | 'linux' | 'other';
}

export const SNAPSHOT_TAG_PREFIX = 'stillpoint-session:';

export class SessionJournal {
  readonly dir: string;
  /** This node (backend/service/node-identity.ts); without it snapshots carry no owner. */
  readonly node?: { id: string; name?: string };
  readonly instance = randomUUID();
  constructor(dataDir: string, node?: { id: string; name?: string }) {
    this.dir = join(dataDir, 'sessions');
    if (node) this.node = node;
  }

  open(rec: Omit<SessionRecord, 'tag' | 'startedAt' | 'pid' | 'nodeId' | 'instance' | 'preFreezeStarted' | 'postThawDone' | 'snapshotRequested'>): SessionRecord {
    const full: SessionRecord = {
      ...rec, tag: SNAPSHOT_TAG_PREFIX + rec.id, startedAt: new Date().toISOString(), pid: process.pid,
      ...(this.node ? { nodeId: this.node.id } : {}), instance: this.instance,
      preFreezeStarted: false, postThawDone: false, snapshotRequested: false,
    };
    this.save(full);
    return full;
  }

  update(rec: SessionRecord, change: Partial<SessionRecord>): SessionRecord {
    Object.assign(rec, change);
    this.save(rec);
    return rec;
  }

  close(rec: SessionRecord): void { removeFileDurable(this.file(rec.id)); }

  /** An open entry by session id. */
  get(id: string): SessionRecord | undefined {
    return /^[0-9a-f-]{36}$/i.test(id) ? readJson<SessionRecord>(this.file(id.toLowerCase())) : undefined;
  }

  /** Whether the entry belongs to a session this journal object opened (still running in this process). */
  isLive(rec: SessionRecord): boolean {
    return rec.instance ? rec.instance === this.instance : rec.pid === process.pid;
  }

  /** Sessions that were not closed: left by a crashed or killed process, or still running. */
  leftovers(): SessionRecord[] {
    let names: string[];
    try { names = readdirSync(this.dir); } catch { return []; }
    return names.filter((n) => n.endsWith('.json')).flatMap((n) => {
      const r = readJson<SessionRecord>(join(this.dir, n));
      return r ? [r] : [];
    });
  }

  private save(rec: SessionRecord): void { writeFileDurable(this.file(rec.id), JSON.stringify(rec)); }
  private file(id: string): string { return join(this.dir, `${id}.json`); }
}
