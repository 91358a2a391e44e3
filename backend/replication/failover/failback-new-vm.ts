// Failback to a new VM at production: when the original VM is gone, or the admin wants the running
// replica back as a new VM. There is no base to diff against, so the replica's current disks are
// copied whole into a new VM made with the
// replica's configuration at the host/datastore/folder the admin chose (read through a transporter at
// the DR site, which hot-adds the shut-down replica's disks: they are snapshot chains, which no
// datastore read of one file shows whole; written by full upload), its NICs moved by the admin's
// network mapping (DR network → production network). Then the switch-back: the new VM runs, the
// replica is off, and the replica is re-pointed to the new VM as its source (its replica mark, and
// every replication job naming the old source), so replication resumes from the new VM. Commit makes
// the replica a ready replica again (its next run compares the new VM's disks by digest: the old
// source's change ids mean nothing for them); undo deletes the new VM and points everything back.
import { Conflict, InvalidRequest } from '../../common/errors.ts';
import { captureVmConfig } from '../../sources/snapshot/vm-config.ts';
import { datastoreFileExists, makeDirectory } from '../../restore/datastore-files.ts';
import { hostNetworks, resolvePlacement } from '../../restore/placement.ts';
import { buildConfigSpec, vmPathName } from '../../restore/vm-spec.ts';
import { vmdkDescriptor } from '../../restore/vmdk.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { findReplicas, REPLICA_OF_FIELD, REPLICA_SYNC_FIELD, replicaAnnotation } from '../marks.ts';
import { mapNetworks, planReplicaFiles, removeHalfMadeReplica, resolveFolder, type NetworkMapping } from '../replica-vm.ts';
import { writeFailover, type FailoverRecord } from '../replica-state.ts';
import { FullUploadWriter } from '../transport/full-upload.ts';
import { openHotAddReader } from '../transport/hot-add-reader.ts';
import type { DiskWritten } from '../transport/replica-writer.ts';
import { holdFailedOver, releaseFailedOver } from './holds.ts';
import { drTransporterFor } from './replica-reader.ts';
import { loadReplica, takeReplica, underTask, type OpRequest } from './context.ts';
import type { FailbackDeps } from './failback.ts';
import { powerOffIfOn, shutDownGuest } from './vm-ops.ts';
import { say } from '../../common/service-text.ts';

export interface NewVmTarget {
  /** The new VM's name: no VM of this vCenter may have it. */
  name: string;
  /** Production host and datastore (names or ids). */
  host: string;
  datastore: string;
  /** VM folder (name or id); default the datacenter's VM folder. */
  folder?: string;
  /** The replica's (DR) network → production network; unmapped NICs keep their network when the host has it. */
  networkMap?: NetworkMapping[];
}

export interface FailbackNewVmRequest extends OpRequest {
  toNew: NewVmTarget;
  commit?: boolean;
  shutdownTimeoutMs?: number;
}

export interface FailbackNewVmResult {
  replicaName: string;
  vmName: string;
  /** The new VM's moref in this vCenter, and its id as jobs name it (site-qualified). */
  vmMoref: string;
  vmId: string;
  disks: { label: string; sentBytes: number; sha256: string }[];
  sentBytes: number;
  /** Replication jobs whose source is the new VM now. */
  jobs: string[];
  committed: boolean;
  warnings: string[];
}

/** The id jobs use for a VM of the replica's vCenter: the replica's site prefix (if any) and the moref. */
export function sameSiteId(replicaId: string | undefined, moref: string): string {
  const i = (replicaId ?? '').indexOf(':');
  return i > 0 ? `${replicaId!.slice(0, i)}:${moref}` : moref;
}

/** Refuses a name a VM has already (before anything starts). */
export async function checkNewVmName(vs: VSphere, name: string): Promise<void> {
  vmPathName(name);
  if ((await vs.inventory.findVmsByName(name)).length) throw new Conflict(`A VM named '${name}' exists already: choose another name for the new VM (failback never overwrites a VM it did not make).`);
}

/** Points the replica at another source VM: its mark, annotation and sync record (its change ids dropped: they were the old source's). */
async function pointReplicaAt(vs: VSphere, replica: MoRef, to: { uuid: string; vmId: string; name: string; sync?: string }): Promise<void> {
  await vs.customFields.setByName(replica, REPLICA_OF_FIELD, to.uuid);
  await vs.vms.reconfigure(replica, { annotation: replicaAnnotation(to.name, to.uuid) });
  if (to.sync !== undefined) { await vs.customFields.setByName(replica, REPLICA_SYNC_FIELD, to.sync); return; }
  const found = (await findReplicas(vs)).find((r) => r.ref.value === replica.value);
  if (!found?.sync) return;
  const { pointId: _p, disks: _d, ...rest } = found.sync;
  await vs.customFields.setByName(replica, REPLICA_SYNC_FIELD, JSON.stringify({ ...rest, sourceVmId: to.vmId, sourceName: to.name }));
}

export async function failbackToNewVm(deps: FailbackDeps, req: FailbackNewVmRequest): Promise<FailbackNewVmResult> {
  const { vs } = deps;
  const t = req.toNew;
  const replica = await loadReplica(vs, req.replicaMoref);
  const rec = replica.failover;
  if (!rec) throw new Conflict(`Replica '${replica.replicaName}' is not failed over: there is nothing to fail back.`);
  if (rec.failback) throw new Conflict(`Replica '${replica.replicaName}' was failed back already (${rec.failback.at}): commit or undo that failback.`);
  await checkNewVmName(vs, t.name);
  const placement = await resolvePlacement(vs, t.host, t.datastore);
  const folder = await resolveFolder(vs, placement, t.folder);
  const networks = await hostNetworks(vs, placement.host.ref);
  const missing = [...new Set((t.networkMap ?? []).map((m) => m.target))].filter((n) => !networks.has(n));
  if (missing.length) throw new InvalidRequest(`Network${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} of the network mapping not on host '${placement.host.name}': choose among ${[...networks.keys()].sort().map((n) => `'${n}'`).join(', ') || '(none)'}.`);
  const ref = replica.replica;
  const oldSourceId = replica.sourceVmId;
  const previousSync = (await findReplicas(vs)).find((r) => r.ref.value === ref.value)?.sync;

  releaseFailedOver(deps.locks, oldSourceId);
  let holdId = oldSourceId;
  try {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, oldSourceId, `failback to a new VM ${req.runId ?? ''}`.trim());
    try {
      const result = await underTask(vs, ref, req, 'failback to a new VM', async (report) => {
        const warnings: string[] = [];
        const replicaDisks = (await vs.vms.get(ref)).disks;
        const link = await drTransporterFor(vs, deps.transporters, replicaDisks);
        report(say('phase.shuttingReplicaDown'), 3);
        await shutDownGuest(vs, ref, { timeoutMs: req.shutdownTimeoutMs ?? 15 * 60_000, ...(req.signal ? { signal: req.signal } : {}) });
        let made: MoRef | undefined;
        const name = vmPathName(t.name);
        const captured = await captureVmConfig(vs, ref);
        const cfg = t.networkMap?.length ? mapNetworks(captured, t.networkMap).cfg : captured;
        const files = planReplicaFiles({ name, placement, cfg, sourceDisks: replicaDisks });
        let folderMade = false;
        try {
          await checkNewVmName(vs, t.name);
          if (await datastoreFileExists(vs, `${files.dir}/`, placement.datacenter.path)) {
            throw new Conflict(`The folder ${files.dir} exists already on datastore '${placement.datastore.name}': remove it or choose another name.`);
          }
          report(say('phase.creatingNewVmFiles'), 6);
          await makeDirectory(vs, files.dir, placement.datacenter.ref);
          folderMade = true;
          for (const d of files.disks) {
            const text = vmdkDescriptor({ capacityBytes: d.capacity, extentFile: d.flatPath.slice(d.flatPath.lastIndexOf('/') + 1), thin: d.thin,
              ...(d.controllerType ? { controllerType: d.controllerType } : {}), ...(cfg.hardwareVersion ? { hardwareVersion: cfg.hardwareVersion } : {}) });
            await vs.datastores.put(d.descriptorPath, Buffer.from(text, 'utf8'), { dcPath: placement.datacenter.path, ...(req.signal ? { signal: req.signal } : {}) });
          }
          // A full copy of the replica's current disks: the new VM has no base to diff against.
          report(say('phase.attachingReplicaDisks', { transporter: link.address.name }), 7);
          const reader = await openHotAddReader(vs, link, ref, replicaDisks.map((d) => ({ label: d.label, fileName: d.fileName, capacity: d.capacityBytes })), req.signal);
          const writer = new FullUploadWriter(vs, placement.datacenter.path);
          const total = replicaDisks.reduce((n, d) => n + d.capacityBytes, 0) || 1;
          let done = 0;
          const written: DiskWritten[] = [];
          try {
            await writer.open();
            for (const [i, d] of replicaDisks.entries()) {
              const phase = say('phase.copyingToNewVm', { disk: d.label, transporter: link.address.name });
              report(phase, 8);
              const target = { label: d.label, capacity: d.capacityBytes, fileName: files.disks[i]!.descriptorPath, extentPath: files.disks[i]!.flatPath };
              written.push(await writer.write({ index: i, source: reader.sources[i]!, target, ranges: [{ start: 0, length: d.capacityBytes }], reason: 'seed' }, {
                onBytes: (n) => { done += n; report(phase, 8 + 75 * (done / total)); }, ...(req.signal ? { signal: req.signal } : {}),
              }));
            }
          } finally {
            report(say('phase.detachingReplicaDisks'), 84);
            warnings.push(...await writer.close(), ...await reader.close());
            link.destroy();
          }
          report(say('phase.creatingNewVm'), 85);
          const built = buildConfigSpec({ name, datastore: placement.datastore.name, cfg, disks: files.disks, networks });
          warnings.push(...built.warnings);
          built.spec.annotation = `Failed back from replica '${replica.replicaName}' on ${new Date().toISOString()} by ${req.initiatedBy ?? 'Stillpoint'}.`;
          made = await vs.vms.create({ folder, pool: placement.pool, host: placement.host.ref, config: built.spec });
          const info = await vs.vms.get(made);
          if (!info.instanceUuid) throw new Error(`The new VM '${name}' has no instance UUID: vCenter cannot link it to the replica.`);
          report(say('phase.switchingBackToNewVm'), 90);
          await vs.vms.powerOn(made);
          report(say('phase.repointingReplication'), 95);
          const vmId = sameSiteId(req.replicaId, made.value);
          await pointReplicaAt(vs, ref, { uuid: info.instanceUuid, vmId, name });
          const jobs = oldSourceId ? deps.repointSource?.(oldSourceId, vmId) ?? [] : [];
          if (deps.repointSource && !jobs.length) warnings.push(say('warning.noJobForNewVm', { source: replica.sourceName ?? oldSourceId ?? replica.sourceUuid ?? '', name, replica: replica.replicaName }));
          const failback: NonNullable<FailoverRecord['failback']> = {
            at: new Date().toISOString(), sourceVmId: made.value, sourceSnapshot: '', changedBytes: 0, transport: 'full-upload',
            newVm: {
              name, previousSourceUuid: replica.sourceUuid, newSourceVmId: vmId, jobs,
              ...(oldSourceId ? { previousSourceVmId: oldSourceId } : {}), ...(replica.sourceName ? { previousSourceName: replica.sourceName } : {}),
              ...(previousSync ? { previousSync: JSON.stringify(previousSync) } : {}),
            },
          };
          await writeFailover(vs, ref, { ...rec, failback });
          holdId = vmId;
          return {
            replicaName: replica.replicaName, vmName: name, vmMoref: made.value, vmId,
            disks: written.map((w) => ({ label: w.label, sentBytes: w.bytesSent, sha256: w.sha256 ?? '' })), sentBytes: written.reduce((n, w) => n + w.bytesSent, 0),
            jobs, committed: false, warnings,
          };
        } catch (e) {
          // Nothing made stays; the replica runs again as before.
          const left = folderMade || made ? await removeHalfMadeReplica(vs, made, files.dir, placement) : [];
          await vs.vms.powerOn(ref).catch((x: Error) => left.push(`the replica could not be started again (${x.message}): power it on from the vSphere Client`));
          (e as Error).message = `${(e as Error).message} ${left.length ? `Left behind: ${left.join('; ')}.` : `Nothing was kept: '${replica.replicaName}' runs again; fail back again when the cause is fixed.`}`;
          throw e;
        }
      }, (r) => `${r.replicaName} failed back to the new VM ${r.vmName}: ${r.sentBytes} bytes copied; the new VM runs (commit or undo the failback).`);
      return result;
    } finally {
      release();
    }
  } finally {
    holdFailedOver(deps.locks, holdId, replica.replicaName);
  }
}

/** Undo of a failback to a new VM: the new VM deleted, the replica pointed back at its previous source and its jobs too. */
export async function undoNewVm(deps: FailbackDeps, replica: MoRef, fb: NonNullable<FailoverRecord['failback']>): Promise<string[]> {
  const { vs } = deps;
  const nv = fb.newVm!;
  const warnings: string[] = [];
  const vm: MoRef = { type: 'VirtualMachine', value: fb.sourceVmId };
  const exists = await vs.vms.get(vm).then(() => true, () => false);
  if (exists) {
    await powerOffIfOn(vs, vm);
    await vs.vms.destroy(vm);
  } else {
    warnings.push(say('warning.newVmGone', { name: nv.name, vmId: fb.sourceVmId }));
  }
  const sync = nv.previousSync;
  await pointReplicaAt(vs, replica, { uuid: nv.previousSourceUuid, vmId: nv.previousSourceVmId ?? '', name: nv.previousSourceName ?? nv.previousSourceUuid, ...(sync ? { sync } : {}) });
  if (nv.previousSourceVmId) deps.repointSource?.(nv.newSourceVmId, nv.previousSourceVmId);
  releaseFailedOver(deps.locks, nv.newSourceVmId);
  return warnings;
}
