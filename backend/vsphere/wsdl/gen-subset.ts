// Regenerates vim.wsdl (the vim25 subset Stillpoint uses) from a list of operations and types.
// Like vCenter's, vim.wsdl holds types, messages, port type and binding; vimService.wsdl (hand-written)
// imports it and declares the service.
//
// The vim25 type shapes (names, field order, optionality, inheritance) are read from a vim25 type
// catalogue — by default govmomi's generated `vim25/types/types.go`, which mirrors the vSphere API
// reference one-to-one — and written out as XML Schema + WSDL 1.1 (document/literal), the same shape
// vCenter serves at /sdk/vimService.wsdl. Only the closure of the listed operations and root types is
// emitted, plus the listed subclasses (xsi:type polymorphism): unknown subclasses still parse, as
// their base type.
//
// Usage: node backend/vsphere/wsdl/gen-subset.ts [path/to/types.go]
// The output is committed; the product never reads types.go at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const typesGo = process.argv[2] ?? '/usr/share/gocode/src/github.com/vmware/govmomi/vim25/types/types.go';

/** Operations (request element name). */
export const OPERATIONS = [
  // session / service
  'RetrieveServiceContent', 'Login', 'LoginByToken', 'Logout', 'SessionIsActive', 'CurrentTime', 'AcquireCloneTicket',
  'CloneSession', 'AcquireGenericServiceTicket',
  // property collector / views
  'RetrievePropertiesEx', 'ContinueRetrievePropertiesEx', 'CancelRetrievePropertiesEx', 'CreateFilter',
  'DestroyPropertyFilter', 'WaitForUpdatesEx', 'CancelWaitForUpdates', 'CreatePropertyCollector', 'DestroyPropertyCollector',
  'CreateContainerView', 'DestroyView',
  // snapshots / vm
  'CreateSnapshot_Task', 'CreateSnapshotEx_Task', 'RemoveSnapshot_Task', 'RevertToSnapshot_Task', 'RemoveAllSnapshots_Task',
  'ConsolidateVMDisks_Task', 'QueryChangedDiskAreas', 'ReconfigVM_Task', 'CreateVM_Task', 'PowerOnVM_Task',
  'PowerOffVM_Task', 'ShutdownGuest', 'Destroy_Task', 'UnregisterVM', 'FindByUuid', 'FindByInventoryPath', 'RenameSnapshot',
  // files
  'MakeDirectory', 'DeleteDatastoreFile_Task',
  // guest
  'StartProgramInGuest', 'ListProcessesInGuest', 'InitiateFileTransferToGuest', 'InitiateFileTransferFromGuest',
  'TerminateProcessInGuest', 'ListFilesInGuest', 'MakeDirectoryInGuest', 'ChangeFileAttributesInGuest',
  // tasks, events, fields, extensions
  'CreateTask', 'SetTaskState', 'UpdateProgress', 'SetTaskDescription', 'CancelTask', 'LogUserEvent', 'QueryEvents',
  'AddCustomFieldDef', 'RemoveCustomFieldDef', 'SetField', 'RegisterExtension', 'UpdateExtension', 'FindExtension',
  'UnregisterExtension',
  // authorization (the user's own privileges)
  'HasPrivilegeOnEntities', 'FetchUserPrivilegeOnEntities',
  'PostEvent', 'CreateAlarm', 'GetAlarm', 'ReconfigureAlarm', 'RemoveAlarm', 'GetAlarmState', 'AcknowledgeAlarm',
];

/** Types read as property values or polymorphic members that no operation signature reaches. */
const ROOTS = [
  'ServiceContent', 'UserSession', 'RetrieveResult', 'UpdateSet', 'TraversalSpec', 'VirtualMachineSnapshotInfo',
  'VirtualMachineConfigInfo', 'VirtualMachineRuntimeInfo', 'GuestInfo', 'VirtualMachineSummary', 'TaskInfo',
  'DatastoreSummary', 'DatastoreInfo', 'HostRuntimeInfo', 'VirtualMachineWindowsQuiesceSpec', 'NamePasswordAuthentication',
  'CustomFieldStringValue', 'CustomFieldDef', 'Extension', 'DiskChangeInfo', 'GuestProcessInfo', 'FileTransferInformation',
  'HostServiceTicket', 'SessionManagerHttpServiceRequestSpec', 'VirtualMachineFileLayoutEx', 'HostListSummary',
  'ClusterComputeResourceSummary', 'ComputeResourceSummary', 'DatastoreHostMount', 'OptionValue', 'VirtualMachineSnapshotTree',
  'TaskReasonUser', 'TaskReasonSystem', 'TaskReasonSchedule', 'TaskReasonAlarm', 'GeneralUserEvent', 'TaskEvent',
  'LocalizableMessage', 'KeyAnyValue', 'MissingObject', 'MissingProperty', 'VirtualMachineConfigSpec',
  'VirtualDeviceConfigSpec', 'VirtualMachineFileInfo', 'ResourceAllocationInfo',
  'VmfsDatastoreInfo', 'NasDatastoreInfo', 'LocalDatastoreInfo',
  'GuestPosixFileAttributes', 'GuestWindowsFileAttributes', 'GuestListFileInfo',
  // devices and backings
  'VirtualDisk', 'VirtualDiskFlatVer2BackingInfo', 'VirtualDiskSparseVer2BackingInfo', 'VirtualDiskSeSparseBackingInfo',
  'VirtualDiskRawDiskMappingVer1BackingInfo', 'VirtualDiskFlatVer1BackingInfo', 'VirtualDiskSparseVer1BackingInfo',
  'VirtualLsiLogicController', 'VirtualLsiLogicSASController', 'ParaVirtualSCSIController', 'VirtualBusLogicController',
  'VirtualIDEController', 'VirtualAHCIController', 'VirtualNVMEController', 'VirtualPCIController', 'VirtualPS2Controller',
  'VirtualSIOController', 'VirtualUSBController', 'VirtualCdrom', 'VirtualCdromIsoBackingInfo',
  'VirtualCdromRemotePassthroughBackingInfo', 'VirtualCdromAtapiBackingInfo', 'VirtualFloppy', 'VirtualKeyboard',
  'VirtualPointingDevice', 'VirtualMachineVideoCard', 'VirtualMachineVMCIDevice',
  'VirtualVmxnet3', 'VirtualE1000', 'VirtualE1000e', 'VirtualPCNet32', 'VirtualVmxnet2',
  'VirtualEthernetCardNetworkBackingInfo', 'VirtualEthernetCardDistributedVirtualPortBackingInfo',
  'VirtualEthernetCardOpaqueNetworkBackingInfo', 'VirtualDeviceFileBackingInfo', 'VirtualDeviceConnectInfo',
  // faults (detail elements and LocalizedMethodFault.fault)
  'InvalidLogin', 'NotAuthenticated', 'ManagedObjectNotFound', 'ApplicationQuiesceFault', 'TaskInProgress', 'InvalidState',
  'InvalidPowerState', 'FileFault', 'FileNotFound', 'FileAlreadyExists', 'CannotAccessFile', 'InvalidArgument',
  'NoPermission', 'NotSupported', 'NotImplemented', 'RequestCanceled', 'InvalidRequest', 'InvalidType',
  'InvalidProperty', 'InvalidCollectorVersion', 'InvalidName', 'DuplicateName', 'AlreadyExists', 'NotFound',
  'SystemError', 'RuntimeFault', 'HostCommunication', 'HostNotConnected', 'InvalidDeviceSpec', 'SnapshotFault',
  'TooManySnapshotLevels', 'InvalidSnapshotFormat', 'SnapshotDisabled', 'SnapshotLocked', 'InvalidVmConfig',
  'GuestOperationsFault', 'GuestOperationsUnavailable', 'GuestComponentsOutOfDate', 'InvalidGuestLogin',
  'GuestPermissionDenied', 'GuestProcessNotFound', 'GuestAuthenticationChallenge', 'OperationDisabledByGuest',
  'OperationNotSupportedByGuest', 'TooManyGuestLogons', 'QuiesceDatastoreIOForHAFailed', 'SecurityError',
  'InvalidLocale', 'NotAuthenticated', 'OutOfBounds', 'Timedout', 'ConcurrentAccess', 'InvalidDatastore',
  'InvalidDatastorePath', 'ToolsUnavailable', 'VmConfigFault', 'VimFault', 'MethodFault', 'HostConfigFault',
  'InvalidController', 'FileLocked', 'CannotCreateFile', 'NoDiskSpace', 'ManagedObjectNotFound',
  'EventEx', 'AlarmInfo', 'AlarmState', 'AlarmStatusChangedEvent', 'EventAlarmExpression', 'OrAlarmExpression',
  'AlarmTriggeringAction', 'AlarmSetting',
];

/** Hand-written: types govmomi models specially. */
const BUILTIN = new Set(['ManagedObjectReference', 'AnyType', 'DynamicData']);

type Field = { name: string; type: string; min0: boolean; many: boolean };
type Struct = { name: string; base?: string; fields: Field[] };

const src = readFileSync(typesGo, 'utf8');
const structs = new Map<string, Struct>();
const aliases = new Map<string, string>(); // CreateSnapshot_Task -> CreateSnapshotRequestType
const enums = new Set<string>();

const enumSrc = readFileSync(join(dirname(typesGo), 'enum.go'), 'utf8');
for (const m of (src + enumSrc).matchAll(/^type (\w+) (string|int32)$/gm)) enums.add(m[1]!);
for (const m of src.matchAll(/^type (\w+) (\w+)$/gm)) if (!enums.has(m[1]!)) aliases.set(m[1]!, m[2]!);
for (const m of src.matchAll(/^type (\w+) struct \{\n([\s\S]*?)^\}/gm)) {
  const name = m[1]!;
  const s: Struct = { name, fields: [] };
  for (const line of m[2]!.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const emb = /^(\w+)$/.exec(t);
    if (emb) {
      if (emb[1] !== 'DynamicData') s.base = emb[1];
      else s.base = 'DynamicData';
      continue;
    }
    const f = /^(\w+)\s+(\S+)\s+`xml:"([^"]*)"`/.exec(t);
    if (!f) continue;
    const [xmlName, ...flags] = f[3]!.split(',');
    if (flags.includes('attr') || xmlName === '' || xmlName === '-') continue;
    let gt = f[2]!;
    let min0 = flags.includes('omitempty');
    let many = false;
    if (gt.startsWith('[]') && gt !== '[]byte') { many = true; min0 = true; gt = gt.slice(2); }
    if (gt.startsWith('*')) { min0 = true; gt = gt.slice(1); }
    s.fields.push({ name: xmlName!, type: gt, min0, many });
  }
  structs.set(name, s);
}
// Structs with no base in govmomi but a base in the API: MethodFault has none; DynamicData-derived ones say so.

const PRIM: Record<string, string> = {
  string: 'xsd:string', int32: 'xsd:int', int64: 'xsd:long', int16: 'xsd:short', int8: 'xsd:byte', byte: 'xsd:byte',
  bool: 'xsd:boolean', float32: 'xsd:float', float64: 'xsd:double', 'time.Time': 'xsd:dateTime', '[]byte': 'xsd:base64Binary',
  AnyType: 'xsd:anyType', ManagedObjectReference: 'vim25:ManagedObjectReference', DynamicData: 'vim25:DynamicData',
};

function typeRef(gt: string): { xsd: string; struct?: string } {
  if (PRIM[gt]) return { xsd: PRIM[gt]! };
  if (enums.has(gt)) return { xsd: 'xsd:string' };
  let n = gt.startsWith('Base') && structs.has(gt.slice(4)) ? gt.slice(4) : gt;
  if (!structs.has(n) && aliases.has(n)) n = aliases.get(n)!;
  if (structs.has(n)) return { xsd: `vim25:${n}`, struct: n };
  if (enums.has(n)) return { xsd: 'xsd:string' };
  throw new Error(`unknown Go type ${gt}`);
}

const included = new Set<string>();
function include(name: string): void {
  if (BUILTIN.has(name) || included.has(name)) return;
  const s = structs.get(name);
  if (!s) throw new Error(`no struct ${name}`);
  included.add(name);
  if (s.base && s.base !== 'DynamicData') include(s.base);
  for (const f of s.fields) {
    const r = typeRef(f.type);
    if (r.struct) include(r.struct);
  }
}

type Op = { name: string; req: string; res?: string };
const ops: Op[] = [];
for (const op of OPERATIONS) {
  let req = aliases.get(op);
  if (!req) throw new Error(`no request type for ${op}`);
  include(req);
  const res = structs.has(`${op}Response`) ? `${op}Response` : undefined;
  if (res) include(res);
  ops.push({ name: op, req, res });
}
for (const r of ROOTS) include(r);
// Every ArrayOfX whose X is included (property values arrive as ArrayOfX).
for (const [name, s] of structs) {
  if (!name.startsWith('ArrayOf')) continue;
  const inner = name.slice(7);
  const ok = ['String', 'Int', 'Long', 'Boolean', 'Short', 'Byte', 'Double', 'Float', 'DateTime', 'AnyType',
    'ManagedObjectReference'].includes(inner) || included.has(inner);
  if (ok) { included.add(name); for (const f of s.fields) { const r = typeRef(f.type); if (r.struct) include(r.struct); } }
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const out: string[] = [];
out.push('<?xml version="1.0" encoding="UTF-8"?>');
out.push('<!-- Generated by gen-subset.ts: the vim25 subset Stillpoint uses (document/literal, namespace urn:vim25). -->');
out.push('<definitions targetNamespace="urn:vim25" xmlns="http://schemas.xmlsoap.org/wsdl/" ' +
  'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:vim25="urn:vim25" xmlns:xsd="http://www.w3.org/2001/XMLSchema">');
out.push(' <types>');
out.push('  <schema targetNamespace="urn:vim25" xmlns="http://www.w3.org/2001/XMLSchema" xmlns:vim25="urn:vim25" ' +
  'xmlns:xsd="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">');
out.push('   <complexType name="ManagedObjectReference"><simpleContent><extension base="xsd:string">' +
  '<attribute name="type" type="xsd:string"/></extension></simpleContent></complexType>');
out.push('   <complexType name="DynamicData"><sequence><element name="dynamicType" type="xsd:string" minOccurs="0"/>' +
  '<element name="dynamicProperty" type="vim25:DynamicProperty" minOccurs="0" maxOccurs="unbounded"/></sequence></complexType>');
include('DynamicProperty');
const sorted = [...included].sort();
for (const name of sorted) {
  const s = structs.get(name)!;
  const els = s.fields.map((f) => {
    const r = typeRef(f.type);
    return `<element name="${esc(f.name)}" type="${r.xsd}"${f.min0 ? ' minOccurs="0"' : ''}${f.many ? ' maxOccurs="unbounded"' : ''}/>`;
  }).join('');
  if (s.base) {
    out.push(`   <complexType name="${name}"><complexContent><extension base="vim25:${s.base}"><sequence>${els}</sequence>` +
      '</extension></complexContent></complexType>');
  } else {
    out.push(`   <complexType name="${name}"><sequence>${els}</sequence></complexType>`);
  }
}
// Request/response elements and fault detail elements.
for (const op of ops) {
  out.push(`   <element name="${op.name}" type="vim25:${op.req}"/>`);
  out.push(op.res
    ? `   <element name="${op.name}Response" type="vim25:${op.res}"/>`
    : `   <element name="${op.name}Response"><complexType/></element>`);
}
for (const name of sorted) {
  if (aliases.get(`${name}Fault`) === name) out.push(`   <element name="${name}Fault" type="vim25:${name}"/>`);
}
out.push('  </schema>');
out.push(' </types>');
for (const op of ops) {
  out.push(` <message name="${op.name}RequestMsg"><part name="parameters" element="vim25:${op.name}"/></message>`);
  out.push(` <message name="${op.name}ResponseMsg"><part name="parameters" element="vim25:${op.name}Response"/></message>`);
}
out.push(' <message name="RuntimeFaultFaultMsg"><part name="fault" element="vim25:RuntimeFaultFault"/></message>');
out.push(' <portType name="VimPortType">');
for (const op of ops) {
  out.push(`  <operation name="${op.name}"><input message="vim25:${op.name}RequestMsg"/>` +
    `<output message="vim25:${op.name}ResponseMsg"/><fault name="RuntimeFault" message="vim25:RuntimeFaultFaultMsg"/></operation>`);
}
out.push(' </portType>');
out.push(' <binding name="VimBinding" type="vim25:VimPortType"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>');
for (const op of ops) {
  out.push(`  <operation name="${op.name}"><soap:operation soapAction="urn:vim25/7.0"/><input><soap:body use="literal"/></input>` +
    '<output><soap:body use="literal"/></output><fault name="RuntimeFault"><soap:fault name="RuntimeFault" use="literal"/></fault></operation>');
}
out.push(' </binding>');
out.push('</definitions>');
writeFileSync(join(here, 'vim.wsdl'), out.join('\n') + '\n');
console.log(`vim.wsdl: ${ops.length} operations, ${included.size} types`);
