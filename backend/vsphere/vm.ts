// VirtualMachine lifecycle: create, reconfigure, power, destroy, find.
import type { VimClient } from './client.ts';
import { ManagedObjectNotFoundError } from './faults.ts';
import { Inventory, type VmInfo } from './inventory.ts';
import { ApiWrapper, type PropertyCollector } from './property-collector.ts';
import { waitForTask, type WaitTaskOptions } from './task.ts';
import type { MoRef, VirtualDeviceConfigSpec, VirtualMachineConfigSpec } from './types.ts';

export type CreateVmOptions = WaitTaskOptions & {
  /** VM folder (Datacenter.vmFolder). */
  folder: MoRef;
  /** Resource pool (a host's or cluster's resourcePool). */
  pool: MoRef;
  host?: MoRef;
  config: VirtualMachineConfigSpec;
};

/** Device specs need the concrete device type on the wire. */
function typedDeviceChange(spec: VirtualMachineConfigSpec): VirtualMachineConfigSpec {
  if (!spec.deviceChange) return spec;
  return {
    ...spec,
    deviceChange: spec.deviceChange.map((dc): VirtualDeviceConfigSpec => ({
      operation: dc.operation, fileOperation: dc.fileOperation, device: dc.device,
    })),
  };
}

export class VirtualMachines extends ApiWrapper {
  readonly inventory: Inventory;

  constructor(client: VimClient, pc?: PropertyCollector) {
    super(client, pc);
    this.inventory = new Inventory(client, this.pc);
  }

  /** CreateVM_Task on a folder; returns the new VM. */
  async create(opts: CreateVmOptions): Promise<MoRef> {
    const task = await this.client.call<MoRef>('CreateVM_Task', {
      _this: opts.folder, config: typedDeviceChange(opts.config), pool: opts.pool, host: opts.host,
    });
    return waitForTask<MoRef>(this.client, task, opts);
  }

  async reconfigure(vm: MoRef, spec: VirtualMachineConfigSpec, opts: WaitTaskOptions = {}): Promise<void> {
    const task = await this.client.call<MoRef>('ReconfigVM_Task', { _this: vm, spec: typedDeviceChange(spec) });
    await waitForTask(this.client, task, opts);
  }

  async powerOn(vm: MoRef, opts: WaitTaskOptions & { host?: MoRef } = {}): Promise<void> {
    const task = await this.client.call<MoRef>('PowerOnVM_Task', { _this: vm, host: opts.host });
    await waitForTask(this.client, task, opts);
  }

  async powerOff(vm: MoRef, opts: WaitTaskOptions = {}): Promise<void> {
    const task = await this.client.call<MoRef>('PowerOffVM_Task', { _this: vm });
    await waitForTask(this.client, task, opts);
  }

  /** Destroy_Task: unregisters the VM and deletes its files. */
  async destroy(vm: MoRef, opts: WaitTaskOptions = {}): Promise<void> {
    const task = await this.client.call<MoRef>('Destroy_Task', { _this: vm });
    await waitForTask(this.client, task, opts);
  }

  async unregister(vm: MoRef): Promise<void> {
    await this.client.call('UnregisterVM', { _this: vm });
  }

  /** The VM behind a moref id ("vm-42"); ManagedObjectNotFound if it is gone. */
  async get(ref: MoRef | string): Promise<VmInfo> {
    return this.inventory.vm(typeof ref === 'string' ? { type: 'VirtualMachine', value: ref } : ref);
  }

  /** Exactly one VM of that name (throws if none; the first one if several). */
  async findByName(name: string): Promise<MoRef> {
    const [ref] = await this.inventory.findVmsByName(name);
    if (!ref) throw new ManagedObjectNotFoundError(`no VM named "${name}"`);
    return ref;
  }

  async findByUuid(uuid: string, instanceUuid = true): Promise<MoRef> {
    const ref = await this.inventory.findVmByUuid(uuid, instanceUuid);
    if (!ref) throw new ManagedObjectNotFoundError(`no VM with ${instanceUuid ? 'instance' : 'BIOS'} UUID ${uuid}`);
    return ref;
  }

  /** SearchIndex.FindByInventoryPath ("DC0/vm/folder/name"). */
  async findByInventoryPath(path: string): Promise<MoRef | undefined> {
    const si = this.client.serviceContent.searchIndex;
    if (!si) throw new Error('no SearchIndex');
    return (await this.client.call<MoRef | undefined>('FindByInventoryPath', { _this: si, inventoryPath: path })) ?? undefined;
  }
}
