// Start-up recovery: whatever a crashed or killed process of this node left behind is undone before
// new work starts. For each open journal entry: run post-thaw where pre-freeze ran and post-thaw did
// not, remove the session's snapshots. Then sweep every VM for Stillpoint-tagged snapshots that no
// journal entry explains: this node's own (e.g. the journal's folder was lost) and those of other
// nodes known to be gone are removed; a live node's snapshots and those naming no node are left
// alone (ownership.ts says how "gone" is known).
import { childLog } from '../../common/log.ts';
import type { GuestCredentials, MoRef, VSphere } from '../../vsphere/index.ts';
import { VSphereError } from '../../vsphere/index.ts';
import { runGuestScript } from './guest-script.ts';
import type { SessionJournal } from './journal.ts';
import { judgeLeftovers, nodeGraceMs, peerViewOnce } from './ownership.ts';
import { removeTagged } from './session.ts';

const log = childLog('recovery');

export interface RecoveryAction {
  vmId: string;
  vmName: string;
  sessionId?: string;
  /** The run the interrupted session belonged to. */
  runId?: string;
  /** Sweep: the node whose leftovers these were, when not this node. */
  ownerNodeId?: string;
  postThawRan?: boolean;
  postThawError?: string;
  snapshotsRemoved: number;
  error?: string;
}

export interface RecoveryOptions {
  /** How long after its last sign of life another node counts as gone (default: nodeGraceMs()). */
  graceMs?: number;
}

export async function recoverLeftovers(vs: VSphere, journal: SessionJournal, credentials: (id: string) => GuestCredentials | undefined, opts: RecoveryOptions = {}): Promise<RecoveryAction[]> {
  const actions: RecoveryAction[] = [];
  for (const rec of journal.leftovers()) {
    if (journal.isLive(rec)) continue; // a session of this very service is not a leftover
    const vm = { type: 'VirtualMachine', value: rec.vmId };
    const a: RecoveryAction = { vmId: rec.vmId, vmName: rec.vmName, sessionId: rec.id, ...(rec.runId ? { runId: rec.runId } : {}), snapshotsRemoved: 0 };
    try {
      if (rec.preFreezeStarted && !rec.postThawDone) {
        const creds = rec.guestCredentialId ? credentials(rec.guestCredentialId) : undefined;
        if (rec.postThaw && creds) {
          try {
            await runGuestScript(vs, vm, creds, rec.postThaw, rec.guestFamily, 'post-thaw', { sessionId: rec.id });
            a.postThawRan = true;
          } catch (e) {
            a.postThawRan = false;
            a.postThawError = (e as Error).message;
          }
        }
        journal.update(rec, { postThawDone: true });
      }
      a.snapshotsRemoved = await removeTagged(vs, vm, rec.tag);
      journal.close(rec);
    } catch (e) {
      if (e instanceof VSphereError && e.fault === 'ManagedObjectNotFound') {
        journal.close(rec); // the VM is gone: nothing left to clean
        a.error = 'the VM no longer exists';
      } else {
        a.error = (e as Error).message; // keep the entry: tried again at the next start
      }
    }
    log.warn({ ...a }, 'cleaned up after an interrupted snapshot session');
    actions.push(a);
  }
  actions.push(...await sweepLeftovers(vs, journal, opts));
  return actions;
}

/**
 * Tagged snapshots no open journal entry explains: this node's own and those of gone nodes are
 * removed. Safe to run at any time (e.g. hourly, for peers that went away while this node runs).
 */
export async function sweepLeftovers(vs: VSphere, journal: SessionJournal, opts: RecoveryOptions = {}): Promise<RecoveryAction[]> {
  const actions: RecoveryAction[] = [];
  const graceMs = opts.graceMs ?? nodeGraceMs();
  const peers = peerViewOnce(vs, graceMs);
  for (const vm of await vs.inventory.vms()) {
    const all = flatten(vm.snapshots);
    if (!all.some((s) => s.description.includes('stillpoint-session:'))) continue;
    try {
      const decisions = await judgeLeftovers(vs, all, { journal, graceMs, keepJournaled: 'all', peers });
      for (const d of decisions.filter((x) => !x.remove && x.verdict !== 'live-session')) {
        log.info({ vm: vm.ref.value, snapshot: d.snapshot.ref.value, session: d.sessionId, owner: d.ownerNodeId, verdict: d.verdict }, 'left a Stillpoint snapshot alone');
      }
      // One action per owner: this node's leftovers, and each gone node's.
      const byOwner = new Map<string, Set<string>>();
      for (const d of decisions.filter((x) => x.remove)) {
        const key = d.verdict === 'owner-gone' ? d.ownerNodeId! : '';
        byOwner.set(key, (byOwner.get(key) ?? new Set()).add(d.snapshot.ref.value));
      }
      for (const [owner, refs] of byOwner) {
        const a: RecoveryAction = { vmId: vm.ref.value, vmName: vm.name, ...(owner ? { ownerNodeId: owner } : {}), snapshotsRemoved: 0 };
        try {
          a.snapshotsRemoved = await removeRefs(vs, vm.ref, refs);
          log.warn({ vm: vm.ref.value, removed: a.snapshotsRemoved, owner: owner || 'this node' }, owner ? 'removed snapshots of a Stillpoint node that is gone' : 'removed Stillpoint snapshots that no session owned');
        } catch (e) {
          a.error = (e as Error).message;
        }
        actions.push(a);
      }
    } catch (e) {
      actions.push({ vmId: vm.ref.value, vmName: vm.name, snapshotsRemoved: 0, error: (e as Error).message });
    }
  }
  return actions;
}

/** Removes the given snapshots of a VM (one that vanished meanwhile counts as done), then consolidates if needed. */
async function removeRefs(vs: VSphere, vm: MoRef, refs: Set<string>): Promise<number> {
  let n = 0;
  for (const s of (await vs.snapshots.list(vm)).filter((x) => refs.has(x.ref.value))) {
    try {
      await vs.snapshots.remove(s.ref, { removeChildren: false, consolidate: true });
      n++;
    } catch (e) {
      if (!(e instanceof VSphereError && e.fault === 'ManagedObjectNotFound')) throw e;
    }
  }
  await vs.snapshots.consolidateIfNeeded(vm);
  return n;
}

function flatten<T extends { children: T[] }>(nodes: T[]): T[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}
