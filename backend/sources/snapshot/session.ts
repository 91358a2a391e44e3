// A consistent snapshot session, shared by backup and replication:
//   preflight → [pre-freeze script] → quiesced snapshot → [post-thaw script] → (caller reads) → close
// Post-thaw runs once whenever pre-freeze was started, whatever happened in between, and the
// snapshot is removed (with consolidation checked) on every path. Each step that leaves something
// behind is journaled before it starts, so a crashed process is cleaned up at the next start
// (see recovery.ts). Snapshots name the node that took them; the preflight removes only this node's
// leftovers and those of nodes known to be gone (ownership.ts).
import { randomUUID } from 'node:crypto';
import type { AppAwareSettings } from '../../model/app-aware.ts';
import type { Consistency } from '../../model/consistency.ts';
import { childLog } from '../../common/log.ts';
import {
  ApplicationQuiesceError, VSphereError, type GuestCredentials, type MoRef, type SnapshotDetails, type VmInfo, type VSphere,
} from '../../vsphere/index.ts';
import { SnapshotCleanupError } from './cleanup-retry.ts';
import { classify, parseVssManifest, type VssManifest } from './consistency.ts';
import { runGuestScript, type GuestFamily } from './guest-script.ts';
import type { SessionJournal, SessionRecord } from './journal.ts';
import { judgeLeftovers, nodeGraceMs, snapshotTag } from './ownership.ts';
import { say } from '../../common/service-text.ts';
import { count } from '../../common/units.ts';

const log = childLog('snapshot-session');

export interface SessionContext {
  vs: VSphere;
  /** This node's journal; its node (new SessionJournal(dataDir, node)) is written into the snapshot. */
  journal: SessionJournal;
  /** How long after its last sign of life another node counts as gone (default: nodeGraceMs()). */
  graceMs?: number;
}

export interface SessionRequest {
  vm: VmInfo;
  guestFamily: GuestFamily;
  settings: AppAwareSettings;
  /** Clear guest credentials for the scripts (from the job's credential), with the id for the journal. */
  guest?: { id: string; credentials: GuestCredentials };
  jobId?: string;
  runId?: string;
  purpose: 'backup' | 'replication';
  onPhase?: (phase: string) => void;
  signal?: AbortSignal;
}

export class SnapshotSession {
  readonly id: string;
  readonly vm: MoRef;
  readonly snapshot: SnapshotDetails;
  readonly consistency: Consistency;
  readonly reason: string;
  /** The VSS manifest VMware Tools left (quiesced Windows snapshots), whole: writers, components, files. */
  readonly vss?: VssManifest;
  readonly warnings: string[];
  readonly #ctx: SessionContext;
  readonly #rec: SessionRecord;
  #closed = false;

  private constructor(ctx: SessionContext, rec: SessionRecord, snapshot: SnapshotDetails, c: { consistency: Consistency; reason: string }, warnings: string[], vss?: VssManifest) {
    this.#ctx = ctx;
    this.#rec = rec;
    this.id = rec.id;
    this.vm = { type: 'VirtualMachine', value: rec.vmId };
    this.snapshot = snapshot;
    this.consistency = c.consistency;
    this.reason = c.reason;
    if (vss) this.vss = vss;
    this.warnings = warnings;
  }

  static async open(ctx: SessionContext, req: SessionRequest): Promise<SnapshotSession> {
    const { vs, journal } = ctx;
    const vm = req.vm.ref;
    const s = req.settings;
    const warnings: string[] = [];
    const phase = (p: string) => req.onPhase?.(p);
    const warn = (w: string) => { warnings.push(w); log.warn({ vm: vm.value, warning: w }, 'snapshot session warning'); };

    phase(say('phase.preflight'));
    await preflight(ctx, vm, warn, req.signal);
    if ((s.preFreeze || s.postThaw) && !req.guest) {
      throw new VSphereError('GuestCredentialsMissing', `the job runs scripts in ${req.vm.name} but has no guest credentials`,
        'Pick guest OS credentials in the job\'s application-aware settings, or remove the pre-freeze/post-thaw scripts.');
    }

    const rec = journal.open({
      id: randomUUID(), vmId: vm.value, vmName: req.vm.name, guestFamily: req.guestFamily,
      ...(req.jobId ? { jobId: req.jobId } : {}), ...(req.runId ? { runId: req.runId } : {}),
      ...(s.postThaw ? { postThaw: s.postThaw } : {}), ...(req.guest ? { guestCredentialId: req.guest.id } : {}),
    });
    let preFreezeOk = false;
    let quiesce = s.quiesce;
    let snapshot: SnapshotDetails | undefined;
    try {
      if (s.preFreeze) {
        phase(say('phase.preFreezeScript'));
        journal.update(rec, { preFreezeStarted: true });
        try {
          await runGuestScript(vs, vm, req.guest!.credentials, s.preFreeze, req.guestFamily, 'pre-freeze', { sessionId: rec.id, ...(req.signal ? { signal: req.signal } : {}) });
          preFreezeOk = true;
        } catch (e) {
          if (s.onQuiesceFailure === 'fail' || req.signal?.aborted) throw prefixed(e, 'pre-freeze failed');
          warn(say('warning.preFreezeFallback', { error: (e as Error).message }));
          quiesce = false;
        }
      }

      phase(say(quiesce ? 'phase.quiescedSnapshot' : 'phase.snapshot'));
      req.signal?.throwIfAborted();
      journal.update(rec, { snapshotRequested: true });
      try {
        snapshot = await createSnapshot(vs, vm, rec, quiesce, req);
      } catch (e) {
        if (!quiesce || !isQuiesceFailure(e) || s.onQuiesceFailure === 'fail') throw e;
        warn(say('warning.quiesceFallback', { error: (e as Error).message }));
        await removeTagged(vs, vm, rec.tag);
        snapshot = await createSnapshot(vs, vm, rec, false, req);
      }
      journal.update(rec, { snapshotId: snapshot.node.ref.value });
    } catch (e) {
      // The snapshot may exist even though the call failed (task timed out, connection lost).
      await thawOnce(ctx, rec, req, warn);
      await removeTagged(vs, vm, rec.tag).catch((err) => warn(say('warning.snapshotCleanupFailed', { error: (err as Error).message })));
      journal.close(rec);
      throw e;
    }
    await thawOnce(ctx, rec, req, warn);

    let vss: VssManifest | undefined;
    if (snapshot.node.quiesced && req.guestFamily === 'windows') {
      vss = await readVssManifest(vs, req.vm, snapshot).catch((e) => {
        warn(say('warning.vssManifestUnreadable', { error: (e as Error).message }));
        return undefined;
      });
    }
    const c = classify({ quiesced: snapshot.node.quiesced, guestFamily: req.guestFamily, preFreezeSucceeded: preFreezeOk && snapshot.node.quiesced, ...(vss ? { vss } : {}) });
    if (s.quiesce && c.consistency === 'crash' && !warnings.length) {
      warn(say('warning.notQuiesced'));
    }
    log.info({ vm: vm.value, snapshot: snapshot.node.ref.value, consistency: c.consistency, reason: c.reason }, 'snapshot ready');
    return new SnapshotSession(ctx, rec, snapshot, c, warnings, vss);
  }

  /** Removes the snapshot (consolidating where vSphere asks for it) and closes the journal entry. */
  /** Removes the snapshot (consolidating where vSphere asks for it) and closes the journal entry. Safe to call again after a failure. */
  async close(opts: { tries?: number } = {}): Promise<void> {
    if (this.#closed) return;
    const { vs, journal } = this.#ctx;
    await removeSnapshot(vs, this.vm, this.snapshot.node.ref, this.#rec.tag, opts.tries);
    journal.close(this.#rec);
    this.#closed = true;
  }
}

/**
 * Removes this node's leftover snapshots of the VM and those of nodes known to be gone; another live
 * node's snapshot (its backup of the same VM is running) is left alone.
 */
async function preflight(ctx: SessionContext, vm: MoRef, warn: (w: string) => void, signal?: AbortSignal): Promise<void> {
  const { vs } = ctx;
  signal?.throwIfAborted();
  const decisions = await judgeLeftovers(vs, await vs.snapshots.list(vm), { journal: ctx.journal, graceMs: ctx.graceMs ?? nodeGraceMs(), keepJournaled: 'live' });
  const doomed = new Set(decisions.filter((d) => d.remove).map((d) => d.snapshot.ref.value));
  if (doomed.size) await vs.snapshots.removeMatching(vm, (n) => doomed.has(n.ref.value));
  const own = decisions.filter((d) => d.verdict === 'own').length;
  if (own) warn(`Removed ${count(own, 'leftover Stillpoint snapshot')} from an earlier run.`);
  const unknown = decisions.filter((d) => d.verdict === 'owner-unknown').length;
  if (unknown) warn(`Left ${count(unknown, 'Stillpoint snapshot')} of an older version alone: ${unknown === 1 ? 'it names no owning node. Remove it' : 'they name no owning node. Remove them'} in vSphere once no Stillpoint backup of this VM is running.`);
  const gone = [...new Set(decisions.filter((d) => d.verdict === 'owner-gone').map((d) => d.owner))];
  if (gone.length) warn(`Removed the snapshots left by Stillpoint ${gone.join(', ')}, which stopped reporting to vCenter.`);
  const alive = [...new Set(decisions.filter((d) => d.verdict === 'owner-alive').map((d) => d.owner))];
  if (alive.length) warn(`Stillpoint ${alive.join(', ')} holds a snapshot of this VM too (a session of its own); left alone.`);
  if (await vs.snapshots.consolidateIfNeeded(vm)) warn('The VM needed disk consolidation; consolidated before the backup.');
}

async function createSnapshot(vs: VSphere, vm: MoRef, rec: SessionRecord, quiesce: boolean, req: SessionRequest): Promise<SnapshotDetails> {
  const name = `Stillpoint ${req.purpose} ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`;
  const description = `Temporary snapshot of a Stillpoint ${req.purpose}; removed automatically. ${snapshotTag(rec.id, rec.nodeId)}`;
  const signal = req.signal ? { signal: req.signal } : {};
  if (quiesce && req.guestFamily === 'windows') {
    return vs.snapshots.create(vm, {
      name, description, memory: false,
      windowsQuiesce: { vssBackupType: req.settings.vssBackupType === 'full' ? 'FULL' : 'COPY', vssBackupContext: 'ctx_auto', timeout: 15 },
      ...signal,
    });
  }
  return vs.snapshots.create(vm, { name, description, memory: false, quiesce, ...signal });
}

function isQuiesceFailure(e: unknown): boolean {
  return e instanceof ApplicationQuiesceError || (e instanceof VSphereError && /quiesce|holding off I\/O/i.test(e.message));
}

/** Runs post-thaw once if pre-freeze was started; a failing post-thaw is a warning, never fatal. */
async function thawOnce(ctx: SessionContext, rec: SessionRecord, req: SessionRequest, warn: (w: string) => void): Promise<void> {
  if (!rec.preFreezeStarted || rec.postThawDone) return;
  const script = req.settings.postThaw;
  if (script && req.guest) {
    req.onPhase?.('post-thaw script');
    try {
      await runGuestScript(ctx.vs, req.vm.ref, req.guest.credentials, script, req.guestFamily, 'post-thaw', { sessionId: rec.id });
    } catch (e) {
      warn(`Post-thaw script failed: ${(e as Error).message}. Check the application in the guest.`);
    }
  }
  ctx.journal.update(rec, { postThawDone: true });
}

async function readVssManifest(vs: VSphere, vm: VmInfo, snap: SnapshotDetails): Promise<VssManifest | undefined> {
  const m = snap.node.backupManifest;
  if (!m) return undefined;
  let path = m;
  if (!m.startsWith('[')) {
    const vmx = vm.vmPathName ?? snap.disks[0]?.fileName;
    if (!vmx) return undefined;
    path = vmx.replace(/[^/\]]*$/, '') + m.replace(/^.*[\\/]/, '');
    if (!/\]\s*\S/.test(path)) path = vmx.replace(/\]\s*.*$/, '] ') + m;
  }
  return parseVssManifest(await vs.datastores.read(path));
}

export async function removeTagged(vs: VSphere, vm: MoRef, tag: string): Promise<number> {
  const n = await vs.snapshots.removeMatching(vm, (s) => s.description.includes(tag));
  await vs.snapshots.consolidateIfNeeded(vm);
  return n;
}

/**
 * Removes the session's snapshot, then consolidates. Throws SnapshotCleanupError saying which step
 * failed: a snapshot still there, or a snapshot gone whose disks still need consolidation.
 */
async function removeSnapshot(vs: VSphere, vm: MoRef, snapshot: MoRef, tag: string, tries = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await vs.snapshots.remove(snapshot, { consolidate: true });
      break;
    } catch (e) {
      if (e instanceof VSphereError && e.fault === 'ManagedObjectNotFound') break; // already gone
      if (attempt >= tries) throw new SnapshotCleanupError('remove', `the backup snapshot could not be removed: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 2_000 * attempt));
    }
  }
  try {
    await vs.snapshots.removeMatching(vm, (s) => s.description.includes(tag));
  } catch (e) {
    throw new SnapshotCleanupError('remove', `a leftover of the backup snapshot could not be removed: ${(e as Error).message}`, { cause: e });
  }
  try {
    await vs.snapshots.consolidateIfNeeded(vm);
  } catch (e) {
    throw new SnapshotCleanupError('consolidate', `the backup snapshot was removed, but consolidating the VM's disks failed (${(e as Error).message}); the VM runs on delta disks until they are consolidated`, { cause: e });
  }
}

function prefixed(e: unknown, what: string): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if (!err.message.startsWith(what)) err.message = `${what}: ${err.message}`;
  return err;
}
