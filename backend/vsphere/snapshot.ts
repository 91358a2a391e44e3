// Snapshots: create (quiesced, or with a Windows VSS quiesce spec), remove, revert, consolidate, and the
// read-back a backup must do (was it really quiesced? where is the manifest? which disk files and change ids?).
import { ManagedObjectNotFoundError } from './faults.ts';
import { disksOf, flattenSnapshots, snapshotTree, type DiskInfo, type SnapshotNode } from './inventory.ts';
import { ApiWrapper } from './property-collector.ts';
import { waitForTask, type WaitTaskOptions } from './task.ts';
import type { MoRef, VirtualDevice, VirtualMachineSnapshotInfo } from './types.ts';

/** VSS_BACKUP_TYPE values. */
export const VssBackupType = { FULL: 1, INCREMENTAL: 2, DIFFERENTIAL: 3, LOG: 4, COPY: 5 } as const;
export type VssBackupTypeName = keyof typeof VssBackupType;

export type WindowsQuiesceSpec = {
  /** VSS_BT_FULL truncates application logs; VSS_BT_COPY (what a plain quiesced snapshot does) does not. */
  vssBackupType?: VssBackupTypeName | number;
  vssBackupContext?: 'ctx_auto' | 'ctx_backup' | 'ctx_file_share_backup';
  vssBootableSystemState?: boolean;
  vssPartialFileSupport?: boolean;
  /** Minutes vSphere waits for the guest to quiesce (5–240; vSphere's default 15). */
  timeout?: number;
};

export type CreateSnapshotOptions = WaitTaskOptions & {
  name: string;
  description?: string;
  memory?: boolean;
  /** Quiesce through VMware Tools (CreateSnapshot_Task quiesce=true). Ignored silently by vSphere if Tools is not running. */
  quiesce?: boolean;
  /** Windows VSS settings: uses CreateSnapshotEx_Task (vSphere 7.0+, Tools 10.1+). */
  windowsQuiesce?: WindowsQuiesceSpec;
  /** Guest quiesce with only a timeout (minutes): CreateSnapshotEx_Task with a plain VirtualMachineGuestQuiesceSpec. */
  guestQuiesceTimeout?: number;
};

export type SnapshotDetails = {
  node: SnapshotNode;
  /** The snapshot's disks: fileName is the frozen file (the parent of the running delta), changeId the one to store. */
  disks: DiskInfo[];
};

export class Snapshots extends ApiWrapper {
  /** Creates a snapshot and reads it back (quiesced flag and backupManifest as vSphere recorded them). */
  async create(vm: MoRef, opts: CreateSnapshotOptions): Promise<SnapshotDetails> {
    let task: MoRef;
    if (opts.windowsQuiesce || opts.guestQuiesceTimeout !== undefined) {
      const w = opts.windowsQuiesce;
      const quiesceSpec = w
        ? {
          _type: 'VirtualMachineWindowsQuiesceSpec',
          timeout: w.timeout ?? opts.guestQuiesceTimeout,
          vssBackupType: typeof w.vssBackupType === 'string' ? VssBackupType[w.vssBackupType] : w.vssBackupType,
          vssBootableSystemState: w.vssBootableSystemState,
          vssPartialFileSupport: w.vssPartialFileSupport,
          vssBackupContext: w.vssBackupContext,
        }
        : { _type: 'VirtualMachineGuestQuiesceSpec', timeout: opts.guestQuiesceTimeout };
      task = await this.client.call<MoRef>('CreateSnapshotEx_Task', {
        _this: vm, name: opts.name, description: opts.description, memory: !!opts.memory, quiesceSpec,
      });
    } else {
      task = await this.client.call<MoRef>('CreateSnapshot_Task', {
        _this: vm, name: opts.name, description: opts.description, memory: !!opts.memory, quiesce: !!opts.quiesce,
      });
    }
    const ref = await waitForTask<MoRef>(this.client, task, opts);
    return this.details(vm, ref);
  }

  /** The snapshot's tree node and disks. */
  async details(vm: MoRef, snapshot: MoRef): Promise<SnapshotDetails> {
    const node = (await this.list(vm)).find((n) => n.ref.value === snapshot.value);
    if (!node) throw new ManagedObjectNotFoundError(`snapshot ${snapshot.value} is not in the snapshot tree of ${vm.value}`, { obj: snapshot });
    const { 'config.hardware.device': devices } = await this.pc.retrieveOne<{ 'config.hardware.device'?: VirtualDevice[] }>(
      snapshot, ['config.hardware.device']);
    return { node, disks: disksOf(devices) };
  }

  /** The VM's snapshot tree (roots with children). */
  async tree(vm: MoRef): Promise<{ roots: SnapshotNode[]; current?: MoRef }> {
    const { snapshot } = await this.pc.retrieveOne<{ snapshot?: VirtualMachineSnapshotInfo }>(vm, ['snapshot']);
    const r: { roots: SnapshotNode[]; current?: MoRef } = { roots: snapshotTree(snapshot?.rootSnapshotList) };
    if (snapshot?.currentSnapshot) r.current = snapshot.currentSnapshot;
    return r;
  }

  /** All snapshots of the VM, depth first. */
  async list(vm: MoRef): Promise<SnapshotNode[]> {
    return flattenSnapshots((await this.tree(vm)).roots);
  }

  /** RemoveSnapshot_Task; consolidate defaults to true. */
  async remove(snapshot: MoRef, opts: WaitTaskOptions & { removeChildren?: boolean; consolidate?: boolean } = {}): Promise<void> {
    const task = await this.client.call<MoRef>('RemoveSnapshot_Task', {
      _this: snapshot, removeChildren: !!opts.removeChildren, consolidate: opts.consolidate ?? true,
    });
    await waitForTask(this.client, task, opts);
  }

  async revert(snapshot: MoRef, opts: WaitTaskOptions & { suppressPowerOn?: boolean; host?: MoRef } = {}): Promise<void> {
    const task = await this.client.call<MoRef>('RevertToSnapshot_Task', {
      _this: snapshot, host: opts.host, suppressPowerOn: opts.suppressPowerOn,
    });
    await waitForTask(this.client, task, opts);
  }

  async rename(snapshot: MoRef, name?: string, description?: string): Promise<void> {
    await this.client.call('RenameSnapshot', { _this: snapshot, name, description });
  }

  /** ConsolidateVMDisks_Task. */
  async consolidate(vm: MoRef, opts: WaitTaskOptions = {}): Promise<void> {
    const task = await this.client.call<MoRef>('ConsolidateVMDisks_Task', { _this: vm });
    await waitForTask(this.client, task, opts);
  }

  async consolidationNeeded(vm: MoRef): Promise<boolean> {
    const p = await this.pc.retrieveOne<{ 'runtime.consolidationNeeded'?: boolean }>(vm, ['runtime.consolidationNeeded']);
    return !!p['runtime.consolidationNeeded'];
  }

  /** Consolidates if vSphere says so; returns whether it did. */
  async consolidateIfNeeded(vm: MoRef, opts: WaitTaskOptions = {}): Promise<boolean> {
    if (!(await this.consolidationNeeded(vm))) return false;
    await this.consolidate(vm, opts);
    return true;
  }

  /** Removes every snapshot whose name or description matches (our leftovers), oldest first. Returns the count. */
  async removeMatching(vm: MoRef, match: (n: SnapshotNode) => boolean, opts: WaitTaskOptions = {}): Promise<number> {
    const nodes = (await this.list(vm)).filter(match);
    for (const n of nodes) await this.remove(n.ref, { ...opts, removeChildren: false, consolidate: true });
    return nodes.length;
  }
}
