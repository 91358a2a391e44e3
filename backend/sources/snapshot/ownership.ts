// Which Stillpoint node owns a snapshot, and when another node's leftovers may be removed.
//
// Several Stillpoint nodes may share one vCenter. Each session's snapshot names its node in its
// description ("… stillpoint-session:<session id> node:<node id>"), and each journal entry records
// the node. A node removes, at start-up recovery and in the preflight before a snapshot:
//   - its own leftovers: its node id in the tag, or a session in its own journal that no live
//     session of this process holds;
//   - another node's leftovers only once that node is known to be gone (below);
//   - never a snapshot with only the older tag ("stillpoint-session:<id>" without a node): its
//     owner is unknown, so only the node whose journal names the session removes it.
//
// How a node is known to be gone:
//   Every node publishes a heartbeat in the vCenter all nodes of an installation share: the global
//   custom attribute "Stillpoint node <node id>" on the root folder, set every minute to vCenter's
//   own current time (CurrentTime, so the nodes' clocks never matter) followed by the node's host
//   name. A node's last sign of life is the newer of its heartbeat and the snapshot's createTime
//   (taking the snapshot proved the owner alive then; this also covers a node whose heartbeat is
//   missing, e.g. never written or written by a node without the privilege). The owner is gone when
//   vCenter's current time is more than the grace period (default 10 minutes,
//   STILLPOINT_NODE_GRACE_MINUTES) past that last sign of life. A heartbeat that cannot be parsed,
//   or custom attributes that cannot be read, count as alive: when in doubt, nothing is removed.
//   The heartbeat needs Global.ManageCustomFields (the first time) and Global.SetCustomField, the
//   privileges "Last backup" needs too. A node stopped for longer than the grace period and started
//   on the same data folder is the same node again; what peers removed meanwhile was its leftovers.
import { childLog } from '../../common/log.ts';
import type { SnapshotNode, VSphere } from '../../vsphere/index.ts';
import { SNAPSHOT_TAG_PREFIX, type SessionJournal } from './journal.ts';

const log = childLog('ownership');

/** What ownership needs of a node identity (backend/service/node-identity.ts). */
export interface NodeRef { id: string; name?: string }

export const NODE_TAG_PREFIX = 'node:';
export const HEARTBEAT_FIELD_PREFIX = 'Stillpoint node ';
export const HEARTBEAT_INTERVAL_MS = 60_000;
export const DEFAULT_GRACE_MS = 10 * 60_000;

/** The grace period after a node's last sign of life: STILLPOINT_NODE_GRACE_MINUTES, default 10. */
export function nodeGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.STILLPOINT_NODE_GRACE_MINUTES;
  if (v === undefined || v === '') return DEFAULT_GRACE_MS;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 2) throw new Error(`STILLPOINT_NODE_GRACE_MINUTES=${v}: give at least 2 minutes (heartbeats come every minute).`);
  return n * 60_000;
}

/** The tag a session writes into its snapshot's description. */
export function snapshotTag(sessionId: string, nodeId?: string): string {
  return `${SNAPSHOT_TAG_PREFIX}${sessionId}${nodeId ? ` ${NODE_TAG_PREFIX}${nodeId}` : ''}`;
}

const TAG = /stillpoint-session:([0-9a-f-]{36})(?:\s+node:([0-9a-f-]{36}))?/i;

/** The session and owning node a snapshot description names (nodeId undefined: an older tag, owner unknown). */
export function parseSnapshotTag(description: string): { sessionId: string; nodeId?: string } | undefined {
  const m = TAG.exec(description);
  if (!m) return undefined;
  return { sessionId: m[1]!.toLowerCase(), ...(m[2] ? { nodeId: m[2].toLowerCase() } : {}) };
}

export function heartbeatField(nodeId: string): string { return HEARTBEAT_FIELD_PREFIX + nodeId; }

export interface Heartbeat {
  /** Writes the heartbeat now (also called every interval). Never throws. */
  beat(): Promise<void>;
  stop(): void;
  /** vCenter time of the last heartbeat written, and the last failure (cleared by a success). */
  readonly last?: Date;
  readonly error?: string;
}

/**
 * Publishes this node's heartbeat on vCenter's root folder now and every interval. `vs` may be a
 * getter (the service's connection, which reconnects). Failures are logged, never thrown: without a
 * heartbeat, peers still leave this node's snapshots alone for the grace period after they were taken.
 */
export function startHeartbeat(vs: VSphere | (() => Promise<VSphere>), node: NodeRef, opts: { intervalMs?: number } = {}): Heartbeat {
  const get = typeof vs === 'function' ? vs : async () => vs;
  const field = heartbeatField(node.id);
  let running: Promise<void> | undefined;
  let stopped = false;
  const state: { last?: Date; error?: string } = {};
  const write = async () => {
    const v = await get();
    const root = v.client.serviceContent.rootFolder;
    const now = await v.session.currentTime();
    const value = `${now.toISOString()} ${node.name ?? ''}`.trim();
    await v.customFields.setByName(root, field, value).catch(async (e: Error) => {
      // Another call created the definition in between (DuplicateName): set it again.
      if (!/duplicate|already exists/i.test(e.message)) throw e;
      await v.customFields.setByName(root, field, value);
    });
    state.last = now;
    if (state.error) log.info({ node: node.id }, 'heartbeat written again');
    delete state.error;
  };
  const beat = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= write().catch((e: Error) => {
      if (state.error !== e.message) {
        log.warn({ node: node.id, err: e.message }, 'cannot write the node heartbeat to vCenter (custom attribute on the root folder; needs Global.SetCustomField): '
          + 'other Stillpoint nodes take this node for gone once its snapshots are older than the grace period');
      }
      state.error = e.message;
    }).finally(() => { running = undefined; });
    return running;
  };
  const timer = setInterval(() => void beat(), opts.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  void beat();
  return {
    beat,
    stop() { stopped = true; clearInterval(timer); },
    get last() { return state.last; },
    get error() { return state.error; },
  };
}

/** The heartbeats of all nodes as vCenter holds them at one moment. */
export class PeerView {
  readonly now: Date;
  readonly graceMs: number;
  /** Node id → last heartbeat (null: present but not readable, which counts as alive). */
  readonly beats: Map<string, { at: Date | null; name?: string }>;
  /** Custom attributes could not be read: nobody is known to be gone. */
  readonly unavailable?: string;

  private constructor(now: Date, graceMs: number, beats: PeerView['beats'], unavailable?: string) {
    this.now = now;
    this.graceMs = graceMs;
    this.beats = beats;
    if (unavailable) this.unavailable = unavailable;
  }

  static async read(vs: VSphere, graceMs: number): Promise<PeerView> {
    const now = await vs.session.currentTime();
    const beats: PeerView['beats'] = new Map();
    try {
      const values = await vs.customFields.values(vs.client.serviceContent.rootFolder);
      for (const [name, value] of Object.entries(values)) {
        if (!name.startsWith(HEARTBEAT_FIELD_PREFIX)) continue;
        const id = name.slice(HEARTBEAT_FIELD_PREFIX.length).toLowerCase();
        const [time, ...rest] = value.trim().split(/\s+/);
        const at = new Date(time ?? '');
        beats.set(id, { at: Number.isNaN(at.getTime()) ? null : at, ...(rest.length ? { name: rest.join(' ') } : {}) });
      }
      return new PeerView(now, graceMs, beats);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'cannot read node heartbeats: no other node counts as gone');
      return new PeerView(now, graceMs, beats, (e as Error).message);
    }
  }

  /** Whether the node is known to be gone, judged for one of its snapshots (see the top of this file). */
  gone(nodeId: string, snapshotCreated: Date): boolean {
    if (this.unavailable) return false;
    const beat = this.beats.get(nodeId.toLowerCase());
    if (beat && beat.at === null) return false;
    const lastSign = Math.max(beat?.at?.getTime() ?? -Infinity, snapshotCreated.getTime());
    return this.now.getTime() - lastSign > this.graceMs;
  }

  /** "backup01 (3f2a…)" for messages. */
  label(nodeId: string): string {
    const name = this.beats.get(nodeId.toLowerCase())?.name;
    return name ? `${name} (node ${nodeId})` : `node ${nodeId}`;
  }
}

export type LeftoverVerdict =
  | 'own'            // this node's (its id in the tag, or a dead session of its journal): remove
  | 'owner-gone'     // another node's, and that node is gone: remove
  | 'live-session'   // a session of this node that is still running (or the journal will handle it): keep
  | 'owner-alive'    // another node's, which is alive: keep
  | 'owner-unknown'; // an older tag without a node, not in this node's journal: keep

export interface LeftoverDecision {
  snapshot: SnapshotNode;
  sessionId: string;
  ownerNodeId?: string;
  verdict: LeftoverVerdict;
  remove: boolean;
  /** For owner-gone/owner-alive: who, for messages. */
  owner?: string;
}

export interface JudgeOptions {
  journal: SessionJournal;
  graceMs: number;
  /**
   * Sessions of this node's journal that must not be touched. Recovery: every open journal entry
   * (its own loop handles the dead ones). Preflight: only the live sessions of this process.
   */
  keepJournaled: 'all' | 'live';
  /** Shared between calls so heartbeats are read once per pass. */
  peers?: () => Promise<PeerView>;
}

/** Sorts the Stillpoint-tagged snapshots among `snapshots` into what this node may remove and what it must leave. */
export async function judgeLeftovers(vs: VSphere, snapshots: SnapshotNode[], o: JudgeOptions): Promise<LeftoverDecision[]> {
  const own = o.journal.node?.id.toLowerCase();
  let peers: Promise<PeerView> | undefined;
  const view = () => (peers ??= o.peers ? o.peers() : PeerView.read(vs, o.graceMs));
  const out: LeftoverDecision[] = [];
  for (const s of snapshots) {
    const tag = parseSnapshotTag(s.description);
    if (!tag) continue;
    const d = { snapshot: s, sessionId: tag.sessionId, ...(tag.nodeId ? { ownerNodeId: tag.nodeId } : {}) };
    const rec = o.journal.get(tag.sessionId);
    if (rec && (o.keepJournaled === 'all' || o.journal.isLive(rec))) out.push({ ...d, verdict: 'live-session', remove: false });
    else if (rec || (own && tag.nodeId === own)) out.push({ ...d, verdict: 'own', remove: true });
    else if (!tag.nodeId) out.push({ ...d, verdict: 'owner-unknown', remove: false });
    else {
      const v = await view();
      const gone = v.gone(tag.nodeId, s.createTime);
      out.push({ ...d, verdict: gone ? 'owner-gone' : 'owner-alive', remove: gone, owner: v.label(tag.nodeId) });
    }
  }
  return out;
}

/** A cached PeerView getter for one pass over many VMs. */
export function peerViewOnce(vs: VSphere, graceMs: number): () => Promise<PeerView> {
  let p: Promise<PeerView> | undefined;
  return () => (p ??= PeerView.read(vs, graceMs));
}
