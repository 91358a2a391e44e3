// One VM replicated to the DR site from a consistent snapshot of the running VM, with the full-upload
// transport: the VM is taken (never two sessions at once), the snapshot session opens (quiesce,
// scripts), every disk is copied whole into the replica's current disk file, a recovery point is
// taken on the replica, retention runs, and the session is closed on every path. A failed run leaves
// the replica at its last recovery point (its partial writes are discarded by reverting to it); a
// failed first run removes the half-made replica.
import type { AppAwareSettings } from '../model/app-aware.ts';
import type { Consistency } from '../model/consistency.ts';
import { guestFamily } from '../model/guest.ts';
import { TASK_TYPES } from '../model/vcenter-tasks.ts';
import { InvalidRequest } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import { copyDisk } from '../pipeline/disk-pipeline.ts';
import { plan } from '../pipeline/read-plan.ts';
import { resolvePlacement } from '../restore/placement.ts';
import { SnapshotDiskSource } from '../sources/snapshot/disk-source.ts';
import type { SessionJournal } from '../sources/snapshot/journal.ts';
import { SnapshotSession } from '../sources/snapshot/session.ts';
import { captureVmConfig } from '../sources/snapshot/vm-config.ts';
import type { VmLocks } from '../sources/snapshot/vm-lock.ts';
import type { DiskInfo, GuestCredentials, MoRef, VcTask, VSphere } from '../vsphere/index.ts';
import { findReplica, writeSync, type ReplicaSync } from './marks.ts';
import { MAX_POINTS, applyRetention, createPoint, listPoints, type RecoveryPoint } from './recovery-points.ts';
import {
  checkMappedNetworks, createReplicaVm, mapNetworks, planReplicaFiles, prepareReplicaFiles, removeHalfMadeReplica,
  replicaDisks, resolveFolder, type NetworkMapping,
} from './replica-vm.ts';
import { DatastoreUploadSink } from './upload-sink.ts';

const log = childLog('replication');

const PIECE = 1024 * 1024;

export interface ReplicationTarget {
  host: string;
  datastore: string;
  folder?: string;
  /** Appended to the source's name (default "-replica"). */
  suffix?: string;
  networkMap?: NetworkMapping[];
  /** Recovery points to keep, 1..28 (default 7). */
  keep?: number;
}

export interface ReplicateDeps { vs: VSphere; journal: SessionJournal; locks: VmLocks; moref?: string }

export interface ReplicateRequest {
  vmId: string;
  target: ReplicationTarget;
  settings: AppAwareSettings;
  guest?: { id: string; credentials: GuestCredentials };
  runId?: string;
  initiatedBy?: string;
  onProgress?: (p: { phase: string; percent: number; bytes: number }) => void;
  signal?: AbortSignal;
}

export interface ReplicateResult {
  replicaId: string;
  replicaName: string;
  created: boolean;
  point: RecoveryPoint;
  consistency: Consistency;
  reason: string;
  bytes: number;
  durationMs: number;
  disks: { label: string; path: string; bytes: number; sha256: string }[];
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

    report('checking the DR target', 1);
    const placement = await resolvePlacement(vs, req.target.host, req.target.datastore);
    const folder = await resolveFolder(vs, placement, req.target.folder);
    const networks = await checkMappedNetworks(vs, placement.host.ref, placement.host.name, networkMap);
    const existing = await findReplica(vs, vm.instanceUuid);
    if (existing) {
      const info = await vs.vms.get(existing.ref);
      if (info.powerState !== 'poweredOff') {
        throw new InvalidRequest(`Replica '${existing.name}' is ${info.powerState}: a running replica (failed over, or started by hand) is not written to. Power it off and revert it to a recovery point first.`);
      }
    }

    const session = await SnapshotSession.open({ vs, journal: deps.journal }, {
      vm, guestFamily: guestFamily(vm.guestId), settings: req.settings, purpose: 'replication',
      ...(req.guest ? { guest: req.guest } : {}), ...(req.runId ? { runId: req.runId } : {}), ...(req.signal ? { signal: req.signal } : {}),
      onPhase: (phase) => report(phase),
    });
    warnings.push(...session.warnings);
    const takenAt = new Date(session.snapshot.node.createTime);
    let result: Omit<ReplicateResult, 'durationMs'>;
    try {
      const cfg = await captureVmConfig(vs, ref, session.snapshot.node.ref, vm.host?.value);
      const mapped = mapNetworks(cfg, networkMap);
      const sourceDisks = session.snapshot.disks;
      const total = sourceDisks.reduce((n, d) => n + d.capacityBytes, 0) || 1;
      const write = async (disk: DiskInfo, path: string, i: number) => {
        const phase = `writing ${disk.label} to the replica`;
        report(phase);
        const source = await SnapshotDiskSource.open(vs, disk);
        const sink = DatastoreUploadSink.start(vs, path, disk.capacityBytes, PIECE, { dcPath: placement.datacenter.path, ...(req.signal ? { signal: req.signal } : {}) });
        try {
          await copyDisk(source, sink, plan('full', undefined, PIECE, disk.capacityBytes), {
            pieceBytes: 4 * PIECE, ...(req.signal ? { signal: req.signal } : {}),
            onBytes: (n) => { bytes += n; report(phase, 5 + 85 * (bytes / total)); },
          });
          await sink.finish();
        } catch (e) {
          sink.fail(e instanceof Error ? e : new Error(String(e)));
          await sink.settled();
          throw e;
        }
        void i;
        return { label: disk.label, path, bytes: sink.bytes, sha256: sink.sha256() };
      };

      if (!existing) {
        const name = `${vm.name}${suffix}`;
        const nr = { name, placement, folder, cfg: mapped.cfg, sourceDisks, sourceName: vm.name, sourceUuid: vm.instanceUuid };
        const files = planReplicaFiles(nr);
        let replicaRef: MoRef | undefined;
        try {
          report('creating the replica\'s files');
          await prepareReplicaFiles(vs, nr, files, req.signal);
          const disks = [];
          for (const [i, d] of sourceDisks.entries()) disks.push(await write(d, files.disks[i]!.flatPath, i));
          report('creating the replica VM', 92);
          const made = await createReplicaVm(vs, nr, files, networks);
          replicaRef = made.ref;
          warnings.push(...made.warnings.filter((w) => !/left out/.test(w)));
          report('creating the recovery point', 95);
          const point = await createPoint(vs, made.ref, { takenAt, consistency: session.consistency, sourceName: vm.name, ...(req.runId ? { runId: req.runId } : {}) });
          if (mapped.unmapped.length) warnings.push(`Not in the network mapping, left disconnected on the replica: ${mapped.unmapped.join(', ')}.`);
          result = { replicaId: made.ref.value, replicaName: name, created: true, point, consistency: session.consistency, reason: session.reason, bytes, disks, removedPoints: [], warnings };
        } catch (e) {
          const left = await removeHalfMadeReplica(vs, replicaRef, files.dir, placement);
          if (left.length) warnings.push(`Left behind by the failed first run: ${left.join('; ')}.`);
          throw e;
        }
      } else {
        const replica = existing.ref;
        const before = await listPoints(vs, replica);
        const latest = before[before.length - 1];
        await writeSync(vs, replica, { ...syncBase(existing.sync, req.vmId, vm.name), state: 'syncing', at: new Date().toISOString() }).catch(() => undefined);
        try {
          // A fresh delta on the latest point: whatever an interrupted run wrote after it is dropped.
          if (latest) { report('reverting the replica to its latest recovery point'); await vs.snapshots.revert(latest.ref, { suppressPowerOn: true }); }
          const targets = await replicaDisks(vs, replica);
          if (targets.length !== sourceDisks.length || targets.some((d, i) => d.capacityBytes !== sourceDisks[i]!.capacityBytes)) {
            throw new InvalidRequest(`The source's disks (${sourceDisks.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}) no longer match the replica's ` +
              `(${targets.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}): a disk was added, removed or resized. This version cannot follow that: delete the replica to seed a new one.`);
          }
          const disks = [];
          for (const [i, d] of sourceDisks.entries()) {
            // The file the disk's current backing points to: the top of its snapshot chain (writing the base
            // would change every older point). On real ESXi that file is a vmfsSparse/SEsparse delta, which a
            // raw PUT cannot write: there, runs after the first need the hot-add transport (see README).
            const { extentPath } = await vs.datastores.resolveExtent(targets[i]!.fileName, { dcPath: placement.datacenter.path });
            disks.push(await write(d, extentPath, i));
          }
          report('creating the recovery point', 93);
          const point = await createPoint(vs, replica, { takenAt, consistency: session.consistency, sourceName: vm.name, ...(req.runId ? { runId: req.runId } : {}) });
          report('removing old recovery points', 96);
          const ret = await applyRetention(vs, replica, keep);
          warnings.push(...ret.warnings);
          result = { replicaId: replica.value, replicaName: existing.name, created: false, point, consistency: session.consistency, reason: session.reason, bytes, disks, removedPoints: ret.removed, warnings };
        } catch (e) {
          const latestNow = (await listPoints(vs, replica).catch(() => before)).at(-1) ?? latest;
          const back = latestNow ? await vs.snapshots.revert(latestNow.ref, { suppressPowerOn: true }).then(() => '', (x: Error) => ` Reverting the replica to its latest recovery point failed too (${x.message}): revert it from the vSphere Client.`) : '';
          // Cancelled and put back: the replica is as ready as before the run. Anything else is an error to show.
          const after: ReplicaSync = req.signal?.aborted && !back && existing.sync?.state === 'ready'
            ? existing.sync
            : { ...syncBase(existing.sync, req.vmId, vm.name), state: 'error', error: `${(e as Error).message}${back}`, at: new Date().toISOString() };
          await writeSync(vs, replica, after).catch(() => undefined);
          throw e;
        }
      }
    } finally {
      report('removing the source snapshot');
      await session.close().catch(async (e: Error) => {
        const text = `The replication snapshot of ${vm.name} could not be removed (${e.message}); Stillpoint retries at its next start.`;
        warnings.push(text);
        await vs.events.logUserEvent(ref, `Stillpoint warning: ${text}`).catch(() => undefined);
      });
    }
    const durationMs = Date.now() - t0;
    const replica: MoRef = { type: 'VirtualMachine', value: result.replicaId };
    const sync: ReplicaSync = {
      state: 'ready', sourceVmId: req.vmId, sourceName: vm.name, lastSync: takenAt.toISOString(), durationMs, bytes: result.bytes, consistency: result.consistency, at: new Date().toISOString(),
    };
    await writeSync(vs, replica, sync).catch((e) => warnings.push(`The replica's state could not be recorded in vCenter: ${(e as Error).message}`));
    await vs.events.logUserEvent(ref, `Stillpoint: ${vm.name} replicated to ${result.replicaName}, ${result.consistency}-consistent (recovery point '${result.point.name}').`).catch(() => undefined);
    if (task) await task.succeed().catch(() => undefined);
    report('done', 100);
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
