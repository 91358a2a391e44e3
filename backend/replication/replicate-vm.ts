// One VM replicated to the DR site from a consistent snapshot of the running VM: the VM is taken
// (never two sessions at once), the snapshot session opens (quiesce, scripts), the first run seeds
// the replica by uploading every disk whole; later runs write through a replica writer
// (transport/): hot-add through a paired transporter when one serves the DR datastore (only what
// changed since the last run: CBT, else digests), else the full upload. Then a recovery point is
// taken on the replica, retention runs, and the session is closed on every path. A failed run leaves
// the replica at its last recovery point (its partial writes are discarded by reverting to it); a
// failed first run removes the half-made replica.
import type { AppAwareSettings } from '../model/app-aware.ts';
import type { Consistency } from '../model/consistency.ts';
import { guestFamily } from '../model/guest.ts';
import { TASK_TYPES } from '../model/vcenter-tasks.ts';
import { InvalidRequest } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import { SnapshotDiskSource } from '../sources/snapshot/disk-source.ts';
import type { SessionJournal } from '../sources/snapshot/journal.ts';
import { SnapshotSession } from '../sources/snapshot/session.ts';
import { captureVmConfig } from '../sources/snapshot/vm-config.ts';
import type { VmLocks } from '../sources/snapshot/vm-lock.ts';
import type { GuestCredentials, MoRef, VcTask, VirtualDevice, VSphere } from '../vsphere/index.ts';
import { findReplica, writeSync, type ReplicaSync } from './marks.ts';
import { MAX_POINTS, applyRetention, createPoint, listPoints, type RecoveryPoint } from './recovery-points.ts';
import {
  checkMappedNetworks, createReplicaVm, mapNetworks, planReplicaFiles, prepareReplicaFiles, removeHalfMadeReplica,
  applyNetworkMap, replicaDisks, resolveFolder, resolveReplicaPlacement, type NetworkMapping,
} from './replica-vm.ts';
import { planDisk, type DiskPlan, type DiskSyncState } from './transport/change-plan.ts';
import { FullUploadWriter } from './transport/full-upload.ts';
import { HotAddWriter } from './transport/hot-add.ts';
import type { TransporterLink } from './transport/link.ts';
import type { DiskWritten, PlanReason, ReplicaDiskTarget, ReplicaWriter, TransportName } from './transport/replica-writer.ts';
import type { Placement } from '../restore/placement.ts';
import { say } from '../common/service-text.ts';
import { count } from '../common/units.ts';

const log = childLog('replication');

export interface ReplicationTarget {
  host: string;
  datastore: string;
  folder?: string;
  /** Resource pool (name or id) of the DR host's cluster or host; default its root pool. */
  pool?: string;
  /** Appended to the source's name (default "-replica"). */
  suffix?: string;
  networkMap?: NetworkMapping[];
  /** Recovery points to keep, 1..28 (default 7). */
  keep?: number;
}

/** The transporters of the site (service: transport/hub.ts): one that serves a DR datastore, if any. */
export interface TransporterFinder {
  forDatastore(vs: VSphere, datastore: MoRef): Promise<{ link?: TransporterLink; skipped: string[] }>;
}

export interface ReplicateDeps {
  /** The source VM's vCenter (snapshot, CBT, reads). */
  vs: VSphere;
  /** The DR site's vCenter when it is another one than the source's (the replica, its points, the transporters' hot-add). */
  target?: VSphere;
  journal: SessionJournal;
  locks: VmLocks;
  moref?: string;
  /** The DR site's transporters. */
  transporters?: TransporterFinder;
}

export interface ReplicateRequest {
  vmId: string;
  target: ReplicationTarget;
  settings: AppAwareSettings;
  guest?: { id: string; credentials: GuestCredentials };
  runId?: string;
  initiatedBy?: string;
  onProgress?: (p: { phase: string; percent: number; bytes: number }) => void;
  signal?: AbortSignal;
  /** Runs after the seed: 'auto' (default) takes hot-add when a transporter serves the DR datastore, else full upload. */
  transport?: 'auto' | TransportName;
}

export interface ReplicateResult {
  replicaId: string;
  replicaName: string;
  created: boolean;
  point: RecoveryPoint;
  consistency: Consistency;
  reason: string;
  /** Bytes sent to the DR site (data, framing and digests). */
  bytes: number;
  durationMs: number;
  // The four fields below and a disk's bytesWritten/reason are set by replicateVm; optional for other producers of this shape.
  /** How the data reached the replica (the seed is always a full upload). */
  transport?: TransportName;
  /** Data bytes written into the replica's disks. */
  bytesWritten?: number;
  /** Bytes of source ranges looked at: changed per CBT, compared by digest, or the whole disks. */
  bytesConsidered?: number;
  /** Per source disk: its key, capacity and the changeId the next run plans from. */
  diskState?: DiskSyncState[];
  /** sha256: of what was written when a disk was uploaded whole, else ''. */
  disks: { label: string; path: string; bytes: number; bytesWritten?: number; reason?: PlanReason; sha256: string }[];
  removedPoints: string[];
  warnings: string[];
}

export function checkTarget(t: ReplicationTarget): Required<Pick<ReplicationTarget, 'suffix' | 'keep' | 'networkMap'>> {
  if (!t || typeof t.host !== 'string' || !t.host.trim()) throw new InvalidRequest('host is required: the DR host to replicate to.');
  if (typeof t.datastore !== 'string' || !t.datastore.trim()) throw new InvalidRequest('datastore is required: the DR datastore of the replica.');
  const keep = t.keep ?? 7;
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_POINTS) throw new InvalidRequest(`keep must be a whole number from 1 to ${MAX_POINTS} (vSphere's snapshot depth, less working snapshots).`);
  const suffix = t.suffix ?? '-replica';
  if (!suffix.trim()) throw new InvalidRequest('suffix must not be empty: the replica needs a name other than its source\'s.');
  const networkMap = t.networkMap ?? [];
  const seen = new Set<string>();
  for (const m of networkMap) {
    if (!m || typeof m.source !== 'string' || typeof m.target !== 'string' || !m.source || !m.target) throw new InvalidRequest('networkMap entries need a source and a target network name.');
    if (seen.has(m.source)) throw new InvalidRequest(`Network '${m.source}' is mapped twice: map each source network once.`);
    seen.add(m.source);
  }
  return { suffix, keep, networkMap };
}

export async function replicateVm(deps: ReplicateDeps, req: ReplicateRequest): Promise<ReplicateResult> {
  const { vs } = deps;
  // Everything about the replica happens in the DR site's vCenter; the source is only read through its own.
  const dr = deps.target ?? vs;
  const t0 = Date.now();
  const { suffix, keep, networkMap } = checkTarget(req.target);
  const release = deps.locks.tryAcquire(req.vmId, `replication ${req.runId ?? ''}`.trim());
  const ref: MoRef = { type: 'VirtualMachine', value: deps.moref ?? req.vmId };
  let task: VcTask | undefined;
  let percent = 0;
  let bytes = 0;
  const report = (phase: string, p = percent) => {
    percent = p;
    req.onProgress?.({ phase, percent, bytes });
    void task?.progress(Math.min(99, Math.round(percent))).catch(() => undefined);
  };
  const warnings: string[] = [];
  try {
    const vm = await vs.inventory.vm(ref);
    if (!vm.instanceUuid) throw new InvalidRequest(`VM '${vm.name}' has no instance UUID: vCenter cannot identify its replica.`);
    task = await vs.tasks.create({ obj: ref, taskTypeId: TASK_TYPES.replicate, initiatedBy: req.initiatedBy ?? 'Stillpoint', cancelable: false })
      .then(async (x) => { await x.running(); return x; })
      .catch((e) => { log.debug({ err: (e as Error).message }, 'no vCenter task (is the plugin registered?)'); return undefined; });

    report(say('phase.checkingDrTarget'), 1);
    const placement = await resolveReplicaPlacement(dr, req.target);
    const folder = await resolveFolder(dr, placement, req.target.folder);
    const networks = await checkMappedNetworks(dr, placement.host.ref, placement.host.name, networkMap);
    const existing = await findReplica(dr, vm.instanceUuid);
    if (existing) {
      const info = await dr.vms.get(existing.ref);
      if (info.powerState !== 'poweredOff') {
        throw new InvalidRequest(`Replica '${existing.name}' is ${info.powerState}: a running replica (failed over, or started by hand) is not written to. Power it off and revert it to a recovery point first.`);
      }
    }

    if (!vm.cbtEnabled) {
      report(say('phase.enablingCbt'));
      const on = await vs.cbt.setEnabled(ref, true).catch(() => false);
      if (!on) warnings.push(say('warning.sourceCbtNotEnabled'));
    }

    const session = await SnapshotSession.open({ vs, journal: deps.journal }, {
      vm, guestFamily: guestFamily(vm.guestId), settings: req.settings, purpose: 'replication',
      ...(req.guest ? { guest: req.guest } : {}), ...(req.runId ? { runId: req.runId } : {}), ...(req.signal ? { signal: req.signal } : {}),
      onPhase: (phase) => report(phase),
    });
    warnings.push(...session.warnings);
    const takenAt = new Date(session.snapshot.node.createTime);
    let result: Omit<ReplicateResult, 'durationMs'>;
    let cbtResetNeeded = false;
    try {
      const cfg = await captureVmConfig(vs, ref, session.snapshot.node.ref, vm.host?.value);
      const mapped = mapNetworks(cfg, networkMap);
      const sourceDisks = session.snapshot.disks;
      const diskState = sourceDisks.map((d) => ({ key: d.key, capacity: d.capacityBytes, ...(d.changeId ? { changeId: d.changeId } : {}) }));
      /** Writes every disk along its plan through the writer; closes the writer on every path. */
      const writeAll = async (writer: ReplicaWriter, targets: ReplicaDiskTarget[], plans: DiskPlan[]) => {
        const total = plans.reduce((n, p, i) => n + (writer.partial ? p.ranges.reduce((m, r) => m + r.length, 0) : targets[i]!.capacity), 0) || 1;
        let considered = 0;
        const disks: DiskWritten[] = [];
        try {
          report(writer.transport === 'hot-add' ? 'attaching the replica\'s disks to the transporter' : 'writing the replica\'s disks');
          await writer.open(targets, req.signal);
          for (const [i, d] of sourceDisks.entries()) {
            const phase = say('phase.writingToReplica', { disk: d.label, transport: `${writer.transport}${writer.partial ? `, ${plans[i]!.reason}` : ''}` });
            report(phase);
            const source = await SnapshotDiskSource.open(vs, d);
            const w = await writer.write({ index: i, source, target: targets[i]!, ranges: plans[i]!.ranges, reason: plans[i]!.reason }, {
              ...(req.signal ? { signal: req.signal } : {}),
              onBytes: (n) => { considered += n; if (!writer.partial) bytes += n; report(phase, 5 + 85 * (considered / total)); },
            });
            if (writer.partial) bytes += w.bytesSent;
            disks.push(w);
          }
        } finally {
          report(writer.transport === 'hot-add' ? 'detaching the replica\'s disks' : 'writing the replica\'s disks');
          warnings.push(...await writer.close());
        }
        return disks;
      };
      const summary = (disks: DiskWritten[]) => ({
        bytesWritten: disks.reduce((n, d) => n + d.bytesWritten, 0), bytesConsidered: disks.reduce((n, d) => n + d.bytesConsidered, 0),
      });

      if (!existing) {
        const name = `${vm.name}${suffix}`;
        const nr = { name, placement, folder, cfg: mapped.cfg, sourceDisks, sourceName: vm.name, sourceUuid: vm.instanceUuid };
        const files = planReplicaFiles(nr);
        let replicaRef: MoRef | undefined;
        try {
          report(say('phase.creatingReplicaFiles'));
          await prepareReplicaFiles(dr, nr, files, req.signal);
          // The seed: every disk whole, by datastore upload (the replica VM is made around the uploaded files).
          const writer = new FullUploadWriter(dr, placement.datacenter.path);
          const targets = sourceDisks.map((d, i) => ({ label: d.label, capacity: d.capacityBytes, fileName: files.disks[i]!.descriptorPath, extentPath: files.disks[i]!.flatPath }));
          const written = await writeAll(writer, targets, sourceDisks.map((d) => ({ ranges: [{ start: 0, length: d.capacityBytes }], reason: 'seed' as const })));
          report(say('phase.creatingReplicaVm'), 92);
          const made = await createReplicaVm(dr, nr, files, networks);
          replicaRef = made.ref;
          warnings.push(...made.warnings.filter((w) => !/left out/.test(w)));
          report(say('phase.creatingRecoveryPoint'), 95);
          const point = await createPoint(dr, made.ref, { takenAt, consistency: session.consistency, sourceName: vm.name, ...(req.runId ? { runId: req.runId } : {}) });
          if (mapped.unmapped.length) warnings.push(say('warning.unmappedOnReplica', { nics: mapped.unmapped.join(', ') }));
          const sum = summary(written);
          result = {
            replicaId: made.ref.value, replicaName: name, created: true, point, consistency: session.consistency, reason: session.reason, bytes, transport: 'full-upload',
            bytesWritten: sum.bytesWritten, bytesConsidered: sum.bytesConsidered, diskState,
            disks: written.map((w) => ({ label: w.label, path: w.path, bytes: w.bytesSent, bytesWritten: w.bytesWritten, reason: 'seed' as const, sha256: w.sha256 ?? '' })),
            removedPoints: [], warnings,
          };
        } catch (e) {
          const left = await removeHalfMadeReplica(dr, replicaRef, files.dir, placement);
          if (left.length) warnings.push(say('warning.leftByFailedFirstRun', { what: left.join('; ') }));
          throw e;
        }
      } else {
        const replica = existing.ref;
        const before = await listPoints(dr, replica);
        const latest = before[before.length - 1];
        await writeSync(dr, replica, { ...syncBase(existing.sync, req.vmId, vm.name), state: 'syncing', at: new Date().toISOString() }).catch(() => undefined);
        try {
          // A fresh delta on the latest point: whatever an interrupted run wrote after it is dropped.
          if (latest) { report(say('phase.revertingReplica')); await dr.snapshots.revert(latest.ref, { suppressPowerOn: true }); }
          let targets = await replicaDisks(dr, replica);
          if (targets.length !== sourceDisks.length || targets.some((d, i) => d.capacityBytes > sourceDisks[i]!.capacityBytes)) {
            throw new InvalidRequest(`The source's disks (${sourceDisks.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}) no longer match the replica's ` +
              `(${targets.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}): a disk was added, removed or shrunk. Delete the replica to seed a new one.`);
          }
          const grown = sourceDisks.map((d, i) => d.capacityBytes > targets[i]!.capacityBytes);
          let removedForGrowth: string[] = [];
          if (grown.some(Boolean)) {
            report(say('phase.growingReplicaDisks'));
            removedForGrowth = await growReplicaDisks(dr, replica, sourceDisks.filter((_d, i) => grown[i]).map((d) => ({ key: targets[sourceDisks.indexOf(d)]!.key, capacity: d.capacityBytes })));
            warnings.push(`${sourceDisks.filter((_d, i) => grown[i]).map((d) => d.label).join(', ')} of the source grew: the replica's disks were grown to match. vSphere cannot grow a disk that has snapshots, ` +
              `so the replica's ${count(removedForGrowth.length, 'older recovery point')} ${removedForGrowth.length === 1 ? 'was' : 'were'} removed (${removedForGrowth.join(', ') || 'none'}); this run's point is the first of the grown disk.`);
            targets = await replicaDisks(dr, replica);
          }
          report(say('phase.applyingNetworkMap'));
          const net = await applyNetworkMap(dr, replica, mapped.cfg.nics);
          if (net.warning) warnings.push(net.warning);
          if (net.changed.length) log.info({ replica: replica.value, changed: net.changed }, 'network mapping applied to the replica');
          const chosen = await chooseWriter(dr, deps, replica, placement, req.transport ?? 'auto', warnings);
          report(say('phase.planningSend'));
          // CBT since the previous run is only good for a replica at the point that run made.
          const atPreviousPoint = !!latest && latest.id === existing.sync?.pointId;
          const plans: DiskPlan[] = [];
          for (const [i, d] of sourceDisks.entries()) {
            const p = await planDisk(vs, ref, session.snapshot.node.ref, d, { previous: existing.sync?.disks, atPreviousPoint, grown: grown[i]! });
            if (p.cbtInvalid) cbtResetNeeded = true;
            if (p.reason === 'digest' && chosen.partial) warnings.push(`${d.label}: compared by digest (${p.why}).`);
            plans.push(p);
          }
          const dTargets: ReplicaDiskTarget[] = [];
          for (const [i, t] of targets.entries()) {
            const { extentPath } = chosen.partial ? { extentPath: '' } : await dr.datastores.resolveExtent(t.fileName, { dcPath: placement.datacenter.path });
            dTargets.push({ label: sourceDisks[i]!.label, capacity: t.capacityBytes, fileName: t.fileName, extentPath });
          }
          // Full upload into the top of the chain: on ESXi a delta is vmfsSparse/SEsparse, which a raw PUT cannot write
          // (runs after the seed need the hot-add transport there; see README "Replication transports").
          const written = await writeAll(chosen, dTargets, plans);
          report(say('phase.creatingRecoveryPoint'), 93);
          const point = await createPoint(dr, replica, { takenAt, consistency: session.consistency, sourceName: vm.name, ...(req.runId ? { runId: req.runId } : {}) });
          report(say('phase.removingOldRecoveryPoints'), 96);
          const ret = await applyRetention(dr, replica, keep);
          warnings.push(...ret.warnings);
          const sum = summary(written);
          result = {
            replicaId: replica.value, replicaName: existing.name, created: false, point, consistency: session.consistency, reason: session.reason, bytes, transport: chosen.transport,
            bytesWritten: sum.bytesWritten, bytesConsidered: sum.bytesConsidered, diskState,
            disks: written.map((w, i) => ({ label: w.label, path: w.path, bytes: w.bytesSent, bytesWritten: w.bytesWritten, reason: chosen.partial ? plans[i]!.reason : 'seed', sha256: w.sha256 ?? '' })),
            removedPoints: [...removedForGrowth, ...ret.removed], warnings,
          };
        } catch (e) {
          const latestNow = (await listPoints(dr, replica).catch(() => before)).at(-1) ?? latest;
          const back = latestNow ? await dr.snapshots.revert(latestNow.ref, { suppressPowerOn: true }).then(() => '', (x: Error) => ` Reverting the replica to its latest recovery point failed too (${x.message}): revert it from the vSphere Client.`) : '';
          // Cancelled and put back: the replica is as ready as before the run. Anything else is an error to show.
          const after: ReplicaSync = req.signal?.aborted && !back && existing.sync?.state === 'ready'
            ? existing.sync
            : { ...syncBase(existing.sync, req.vmId, vm.name), state: 'error', error: `${(e as Error).message}${back}`, at: new Date().toISOString() };
          await writeSync(dr, replica, after).catch(() => undefined);
          throw e;
        }
      }
    } finally {
      report(say('phase.removingSourceSnapshot'));
      await session.close().catch(async (e: Error) => {
        const text = `The replication snapshot of ${vm.name} could not be removed (${e.message}); Stillpoint retries at its next start.`;
        warnings.push(text);
        await vs.events.logUserEvent(ref, `Stillpoint warning: ${text}`).catch(() => undefined);
      });
    }
    if (cbtResetNeeded) await vs.cbt.reset(ref).catch((e: Error) => warnings.push(say('warning.sourceCbtResetFailed', { error: e.message })));
    const durationMs = Date.now() - t0;
    const replica: MoRef = { type: 'VirtualMachine', value: result.replicaId };
    const sync: ReplicaSync = {
      state: 'ready', sourceVmId: req.vmId, sourceName: vm.name, lastSync: takenAt.toISOString(), durationMs, bytes: result.bytes, consistency: result.consistency, at: new Date().toISOString(),
      ...(result.transport ? { transport: result.transport } : {}), pointId: result.point.id, ...(result.diskState ? { disks: result.diskState } : {}),
    };
    await writeSync(dr, replica, sync).catch((e) => warnings.push(say('warning.replicaStateNotRecorded', { error: (e as Error).message })));
    await vs.events.logUserEvent(ref, `Stillpoint: ${vm.name} replicated to ${result.replicaName}, ${result.consistency}-consistent (recovery point '${result.point.name}').`).catch(() => undefined);
    if (task) await task.succeed().catch(() => undefined);
    report(say('phase.done'), 100);
    log.info({ vm: req.vmId, replica: result.replicaId, bytes: result.bytes, durationMs, point: result.point.name }, 'replication finished');
    return { ...result, durationMs };
  } catch (e) {
    if (task) await task.fail((e as Error).message).catch(() => undefined);
    await vs.events.logUserEvent(ref, `Stillpoint: replication failed: ${(e as Error).message}`).catch(() => undefined);
    throw e;
  } finally {
    release();
  }
}

function syncBase(prev: ReplicaSync | undefined, vmId: string, name: string): Omit<ReplicaSync, 'state' | 'at'> {
  const { state: _s, at: _a, error: _e, ...rest } = prev ?? { state: 'ready', at: '' };
  return { ...rest, sourceVmId: vmId, sourceName: name };
}

/**
 * The writer for a run after the seed: hot-add when asked or when a transporter serves the DR
 * datastore ('auto'), else the full upload (with a warning when a paired transporter was passed over).
 */
async function chooseWriter(vs: VSphere, deps: ReplicateDeps, replica: MoRef, placement: Placement, want: 'auto' | TransportName, warnings: string[]): Promise<ReplicaWriter> {
  const full = new FullUploadWriter(vs, placement.datacenter.path);
  if (want === 'full-upload') return full;
  const found = deps.transporters ? await deps.transporters.forDatastore(vs, placement.datastore.ref) : { skipped: [] };
  if (found.link) return new HotAddWriter(vs, found.link, replica);
  if (want === 'hot-add') {
    throw new InvalidRequest(`No transporter can write to datastore '${placement.datastore.name}'${found.skipped.length ? ` (${found.skipped.join('; ')})` : ''}: ` +
      'run `stillpoint transporter run` on a helper VM whose host mounts it (pair it first with `stillpoint transporter pair`), or use the full upload.');
  }
  if (found.skipped.length) warnings.push(say('warning.fullUploadInsteadOfHotAdd', { why: found.skipped.join('; ') }));
  return full;
}

/**
 * Grows replica disks to their source's capacity. vSphere cannot grow a disk that has snapshots:
 * the recovery points go first (the disk keeps the latest point's data). Returns the removed points.
 */
async function growReplicaDisks(vs: VSphere, replica: MoRef, grow: { key: number; capacity: number }[]): Promise<string[]> {
  const points = await listPoints(vs, replica);
  for (const root of (await vs.snapshots.tree(replica)).roots) await vs.snapshots.remove(root.ref, { removeChildren: true, consolidate: true });
  await vs.snapshots.consolidateIfNeeded(replica);
  const { 'config.hardware.device': devices } = await vs.pc.retrieveOne<{ 'config.hardware.device'?: VirtualDevice[] }>(replica, ['config.hardware.device']);
  await vs.vms.reconfigure(replica, {
    deviceChange: grow.map((g) => {
      const device = (devices ?? []).find((d) => d.key === g.key);
      if (!device) throw new Error(`The replica has no disk ${g.key} to grow.`);
      return { operation: 'edit', device: { ...device, capacityInBytes: g.capacity, capacityInKB: Math.floor(g.capacity / 1024) } };
    }),
  } as never);
  return points.map((p) => p.name);
}
