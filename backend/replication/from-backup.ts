// Replication from the latest restore point in a repository: the replica is written from the newest
// restore point of the VM (its disks read from the repository, its configuration as backed up), so
// production sees no second snapshot. The replica may be in another vCenter than the source: only
// the DR site's vCenter is talked to. Same replica, points and marks as replication from a snapshot
// (replicate-vm.ts): created on the first run by a full upload, reverted to its latest point on later
// runs and written through a replica writer — hot-add through a transporter at the DR site when one
// serves the datastore (the whole disk compared by digest, only differing pieces sent: a restore point
// carries no CBT change list against the replica), else a full upload — and a recovery point named with
// the restore point's consistency and time.
import { InvalidRequest } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import type { VmConfig } from '../model/vm-config.ts';
import type { Repository, RestorePoint } from '../repository/repository.ts';
import { RestorePointDiskSource } from '../sources/restore-point.ts';
import type { DiskInfo, MoRef, VSphere } from '../vsphere/index.ts';
import { findReplica, writeSync, type ReplicaSync } from './marks.ts';
import { applyRetention, createPoint, listPoints } from './recovery-points.ts';
import {
  checkMappedNetworks, createReplicaVm, mapNetworks, planReplicaFiles, prepareReplicaFiles, removeHalfMadeReplica, replicaDisks, resolveFolder, resolveReplicaPlacement, applyNetworkMap,
} from './replica-vm.ts';
import { checkTarget, type ReplicateResult, type ReplicationTarget, type TransporterFinder } from './replicate-vm.ts';
import { FullUploadWriter } from './transport/full-upload.ts';
import { HotAddWriter } from './transport/hot-add.ts';
import type { PlanReason, ReplicaDiskTarget, ReplicaWriter } from './transport/replica-writer.ts';
import { say } from '../common/service-text.ts';

const log = childLog('replication');

export interface FromBackupDeps {
  /** The DR site's vCenter (where the replica is). */
  target: VSphere;
  repo: Repository;
  /** The DR site's transporters: hot-add for runs after the seed when one serves the replica's datastore. */
  transporters?: TransporterFinder;
}

export interface FromBackupRequest {
  /** The source VM's id as the repository knows it (site-qualified at another site). */
  vmId: string;
  target: ReplicationTarget;
  runId?: string;
  onProgress?: (p: { phase: string; percent: number; bytes: number }) => void;
  signal?: AbortSignal;
}

export interface FromBackupResult extends ReplicateResult {
  restorePointId: string;
  /** True when the replica already had this restore point: nothing was written. */
  upToDate: boolean;
}

/** The VM's newest restore point that can seed a replica (has its VM configuration and instance UUID). */
export async function latestRestorePoint(repo: Repository, vmId: string): Promise<{ rp: RestorePoint; cfg: VmConfig; uuid: string }> {
  const points = await repo.listRestorePoints({ vmId });
  const rp = points[0];
  if (!rp) throw new InvalidRequest(`VM ${vmId} has no restore point in the repository: back it up first, or replicate it from a snapshot of the running VM.`);
  const cfg = (rp.metadata?.vmConfig ?? rp.vmConfig) as VmConfig | undefined;
  if (!cfg?.controllers || !cfg.disks) throw new InvalidRequest(`Restore point ${rp.id} of ${rp.vm.name} has no VM configuration: back the VM up again with this version, then replicate.`);
  if (!rp.vm.uuid) throw new InvalidRequest(`Restore point ${rp.id} of ${rp.vm.name} does not record the VM's instance UUID: back the VM up again with this version, then replicate.`);
  return { rp, cfg, uuid: rp.vm.uuid };
}

/** The restore point's disks as the replica needs them (in the order of the VM's configuration). */
function pointDisks(rp: RestorePoint, cfg: VmConfig): DiskInfo[] {
  return rp.disks.map((d) => {
    const c = cfg.disks.find((x) => String(x.key) === d.key);
    return {
      key: Number(d.key), label: d.label, capacityBytes: d.capacity, fileName: c?.fileName ?? d.file ?? '', backingType: 'VirtualDiskFlatVer2BackingInfo', parents: [],
      ...(c?.thin !== undefined ? { thin: c.thin } : {}), ...(c?.diskMode ? { diskMode: c.diskMode } : {}),
      ...(c?.controllerKey !== undefined ? { controllerKey: c.controllerKey } : {}), ...(c?.unitNumber !== undefined ? { unitNumber: c.unitNumber } : {}),
    } satisfies DiskInfo;
  });
}

export async function replicateFromBackup(deps: FromBackupDeps, req: FromBackupRequest): Promise<FromBackupResult> {
  const vs = deps.target;
  const t0 = Date.now();
  const { suffix, keep, networkMap } = checkTarget(req.target);
  let bytes = 0;
  let percent = 0;
  const report = (phase: string, p = percent) => { percent = p; req.onProgress?.({ phase, percent, bytes }); };
  const warnings: string[] = [];

  report(say('phase.findingLatestRestorePoint'), 1);
  const { rp, cfg, uuid } = await latestRestorePoint(deps.repo, req.vmId);
  const sourceName = rp.vm.name;
  const takenAt = new Date(rp.createdAt);
  report(say('phase.checkingDrTarget'), 2);
  const placement = await resolveReplicaPlacement(vs, req.target);
  const folder = await resolveFolder(vs, placement, req.target.folder);
  const networks = await checkMappedNetworks(vs, placement.host.ref, placement.host.name, networkMap);
  const existing = await findReplica(vs, uuid);
  const mapped = mapNetworks(cfg, networkMap);
  const sourceDisks = pointDisks(rp, cfg);
  const total = sourceDisks.reduce((n, d) => n + d.capacityBytes, 0) || 1;

  /** Writes every disk of the restore point whole (reason seed or digest) through the writer; closes it on every path. */
  const writeAll = async (writer: ReplicaWriter, targets: ReplicaDiskTarget[], reason: PlanReason) => {
    let considered = 0;
    const disks: FromBackupResult['disks'] = [];
    try {
      report(writer.transport === 'hot-add' ? 'attaching the replica\'s disks to the transporter' : 'writing the replica\'s disks');
      await writer.open(targets, req.signal);
      for (const [i, d] of sourceDisks.entries()) {
        const phase = `writing ${d.label} from restore point ${rp.id} (${writer.transport})`;
        report(phase);
        const source = await RestorePointDiskSource.open(deps.repo, rp.id, String(d.key));
        try {
          const w = await writer.write({ index: i, source, target: targets[i]!, ranges: [{ start: 0, length: d.capacityBytes }], reason }, {
            ...(req.signal ? { signal: req.signal } : {}),
            onBytes: (n) => { considered += n; if (!writer.partial) bytes += n; report(phase, 5 + 85 * (considered / total)); },
          });
          if (writer.partial) bytes += w.bytesSent;
          disks.push({ label: w.label, path: w.path, bytes: w.bytesSent, bytesWritten: w.bytesWritten, reason, sha256: w.sha256 ?? '' });
        } finally {
          await source.close();
        }
      }
    } finally {
      warnings.push(...await writer.close());
    }
    return disks;
  };
  const pointMeta = { takenAt, consistency: rp.consistency, sourceName, ...(req.runId ? { runId: req.runId } : {}) };
  let result: Omit<FromBackupResult, 'durationMs'>;

  if (!existing) {
    const name = `${sourceName}${suffix}`;
    const nr = { name, placement, folder, cfg: mapped.cfg, sourceDisks, sourceName, sourceUuid: uuid };
    const files = planReplicaFiles(nr);
    let replicaRef: MoRef | undefined;
    try {
      report(say('phase.creatingReplicaFiles'));
      await prepareReplicaFiles(vs, nr, files, req.signal);
      const disks = await writeAll(new FullUploadWriter(vs, placement.datacenter.path),
        files.disks.map((d) => ({ label: d.label, capacity: d.capacity, fileName: d.descriptorPath, extentPath: d.flatPath })), 'seed');
      report(say('phase.creatingReplicaVm'), 92);
      const made = await createReplicaVm(vs, nr, files, networks);
      replicaRef = made.ref;
      warnings.push(...made.warnings.filter((w) => !/left out/.test(w)));
      report(say('phase.creatingRecoveryPoint'), 95);
      const point = await createPoint(vs, made.ref, pointMeta);
      if (mapped.unmapped.length) warnings.push(say('warning.unmappedOnReplica', { nics: mapped.unmapped.join(', ') }));
      result = { replicaId: made.ref.value, replicaName: name, created: true, point, consistency: rp.consistency, reason: say('replication.fromRestorePoint', { id: rp.id }), bytes, disks, removedPoints: [], warnings, restorePointId: rp.id, upToDate: false, transport: 'full-upload' };
    } catch (e) {
      const left = await removeHalfMadeReplica(vs, replicaRef, files.dir, placement);
      if (left.length) warnings.push(say('warning.leftByFailedFirstRun', { what: left.join('; ') }));
      throw e;
    }
  } else {
    const replica = existing.ref;
    const info = await vs.vms.get(replica);
    if (info.powerState !== 'poweredOff') {
      throw new InvalidRequest(`Replica '${existing.name}' is ${info.powerState}: a running replica (failed over, or started by hand) is not written to. Power it off and revert it to a recovery point first.`);
    }
    const before = await listPoints(vs, replica);
    const latest = before.at(-1);
    if (latest?.takenAt === takenAt.toISOString()) {
      // The replica has this restore point already: a new point would be a copy of the last one.
      return {
        replicaId: replica.value, replicaName: existing.name, created: false, point: (({ ref: _r, ...p }) => p)(latest), consistency: rp.consistency,
        reason: `restore point ${rp.id} is on the replica already`, bytes: 0, disks: [], removedPoints: [], warnings, restorePointId: rp.id, upToDate: true, durationMs: Date.now() - t0,
      };
    }
    await writeSync(vs, replica, { ...base(existing.sync, req.vmId, sourceName), state: 'syncing', at: new Date().toISOString() }).catch(() => undefined);
    try {
      if (latest) { report(say('phase.revertingReplica')); await vs.snapshots.revert(latest.ref, { suppressPowerOn: true }); }
      const targets = await replicaDisks(vs, replica);
      if (targets.length !== sourceDisks.length || targets.some((d, i) => d.capacityBytes !== sourceDisks[i]!.capacityBytes)) {
        throw new InvalidRequest(`The restore point's disks (${sourceDisks.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}) no longer match the replica's ` +
          `(${targets.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}): a disk was added, removed or resized. Delete the replica to seed a new one.`);
      }
      const diskTargets: ReplicaDiskTarget[] = [];
      for (const t of targets) {
        const { extentPath } = await vs.datastores.resolveExtent(t.fileName, { dcPath: placement.datacenter.path });
        diskTargets.push({ label: t.label, capacity: t.capacityBytes, fileName: t.fileName, extentPath });
      }
      const net = await applyNetworkMap(vs, replica, mapped.cfg.nics);
      if (net.warning) warnings.push(net.warning);
      const writer = await chooseWriter(vs, deps.transporters, replica, placement.datastore, placement.datacenter.path, warnings);
      const disks = await writeAll(writer, diskTargets, 'digest');
      report(say('phase.creatingRecoveryPoint'), 93);
      const point = await createPoint(vs, replica, pointMeta);
      report(say('phase.removingOldRecoveryPoints'), 96);
      const ret = await applyRetention(vs, replica, keep);
      warnings.push(...ret.warnings);
      result = { replicaId: replica.value, replicaName: existing.name, created: false, point, consistency: rp.consistency, reason: say('replication.fromRestorePoint', { id: rp.id }), bytes, disks, removedPoints: ret.removed, warnings, restorePointId: rp.id, upToDate: false, transport: writer.transport };
    } catch (e) {
      const latestNow = (await listPoints(vs, replica).catch(() => before)).at(-1) ?? latest;
      const back = latestNow ? await vs.snapshots.revert(latestNow.ref, { suppressPowerOn: true }).then(() => '', (x: Error) => ` Reverting the replica to its latest recovery point failed too (${x.message}): revert it from the vSphere Client.`) : '';
      const after: ReplicaSync = req.signal?.aborted && !back && existing.sync?.state === 'ready'
        ? existing.sync
        : { ...base(existing.sync, req.vmId, sourceName), state: 'error', error: `${(e as Error).message}${back}`, at: new Date().toISOString() };
      await writeSync(vs, replica, after).catch(() => undefined);
      throw e;
    }
  }
  const durationMs = Date.now() - t0;
  const replica: MoRef = { type: 'VirtualMachine', value: result.replicaId };
  await writeSync(vs, replica, {
    state: 'ready', sourceVmId: req.vmId, sourceName, lastSync: takenAt.toISOString(), durationMs, bytes: result.bytes, consistency: result.consistency, at: new Date().toISOString(),
  }).catch((e) => warnings.push(say('warning.replicaStateNotRecorded', { error: (e as Error).message })));
  await vs.events.logUserEvent(replica, `Stillpoint: ${result.replicaName} updated from restore point ${rp.id} of ${sourceName}, ${result.consistency}-consistent (recovery point '${result.point.name}').`).catch(() => undefined);
  report(say('phase.done'), 100);
  log.info({ vm: req.vmId, replica: result.replicaId, restorePoint: rp.id, bytes: result.bytes, durationMs }, 'replication from backup finished');
  return { ...result, durationMs };
}

/** Hot-add when a transporter of the DR site serves the replica's datastore, else the full upload (saying why a paired one was passed over). */
async function chooseWriter(vs: VSphere, transporters: TransporterFinder | undefined, replica: MoRef, datastore: { ref: MoRef }, dcPath: string, warnings: string[]): Promise<ReplicaWriter> {
  const found = transporters ? await transporters.forDatastore(vs, datastore.ref) : { skipped: [] };
  if (found.link) return new HotAddWriter(vs, found.link, replica);
  if (found.skipped.length) warnings.push(say('warning.fullUploadInsteadOfHotAdd', { why: found.skipped.join('; ') }));
  return new FullUploadWriter(vs, dcPath);
}

function base(prev: ReplicaSync | undefined, vmId: string, name: string): Omit<ReplicaSync, 'state' | 'at'> {
  const { state: _s, at: _a, error: _e, ...rest } = prev ?? { state: 'ready', at: '' };
  return { ...rest, sourceVmId: vmId, sourceName: name };
}
