// One VM backup, end to end: take the VM (never two sessions at once), open a consistent snapshot
// session, read the frozen disks (only what changed since the last restore point, when CBT allows)
// into a new restore point, close the session, and tell vCenter (task, event, "Last backup").
import type { AppAwareSettings } from '../model/app-aware.ts';
import type { Consistency } from '../model/consistency.ts';
import { guestFamily } from '../model/guest.ts';
import { EVENT_TYPES, TASK_TYPES } from '../model/vcenter-tasks.ts';
import { childLog } from '../common/log.ts';
import type { VmLocks } from '../sources/snapshot/vm-lock.ts';
import type { Repository, RestorePoint } from '../repository/repository.ts';
import { ChangeTrackingInvalidError, type DiskInfo, type GuestCredentials, type MoRef, type VcTask, type VSphere } from '../vsphere/index.ts';
import { SnapshotDiskSource } from '../sources/snapshot/disk-source.ts';
import { copyDisk } from '../pipeline/disk-pipeline.ts';
import { repositorySink } from '../sinks/repository.ts';
import type { SessionJournal } from '../sources/snapshot/journal.ts';
import { plan, type ReadPlan } from '../pipeline/read-plan.ts';
import { SnapshotSession } from '../sources/snapshot/session.ts';
import { SnapshotCleanupError, type CleanupRetrier } from '../sources/snapshot/cleanup-retry.ts';
import { captureVmConfig } from '../sources/snapshot/vm-config.ts';
import type { DiskLayout } from '../model/restore-point.ts';
import type { VmConfigController, VmConfigDisk } from '../model/vm-config.ts';
import { PARTITION_TABLE_BYTES, readPartitionTable } from '../volumes/partition-table.ts';
import { say } from '../common/service-text.ts';
import { count } from '../common/units.ts';

const log = childLog('backup');

export const LAST_BACKUP_FIELD = 'Last backup (Stillpoint)';

export interface BackupDeps {
  vs: VSphere;
  repo: Repository;
  journal: SessionJournal;
  locks: VmLocks;
  /** The VM's managed object id in `vs` when req.vmId is site-qualified ("dr:vm-42"); default req.vmId. */
  moref?: string;
  /** The site (configured vCenter) `vs` belongs to; recorded in the restore point when req.site is not given. */
  site?: string;
  /** Retries a snapshot removal or consolidation that failed, in the background. */
  cleanup?: CleanupRetrier;
}

export interface BackupProgress {
  phase: string;
  percent: number;
  bytesRead: number;
  bytesStored: number;
}

export interface BackupVmRequest {
  vmId: string;
  settings: AppAwareSettings;
  guest?: { id: string; credentials: GuestCredentials };
  jobId?: string;
  jobName?: string;
  /** Site id of the VM's vCenter in the configuration (recorded with the restore point). */
  site?: string;
  runId?: string;
  initiatedBy?: string;
  notes?: string;
  /** 'wait' queues behind another session on the VM; 'fail' reports "in use" at once. */
  whenBusy?: 'wait' | 'fail';
  onProgress?: (p: BackupProgress) => void;
  signal?: AbortSignal;
}

export interface BackupVmResult {
  vmId: string;
  vmName: string;
  restorePoint: RestorePoint;
  consistency: Consistency;
  reason: string;
  warnings: string[];
  bytesRead: number;
  bytesStored: number;
  durationMs: number;
  disks: { key: string; label: string; plan: ReadPlan['kind']; bytesRead: number }[];
}

export async function backupVm(deps: BackupDeps, req: BackupVmRequest): Promise<BackupVmResult> {
  const { vs, repo, locks } = deps;
  const t0 = Date.now();
  const owner = req.jobId ? `job ${req.jobId}` : `backup ${req.runId ?? ''}`.trim();
  const release = req.whenBusy === 'fail' ? locks.tryAcquire(req.vmId, owner) : await locks.acquire(req.vmId, owner, req.signal);
  // Milliseconds per step, in the "backup finished" log line: where an incremental's time goes.
  const steps: Record<string, number> = {};
  let lap = Date.now();
  const step = (name: string) => { const now = Date.now(); steps[name] = (steps[name] ?? 0) + now - lap; lap = now; };
  step('lock');
  const ref: MoRef = { type: 'VirtualMachine', value: deps.moref ?? req.vmId };
  let task: VcTask | undefined;
  let vmName = ref.value;
  let progress: BackupProgress = { phase: 'starting', percent: 0, bytesRead: 0, bytesStored: 0 };
  const report = (change: Partial<BackupProgress>) => {
    progress = { ...progress, ...change };
    req.onProgress?.(progress);
    void task?.progress(Math.min(99, Math.round(progress.percent))).catch(() => undefined);
  };
  try {
    const vm = await vs.inventory.vm(ref);
    vmName = vm.name;
    task = await vs.tasks.create({ obj: ref, taskTypeId: TASK_TYPES.backup, initiatedBy: req.initiatedBy ?? 'Stillpoint', cancelable: false })
      .then(async (t) => { await t.running(); return t; })
      .catch((e) => { log.debug({ err: (e as Error).message }, 'no vCenter task (is the plugin registered?)'); return undefined; });
    const warnings: string[] = [];
    if (!vm.cbtEnabled) {
      report({ phase: say('phase.enablingCbt') });
      const on = await vs.cbt.setEnabled(ref, true).catch(() => false);
      if (!on) warnings.push(say('warning.cbtNotEnabled'));
    }
    const parent = await latestRestorePoint(repo, req.vmId);
    const family = guestFamily(vm.guestId);
    step('prepare');
    const session = await SnapshotSession.open({ vs, journal: deps.journal }, {
      vm, guestFamily: family, settings: req.settings, purpose: 'backup',
      ...(req.guest ? { guest: req.guest } : {}), ...(req.jobId ? { jobId: req.jobId } : {}), ...(req.runId ? { runId: req.runId } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      onPhase: (phase) => report({ phase }),
    });
    warnings.push(...session.warnings);
    step('snapshot');
    let result: Omit<BackupVmResult, 'durationMs'>;
    let cbtResetNeeded = false;
    try {
      const vmConfig = await captureVmConfig(vs, ref, session.snapshot.node.ref, vm.host?.value);
      const chunkSize = repo.config.chunkSize;
      report({ phase: say('phase.planningReads') });
      const plans: { disk: DiskInfo; plan: ReadPlan }[] = [];
      for (const disk of session.snapshot.disks) {
        const p = await planDisk(vs, ref, session.snapshot.node.ref, disk, parent, chunkSize).catch((e) => {
          if (!(e instanceof ChangeTrackingInvalidError)) throw e;
          cbtResetNeeded = true;
          warnings.push(say('warning.cbtInvalid', { disk: disk.label, error: e.message }));
          return plan('full', undefined, chunkSize, disk.capacityBytes);
        });
        plans.push({ disk, plan: p });
      }
      // Chunks a backup does not write come from the parent: only safe when every non-incremental disk is read whole.
      const incremental = plans.some((p) => p.plan.kind === 'incremental');
      if (incremental) for (const p of plans) if (p.plan.kind === 'allocated') p.plan = plan('full', undefined, chunkSize, p.disk.capacityBytes);
      const total = plans.reduce((n, p) => n + p.plan.bytes, 0) || 1;
      step('plan');

      // The whole VSS backup components document (writers, components, database and log files), when the session read one.
      const vss = session.vss;
      const writer = await repo.beginRestorePoint({
        vm: { id: req.vmId, name: vm.name, ...(vm.instanceUuid ? { uuid: vm.instanceUuid } : {}) },
        consistency: session.consistency,
        vmConfig,
        metadata: {
          source: {
            ...(req.site ?? deps.site ? { site: req.site ?? deps.site } : {}),
            vcenter: { instanceUuid: vs.about?.instanceUuid ?? 'unknown' },
            vm: { moref: ref.value, name: vm.name, ...(vm.instanceUuid ? { instanceUuid: vm.instanceUuid } : {}) },
          },
          origin: {
            kind: req.jobId ? 'job' : 'on-demand', ...(req.jobId ? { jobId: req.jobId } : {}), ...(req.jobName ? { jobName: req.jobName } : {}),
            ...(req.runId ? { runId: req.runId } : {}), ...(req.initiatedBy ? { initiatedBy: req.initiatedBy } : {}),
          },
          consistency: { consistency: session.consistency, reason: session.reason },
          warnings: [...warnings],
          ...(vss ? { vss } : {}),
          vmConfig,
          layouts: {},
        },
        ...(req.notes ? { notes: req.notes } : {}),
        ...(incremental && parent ? { parent: parent.id } : {}),
      });
      const disks: BackupVmResult['disks'] = [];
      let bytesRead = 0;
      try {
        for (const { disk, plan: p } of plans) {
          report({ phase: say('phase.readingDisk', { disk: disk.label }) });
          const dw = await writer.addDisk({ key: String(disk.key), label: disk.label, capacity: disk.capacityBytes, file: disk.fileName, ...(disk.changeId ? { changeId: disk.changeId } : {}) });
          const parentDisk = incremental && parent ? parent.disks.find((d) => d.key === String(disk.key) && d.capacity === disk.capacityBytes) : undefined;
          const source = await SnapshotDiskSource.open(vs, disk);
          writer.setDiskLayout(String(disk.key), await diskLayout(source, vmConfig.disks.find((d) => d.key === disk.key), vmConfig.controllers, req.signal));
          // Chunks of the parent that verify marked damaged are read whole from the VM, so this point stores them anew.
          const damaged = parentDisk && p.kind === 'incremental' ? dw.damagedParentChunks() : [];
          const todo = damaged.length
            ? plan('incremental', [...(p.areas ?? []), ...damaged.map((start) => ({ start, length: Math.min(chunkSize, disk.capacityBytes - start) }))], chunkSize, disk.capacityBytes)
            : p;
          if (damaged.length) warnings.push(say('warning.damagedReread', { n: damaged.length, disk: disk.label }));
          const r = await copyDisk(source, repositorySink(dw), todo, {
            ...(req.signal ? { signal: req.signal } : {}),
            ...(parentDisk && p.kind === 'incremental' ? { patch: true } : {}),
            onBytes: (n) => { bytesRead += n; report({ bytesRead, percent: 5 + 90 * (bytesRead / total) }); },
          });
          await dw.finish();
          disks.push({ key: String(disk.key), label: disk.label, plan: p.kind, bytesRead: r.bytesRead });
        }
        step('read');
        report({ phase: say('phase.savingRestorePoint') });
        const rp = await writer.commit();
        step('commit');
        result = {
          vmId: req.vmId, vmName: vm.name, restorePoint: rp, consistency: session.consistency, reason: session.reason,
          warnings, bytesRead, bytesStored: rp.newStoredBytes, disks,
        };
      } catch (e) {
        await writer.abort().catch(() => undefined);
        throw e;
      }
    } finally {
      report({ phase: say('phase.removingSnapshot') });
      await session.close().catch(async (e: Error) => {
        const consolidation = e instanceof SnapshotCleanupError && e.step === 'consolidate';
        const retrying = deps.cleanup ? 'Stillpoint keeps retrying in the background (and at its next start)' : 'Stillpoint retries at its next start';
        const text = consolidation
          ? say('warning.snapshotNotConsolidated', { error: e.message, retrying })
          : say('warning.snapshotNotRemoved', { error: e.message, retrying });
        warnings.push(text);
        await vs.events.logUserEvent(ref, `Stillpoint warning: ${text}`).catch(() => undefined);
        deps.cleanup?.schedule({
          what: `backup snapshot of ${vm.name}`,
          attempt: () => session.close({ tries: 1 }),
          onDone: () => void vs.events.logUserEvent(ref, `Stillpoint: the backup snapshot of ${vm.name} was cleaned up in the background.`).catch(() => undefined),
          onGiveUp: (err) => void vs.events.logUserEvent(ref, `Stillpoint warning: the backup snapshot of ${vm.name} still could not be cleaned up (${err.message}); remove it by hand or wait for Stillpoint's next start.`).catch(() => undefined),
        });
      });
    }
    step('remove snapshot');
    if (cbtResetNeeded) await vs.cbt.reset(ref).catch((e) => warnings.push(say('warning.cbtResetFailed', { error: (e as Error).message })));
    const durationMs = Date.now() - t0;
    await tellVcenter(vs, { ref, name: vm.name }, warnings.length ? EVENT_TYPES.backupWarning : EVENT_TYPES.backupSucceeded, `Stillpoint: backup of ${vm.name} finished, ${result.consistency}-consistent${warnings.length ? ` with ${count(warnings.length, 'warning')}` : ''}.`,
      `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${warnings.length ? 'warning' : 'success'} (${result.consistency}-consistent)`);
    if (task) await task.succeed().catch(() => undefined);
    step('tell vCenter');
    report({ phase: say('phase.done'), percent: 100 });
    log.info({ vm: req.vmId, rp: result.restorePoint.id, consistency: result.consistency, bytesRead: result.bytesRead, bytesStored: result.bytesStored, durationMs, steps }, 'backup finished');
    return { ...result, durationMs };
  } catch (e) {
    const msg = (e as Error).message;
    if (task) await task.fail(msg).catch(() => undefined);
    await tellVcenter(vs, { ref, name: vmName }, EVENT_TYPES.backupFailed, `Stillpoint: backup failed: ${msg}`, `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} failed`).catch(() => undefined);
    throw e;
  } finally {
    release();
  }
}

/** Where the disk sits and how it is partitioned, for the restore point's record (item restore starts here). */
async function diskLayout(source: SnapshotDiskSource, d: VmConfigDisk | undefined, controllers: VmConfigController[], signal?: AbortSignal): Promise<DiskLayout> {
  const c = controllers.find((x) => x.key === d?.controllerKey);
  let partitioning: DiskLayout['partitioning'];
  try {
    const head = await source.read(0, Math.min(PARTITION_TABLE_BYTES, source.capacity), signal);
    partitioning = await readPartitionTable(head, source.capacity, (o, l) => source.read(o, l, signal));
  } catch (e) {
    signal?.throwIfAborted();
    partitioning = { scheme: 'unreadable', partitions: [], note: `the first sectors could not be read: ${(e as Error).message}` };
  }
  return {
    ...(c ? { controller: { type: c.type, busNumber: c.busNumber, ...(d?.unitNumber !== undefined ? { unitNumber: d.unitNumber } : {}) } } : {}),
    ...(d?.thin !== undefined ? { thin: d.thin } : {}),
    partitioning,
  };
}

async function planDisk(vs: VSphere, vm: MoRef, snapshot: MoRef, disk: DiskInfo, parent: RestorePoint | undefined, chunkSize: number): Promise<ReadPlan> {
  if (!disk.changeId) return plan('full', undefined, chunkSize, disk.capacityBytes);
  const pd = parent?.disks.find((d) => d.key === String(disk.key) && d.capacity === disk.capacityBytes);
  const changeId = pd?.changeId ?? '*';
  const areas = await vs.cbt.changedAreas(vm, { snapshot, deviceKey: disk.key, changeId, capacityBytes: disk.capacityBytes });
  return plan(changeId === '*' ? 'allocated' : 'incremental', areas, chunkSize, disk.capacityBytes);
}

async function latestRestorePoint(repo: Repository, vmId: string): Promise<RestorePoint | undefined> {
  const list = await repo.listRestorePoints({ vmId });
  return list.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

/**
 * "Last backup" attribute and an event on the VM: our extension event (EventEx, which Stillpoint's vCenter
 * alarms trigger on; a user event where vCenter refuses it). vCenter problems here never fail a backup.
 */
async function tellVcenter(vs: VSphere, entity: { ref: MoRef; name: string }, eventTypeId: string, event: string, lastBackup: string): Promise<void> {
  const vm = entity.ref;
  const severity = eventTypeId === EVENT_TYPES.backupFailed ? 'error' : eventTypeId === EVENT_TYPES.backupWarning ? 'warning' : 'info';
  await vs.events.post({ eventTypeId, entity, message: event, severity })
    .catch(() => vs.events.logUserEvent(vm, event))
    .catch((e) => log.debug({ err: (e as Error).message }, 'could not log the vCenter event'));
  await vs.customFields.setByName(vm, LAST_BACKUP_FIELD, lastBackup).catch(async () => {
    await vs.customFields.ensure(LAST_BACKUP_FIELD, 'VirtualMachine');
    await vs.customFields.setByName(vm, LAST_BACKUP_FIELD, lastBackup);
  }).catch((e) => log.debug({ err: (e as Error).message }, 'could not set the Last backup attribute'));
}

