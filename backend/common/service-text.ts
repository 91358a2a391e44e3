// Texts the service writes for people (run phases, outcomes, warnings, remedies): each has a stable key in
// SERVICE_TEXTS with its English template. Producers call say(key, params) and keep an English string in the
// domain (the CLI, the log, vCenter events and e-mail reports use it as it is); the API mappers add the key
// and parameters beside it (identify), so the UI renders the same message from its own catalogs
// (ui/src/app/i18n/*.json, keys "svc.<key>", checked against this table by test/manifest/ui-i18n.test.ts).
//
// A template is a string or, when it counts something, ICU-like plural forms { one, other } chosen by {n}.
// A parameter may itself be a service text (a reason inside an outcome), or several joined with LIST_SEPARATOR.

export type Template = string | { one: string; other: string };
export type TextParam = string | number;

/** The wire shape (contract.ts ServiceText): a key of SERVICE_TEXTS and its parameters. */
export interface IdentifiedText { key: string; params?: Record<string, string | IdentifiedText | IdentifiedText[]> }

export const LIST_SEPARATOR = '; ';
/** Parameters that hold service texts themselves; any other parameter is data (a VM name, a vCenter message). */
const TEXT_PARAMS = new Set(['reason', 'disks', 'how', 'phase', 'remedy', 'cleanup', 'left', 'catalogs', 'items', 'points', 'onNetworks', 'reIp', 'result', 'next', 'repointed', 'consistency', 'removed', 'dirty', 'more']);

export const SERVICE_TEXTS = {
  // Phases of a run item (backend/jobs/runner.ts and the kinds).
  'phase.queued': 'queued',
  'phase.starting': 'starting',
  'phase.done': 'done',
  'phase.failed': 'failed',
  'phase.cancelled': 'cancelled',
  'phase.waitingForVm': 'waiting for the VM',
  'phase.enablingCbt': 'enabling changed block tracking',
  'phase.planningReads': 'planning reads',
  'phase.readingDisk': 'reading {disk}',
  'phase.savingRestorePoint': 'saving restore point',
  'phase.removingSnapshot': 'removing snapshot',
  'phase.preflight': 'preflight',
  'phase.preFreezeScript': 'pre-freeze script',
  'phase.quiescedSnapshot': 'quiesced snapshot',
  'phase.snapshot': 'snapshot',
  'phase.creatingVmFolder': 'creating the VM folder',
  'phase.uploadingDisk': 'uploading disk {disk}',
  'phase.verifyingDisk': 'verifying disk {disk}',
  'phase.creatingVm': 'creating VM',
  'phase.poweringOn': 'powering on',
  'phase.poweringOff': 'powering off',
  // Phases of a replication (backend/replication).
  'phase.checkingDrTarget': 'checking the DR target',
  'phase.creatingReplicaFiles': "creating the replica's files",
  'phase.creatingReplicaVm': 'creating the replica VM',
  'phase.creatingRecoveryPoint': 'creating the recovery point',
  'phase.revertingReplica': 'reverting the replica to its latest recovery point',
  'phase.growingReplicaDisks': "growing the replica's disks",
  'phase.applyingNetworkMap': 'applying the network mapping',
  'phase.planningSend': 'planning what to send',
  'phase.removingOldRecoveryPoints': 'removing old recovery points',
  'phase.removingSourceSnapshot': 'removing the source snapshot',
  'phase.findingLatestRestorePoint': 'finding the latest restore point',
  'phase.writingToReplica': 'writing {disk} to the replica ({transport})',
  // Phases of AD restores and Exchange item deliveries (backend/active-directory, backend/exchange).
  'phase.openingNtds': 'opening the backed-up ntds.dit',
  'phase.signingInTo': 'signing in to {url}',
  'phase.readingSecurityDescriptors': 'reading the backed-up security descriptors',
  'phase.restoringObject': 'restoring {object}',
  'phase.openingMailboxDb': 'opening the backed-up mailbox database',
  'phase.readingMessage': 'reading message {n} of {total}',
  'phase.appendedMessage': 'appended "{subject}"',
  'phase.sentMessage': 'sent "{subject}"',
  // Phases of putting files back into a guest (backend/jobs/kinds/file-restore.ts).
  'phase.openingRestorePoint': 'opening the restore point',
  'phase.writingFile': 'writing {file}',
  'phase.writingFilesIntoGuest': 'writing files into the guest',
  // Phases of failover, test failover, undo, failback and permanent failover (backend/replication/failover).
  'phase.revertingToPoint': "reverting to recovery point '{point}'",
  'phase.movingNicsToDrNetworks': 'moving the network adapters to their DR networks, disconnected',
  'phase.enablingCbtForFailback': 'turning on changed block tracking (for failback)',
  'phase.waitingForTools': 'waiting for VMware Tools',
  'phase.connectingMappedNics': 'connecting the mapped network adapters',
  'phase.reIpStep': 're-IP of network adapter {nic}: {step}',
  'phase.takingProtectiveSnapshot': 'taking the protective snapshot',
  'phase.movingNicsTo': "moving the network adapters to '{network}'",
  'phase.poweringOnIsolated': 'powering on in the isolated network',
  'phase.waitingForHeartbeat': 'waiting for the VMware Tools heartbeat',
  'phase.cleaningUpTestFailover': 'cleaning up: power off, revert to the protective snapshot, remove it',
  'phase.poweringOffReplica': 'powering off the replica',
  'phase.puttingNicsBack': 'putting the network adapters back',
  'phase.shuttingReplicaDown': 'shutting the replica down',
  'phase.takingUndoSnapshot': 'taking the undo snapshot of the original VM',
  'phase.attachingOriginalDisks': "attaching the original VM's disks to transporter '{transporter}'",
  'phase.sendingChangesHotAdd': "sending the changes of {disk} (hot-add through '{transporter}')",
  'phase.detachingOriginalDisks': "detaching the original VM's disks",
  'phase.sendingChangesFullUpload': 'sending the changes of {disk} (full upload)',
  'phase.switchingBackToOriginal': 'switching back: powering on the original VM',
  'phase.removingUndoSnapshot': "removing the original VM's undo snapshot",
  'phase.makingReplicaAgain': 'making the replica a replica again: latest recovery point, NICs as before',
  'phase.deletingNewVm': "deleting the new VM '{name}', pointing the replica back at its previous source",
  'phase.revertingOriginalToUndo': 'powering off the original VM and reverting it to its undo snapshot',
  'phase.startingReplicaAgain': 'starting the replica again',
  'phase.creatingNewVmFiles': "creating the new VM's files",
  'phase.attachingReplicaDisks': "attaching the replica's disks to transporter '{transporter}'",
  'phase.copyingToNewVm': "copying {disk} to the new VM (read through '{transporter}', full upload)",
  'phase.detachingReplicaDisks': "detaching the replica's disks",
  'phase.creatingNewVm': 'creating the new VM',
  'phase.switchingBackToNewVm': 'switching back: powering on the new VM',
  'phase.repointingReplication': 're-pointing replication to the new VM',
  'phase.removingRecoveryPoint': "removing recovery point '{point}'",
  'phase.consolidatingDisks': 'consolidating the disks',
  'phase.clearingReplicaMarks': 'clearing the replica marks',
  'phase.waitingBeforeGroup': 'waiting {seconds} s before group {group}',
  'phase.runningGroupScript': "running the group's script in the guest: {path}",
  // Outcomes of a run item or a run.
  'run.cancelledBeforeStart': 'Cancelled before it started.',
  'run.cancelled': 'Cancelled: {reason}',
  'run.interrupted': 'Interrupted: the Stillpoint service stopped during this {kind}.',
  'backup.result.application': 'Application-consistent: {reason}. Read {disks}.',
  'backup.result.filesystem': 'Filesystem-consistent: {reason}. Read {disks}.',
  'backup.result.crash': 'Crash-consistent: {reason}. Read {disks}.',
  'backup.diskRead': '{disk} ({how}, {bytes})',
  'backup.how.incremental': 'changed areas',
  'backup.how.allocated': 'allocated areas',
  'backup.how.full': 'whole disk',
  'restore.result': 'Restored to VM {vmName} ({vmId}).',
  'restore.failed': 'Restore of {restorePoint} to new VM \'{name}\' failed while {phase}: {error}.{cleanup}{left} {remedy}',
  'restore.cancelled': 'Restore of {restorePoint} to new VM \'{name}\' was cancelled while {phase}.{cleanup}{left}',
  'restore.cleanedUp': ' Cleaned up: {items}.',
  'restore.nothingCreated': ' Nothing had been created yet.',
  'restore.leftBehind': ' Left behind (remove by hand): {items}.',
  'restore.item.destroyedVm': 'destroyed VM \'{name}\' ({vmId})',
  'restore.item.unregisteredVm': 'unregistered VM \'{name}\' ({vmId})',
  'restore.item.deletedFolder': 'deleted {path}',
  'restore.item.maybeVm': 'possibly a VM named \'{name}\' (could not check: {error})',
  'restore.item.deleteVm': 'VM \'{name}\' ({vmId}): delete it from the vSphere Client ({error})',
  'restore.item.deleteFolder': '{path} (delete the folder from the datastore browser: {error})',
  'restore.fixAndRetry': 'Fix the cause and run the restore again.',
  // Outcomes of a replication (backend/replication/run-kind.ts).
  'replication.created': "Created replica {replica} ({replicaId}): recovery point '{point}', {consistency} ({reason}); sent {bytes} by {how}.{removed}",
  'replication.updated': "Updated replica {replica} ({replicaId}): recovery point '{point}', {consistency} ({reason}); sent {bytes} by {how}.{removed}",
  'replication.consistency.application': 'application-consistent',
  'replication.consistency.filesystem': 'filesystem-consistent',
  'replication.consistency.crash': 'crash-consistent',
  'replication.fromRestorePoint': 'from restore point {id}',
  'replication.how.hotAdd': 'hot-add ({written} written of {compared} compared)',
  'replication.how.fullUpload': 'full upload (whole disks)',
  'replication.removedPoints': { one: ' Removed {n} old recovery point.', other: ' Removed {n} old recovery points.' },
  // Outcomes of Exchange item deliveries (backend/exchange/deliver-run.ts).
  'exchange.restored': { one: '{n} message restored into "{folder}" on {host}{dirty}', other: '{n} messages restored into "{folder}" on {host}{dirty}' },
  'exchange.sent': { one: '{n} message sent to {to} via {host}{dirty}', other: '{n} messages sent to {to} via {host}{dirty}' },
  'exchange.dirtyDatabase': ' (from a dirty mailbox database, read without log replay)',
  // Outcome of putting files back into a VM (backend/jobs/kinds/file-restore.ts).
  'putBack.result': { one: "Restored {n} file ({size}) into VM '{vm}'{more}.", other: "Restored {n} files ({size}) into VM '{vm}'{more}." },
  'putBack.more': '; {items}',
  'putBack.renamed': '{n} kept next to the existing file under a new name (e.g. {example})',
  'putBack.skipped': '{n} skipped because they exist in the guest',
  'putBack.folders': { one: '{n} folder made', other: '{n} folders made' },
  'putBack.failed': '{n} could not be written',
  // Outcomes of failover operations (backend/replication/failover/run-kinds.ts).
  'failover.result': "Failed over to recovery point '{point}': {replica} runs{onNetworks}{reIp}.",
  'failover.onNetworks': ' on {networks}',
  'failover.reIp': '; re-IP {pairs}',
  'failover.testResult': "Test failover of '{point}' in '{network}': VMware Tools heartbeat after {seconds} s; cleaned up (the replica is as before).",
  'failover.plannedResult': "Planned failover: synced twice ({syncs}), source {shutdown}, failed over to '{point}'.",
  'failover.undone': "Failover undone: {replica} is back at recovery point '{point}', powered off; replication resumes.",
  'failover.permanent': { one: '{vm} is the production VM now: {n} recovery point removed; its source is left out of replication.', other: '{vm} is the production VM now: {n} recovery points removed; its source is left out of replication.' },
  'failover.groupResult': 'Group {group}: {result}',
  'failover.groupResultScriptOk': 'Group {group}: {result} Script: exit code 0.',
  'failover.groupResultScriptWarned': 'Group {group}: {result} Script: see the warnings.',
  'failback.committed': 'Failback committed: the original VM runs, {replica} is a ready replica again.',
  'failback.undone': 'Failback undone: {replica} runs again; what the failback made at production is undone.',
  'failback.result': 'Failed back to {source}: {changed} changed on the replica sent back with {sent} sent to production ({how}); {next}',
  'failback.how.hotAdd': "hot-add through transporter '{transporter}'",
  'failback.how.fullUpload': 'full upload of the whole disks',
  'failback.readThrough': "the replica read through transporter '{transporter}', {bytes} received",
  'failback.next.committed': 'committed.',
  'failback.next.original': 'the original VM runs: commit or undo the failback.',
  'failback.next.newVm': 'the new VM runs: commit or undo the failback.',
  'failback.newVmResult': "Failed back to the new VM {vm}: the replica's disks copied whole ({bytes}); {repointed}{next}",
  'failback.repointedOne': 'replication job {jobs} now replicates {vm}; ',
  'failback.repointedMany': 'replication jobs {jobs} now replicate {vm}; ',
  'maintenance.retentionRemoved': { one: 'Removed {n} restore point by job \'{job}\' retention: {points}.', other: 'Removed {n} restore points by job \'{job}\' retention: {points}.' },
  'maintenance.removedPoint': '{id} ({vmId}, made {createdAt})',
  'maintenance.retentionKeptAll': 'Job \'{job}\' retention kept every restore point.',
  'maintenance.gcDone': 'Reclaimed {bytes}: deleted chunks: {chunks}, deleted packs: {packs}, repacked packs: {repacked}.{catalogs}',
  'maintenance.gcCatalogs': { one: ' Removed {n} file catalog of deleted restore points.', other: ' Removed {n} file catalogs of deleted restore points.' },
  'maintenance.verifyOk': 'Every chunk of every restore point read back and matched its hash.',
  // Why a restore point has its consistency (backend/sources/snapshot/consistency.ts).
  'consistency.notQuiesced': 'vSphere did not quiesce the guest (snapshot not quiesced)',
  'consistency.vssWriters': 'VSS writers took part: {writers}',
  'consistency.preFreezeQuiesced': 'quiesced, and the pre-freeze script quiesced the application',
  'consistency.noVssWriter': 'quiesced, but no VSS writer took part',
  'consistency.noVssManifest': 'quiesced, but VMware Tools left no VSS manifest',
  'consistency.fsQuiesced': 'file systems quiesced by VMware Tools',
  // Warnings of a backup.
  'warning.cbtNotEnabled': 'Changed block tracking could not be enabled: every backup of this VM reads the whole disk.',
  'warning.cbtInvalid': 'Changed block tracking of {disk} is invalid ({error}); read the whole disk and reset CBT.',
  'warning.damagedReread': { one: '{n} chunk of {disk} that verify had found damaged in the previous restore point was read again from the VM and stored anew.', other: '{n} chunks of {disk} that verify had found damaged in the previous restore point were read again from the VM and stored anew.' },
  'warning.snapshotNotConsolidated': 'The backup snapshot was removed, but the VM\'s disks could not be consolidated ({error}); {retrying}.',
  'warning.snapshotNotRemoved': 'The backup snapshot could not be removed ({error}); {retrying}.',
  'warning.cbtResetFailed': 'Resetting CBT failed: {error}',
  'warning.preFreezeFallback': 'Pre-freeze script failed ({error}); fell back to a crash-consistent snapshot.',
  'warning.quiesceFallback': 'Quiescing failed ({error}); fell back to a crash-consistent snapshot.',
  'warning.snapshotCleanupFailed': 'Could not remove the snapshot after the failure: {error}',
  'warning.vssManifestUnreadable': 'The VSS manifest could not be read ({error}); the restore point is recorded as filesystem-consistent.',
  'warning.notQuiesced': 'vSphere took the snapshot without quiescing (VMware Tools not running or the VM is off): the restore point is crash-consistent.',
  // Warnings of replication, failover and failback (backend/replication).
  'warning.unmappedOnReplica': 'Not in the network mapping, left disconnected on the replica: {nics}.',
  'warning.leftByFailedFirstRun': 'Left behind by the failed first run: {what}.',
  'warning.replicaStateNotRecorded': "The replica's state could not be recorded in vCenter: {error}",
  'warning.fullUploadInsteadOfHotAdd': 'Full upload instead of hot-add: {why}.',
  'warning.recoveryPointNotRemoved': "Recovery point '{point}' could not be removed ({error}); it is removed at the next run.",
  'warning.replicaConsolidated': "The replica's disks needed consolidation after removing old recovery points; it was done.",
  'warning.replicaConsolidationFailed': "The replica's disks need consolidation, which failed ({error}): consolidate them from the vSphere Client.",
  'warning.sourceCbtNotEnabled': 'Changed block tracking could not be enabled on the source: every run compares the whole disks by digest.',
  'warning.sourceCbtResetFailed': 'Resetting changed block tracking of the source failed: {error}',
  'warning.newVmGone': "The new VM '{name}' ({vmId}) was gone already.",
  'warning.noJobForNewVm': "No replication job names '{source}' as a VM: add '{name}' to a replication job to protect it (its replica '{replica}' is kept for it).",
  'warning.failedBackByFullUpload': 'Failed back by full upload (the whole disks): {why}.',
  'warning.noCbtChangeId': "The replica's disks report no CBT change id: a failback will send its whole disks.",
  'warning.noReIpRuleMatched': "No re-IP rule matched the replica's addresses (as VMware Tools reports them): its addresses were left as they are.",
  'warning.unmappedAfterFailover': 'Not in the network mapping, left disconnected: {nics}.',
  'warning.disksNeedConsolidation': 'The disks need consolidation, which failed ({error}): consolidate them from the vSphere Client.',
  'warning.groupScriptExit': "The group's script {path} exited with code {code} ({family} guest): check the application.",
  'warning.groupScriptFailed': "The group's script {path} could not run: {error}",
  // What to do about a vSphere fault (backend/vsphere/faults.ts).
  'remedy.invalidLogin': 'Check the vCenter user name and password (user@domain, e.g. administrator@vsphere.local).',
  'remedy.notAuthenticated': 'The vCenter session expired or was terminated; log in again (the client does so once automatically).',
  'remedy.objectNotFound': 'The object was deleted or its id is wrong: refresh the inventory and pick it again (VMs get a new id when re-registered).',
  'remedy.applicationQuiesce': 'Check the guest\'s pre-freeze scripts (/usr/sbin/pre-freeze-script, backupScripts.d, C:\\Windows\\pre-freeze-script.bat) and VSS writers (vssadmin list writers), or allow the crash-consistent fallback for this VM.',
  'remedy.taskInProgress': 'Wait for the running operation on this VM (snapshot, consolidation, backup by another tool) to finish, then retry.',
  'remedy.invalidPowerState': 'The VM is in the wrong power state for this operation: power it on/off first or choose another option.',
  'remedy.invalidState': 'The object is in a state that does not allow this operation (e.g. a consolidation or another task is running): retry later.',
  'remedy.generic': 'See the message; check the vCenter task and event log for this object.',
  'remedy.fileFault': 'Check the datastore: is it accessible, is there free space, is the file locked by another host or backup tool?',
  'remedy.invalidArgument': 'vCenter rejected an argument; this is usually a Stillpoint bug or an unsupported vSphere version — report it with the log.',
  'remedy.invalidArgumentNamed': 'vCenter rejected an argument ({property}); this is usually a Stillpoint bug or an unsupported vSphere version — report it with the log.',
  'remedy.noPermission': 'Give the Stillpoint vCenter user the privilege {privilege} on this object, or use the Stillpoint role.',
  'remedy.noPermissionRole': 'Give the Stillpoint vCenter user the privilege (see the vCenter role) on this object, or use the Stillpoint role.',
  'remedy.guestCredentials': 'Check the guest OS credentials configured for this VM.',
  'remedy.toolsNotRunning': 'VMware Tools is not running in the guest: power the VM on and install/start VMware Tools.',
  'remedy.guestOperations': 'Guest operations failed: check VMware Tools in the guest and the guest credentials.',
  'remedy.cbtInvalid': 'Reset CBT on this VM (disable, snapshot, enable) and take a full backup; Stillpoint does this automatically for the next run.',
  'remedy.vcenterUnreachable': 'Check the vCenter address and port, that vCenter is running, and that this machine can reach it (firewall, proxy, DNS).',
  'remedy.timeout': 'The operation may still be running in vCenter: check Recent Tasks; raise the timeout if the environment is slow.',
} as const satisfies Record<string, Template>;

export type ServiceTextKey = keyof typeof SERVICE_TEXTS;
type Params = Record<string, TextParam | undefined>;

const fill = (template: string, params: Params): string =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ''));

const EN_PLURALS = new Intl.PluralRules('en-US');

/** The English text of a service message (what the domain keeps and the CLI prints). */
export function say(key: ServiceTextKey, params: Params = {}): string {
  const t: Template = SERVICE_TEXTS[key];
  if (typeof t === 'string') return fill(t, params);
  return fill(EN_PLURALS.select(Number(params.n)) === 'one' ? t.one : t.other, params);
}

/** Several service texts as one parameter (identify splits them again). */
export function sayList(items: string[]): string { return items.join(LIST_SEPARATOR); }

/**
 * Parameters that can only be one of a few texts (or nothing): matching them against those alone keeps a
 * message whose free parameter ends in a full stop (vCenter's message before "{cleanup}") unambiguous.
 */
const ONE_OF: Record<string, { texts: ServiceTextKey[]; orNothing: boolean } | undefined> = {
  cleanup: { texts: ['restore.cleanedUp', 'restore.nothingCreated'], orNothing: false },
  left: { texts: ['restore.leftBehind'], orNothing: true },
  catalogs: { texts: ['maintenance.gcCatalogs'], orNothing: true },
  onNetworks: { texts: ['failover.onNetworks'], orNothing: true },
  reIp: { texts: ['failover.reIp'], orNothing: true },
  repointed: { texts: ['failback.repointedOne', 'failback.repointedMany'], orNothing: true },
  removed: { texts: ['replication.removedPoints'], orNothing: true },
  dirty: { texts: ['exchange.dirtyDatabase'], orNothing: true },
  more: { texts: ['putBack.more'], orNothing: true },
  next: { texts: ['failback.next.committed', 'failback.next.original', 'failback.next.newVm'], orNothing: false },
};

/** A template as a pattern without groups, for ONE_OF. */
function literalPattern(key: ServiceTextKey): string {
  const t: Template = SERVICE_TEXTS[key];
  const forms = typeof t === 'string' ? [t] : [t.one, t.other];
  return forms.map((f) => f.split(/(\{\w+\})/).map((part) => (/^\{\w+\}$/.test(part) ? '[\\s\\S]*?' : escapeRegExp(part))).join('')).join('|');
}
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Compiled { key: string; re: RegExp; names: string[] }
let compiled: Compiled[] | undefined;

function compile(): Compiled[] {
  const out: Compiled[] = [];
  for (const [key, t] of Object.entries(SERVICE_TEXTS) as [string, Template][]) {
    for (const form of typeof t === 'string' ? [t] : [t.one, t.other]) {
      const names: string[] = [];
      const source = form.split(/(\{\w+\})/).map((part) => {
        const m = /^\{(\w+)\}$/.exec(part);
        if (!m) return escapeRegExp(part);
        names.push(m[1]!);
        if (m[1] === 'n') return '(\\d+)';
        const only = ONE_OF[m[1]!];
        return only ? `(${only.texts.map((k) => literalPattern(k)).join('|')}${only.orNothing ? '|' : ''})` : '([\\s\\S]*?)';
      }).join('');
      out.push({ key, re: new RegExp(`^${source}$`), names });
    }
  }
  // Constant texts first, then the most specific (longest literal part): "reading {disk}" loses to a constant.
  return out.sort((a, b) => Math.min(1, a.names.length) - Math.min(1, b.names.length) || literalLength(b) - literalLength(a) || a.names.length - b.names.length);
}
const literalLength = (c: Compiled): number => c.re.source.replace(/\(\[\\s\\S\]\*\?\)|\(\\d\+\)/g, '').length;

/**
 * The key and parameters of a text say() wrote, or undefined for any other text (a vCenter message, a
 * path). Parameters that are service texts themselves, or lists of them, come back identified too.
 */
export function identify(text: string | undefined, depth = 0): IdentifiedText | undefined {
  if (!text || depth > 4) return undefined;
  compiled ??= compile();
  for (const c of compiled) {
    const m = c.re.exec(text);
    if (!m) continue;
    if (!c.names.length) return { key: c.key };
    const params: Record<string, string | IdentifiedText | IdentifiedText[]> = {};
    c.names.forEach((name, i) => { params[name] = TEXT_PARAMS.has(name) ? identifyParam(m[i + 1] ?? '', depth + 1) : m[i + 1] ?? ''; });
    return { key: c.key, params };
  }
  return undefined;
}

function identifyParam(value: string, depth: number): string | IdentifiedText | IdentifiedText[] {
  // A list first: "A (…); B (…)" would otherwise match one item's template with the rest in its last parameter.
  if (value.includes(LIST_SEPARATOR)) {
    const parts = value.split(LIST_SEPARATOR).map((p) => identify(p, depth));
    if (parts.every((p) => p)) return parts as IdentifiedText[];
  }
  return identify(value, depth) ?? value;
}
