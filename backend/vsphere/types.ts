// TypeScript shapes of the vim25 data objects Stillpoint reads and writes. Field names are the vim25
// names. Values parsed from SOAP carry their concrete vim25 type in `_type` where the wire had an
// xsi:type (e.g. a VirtualDevice that is really a "VirtualDisk"); ArrayOfX wrappers are unwrapped to arrays.

const MOR = Symbol.for('stillpoint.vsphere.mor');

export type ManagedObjectReference = { type: string; value: string };
export type MoRef = ManagedObjectReference;

/** Makes a managed object reference (also tags it so the serializer knows it for sure). */
export function mor(type: string, value: string): ManagedObjectReference {
  const r = { type, value };
  Object.defineProperty(r, MOR, { value: true, enumerable: false });
  return r;
}

export function isMor(v: unknown): v is ManagedObjectReference {
  if (v === null || typeof v !== 'object') return false;
  if ((v as Record<symbol, unknown>)[MOR]) return true;
  const keys = Object.keys(v);
  return keys.length === 2 && typeof (v as MoRef).type === 'string' && typeof (v as MoRef).value === 'string'
    && keys.includes('type') && keys.includes('value');
}

export const moId = (r: MoRef): string => `${r.type}:${r.value}`;

/** A vim25 data object with its concrete type name. */
export type Typed<T extends string = string> = { _type?: T };

export type LocalizableMessage = { key: string; arg?: { key: string; value: unknown }[]; message?: string };
export type LocalizedMethodFault = { fault: Record<string, unknown> & { _type?: string }; localizedMessage?: string };

export type AboutInfo = {
  name: string; fullName: string; vendor: string; version: string; build: string; osType: string; productLineId: string;
  apiType: string; apiVersion: string; instanceUuid?: string;
};

export type ServiceContent = {
  rootFolder: MoRef; propertyCollector: MoRef; viewManager?: MoRef; about: AboutInfo; setting?: MoRef;
  userDirectory?: MoRef; sessionManager?: MoRef; authorizationManager?: MoRef; taskManager?: MoRef;
  extensionManager?: MoRef; customFieldsManager?: MoRef; searchIndex?: MoRef; fileManager?: MoRef;
  virtualDiskManager?: MoRef; eventManager?: MoRef; guestOperationsManager?: MoRef;
  [k: string]: unknown;
};

export type UserSession = {
  key: string; userName: string; fullName: string; loginTime: Date; lastActiveTime: Date; locale: string;
  messageLocale: string; extensionSession?: boolean; ipAddress?: string; userAgent?: string; callCount?: number;
};

export type ObjectSpec = { obj: MoRef; skip?: boolean; selectSet?: SelectionSpec[] };
export type SelectionSpec = { _type?: 'SelectionSpec' | 'TraversalSpec'; name?: string };
export type TraversalSpec = SelectionSpec & { _type: 'TraversalSpec'; type: string; path: string; skip?: boolean; selectSet?: SelectionSpec[] };
export type PropertySpec = { type: string; all?: boolean; pathSet?: string[] };
export type PropertyFilterSpec = { propSet: PropertySpec[]; objectSet: ObjectSpec[]; reportMissingObjectsInResults?: boolean };
export type DynamicProperty = { name: string; val: unknown };
export type MissingProperty = { path: string; fault: LocalizedMethodFault };
export type ObjectContent = { obj: MoRef; propSet?: DynamicProperty[]; missingSet?: MissingProperty[] };
export type RetrieveResult = { token?: string; objects: ObjectContent[] };

export type PropertyChange = { name: string; op: 'add' | 'remove' | 'assign' | 'indirectRemove'; val?: unknown };
export type ObjectUpdate = { kind: 'modify' | 'enter' | 'leave'; obj: MoRef; changeSet?: PropertyChange[]; missingSet?: MissingProperty[] };
export type PropertyFilterUpdate = { filter: MoRef; objectSet?: ObjectUpdate[]; missingSet?: unknown[] };
export type UpdateSet = { version: string; filterSet?: PropertyFilterUpdate[]; truncated?: boolean };

export type TaskInfoState = 'queued' | 'running' | 'success' | 'error';
export type TaskInfo = {
  key: string; task: MoRef; description?: LocalizableMessage; name?: string; descriptionId: string; entity?: MoRef;
  entityName?: string; state: TaskInfoState; cancelled: boolean; cancelable: boolean; error?: LocalizedMethodFault;
  result?: unknown; progress?: number; queueTime: Date; startTime?: Date; completeTime?: Date; eventChainId: number;
  reason?: Typed & { userName?: string };
};

// ---- devices -----------------------------------------------------------------------------------

export type Description = { label: string; summary: string };
export type VirtualDeviceConnectInfo = { startConnected: boolean; allowGuestControl: boolean; connected: boolean; status?: string };

export type VirtualDeviceBackingInfo = Typed & {
  fileName?: string; datastore?: MoRef; diskMode?: string; thinProvisioned?: boolean; eagerlyScrub?: boolean;
  uuid?: string; contentId?: string; changeId?: string; parent?: VirtualDeviceBackingInfo; split?: boolean;
  writeThrough?: boolean; deltaDiskFormat?: string; digestEnabled?: boolean; sharing?: string;
  compatibilityMode?: string; deviceName?: string; lunUuid?: string;
  deviceType?: string; network?: MoRef; port?: Record<string, unknown>; [k: string]: unknown;
};

export type VirtualDevice = Typed & {
  key: number; deviceInfo?: Description; backing?: VirtualDeviceBackingInfo; connectable?: VirtualDeviceConnectInfo;
  controllerKey?: number; unitNumber?: number; [k: string]: unknown;
};

export type VirtualDisk = VirtualDevice & {
  _type?: 'VirtualDisk'; capacityInKB: number; capacityInBytes?: number; diskObjectId?: string;
};

export type VirtualMachineSnapshotTree = {
  snapshot: MoRef; vm: MoRef; name: string; description: string; id?: number; createTime: Date; state: string;
  quiesced: boolean; backupManifest?: string; childSnapshotList?: VirtualMachineSnapshotTree[];
  replaySupported?: boolean;
};
export type VirtualMachineSnapshotInfo = { currentSnapshot?: MoRef; rootSnapshotList: VirtualMachineSnapshotTree[] };

export type DiskChangeExtent = { start: number; length: number };
export type DiskChangeInfo = { startOffset: number; length: number; changedArea?: DiskChangeExtent[] };

export type VirtualDeviceConfigSpec = Typed & {
  operation?: 'add' | 'remove' | 'edit'; fileOperation?: 'create' | 'destroy' | 'replace'; device: VirtualDevice;
};

export type VirtualMachineConfigSpec = {
  changeVersion?: string; name?: string; version?: string; uuid?: string; instanceUuid?: string; guestId?: string;
  annotation?: string; files?: { vmPathName?: string; snapshotDirectory?: string; suspendDirectory?: string; logDirectory?: string };
  numCPUs?: number; numCoresPerSocket?: number; memoryMB?: number;
  deviceChange?: VirtualDeviceConfigSpec[]; changeTrackingEnabled?: boolean;
  extraConfig?: { key: string; value: unknown }[];
  [k: string]: unknown;
};
