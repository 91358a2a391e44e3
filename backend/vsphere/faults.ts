// vSphere faults and connection failures as typed errors. Every error names the fault, carries the
// server's message, and says what to do next (`hint`), so the service can show it to an operator as is.
import type { ManagedObjectReference } from './types.ts';
import { say } from '../common/service-text.ts';

export class VSphereError extends Error {
  /** vim25 fault type name (e.g. "InvalidLogin") or a Stillpoint condition (e.g. "ThumbprintMismatch"). */
  readonly fault: string;
  /** What to do next. */
  readonly hint: string;
  /** The parsed fault object (vim25 fields such as obj, privilegeId, invalidProperty), when there is one. */
  readonly detail: Record<string, unknown> | undefined;

  constructor(fault: string, message: string, hint: string, detail?: Record<string, unknown>, options?: ErrorOptions) {
    super(message ? `${fault}: ${message}` : fault, options);
    this.name = `${fault}Error`;
    this.fault = fault;
    this.hint = hint;
    this.detail = detail;
  }
}

export class InvalidLoginError extends VSphereError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('InvalidLogin', message || 'Cannot complete login due to an incorrect user name or password.',
      say('remedy.invalidLogin'), detail);
  }
}

export class NotAuthenticatedError extends VSphereError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('NotAuthenticated', message || 'The session is not authenticated.',
      say('remedy.notAuthenticated'), detail);
  }
}

export class ManagedObjectNotFoundError extends VSphereError {
  readonly obj: ManagedObjectReference | undefined;
  constructor(message: string, detail?: Record<string, unknown>) {
    const obj = detail?.obj as ManagedObjectReference | undefined;
    super('ManagedObjectNotFound', message || `The object ${obj ? `${obj.type}:${obj.value}` : ''} has already been deleted or has not been completely created`,
      say('remedy.objectNotFound'), detail);
    this.obj = obj;
  }
}

export class ApplicationQuiesceError extends VSphereError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('ApplicationQuiesceFault', message || 'An application in the guest failed to quiesce.',
      say('remedy.applicationQuiesce'), detail);
  }
}

export class TaskInProgressError extends VSphereError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super('TaskInProgress', message || 'Another task is in progress on this object.',
      say('remedy.taskInProgress'), detail);
  }
}

export class InvalidStateError extends VSphereError {
  constructor(fault: string, message: string, detail?: Record<string, unknown>) {
    super(fault, message || 'The operation is not allowed in the current state.',
      fault === 'InvalidPowerState'
        ? say('remedy.invalidPowerState')
        : say('remedy.invalidState'),
      detail);
  }
}

export class FileFaultError extends VSphereError {
  readonly file: string | undefined;
  constructor(fault: string, message: string, detail?: Record<string, unknown>) {
    super(fault, message || `File error ${detail?.file ?? ''}`,
      say('remedy.fileFault'), detail);
    this.file = detail?.file as string | undefined;
  }
}

export class InvalidArgumentError extends VSphereError {
  readonly invalidProperty: string | undefined;
  constructor(fault: string, message: string, detail?: Record<string, unknown>) {
    const prop = detail?.invalidProperty as string | undefined;
    super(fault, message || `A specified parameter was not correct${prop ? `: ${prop}` : ''}`,
      prop ? say('remedy.invalidArgumentNamed', { property: prop }) : say('remedy.invalidArgument'), detail);
    this.invalidProperty = prop;
  }
}

export class NoPermissionError extends VSphereError {
  readonly privilegeId: string | undefined;
  constructor(message: string, detail?: Record<string, unknown>) {
    const priv = detail?.privilegeId as string | undefined;
    super('NoPermission', message || `Permission to perform this operation was denied${priv ? ` (privilege ${priv})` : ''}`,
      priv ? say('remedy.noPermission', { privilege: priv }) : say('remedy.noPermissionRole'), detail);
    this.privilegeId = priv;
  }
}

export class GuestOperationsError extends VSphereError {
  constructor(fault: string, message: string, detail?: Record<string, unknown>) {
    const hint = fault === 'InvalidGuestLogin' || fault === 'GuestPermissionDenied'
      ? say('remedy.guestCredentials')
      : fault === 'GuestOperationsUnavailable' || fault === 'ToolsUnavailable'
        ? say('remedy.toolsNotRunning')
        : say('remedy.guestOperations');
    super(fault, message || 'Guest operation failed', hint, detail);
  }
}

/** A CBT query could not be answered from the given changeId (invalid/reset change tracking). */
export class ChangeTrackingInvalidError extends VSphereError {
  constructor(message: string, detail?: Record<string, unknown>, cause?: unknown) {
    super('ChangeTrackingInvalid', message || 'Changed block tracking data is invalid for this disk',
      say('remedy.cbtInvalid'),
      detail, { cause });
  }
}

export class ThumbprintMismatchError extends VSphereError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, endpoint: string) {
    super('ThumbprintMismatch', `the certificate of ${endpoint} has thumbprint ${actual}, expected ${expected}; nothing was sent`,
      'If the vCenter certificate was renewed on purpose, confirm the new thumbprint and update the connection; otherwise someone may be intercepting the connection.',
      { expected, actual, endpoint });
    this.expected = expected;
    this.actual = actual;
  }
}

export class VCenterUnreachableError extends VSphereError {
  readonly url: string;
  readonly code: string | undefined;
  constructor(url: string, cause: unknown) {
    const code = (cause as { code?: string })?.code;
    const why = code === 'ECONNREFUSED' ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host name not found'
        : code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'TIMEOUT' ? 'timed out'
          : code === 'ECONNRESET' ? 'connection reset' : (cause as Error)?.message ?? String(cause);
    super('VCenterUnreachable', `vCenter unreachable at ${url} (${why})`,
      say('remedy.vcenterUnreachable'),
      { url, code }, { cause });
    this.url = url;
    this.code = code;
  }
}

export class TimeoutError extends VSphereError {
  constructor(what: string, ms: number) {
    super('Timeout', `${what} did not finish within ${Math.round(ms / 1000)} s`,
      say('remedy.timeout'));
  }
}

/** Any other vSphere fault. */
export class VSphereFault extends VSphereError {}

const HINT_GENERIC = say('remedy.generic');

/**
 * Builds the typed error for a vim25 fault. `fault` is the type name (xsi:type of the detail / MethodFault),
 * `detail` the parsed fault object (its fields), `message` the faultstring or localizedMessage.
 */
export function faultToError(fault: string, message: string, detail?: Record<string, unknown>): VSphereError {
  switch (fault) {
    case 'InvalidLogin':
      return new InvalidLoginError(message, detail);
    case 'NotAuthenticated':
      return new NotAuthenticatedError(message, detail);
    case 'ManagedObjectNotFound':
      return new ManagedObjectNotFoundError(message, detail);
    case 'ApplicationQuiesceFault':
      return new ApplicationQuiesceError(message, detail);
    case 'TaskInProgress':
      return new TaskInProgressError(message, detail);
    case 'InvalidState': case 'InvalidPowerState': case 'InvalidHostState': case 'InvalidHostConnectionState':
    case 'SnapshotLocked': case 'ConcurrentAccess':
      return new InvalidStateError(fault, message, detail);
    case 'FileFault': case 'FileNotFound': case 'FileAlreadyExists': case 'CannotAccessFile': case 'FileLocked':
    case 'CannotCreateFile': case 'NoDiskSpace': case 'CannotDeleteFile': case 'FileTooLarge':
      return new FileFaultError(fault, message, detail);
    case 'InvalidArgument': case 'InvalidRequest': case 'InvalidType': case 'InvalidProperty': case 'InvalidName':
    case 'InvalidDeviceSpec': case 'InvalidDatastorePath': case 'InvalidController': case 'OutOfBounds':
      return new InvalidArgumentError(fault, message, detail);
    case 'NoPermission':
      return new NoPermissionError(message, detail);
    case 'InvalidGuestLogin': case 'GuestPermissionDenied': case 'GuestOperationsUnavailable': case 'GuestOperationsFault':
    case 'GuestComponentsOutOfDate': case 'GuestProcessNotFound': case 'OperationDisabledByGuest':
    case 'OperationNotSupportedByGuest': case 'TooManyGuestLogons': case 'ToolsUnavailable':
    case 'GuestAuthenticationChallenge':
      return new GuestOperationsError(fault, message, detail);
    case 'MethodNotFound': case 'NotSupported': case 'NotImplemented':
      return new VSphereFault(fault, message || fault,
        `This vCenter/ESXi version does not offer ${String(detail?.method ?? 'this operation')} (e.g. CreateSnapshotEx_Task needs vSphere 7.0+): ` +
        'upgrade, or choose the option that does not need it (plain quiesced snapshot).', detail);
    default:
      return new VSphereFault(fault, message || fault, HINT_GENERIC, detail);
  }
}

/** Turns a LocalizedMethodFault (TaskInfo.error, PropertyCollector missingSet) into a typed error. */
export function localizedFaultToError(lmf: { fault?: Record<string, unknown>; localizedMessage?: string } | undefined): VSphereError {
  const f = lmf?.fault ?? {};
  const type = (f._type as string | undefined) ?? 'MethodFault';
  // A fault type the built-in WSDL subset does not describe parses with a single faultMessage as an object, not a list.
  const msgs = ([] as { message?: string }[]).concat((f.faultMessage as { message?: string }[] | { message?: string } | undefined) ?? []).map((m) => m.message).filter(Boolean);
  const message = lmf?.localizedMessage || msgs.join('; ') || '';
  return faultToError(type, message, f);
}
