// Failback to the original VM: only what changed on the replica while it ran (CBT since the failover)
// goes back. The replica is shut down and its state frozen by a snapshot (for the CBT query); its disks
// are read through a transporter at the DR site (hot-added to its helper VM: they are snapshot chains,
// which no datastore read of one file shows whole); the source (powered off) gets an undo snapshot; each
// source disk is written as its frozen self with the replica's changed areas laid over it; the source is
// powered on. Commit removes the source's undo snapshot and makes the replica a ready replica again
// (reverted to its latest point); undo reverts the source and starts the replica again.
//
// Two transports carry the changes to production (transport/):
//   hot-add      a paired transporter at the production site (`stillpoint transporter run` on a helper
//                VM whose host mounts the original VM's datastore) attaches the original VM's disks
//                (their undo delta on top) to its helper VM and writes only the 4 KiB pieces of the
//                changed areas that differ: the bytes sent are about the bytes changed on the replica;
//   full upload  a datastore HTTP PUT of each whole disk into the undo delta, composed at the service
//                (unchanged areas from the original's own frozen file, changed areas from the replica):
//                the bytes sent are the disks' capacity.
// 'auto' takes hot-add when a transporter serves the original VM's datastore, else the full upload.
import { Conflict, InvalidRequest } from '../../common/errors.ts';
import { alignToChunks } from '../../pipeline/read-plan.ts';
import { mergeExtents, type DiskChangeExtent, type DiskInfo, type MoRef, type VSphere } from '../../vsphere/index.ts';
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';
import { SnapshotDiskSource } from '../../sources/snapshot/disk-source.ts';
import { listPoints } from '../recovery-points.ts';
import { DatastoreUploadSink } from '../upload-sink.ts';
import { writeFailover, type FailoverRecord, type ReplicaStatus } from '../replica-state.ts';
import type { TransporterFinder } from '../replicate-vm.ts';
import { CBT_BLOCK } from '../transport/change-plan.ts';
import { HotAddWriter } from '../transport/hot-add.ts';
import { openHotAddReader, type HotAddReader } from '../transport/hot-add-reader.ts';
import type { TransportName } from '../transport/replica-writer.ts';
import { undoNewVm } from './failback-new-vm.ts';
import { withHoldReleased } from './holds.ts';
import { datastoresOf, drTransporterFor } from './replica-reader.ts';
import { loadReplica, takeReplica, underTask, type FailoverDeps, type OpRequest } from './context.ts';
import { editNics, powerOffIfOn, shutDownGuest } from './vm-ops.ts';
import { say } from '../../common/service-text.ts';

const PIECE = 1024 * 1024;
export const READ_SNAPSHOT = 'stillpoint failback (replica state)';
const UNDO_SNAPSHOT = 'stillpoint failback (undo point)';

/** Failback's dependencies: the failover ones, the transporters of the site, and the jobs (re-pointed by a failback to a new VM). */
export interface FailbackDeps extends FailoverDeps {
  transporters?: TransporterFinder;
  /** Replication jobs naming `from` as a VM name `to` instead; returns the jobs changed. */
  repointSource?(from: string, to: string): string[];
}

export type FailbackTransport = 'auto' | TransportName;

export interface FailbackRequest extends OpRequest {
  /** Commit at once (default false: the source runs, the replica waits for commit or undo). */
  commit?: boolean;
  shutdownTimeoutMs?: number;
  /** How the changes reach the original VM (default 'auto'). */
  transport?: FailbackTransport;
}

export interface FailbackDisk {
  label: string;
  /** Bytes of the areas that changed on the replica while it ran (CBT since the failover). */
  changedBytes: number;
  /** Bytes that crossed the wire to the production site for this disk (data, framing, digests). */
  sentBytes: number;
  /** Data bytes written into the original VM's disk. */
  writtenBytes: number;
  areas: number;
}

export interface FailbackResult {
  replicaName: string;
  sourceName: string;
  transport: TransportName;
  /** The transporter that wrote the disks (hot-add). */
  transporter?: string;
  /** The transporter at the DR site that read the replica's disks, and the bytes received from it. */
  reader: { transporter: string; receivedBytes: number };
  disks: FailbackDisk[];
  /** Bytes of the areas that changed on the replica while it ran: what failback looks at. */
  changedBytes: number;
  /** Bytes sent to the production site: about changedBytes by hot-add, the disks' capacity by full upload. */
  sentBytes: number;
  /** Data bytes written into the original VM's disks. */
  writtenBytes: number;
  committed: boolean;
  warnings: string[];
}

async function sourceOf(vs: VSphere, replica: ReplicaStatus): Promise<MoRef> {
  const src = await vs.inventory.findVmByUuid(replica.sourceUuid, true);
  if (!src) throw new Conflict(`The original VM of replica '${replica.replicaName}' (instance UUID ${replica.sourceUuid}) is not in vCenter: failback to the original VM is not possible.`);
  return src;
}

/** The areas of a disk that changed since `changeId`, as of `snapshot`; the whole disk without a change id. */
async function changedAreas(vs: VSphere, vm: MoRef, snapshot: MoRef, disk: DiskInfo, changeId: string | undefined): Promise<DiskChangeExtent[]> {
  if (!changeId) return [{ start: 0, length: disk.capacityBytes }];
  return mergeExtents(await vs.cbt.changedAreas(vm, { snapshot, deviceKey: disk.key, changeId, capacityBytes: disk.capacityBytes }));
}

/** Writes one source disk: its frozen content with the replica's changed areas laid over it, piece by piece. */
async function writeDisk(vs: VSphere, from: { source: SnapshotDiskSource; replica: DiskSource }, target: string, capacity: number, areas: DiskChangeExtent[],
  signal: AbortSignal | undefined, onBytes: (changed: number) => void): Promise<{ changed: number; uploaded: number }> {
  const sink = DatastoreUploadSink.start(vs, target, capacity, PIECE, signal ? { signal } : {});
  let changed = 0;
  try {
    let i = 0;
    for (let off = 0; off < capacity; off += PIECE) {
      signal?.throwIfAborted();
      const len = Math.min(PIECE, capacity - off);
      const buf = await from.source.read(off, len, signal);
      while (i < areas.length && areas[i]!.start + areas[i]!.length <= off) i++;
      for (let j = i; j < areas.length && areas[j]!.start < off + len; j++) {
        const a = areas[j]!;
        const s = Math.max(a.start, off);
        const e = Math.min(a.start + a.length, off + len);
        const data = await from.replica.read(s, e - s, signal);
        data.copy(buf, s - off);
        changed += e - s;
        onBytes(e - s);
      }
      await sink.write(off, buf);
    }
    await sink.finish();
    return { changed, uploaded: sink.bytes };
  } catch (e) {
    sink.fail(e instanceof Error ? e : new Error(String(e)));
    await sink.settled();
    throw e;
  }
}

/** The hot-add writer for the original VM's disks: a transporter that serves its datastore (`want` hot-add: required). */
async function hotAddWriter(deps: FailbackDeps, source: MoRef, sourceName: string, disks: DiskInfo[], want: FailbackTransport, reader: string, warnings: string[]): Promise<HotAddWriter | undefined> {
  if (want === 'full-upload') return undefined;
  const datastores = datastoresOf(disks);
  const skipped: string[] = [];
  let found: Awaited<ReturnType<TransporterFinder['forDatastore']>> | undefined;
  if (deps.transporters && datastores.length === 1) {
    found = await deps.transporters.forDatastore(deps.vs, datastores[0]!);
    // The DR transporter reading the replica is no writer at production: no reason to mention it.
    skipped.push(...found.skipped.filter((x) => !x.startsWith(`transporter '${reader}'`)));
  } else if (datastores.length > 1) {
    skipped.push(`the disks of '${sourceName}' are on ${datastores.length} datastores (one transporter writes one datastore's disks)`);
  }
  if (found?.link) return new HotAddWriter(deps.vs, found.link, source, `the disks of the original VM '${sourceName}'`);
  if (want === 'hot-add') {
    throw new InvalidRequest(`No transporter at the production site can write the disks of '${sourceName}'${skipped.length ? ` (${skipped.join('; ')})` : ''}: ` +
      'run `stillpoint transporter run` on a helper VM whose host mounts its datastore (pair it first with `stillpoint transporter pair`), or fail back by full upload.');
  }
  if (skipped.length) warnings.push(say('warning.failedBackByFullUpload', { why: skipped.join('; ') }));
  return undefined;
}

export async function failback(deps: FailbackDeps, req: FailbackRequest): Promise<FailbackResult> {
  const { vs } = deps;
  const replica = await loadReplica(vs, req.replicaMoref);
  const rec = replica.failover;
  if (!rec) throw new Conflict(`Replica '${replica.replicaName}' is not failed over: there is nothing to fail back.`);
  if (rec.failback) throw new Conflict(`Replica '${replica.replicaName}' was failed back already (${rec.failback.at}): commit or undo that failback.`);
  const ref = replica.replica;
  const source = await sourceOf(vs, replica);
  const sourceInfo = await vs.vms.get(source);
  if (sourceInfo.powerState !== 'poweredOff') throw new Conflict(`The original VM '${sourceInfo.name}' is powered on: failback overwrites its disks. Shut it down first (it should not run while its replica runs).`);
  return withHoldReleased(deps.locks, replica.sourceVmId, replica.replicaName, async () => {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `failback ${req.runId ?? ''}`.trim());
    try {
      const result = await underTask(vs, ref, req, 'failback', async (report) => {
        const warnings: string[] = [];
        const link = await drTransporterFor(vs, deps.transporters, (await vs.vms.get(ref)).disks);
        let writer: HotAddWriter | undefined;
        let replicaSnap: Awaited<ReturnType<typeof vs.snapshots.create>>;
        try {
          writer = await hotAddWriter(deps, source, sourceInfo.name, sourceInfo.disks, req.transport ?? 'auto', link.address.name, warnings);
          report(say('phase.shuttingReplicaDown'), 3);
          await shutDownGuest(vs, ref, { timeoutMs: req.shutdownTimeoutMs ?? 15 * 60_000, ...(req.signal ? { signal: req.signal } : {}) });
          replicaSnap = await vs.snapshots.create(ref, { name: READ_SNAPSHOT, description: 'Stillpoint: the replica\'s state sent back to the original VM (temporary)', memory: false, quiesce: false });
        } catch (e) {
          link.destroy();
          throw e;
        }
        let undo: Awaited<ReturnType<typeof vs.snapshots.create>> | undefined;
        let reader: HotAddReader | undefined;
        const readerWarnings: string[] = [];
        /** Detaches the replica's disks from the DR transporter (before its snapshot can go); never throws. */
        const closeReader = async () => {
          if (reader) {
            report(say('phase.detachingReplicaDisks'), 88);
            readerWarnings.push(...await reader.close());
            reader = undefined;
          }
          link.destroy();
        };
        try {
          const rdisks = replicaSnap.disks;
          if (rdisks.length !== sourceInfo.disks.length || rdisks.some((d, i) => d.capacityBytes !== sourceInfo.disks[i]!.capacityBytes)) {
            throw new Conflict(`The replica's disks (${rdisks.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}) do not match the original VM's (${sourceInfo.disks.map((d) => `${d.label} ${d.capacityBytes} B`).join(', ')}): fail back to a new VM instead.`);
          }
          const areas = await Promise.all(rdisks.map((d) => changedAreas(vs, ref, replicaSnap.node.ref, d, rec.changeIds.find((c) => c.key === d.key)?.changeId)));
          const total = areas.flat().reduce((n, a) => n + a.length, 0) || 1;
          // The replica's current top is an empty delta on the frozen state: its chain shows exactly that state.
          report(say('phase.attachingReplicaDisks', { transporter: link.address.name }), 6);
          const replicaNow = (await vs.vms.get(ref)).disks;
          reader = await openHotAddReader(vs, link, ref, replicaNow.map((d) => ({ label: d.label, fileName: d.fileName, capacity: d.capacityBytes })), req.signal);
          const replicaSide = reader.sources;
          report(say('phase.takingUndoSnapshot'), 10);
          undo = await vs.snapshots.create(source, { name: UNDO_SNAPSHOT, description: `Stillpoint: the original VM before the failback from '${replica.replicaName}' (undo point)`, memory: false, quiesce: false });
          const current = (await vs.vms.get(source)).disks;
          const disks: FailbackDisk[] = [];
          let done = 0;
          const progress = (phase: string) => (n: number) => { done += n; report(phase, 15 + 70 * Math.min(1, done / total)); };
          if (writer) {
            report(say('phase.attachingOriginalDisks', { transporter: writer.transporter }), 12);
            const targets = current.map((d) => ({ label: d.label, capacity: d.capacityBytes, fileName: d.fileName, extentPath: '' }));
            try {
              await writer.open(targets, req.signal);
              for (const [i, d] of rdisks.entries()) {
                const phase = say('phase.sendingChangesHotAdd', { disk: d.label, transporter: writer.transporter });
                report(phase, 15);
                // CBT areas, as vSphere's bitmap blocks; the transporter's digests narrow them to the pieces that differ.
                const ranges = alignToChunks(areas[i]!, CBT_BLOCK, d.capacityBytes);
                const w = await writer.write({ index: i, source: replicaSide[i]!, target: targets[i]!, ranges, reason: 'cbt' }, {
                  onBytes: progress(phase), ...(req.signal ? { signal: req.signal } : {}),
                });
                disks.push({ label: d.label, changedBytes: areas[i]!.reduce((n, a) => n + a.length, 0), sentBytes: w.bytesSent, writtenBytes: w.bytesWritten, areas: areas[i]!.length });
              }
            } catch (e) {
              throw new Error(`Writing the changes into '${sourceInfo.name}' through transporter '${writer.transporter}' failed: ${(e as Error).message}`);
            } finally {
              report(say('phase.detachingOriginalDisks'), 86);
              warnings.push(...await writer.close());
            }
          } else {
            for (const [i, d] of undo.disks.entries()) {
              const phase = say('phase.sendingChangesFullUpload', { disk: d.label });
              report(phase, 15);
              const from = { source: await SnapshotDiskSource.open(vs, d), replica: replicaSide[i]! };
              const { extentPath } = await vs.datastores.resolveExtent(current[i]!.fileName);
              const r = await writeDisk(vs, from, extentPath, d.capacityBytes, areas[i]!, req.signal, progress(phase));
              disks.push({ label: d.label, changedBytes: r.changed, sentBytes: r.uploaded, writtenBytes: r.uploaded, areas: areas[i]!.length });
            }
          }
          const receivedBytes = reader.received;
          await closeReader();
          warnings.push(...readerWarnings);
          report(say('phase.switchingBackToOriginal'), 90);
          await vs.snapshots.remove(replicaSnap.node.ref, { removeChildren: false, consolidate: true });
          await vs.vms.powerOn(source);
          const changedBytes = disks.reduce((n, d) => n + d.changedBytes, 0);
          const transport: TransportName = writer ? 'hot-add' : 'full-upload';
          await writeFailover(vs, ref, { ...rec, failback: { at: new Date().toISOString(), sourceVmId: source.value, sourceSnapshot: undo.node.ref.value, changedBytes, transport } });
          return {
            replicaName: replica.replicaName, sourceName: sourceInfo.name, transport, ...(writer ? { transporter: writer.transporter } : {}),
            reader: { transporter: link.address.name, receivedBytes }, disks, changedBytes,
            sentBytes: disks.reduce((n, d) => n + d.sentBytes, 0), writtenBytes: disks.reduce((n, d) => n + d.writtenBytes, 0), committed: false, warnings,
          };
        } catch (e) {
          // The original VM as it was, nothing attached to the DR transporter, the replica running again.
          await closeReader();
          const back: string[] = [];
          if (undo) {
            await powerOffIfOn(vs, source).catch(() => undefined);
            const reverted = await vs.snapshots.revert(undo.node.ref, { suppressPowerOn: true }).then(() => true, (x: Error) => {
              back.push(`reverting '${sourceInfo.name}' to its undo snapshot failed (${x.message}): revert it to '${UNDO_SNAPSHOT}' from the vSphere Client`);
              return false;
            });
            if (reverted) await vs.snapshots.remove(undo.node.ref, { removeChildren: false, consolidate: true }).catch(() => undefined);
          }
          await vs.snapshots.remove(replicaSnap.node.ref, { removeChildren: false, consolidate: true }).catch(() => undefined);
          await vs.vms.powerOn(ref).catch((x: Error) => back.push(`starting the replica again failed (${x.message})`));
          const msg = `${(e as Error).message} ${back.length ? `Also: ${back.join('; ')}.` : `Nothing changed: '${sourceInfo.name}' is as before the failback (off), '${replica.replicaName}' runs again; fail back again when the cause is fixed.`}${readerWarnings.map((w) => ` ${w}`).join('')}`;
          throw Object.assign(e instanceof Error ? e : new Error(String(e)), { message: msg });
        }
      }, (r) => `${r.replicaName} failed back to ${r.sourceName} (${r.transport}): ${r.changedBytes} changed bytes, ${r.sentBytes} bytes sent; the original VM runs (commit or undo the failback).`);
      if (!req.commit) return result;
      await commitLocked(deps, replica, { ...rec, failback: { at: '', sourceVmId: source.value, sourceSnapshot: '', changedBytes: result.changedBytes } }, req);
      return { ...result, committed: true };
    } finally {
      release();
    }
  }, (r) => !r.committed);
}

async function commitLocked(deps: FailbackDeps, replica: ReplicaStatus, recIn: FailoverRecord, req: OpRequest): Promise<void> {
  const { vs } = deps;
  const ref = replica.replica;
  const rec = (await loadReplica(vs, ref.value)).failover ?? recIn;
  const fb = rec.failback!;
  await underTask(vs, ref, req, 'failback commit', async (report) => {
    report(say('phase.removingUndoSnapshot'), 20);
    const source = { type: 'VirtualMachine', value: fb.sourceVmId };
    if (fb.sourceSnapshot) await vs.snapshots.remove({ type: 'VirtualMachineSnapshot', value: fb.sourceSnapshot }, { removeChildren: false, consolidate: true });
    await vs.snapshots.consolidateIfNeeded(source).catch(() => undefined);
    report(say('phase.makingReplicaAgain'), 60);
    await powerOffIfOn(vs, ref);
    const latest = (await listPoints(vs, ref)).at(-1);
    if (latest) await vs.snapshots.revert(latest.ref, { suppressPowerOn: true });
    await editNics(vs, ref, rec.nics.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: false, startConnected: n.startConnected })));
    await writeFailover(vs, ref, undefined);
    return replica.replicaName;
  }, (name) => `failback of ${name} committed: ${fb.newVm ? `the new VM '${fb.newVm.name}' runs and is the replica's source` : 'the original VM runs'}, ${name} is a ready replica again.`);
}

export async function commitFailback(deps: FailbackDeps, req: OpRequest): Promise<{ replicaName: string }> {
  const replica = await loadReplica(deps.vs, req.replicaMoref);
  if (!replica.failover?.failback) throw new Conflict(`Replica '${replica.replicaName}' has no failback waiting for commit: fail back first.`);
  return withHoldReleased(deps.locks, replica.sourceVmId, replica.replicaName, async () => {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `failback commit ${req.runId ?? ''}`.trim());
    try {
      await commitLocked(deps, replica, replica.failover!, req);
      return { replicaName: replica.replicaName };
    } finally {
      release();
    }
  }, () => false);
}

/** Undo a failback: the original VM back to its undo snapshot and off, the replica running again (failed over). */
export async function undoFailback(deps: FailbackDeps, req: OpRequest): Promise<{ replicaName: string; warnings: string[] }> {
  const { vs } = deps;
  const replica = await loadReplica(vs, req.replicaMoref);
  const rec = replica.failover;
  if (!rec?.failback) throw new Conflict(`Replica '${replica.replicaName}' has no failback to undo.`);
  const fb = rec.failback;
  const ref = replica.replica;
  return withHoldReleased(deps.locks, replica.sourceVmId, replica.replicaName, async () => {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `failback undo ${req.runId ?? ''}`.trim());
    try {
      return await underTask(vs, ref, req, 'failback undo', async (report) => {
        const warnings: string[] = [];
        if (fb.newVm) {
          report(say('phase.deletingNewVm', { name: fb.newVm.name }), 30);
          warnings.push(...await undoNewVm(deps, ref, fb));
        } else {
          const source = { type: 'VirtualMachine', value: fb.sourceVmId };
          report(say('phase.revertingOriginalToUndo'), 30);
          await powerOffIfOn(vs, source);
          const snap = { type: 'VirtualMachineSnapshot', value: fb.sourceSnapshot };
          await vs.snapshots.revert(snap, { suppressPowerOn: true });
          await vs.snapshots.remove(snap, { removeChildren: false, consolidate: true });
        }
        report(say('phase.startingReplicaAgain'), 70);
        await vs.vms.powerOn(ref);
        const { failback: _f, ...back } = rec;
        await writeFailover(vs, ref, back);
        return { replicaName: replica.replicaName, warnings };
      }, (r) => `failback of ${r.replicaName} undone: the replica runs again, ${fb.newVm ? `the new VM '${fb.newVm.name}' is deleted` : 'the original VM is off and as before'}.`);
    } finally {
      release();
    }
  }, () => true, fb.newVm?.previousSourceVmId);
}
