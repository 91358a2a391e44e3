// Which vCenter privileges each Stillpoint action needs, on which object. Checked against the
// user's own vCenter session (AuthorizationManager.HasPrivilegeOnEntities) before the work starts;
// the work itself then runs with the service account. The README's "Authorization" section is
// this table in prose: keep them together.

/** The object a privilege is checked on. */
export type PrivilegeTarget = 'vm' | 'folder' | 'datastore' | 'pool' | 'network' | 'root';

export interface PrivilegeRule { on: PrivilegeTarget; privileges: readonly string[] }

export const PRIVILEGES = {
  /** Back up a VM (also what a job's run needs on each of its VMs): snapshot, read disks, CBT. */
  backup: [{
    on: 'vm', privileges: ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot',
      'VirtualMachine.Provisioning.DiskRandomRead', 'VirtualMachine.Config.ChangeTracking'],
  }],
  /** Pre-freeze/post-thaw scripts and other guest operations with a guest credential, on each VM. */
  guestScripts: [{ on: 'vm', privileges: ['VirtualMachine.GuestOperations.Execute', 'VirtualMachine.GuestOperations.Modify'] }],
  /**
   * Restore to a new VM: created in the folder, placed in the pool, disks on the datastore, its
   * network adapters on the networks the restore point's NICs name (as found on the target host).
   */
  restoreNew: [
    { on: 'folder', privileges: ['VirtualMachine.Inventory.Create', 'VirtualMachine.Config.AddNewDisk'] },
    { on: 'datastore', privileges: ['Datastore.AllocateSpace'] },
    { on: 'pool', privileges: ['Resource.AssignVMToPool'] },
    { on: 'network', privileges: ['Network.Assign'] },
  ],
  /** Power on the new VM after the restore (on the folder: the VM does not exist yet). */
  restoreNewPowerOn: [{ on: 'folder', privileges: ['VirtualMachine.Interact.PowerOn'] }],
  /** Restore over the original VM: power it off, replace its disks. */
  restoreOriginal: [{
    on: 'vm', privileges: ['VirtualMachine.Interact.PowerOff', 'VirtualMachine.Config.AddRemoveDevice',
      'VirtualMachine.Config.RemoveDisk', 'VirtualMachine.Config.AddNewDisk'],
  }],
  restoreOriginalPowerOn: [{ on: 'vm', privileges: ['VirtualMachine.Interact.PowerOn'] }],
  /** Browse, search and download files inside a VM's restore points (file-level restore): reading its guest files. */
  fileRestore: [{ on: 'vm', privileges: ['VirtualMachine.Provisioning.GetVmFiles'] }],
  /** Put restored files back into the running VM through guest operations (with fileRestore and the right to the credential). */
  guestFileWrite: [{ on: 'vm', privileges: ['VirtualMachine.GuestOperations.Modify'] }],
  /** Publish a restore point's disks read-only over NBD: random reads of the VM's disks, whose bytes leave vCenter's control. */
  publishDisk: [{ on: 'vm', privileges: ['VirtualMachine.Provisioning.DiskRandomRead', 'VirtualMachine.Provisioning.GetVmFiles'] }],
  /**
   * Fail a replica over (on the replica VM): revert to a recovery point, NICs to their DR networks,
   * CBT on, power on; re-IP also needs guestScripts on the replica. Undo: the same rights.
   */
  failover: [{
    on: 'vm', privileges: ['VirtualMachine.State.RevertToSnapshot', 'VirtualMachine.Interact.PowerOn', 'VirtualMachine.Interact.PowerOff',
      'VirtualMachine.Config.EditDevice', 'VirtualMachine.Config.ChangeTracking'],
  }, { on: 'network', privileges: ['Network.Assign'] }],
  /** Test failover (on the replica VM): a protective snapshot, the isolated network, power on and off, revert and remove. */
  testFailover: [{
    on: 'vm', privileges: ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.State.RevertToSnapshot',
      'VirtualMachine.Interact.PowerOn', 'VirtualMachine.Interact.PowerOff', 'VirtualMachine.Config.EditDevice'],
  }, { on: 'network', privileges: ['Network.Assign'] }],
  /** Permanent failover (on the replica VM): its recovery points removed, its annotation rewritten. */
  permanentFailover: [{ on: 'vm', privileges: ['VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.Config.Settings'] }],
  /** Planned failover, on the source VM: its replication snapshot and the shutdown (with failover on the replica). */
  plannedFailoverSource: [{ on: 'vm', privileges: ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.Provisioning.DiskRandomRead', 'VirtualMachine.Interact.PowerOff'] }],
  /** Failback, on the replica VM: shut down, a snapshot to read its changed blocks from. */
  failbackReplica: [{ on: 'vm', privileges: ['VirtualMachine.Interact.PowerOff', 'VirtualMachine.Interact.PowerOn', 'VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.State.RevertToSnapshot', 'VirtualMachine.Provisioning.DiskRandomRead', 'VirtualMachine.Config.EditDevice'] }],
  /** Failback, on the original VM: an undo snapshot, its disks written, powered on (undo: reverted). */
  failbackSource: [{ on: 'vm', privileges: ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.State.RemoveSnapshot', 'VirtualMachine.State.RevertToSnapshot', 'VirtualMachine.Provisioning.DiskRandomAccess', 'VirtualMachine.Interact.PowerOn', 'VirtualMachine.Interact.PowerOff'] }],
  /** Delete another user's guest credential; manage the repository. */
  administer: [{ on: 'root', privileges: ['Global.Settings'] }],
} as const satisfies Record<string, readonly PrivilegeRule[]>;

export type PrivilegedAction = keyof typeof PRIVILEGES;
