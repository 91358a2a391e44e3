// The typed vSphere layer. `VSphere` is the facade the backup engine and the service use; the module
// classes are exported too for finer use.
import { VimClient, type ClientOptions } from './client.ts';
import { Alarms } from './alarms.ts';
import { ChangeTracking } from './cbt.ts';
import { CustomFields } from './custom-fields.ts';
import { DatastoreHttp } from './datastore-http.ts';
import { Events } from './events.ts';
import { Extensions } from './extensions.ts';
import { GuestOperations } from './guest.ts';
import { Inventory } from './inventory.ts';
import { PropertyCollector } from './property-collector.ts';
import { cloneTicketFromUiSession, Session, type SessionOptions } from './session.ts';
import { Snapshots } from './snapshot.ts';
import { waitForTask, type WaitTaskOptions } from './task.ts';
import { VcTasks } from './tasks.ts';
import type { MoRef } from './types.ts';
import { VirtualMachines } from './vm.ts';

export type ConnectOptions = ClientOptions & SessionOptions & { username: string; password: string };
export type CloneOptions = ClientOptions & SessionOptions & {
  /** A clone ticket from SessionManager.AcquireCloneTicket on the session to clone. */
  ticket: string;
  /** Produces a fresh ticket when the cloned session expires (otherwise NotAuthenticated surfaces). */
  renew?: () => Promise<string>;
};

export class VSphere {
  readonly client: VimClient;
  readonly session: Session;
  readonly pc: PropertyCollector;
  readonly inventory: Inventory;
  readonly vms: VirtualMachines;
  readonly snapshots: Snapshots;
  readonly cbt: ChangeTracking;
  readonly datastores: DatastoreHttp;
  readonly guest: GuestOperations;
  readonly tasks: VcTasks;
  readonly events: Events;
  readonly customFields: CustomFields;
  readonly extensions: Extensions;
  readonly alarms: Alarms;

  private constructor(client: VimClient, session: Session) {
    this.client = client;
    this.session = session;
    this.pc = new PropertyCollector(client);
    this.inventory = new Inventory(client, this.pc);
    this.vms = new VirtualMachines(client, this.pc);
    this.snapshots = new Snapshots(client, this.pc);
    this.cbt = new ChangeTracking(client, this.pc);
    this.datastores = new DatastoreHttp(client);
    this.guest = new GuestOperations(client, this.pc);
    this.tasks = new VcTasks(client);
    this.events = new Events(client);
    this.customFields = new CustomFields(client, this.pc);
    this.extensions = new Extensions(client);
    this.alarms = new Alarms(client, this.pc);
  }

  /** Connects (thumbprint-pinned when `thumbprint` is set) and logs in; re-logs in by itself when the session expires. */
  static async connect(opts: ConnectOptions): Promise<VSphere> {
    const client = await VimClient.connect(opts);
    const session = await Session.login(client, opts.username, opts.password, opts);
    return VSphere.#init(client, session);
  }

  /** A session of our own from a clone ticket (the plugin's session bridge). */
  static async fromCloneTicket(opts: CloneOptions): Promise<VSphere> {
    const client = await VimClient.connect(opts);
    const session = await Session.fromCloneTicket(client, opts.ticket, opts);
    return VSphere.#init(client, session);
  }

  /**
   * The plugin session bridge: a backend session for the vSphere Client user behind `sessionToken`
   * (token → clone ticket via /api/ui/vcenter/session/clone-ticket → CloneSession). When the cloned session
   * expires, the same token is traded again (as long as the user's vSphere Client session lives).
   */
  static async fromUiSessionToken(opts: ClientOptions & SessionOptions & { sessionToken: string; vcGuid?: string }): Promise<VSphere> {
    const client = await VimClient.connect(opts);
    const ticket = () => cloneTicketFromUiSession(client, opts.sessionToken, opts.vcGuid ?? client.serviceContent.about.instanceUuid);
    const session = await Session.fromCloneTicket(client, await ticket(), { ...opts, renew: ticket });
    return VSphere.#init(client, session);
  }

  static async #init(client: VimClient, session: Session): Promise<VSphere> {
    const vs = new VSphere(client, session);
    // Datastore URLs need a dcPath: default to the only datacenter when there is exactly one.
    const dcs = await vs.inventory.datacenters().catch(() => []);
    if (dcs.length === 1) vs.datastores.defaultDcPath = dcs[0]!.path;
    return vs;
  }

  /** vCenter's AboutInfo (version, build, instanceUuid). */
  get about(): VimClient['serviceContent']['about'] {
    return this.client.serviceContent.about;
  }

  /** Waits for any vSphere task. */
  waitForTask<T = unknown>(task: MoRef, opts?: WaitTaskOptions): Promise<T> {
    return waitForTask<T>(this.client, task, opts);
  }

  /** A clone ticket for handing this session to another process. */
  acquireCloneTicket(): Promise<string> {
    return this.session.acquireCloneTicket();
  }

  async close(): Promise<void> {
    await this.session.logout().catch(() => undefined);
    this.client.agent.destroy();
  }
}

export { VimClient } from './client.ts';
export { Session, cloneTicketFromUiSession } from './session.ts';
export { PropertyCollector, ContainerView } from './property-collector.ts';
export { Inventory, VM_PROPERTIES, disksOf, snapshotTree, flattenSnapshots } from './inventory.ts';
export type { VmInfo, DiskInfo, SnapshotNode, HostInfo, DatastoreInfo, ClusterInfo, DatacenterInfo, PowerState } from './inventory.ts';
export { Snapshots, VssBackupType } from './snapshot.ts';
export type { CreateSnapshotOptions, WindowsQuiesceSpec, SnapshotDetails } from './snapshot.ts';
export { ChangeTracking, mergeExtents } from './cbt.ts';
export type { ChangedAreasOptions } from './cbt.ts';
export { DatastoreHttp, parseDatastorePath, formatDatastorePath, parseVmdkDescriptor, siblingPath } from './datastore-http.ts';
export type { DatastorePath, VmdkDescriptor, HostRoute, ReadOptions } from './datastore-http.ts';
export { GuestOperations } from './guest.ts';
export type { GuestCredentials, GuestProgram, RunResult, GuestProcessInfo, GuestFileAttributes, GuestFileInfo, GuestUploadOptions } from './guest.ts';
export { VirtualMachines } from './vm.ts';
export { VcTasks, VcTask } from './tasks.ts';
export { Events } from './events.ts';
export { CustomFields } from './custom-fields.ts';
export { Extensions } from './extensions.ts';
export type { Extension } from './extensions.ts';
export { waitForTask, waitForTaskInfo } from './task.ts';
export { PinnedAgent, certThumbprint, normalizeThumbprint, fetchThumbprint } from './tls.ts';
export * from './faults.ts';
export * from './types.ts';
export { Authorization } from './authorization.ts';
export type { EntityPrivileges } from './authorization.ts';
