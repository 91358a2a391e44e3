// Start-up recovery: whatever a crashed or killed process left behind is undone before new work
// starts. For each open journal entry: run post-thaw where pre-freeze ran and post-thaw did not,
// remove the session's snapshots. Then sweep every VM for Stillpoint-tagged snapshots that no
// journal knows (e.g. the journal's folder was lost).
import { childLog } from '../../common/log.ts';
import type { GuestCredentials, VSphere } from '../../vsphere/index.ts';
import { VSphereError } from '../../vsphere/index.ts';
import { runGuestScript } from './guest-script.ts';
import { SNAPSHOT_TAG_PREFIX, type SessionJournal } from './journal.ts';
import { removeTagged } from './session.ts';

const log = childLog('recovery');

export interface RecoveryAction {
  vmId: string;
  vmName: string;
  sessionId?: string;
  /** The run the interrupted session belonged to. */
  runId?: string;
  postThawRan?: boolean;
  postThawError?: string;
  snapshotsRemoved: number;
  error?: string;
}

export async function recoverLeftovers(vs: VSphere, journal: SessionJournal, credentials: (id: string) => GuestCredentials | undefined): Promise<RecoveryAction[]> {
  const actions: RecoveryAction[] = [];
  for (const rec of journal.leftovers()) {
    if (rec.pid === process.pid) continue; // a session of this very process is not a leftover
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
  // Tagged snapshots nobody journaled.
  const open = new Set(journal.leftovers().map((r) => r.vmId));
  for (const vm of await vs.inventory.vms()) {
    if (open.has(vm.ref.value)) continue;
    const tagged = flatten(vm.snapshots).filter((s) => s.description.includes(SNAPSHOT_TAG_PREFIX));
    if (!tagged.length || actions.some((a) => a.vmId === vm.ref.value)) continue;
    try {
      const n = await removeTagged(vs, vm.ref, SNAPSHOT_TAG_PREFIX);
      actions.push({ vmId: vm.ref.value, vmName: vm.name, snapshotsRemoved: n });
      log.warn({ vm: vm.ref.value, removed: n }, 'removed Stillpoint snapshots that no session owned');
    } catch (e) {
      actions.push({ vmId: vm.ref.value, vmName: vm.name, snapshotsRemoved: 0, error: (e as Error).message });
    }
  }
  return actions;
}

function flatten<T extends { children: T[] }>(nodes: T[]): T[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}
