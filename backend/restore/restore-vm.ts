// Full VM restore: a restore point becomes a new VM (disks uploaded as real vSphere files, VM created
// around them) or is written back over the VM it was taken from. Every disk is hashed while it is
// uploaded and read back to check it. A new-VM restore that fails or is cancelled removes what it made.
import { childLog } from '../common/log.ts';
import { Conflict, InvalidRequest, NotFound } from '../common/errors.ts';
import type { VmConfig } from '../model/vm-config.ts';
import { entityNameProblem } from '../model/names.ts';
import { RepositoryError, type RestorePoint } from '../repository/repository.ts';
import {
  ManagedObjectNotFoundError, formatDatastorePath, type MoRef, type VmInfo, type VSphere,
} from '../vsphere/index.ts';
import { datastoreFileExists, deleteDatastoreFile, makeDirectory } from './datastore-files.ts';
import { uploadDisk } from '../sinks/datastore-upload.ts';
import { RestoreCancelled, RestoreFailed, isAbort, messageOf, type RestoreFailureDetails } from './errors.ts';
import { datacenterOf, hostNetworks, resolvePlacement } from './placement.ts';
import type { RestoreDeps, RestoredDisk, RestoreOptions, RestoreProgress, RestoreResult, RestoreTarget } from './types.ts';
import { verifyUploadedDisk } from './verify.ts';
import { buildConfigSpec, placeDisks, type PlannedDisk } from './vm-spec.ts';
import { diskFileNames, vmdkDescriptor } from './vmdk.ts';
import { say, sayList } from '../common/service-text.ts';

const log = childLog('restore');

type Emit = (phase: string, done?: number, total?: number) => void;

/** Progress for the caller: every phase change and end of phase, data phases at most every 1 % or 250 ms. */
function emitter(opts: RestoreOptions): Emit {
  let last = { phase: '', done: -1, at: 0 };
  return (phase, done = 0, total = 0) => {
    if (!opts.onProgress) return;
    const now = Date.now();
    const boundary = phase !== last.phase || done === 0 || done >= total;
    if (!boundary && done - last.done < total / 100 && now - last.at < 250) return;
    last = { phase, done, at: now };
    try { opts.onProgress({ phase, done, total } satisfies RestoreProgress); } catch (err) {
      log.warn({ err: messageOf(err) }, 'onProgress threw; ignored');
    }
  };
}

async function loadRestorePoint(deps: RestoreDeps, id: string, needConfig: boolean): Promise<{ rp: RestorePoint; cfg: VmConfig | undefined }> {
  if (typeof id !== 'string' || !id) throw new InvalidRequest('restorePointId is required.');
  let rp: RestorePoint;
  try {
    rp = await deps.repo.getRestorePoint(id);
  } catch (err) {
    if (err instanceof RepositoryError && err.code === 'ENOTFOUND') throw new NotFound('Restore point', id, 'list the restore points of the VM and pick one of them.');
    throw err;
  }
  const cfg = rp.vmConfig as VmConfig | undefined;
  const usable = !!cfg && cfg.version === 1 && Array.isArray(cfg.disks) && Array.isArray(cfg.controllers) && Array.isArray(cfg.nics);
  if (needConfig && !usable) {
    throw new InvalidRequest(`Restore point ${id} has no VM configuration (vmConfig): a full VM restore needs one. Restore its disks instead, or use a newer restore point.`);
  }
  if (!rp.disks.length) throw new InvalidRequest(`Restore point ${id} has no disks: there is nothing to restore.`);
  return { rp, cfg: usable ? cfg : undefined };
}

/** Restores a restore point to a new VM or over the original VM; see RestoreTarget. */
export async function restoreVm(deps: RestoreDeps, restorePointId: string, target: RestoreTarget,
  opts: RestoreOptions = {}): Promise<RestoreResult> {
  if (!target || (target.kind !== 'new' && target.kind !== 'original')) {
    throw new InvalidRequest("target.kind must be 'new' (restore to a new VM) or 'original' (overwrite the VM the restore point was taken from).");
  }
  if (target.kind === 'original' && (target as { confirm?: unknown }).confirm !== true) {
    throw new InvalidRequest('Restoring over the original VM powers it off and overwrites all its disks with the restore point: set target.confirm to true to confirm, or restore to a new VM instead.');
  }
  if (typeof target.powerOn !== 'boolean') throw new InvalidRequest('target.powerOn must be true or false.');
  opts.signal?.throwIfAborted();
  const emit = emitter(opts);
  emit('validating');
  const { rp, cfg } = await loadRestorePoint(deps, restorePointId, target.kind === 'new');
  return target.kind === 'new'
    ? restoreToNewVm(deps, rp, cfg!, target, opts, emit)
    : restoreOverOriginal(deps, rp, target, opts, emit);
}

// ---- to a new VM ---------------------------------------------------------------------------------

const BAD_NAME = /[/\\[\]%\u0000-\u001f]/;

interface DiskTarget { key: string; label: string; capacity: number; path: string }

/**
 * The "uploading disk …" phase of one disk: `prepare` (in the phase, so its failure is reported as
 * part of it), then the disk's bytes from the restore point to `d.path`.
 */
async function uploadPhase(vs: VSphere, repo: RestoreDeps['repo'], rpId: string, d: DiskTarget, dcPath: string, signal: AbortSignal | undefined,
  enter: (phase: string) => void, emit: Emit, prepare: () => Promise<void>): Promise<RestoredDisk> {
  signal?.throwIfAborted();
  const phase = say('phase.uploadingDisk', { disk: d.label });
  enter(phase);
  emit(phase, 0, d.capacity);
  await prepare();
  const up = await uploadDisk(vs, repo, rpId, d.key, d.capacity, d.path, {
    dcPath, ...(signal ? { signal } : {}), onProgress: (done, total) => emit(phase, done, total),
  });
  return { key: d.key, bytes: up.bytes, sha256: up.sha256 };
}

/** The "verifying disk …" phases: each uploaded disk read back and checked against what was uploaded. */
async function verifyPhase(vs: VSphere, disks: DiskTarget[], uploaded: RestoredDisk[], dcPath: string, signal: AbortSignal | undefined,
  enter: (phase: string) => void, emit: Emit): Promise<void> {
  for (const [i, d] of disks.entries()) {
    signal?.throwIfAborted();
    const phase = say('phase.verifyingDisk', { disk: d.label });
    enter(phase);
    emit(phase, 0, d.capacity);
    await verifyUploadedDisk(vs, d.path, d.label, uploaded[i]!, {
      dcPath, ...(signal ? { signal } : {}), onProgress: (done, total) => emit(phase, done, total),
    });
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !name.trim()) throw new InvalidRequest('target.name is required: the name of the new VM.');
  if (name !== name.trim()) throw new InvalidRequest(`VM name '${name}' starts or ends with spaces: remove them.`);
  if (name.length > 80) throw new InvalidRequest(`VM name '${name}' is longer than 80 characters: choose a shorter name.`);
  if (BAD_NAME.test(name)) throw new InvalidRequest(`VM name '${name}' contains / \\ [ ] % or control characters, which cannot be used in datastore paths: choose another name.`);
  const problem = entityNameProblem(name);
  if (problem) throw new InvalidRequest(`VM name '${name}': ${problem}.`);
  return name;
}

const GiB = 1024 ** 3;
const fmtGiB = (n: number): string => `${(n / GiB).toFixed(n < 10 * GiB ? 2 : 1)} GiB`;

async function restoreToNewVm(deps: RestoreDeps, rp: RestorePoint, cfg: VmConfig,
  target: Extract<RestoreTarget, { kind: 'new' }>, opts: RestoreOptions, emit: Emit): Promise<RestoreResult> {
  const { vs, repo } = deps;
  const name = checkName(target.name);
  const existing = await vs.inventory.findVmsByName(name);
  if (existing.length) {
    throw new Conflict(`A VM named '${name}' already exists (${existing.map((r) => r.value).join(', ')}): choose another name, or restore over the original VM.`);
  }
  const pl = await resolvePlacement(vs, target.host, target.datastore);
  const ds = pl.datastore.name;
  const dcPath = pl.datacenter.path;
  const dir = formatDatastorePath({ datastore: ds, path: name });

  // The plan: file names, controller/unit of each disk.
  const placed = placeDisks(cfg, rp.disks);
  const disks: PlannedDisk[] = rp.disks.map((d, i) => {
    const p = placed.get(d.key)!;
    const files = diskFileNames(name, i);
    const ctrl = cfg.controllers.find((c) => c.key === p.controllerKey);
    return {
      key: d.key, label: d.label || p.cfg?.label || `disk ${d.key}`, capacity: d.capacity,
      thin: p.cfg?.thin ?? true, diskMode: p.cfg?.diskMode ?? 'persistent',
      controllerKey: p.controllerKey, unitNumber: p.unitNumber, ...(ctrl ? { controllerType: ctrl.type } : {}),
      descriptorPath: formatDatastorePath({ datastore: ds, path: `${name}/${files.descriptor}` }),
      flatPath: formatDatastorePath({ datastore: ds, path: `${name}/${files.flat}` }),
    };
  });
  for (const d of disks) {
    if (d.capacity <= 0 || d.capacity % 1024) throw new InvalidRequest(`Disk ${d.label} of restore point ${rp.id} has capacity ${d.capacity} bytes, not a whole number of KiB: it cannot be recreated as a vSphere disk.`);
  }

  // Space: the upload writes every byte of every extent (thin disks included: datastore HTTP cannot leave holes),
  // plus the swap file (memory size) when the VM is powered on, plus a little for the VM's own files.
  const diskBytes = disks.reduce((a, d) => a + d.capacity, 0);
  const needed = diskBytes + (target.powerOn ? cfg.memoryMB * 1024 * 1024 : 0) + 64 * 1024 * 1024;
  if (pl.datastore.freeSpace < needed) {
    const thin = disks.filter((d) => d.thin);
    const thinNote = thin.length
      ? ` ${thin.map((d) => d.label).join(', ')} ${thin.length === 1 ? 'is' : 'are'} thin, but the upload writes their full capacity;`
      : '';
    throw new InvalidRequest(`Datastore '${ds}' has ${fmtGiB(pl.datastore.freeSpace)} free but the restore needs ${fmtGiB(needed)} ` +
      `(${disks.length} disk${disks.length === 1 ? '' : 's'}: ${fmtGiB(diskBytes)}${target.powerOn ? `, swap ${cfg.memoryMB} MiB` : ''}).${thinNote} choose a datastore with more free space.`);
  }
  // Never touch a folder this restore did not create (the cleanup deletes it).
  if (await datastoreFileExists(vs, `${dir}/`, dcPath)) {
    throw new Conflict(`The folder ${dir} already exists on datastore '${ds}' (files of another or an earlier VM?): choose another VM name, or remove the folder.`);
  }
  opts.signal?.throwIfAborted();

  const rlog = log.child({ rp: rp.id, vm: name, host: pl.host.name, datastore: ds });
  rlog.info({ disks: disks.length, bytes: diskBytes }, 'restoring to a new VM');
  let phase = say('phase.creatingVmFolder');
  let dirCreated = false;
  let createAttempted = false;
  let vmRef: MoRef | undefined;
  const results: RestoredDisk[] = [];
  try {
    await makeDirectory(vs, dir, pl.datacenter.ref);
    dirCreated = true;
    for (const d of disks) {
      const up = await uploadPhase(vs, repo, rp.id, { ...d, path: d.flatPath }, dcPath, opts.signal, (p) => { phase = p; }, emit, async () => {
        const flatName = d.flatPath.slice(d.flatPath.lastIndexOf('/') + 1);
        const descriptor = vmdkDescriptor({
          capacityBytes: d.capacity, extentFile: flatName, thin: d.thin,
          ...(d.controllerType ? { controllerType: d.controllerType } : {}),
          ...(cfg.hardwareVersion ? { hardwareVersion: cfg.hardwareVersion } : {}),
        });
        await vs.datastores.put(d.descriptorPath, Buffer.from(descriptor, 'utf8'), { dcPath, ...(opts.signal ? { signal: opts.signal } : {}) });
      });
      results.push(up);
      rlog.info({ disk: d.key, bytes: up.bytes, sha256: up.sha256 }, 'disk uploaded');
    }

    opts.signal?.throwIfAborted();
    phase = say('phase.creatingVm');
    emit(phase, 0, 1);
    const networks = cfg.nics.length ? await hostNetworks(vs, pl.host.ref) : new Map<string, MoRef>();
    const { spec, warnings } = buildConfigSpec({ name, datastore: ds, cfg, disks, networks });
    for (const w of warnings) rlog.warn(w);
    createAttempted = true;
    // No signal: a CreateVM_Task given up on would leave a VM we do not know about.
    vmRef = await vs.vms.create({ folder: pl.folder, pool: pl.pool, host: pl.host.ref, config: spec });
    emit(phase, 1, 1);
    rlog.info({ vmId: vmRef.value }, 'VM created');

    await verifyPhase(vs, disks.map((d) => ({ ...d, path: d.flatPath })), results, dcPath, opts.signal, (p) => { phase = p; }, emit);
    opts.signal?.throwIfAborted();
  } catch (err) {
    const cleanup = await cleanUpNewVm(vs, { name, dir, datacenter: pl.datacenter.ref, dcPath, dirCreated, createAttempted, vmRef, vmxPath: `[${ds}] ${name}/${name}.vmx` });
    rlog.warn({ phase, err: messageOf(err), ...cleanup }, 'restore failed; cleaned up');
    throw failure(err, opts.signal, { restorePoint: rp.id, name }, {
      restorePoint: rp.id, phase, cleanedUp: cleanup.cleanedUp, leftBehind: cleanup.leftBehind,
    });
  }

  if (target.powerOn) {
    phase = say('phase.poweringOn');
    emit(phase, 0, 1);
    try {
      await vs.vms.powerOn(vmRef!, { host: pl.host.ref });
    } catch (err) {
      // The VM is restored and verified: keep it, and say so.
      throw new RestoreFailed(`VM '${name}' (${vmRef!.value}) was restored from ${rp.id} and verified, but powering it on failed: ${sentence(messageOf(err))}. ` +
        'Fix the cause (e.g. free memory on the host) and power it on from the vSphere Client.',
      { restorePoint: rp.id, phase, cleanedUp: [], leftBehind: [], vmId: vmRef!.value }, err);
    }
    emit(phase, 1, 1);
  }
  rlog.info({ vmId: vmRef!.value }, 'restore to a new VM finished');
  return { vmId: vmRef!.value, vmName: name, disks: results, verified: true };
}

interface NewVmState {
  name: string; dir: string; datacenter: MoRef; dcPath: string; vmxPath: string;
  dirCreated: boolean; createAttempted: boolean; vmRef: MoRef | undefined;
}

/** Removes the half-made VM and the folder this restore created; never throws. */
async function cleanUpNewVm(vs: VSphere, s: NewVmState): Promise<{ cleanedUp: string[]; leftBehind: string[] }> {
  const cleanedUp: string[] = [];
  const leftBehind: string[] = [];
  let vm = s.vmRef;
  if (!vm && s.createAttempted) {
    // CreateVM_Task may have finished although we saw it fail: find a VM of our name on our .vmx.
    try {
      for (const ref of await vs.inventory.findVmsByName(s.name)) {
        const info = await vs.vms.get(ref).catch(() => undefined);
        if (info?.vmPathName === s.vmxPath) vm = ref;
      }
    } catch (err) {
      leftBehind.push(say('restore.item.maybeVm', { name: s.name, error: messageOf(err) }));
    }
  }
  if (vm) {
    try {
      const info = await vs.vms.get(vm);
      if (info.powerState !== 'poweredOff') await vs.vms.powerOff(vm);
      await vs.vms.destroy(vm);
      cleanedUp.push(say('restore.item.destroyedVm', { name: s.name, vmId: vm.value }));
    } catch (err) {
      try {
        await vs.vms.unregister(vm);
        cleanedUp.push(say('restore.item.unregisteredVm', { name: s.name, vmId: vm.value }));
      } catch {
        leftBehind.push(say('restore.item.deleteVm', { name: s.name, vmId: vm.value, error: messageOf(err) }));
      }
    }
  }
  if (s.dirCreated) {
    try {
      if (await datastoreFileExists(vs, `${s.dir}/`, s.dcPath)) await deleteDatastoreFile(vs, s.dir, s.datacenter);
      cleanedUp.push(say('restore.item.deletedFolder', { path: s.dir }));
    } catch (err) {
      const still = await datastoreFileExists(vs, `${s.dir}/`, s.dcPath).catch(() => true);
      if (still) leftBehind.push(say('restore.item.deleteFolder', { path: s.dir, error: messageOf(err) }));
      else cleanedUp.push(say('restore.item.deletedFolder', { path: s.dir }));
    }
  }
  return { cleanedUp, leftBehind };
}

const sentence = (m: string): string => m.replace(/[.\s]+$/, '');

function failure(err: unknown, signal: AbortSignal | undefined, what: { restorePoint: string; name: string }, details: RestoreFailureDetails): Error {
  const cleanup = details.cleanedUp.length ? say('restore.cleanedUp', { items: sayList(details.cleanedUp) }) : say('restore.nothingCreated');
  const left = details.leftBehind.length ? say('restore.leftBehind', { items: sayList(details.leftBehind) }) : '';
  const about = { restorePoint: what.restorePoint, name: what.name, phase: details.phase, cleanup, left };
  if (isAbort(err, signal)) return new RestoreCancelled(say('restore.cancelled', about), details, err);
  const hint = (err as { hint?: unknown })?.hint;
  const remedy = typeof hint === 'string' && hint ? hint : say('restore.fixAndRetry');
  return new RestoreFailed(say('restore.failed', { ...about, error: sentence(messageOf(err)), remedy }), details, err);
}

// ---- over the original VM ------------------------------------------------------------------------

async function findOriginal(vs: VSphere, rp: RestorePoint): Promise<VmInfo> {
  let vm: VmInfo | undefined;
  try {
    vm = await vs.vms.get(rp.vm.id);
  } catch (err) {
    if (!(err instanceof ManagedObjectNotFoundError)) throw err;
  }
  // A moref can be reused by another VM after the original is removed: trust the instance UUID.
  if (vm && rp.vm.uuid && vm.instanceUuid && vm.instanceUuid !== rp.vm.uuid) vm = undefined;
  if (!vm && rp.vm.uuid) {
    // A property scan rather than SearchIndex.FindByUuid: one light call, and it cannot match a template's BIOS UUID.
    const all = await vs.pc.retrieveAllOfType<{ 'config.instanceUuid'?: string }>('VirtualMachine', ['config.instanceUuid']);
    const hit = all.find((o) => o.props['config.instanceUuid'] === rp.vm.uuid);
    if (hit) vm = await vs.vms.get(hit.ref);
  }
  if (!vm) {
    throw new NotFound('VM', `${rp.vm.name} (${rp.vm.id})`, 'the VM of this restore point no longer exists (deleted or re-registered): restore to a new VM instead.');
  }
  return vm;
}

async function restoreOverOriginal(deps: RestoreDeps, rp: RestorePoint, target: Extract<RestoreTarget, { kind: 'original' }>,
  opts: RestoreOptions, emit: Emit): Promise<RestoreResult> {
  const { vs, repo } = deps;
  const vm = await findOriginal(vs, rp);
  if (vm.snapshots.length) {
    const names = vm.snapshots.map((s) => `'${s.name}'`).join(', ');
    throw new Conflict(`VM '${vm.name}' has snapshots (${names}): delete them in the Snapshot Manager first, then restore over it (or restore to a new VM).`);
  }
  if (vm.template) throw new Conflict(`'${vm.name}' is a template: convert it to a VM first, or restore to a new VM.`);
  const now = new Map(vm.disks.map((d) => [String(d.key), d]));
  const want = rp.disks.map((d) => `${d.label || d.key} (key ${d.key}, ${d.capacity} bytes)`);
  const have = vm.disks.map((d) => `${d.label} (key ${d.key}, ${d.capacityBytes} bytes)`);
  const same = now.size === rp.disks.length && rp.disks.every((d) => now.get(d.key)?.capacityBytes === d.capacity);
  if (!same) {
    throw new Conflict(`The disks of VM '${vm.name}' no longer match restore point ${rp.id}: it has ${have.join(', ') || 'no disks'}, the restore point ${want.join(', ')}. ` +
      'Restore to a new VM instead (or change the VM\'s disks back).', { vm: have, restorePoint: want });
  }
  const dc = await datacenterOf(vs, vm.ref);
  const dcPath = dc.path;
  const plan: { key: string; label: string; capacity: number; extentPath: string }[] = [];
  for (const d of rp.disks) {
    const cur = now.get(d.key)!;
    if (cur.backingType !== 'VirtualDiskFlatVer2BackingInfo' || cur.parents.length) {
      throw new Conflict(`Disk ${cur.label} of VM '${vm.name}' is a ${cur.backingType}${cur.parents.length ? ' with a snapshot chain' : ''}: only flat VMDK disks can be overwritten. Restore to a new VM instead.`);
    }
    const { descriptor, extentPath } = await vs.datastores.resolveExtent(cur.fileName, { dcPath });
    const sectors = descriptor.extents.reduce((a, e) => a + e.sizeSectors, 0);
    if (descriptor.extents.length !== 1 || sectors * 512 !== d.capacity) {
      throw new Conflict(`Disk ${cur.label} of VM '${vm.name}' (${cur.fileName}) is not a single flat extent of ${d.capacity} bytes: restore to a new VM instead.`);
    }
    plan.push({ key: d.key, label: cur.label || d.label, capacity: d.capacity, extentPath });
  }
  opts.signal?.throwIfAborted();

  const rlog = log.child({ rp: rp.id, vm: vm.name, vmId: vm.ref.value });
  rlog.info({ disks: plan.length, powerState: vm.powerState }, 'restoring over the original VM');
  let phase = say('phase.poweringOff');
  const touched: string[] = [];
  const results: RestoredDisk[] = [];
  try {
    if (vm.powerState !== 'poweredOff') {
      emit(phase, 0, 1);
      await vs.vms.powerOff(vm.ref); // hard power off: the caller confirmed
      emit(phase, 1, 1);
    }
    for (const d of plan) {
      results.push(await uploadPhase(vs, repo, rp.id, { ...d, path: d.extentPath }, dcPath, opts.signal, (p) => { phase = p; }, emit, async () => {
        touched.push(`${d.label} (${d.extentPath})`);
      }));
    }
    await verifyPhase(vs, plan.map((d) => ({ ...d, path: d.extentPath })), results, dcPath, opts.signal, (p) => { phase = p; }, emit);
    opts.signal?.throwIfAborted();
    if (target.powerOn) {
      phase = say('phase.poweringOn');
      emit(phase, 0, 1);
      await vs.vms.powerOn(vm.ref);
      emit(phase, 1, 1);
    }
  } catch (err) {
    const verified = phase === say('phase.poweringOn');
    const left = verified ? [] : touched.map((t) => `disk ${t} may be partly overwritten`);
    rlog.warn({ phase, err: messageOf(err) }, 'restore over the original VM failed');
    const details: RestoreFailureDetails = { restorePoint: rp.id, phase, cleanedUp: [], leftBehind: left, vmId: vm.ref.value };
    const what = `Restore of ${rp.id} over VM '${vm.name}' (${vm.ref.value})`;
    const advice = verified
      ? ' The disks were restored and verified: power the VM on from the vSphere Client once the cause is fixed.'
      : touched.length ? ' The VM was left powered off: run the restore again before powering it on.' : ' No disk was changed.';
    if (isAbort(err, opts.signal)) throw new RestoreCancelled(`${what} was cancelled while ${phase}.${advice}`, details, err);
    throw new RestoreFailed(`${what} failed while ${phase}: ${sentence(messageOf(err))}.${advice}`, details, err);
  }
  rlog.info('restore over the original VM finished');
  return { vmId: vm.ref.value, vmName: vm.name, disks: results, verified: true };
}
