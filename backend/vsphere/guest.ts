// Guest operations through VMware Tools: run a program (StartProgramInGuest, then poll
// ListProcessesInGuest until it exits, bounded by a timeout), upload files (InitiateFileTransferToGuest
// + HTTPS PUT, from a buffer or streamed, with the guest family's file attributes), list a guest folder
// (ListFilesInGuest), make folders (MakeDirectoryInGuest) and set attributes (ChangeFileAttributesInGuest).
// Guest passwords are never logged.
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { childLog } from '../common/log.ts';
import { TimeoutError, VCenterUnreachableError, VSphereError } from './faults.ts';
import { ApiWrapper } from './property-collector.ts';
import { PinnedAgent } from './tls.ts';
import type { MoRef } from './types.ts';

const log = childLog('vsphere.guest');

export type GuestCredentials = { username: string; password: string };

export type GuestProgram = {
  programPath: string;
  arguments?: string;
  workingDirectory?: string;
  /** "NAME=value" entries. */
  envVariables?: string[];
};

export type GuestProcessInfo = { name: string; pid: number; owner: string; cmdLine: string; startTime: Date; endTime?: Date; exitCode?: number };

export type RunResult = { pid: number; exitCode: number; startTime: Date; endTime?: Date; durationMs: number };

export type RunOptions = {
  /** Kill the program and fail after this long (default 5 min). */
  timeoutMs?: number;
  /** First poll interval; doubles up to 2 s. */
  pollMs?: number;
  signal?: AbortSignal;
};

/**
 * File attributes as the guest API carries them: 'posix' (GuestPosixFileAttributes: permissions,
 * owner and group ids) for Linux and other Unix guests, 'windows' (GuestWindowsFileAttributes:
 * hidden, read-only, creation time) for Windows guests; both carry modification and access times.
 * A guest refuses the other family's kind; 'plain' carries the times only.
 */
export type GuestFileAttributes = {
  kind: 'posix' | 'windows' | 'plain';
  modificationTime?: Date;
  accessTime?: Date;
  permissions?: number;
  ownerId?: number;
  groupId?: number;
  hidden?: boolean;
  readOnly?: boolean;
  createTime?: Date;
};

/** One entry of a guest folder listing ('.' and '..' included, as the guest reports them). */
export type GuestFileInfo = { path: string; type: 'file' | 'directory' | 'symlink' | string; size: number; attributes?: GuestFileAttributes };

export type GuestUploadOptions = {
  /** Replace an existing file (else the guest refuses with FileAlreadyExists). Default true. */
  overwrite?: boolean;
  attributes?: GuestFileAttributes;
  signal?: AbortSignal;
};

function attributesToVim(a: GuestFileAttributes | undefined): Record<string, unknown> {
  if (!a) return { _type: 'GuestFileAttributes' };
  const times = { modificationTime: a.modificationTime, accessTime: a.accessTime };
  if (a.kind === 'posix') return { _type: 'GuestPosixFileAttributes', ...times, ownerId: a.ownerId, groupId: a.groupId, permissions: a.permissions };
  if (a.kind === 'windows') return { _type: 'GuestWindowsFileAttributes', ...times, hidden: a.hidden, readOnly: a.readOnly, createTime: a.createTime };
  return { _type: 'GuestFileAttributes', ...times };
}

function attributesFromVim(v: Record<string, unknown> | undefined): GuestFileAttributes | undefined {
  if (!v) return undefined;
  const t = String(v._type ?? '');
  const kind = t === 'GuestPosixFileAttributes' ? 'posix' : t === 'GuestWindowsFileAttributes' ? 'windows' : 'plain';
  const out: GuestFileAttributes = { kind };
  for (const k of ['modificationTime', 'accessTime', 'createTime'] as const) if (v[k] instanceof Date) out[k] = v[k];
  for (const k of ['permissions', 'ownerId', 'groupId'] as const) if (v[k] !== undefined) out[k] = Number(v[k]);
  for (const k of ['hidden', 'readOnly'] as const) if (typeof v[k] === 'boolean') out[k] = v[k];
  return out;
}

function auth(c: GuestCredentials): Record<string, unknown> {
  return { _type: 'NamePasswordAuthentication', interactiveSession: false, username: c.username, password: c.password };
}

export class GuestOperations extends ApiWrapper {
  #managers: Promise<{ processManager: MoRef; fileManager: MoRef }> | undefined;

  managers(): Promise<{ processManager: MoRef; fileManager: MoRef }> {
    this.#managers ??= (async () => {
      const gom = this.client.serviceContent.guestOperationsManager;
      if (!gom) throw new VSphereError('NotSupported', 'this endpoint has no GuestOperationsManager', 'Guest operations need vSphere 5.0+.');
      const p = await this.pc.retrieveOne<{ processManager: MoRef; fileManager: MoRef }>(gom, ['processManager', 'fileManager']);
      return p;
    })();
    this.#managers.catch(() => { this.#managers = undefined; });
    return this.#managers;
  }

  /** Starts a program; returns its pid. */
  async startProgram(vm: MoRef, creds: GuestCredentials, program: GuestProgram): Promise<number> {
    const { processManager } = await this.managers();
    const pid = await this.client.call<number>('StartProgramInGuest', {
      _this: processManager, vm, auth: auth(creds),
      spec: {
        programPath: program.programPath, arguments: program.arguments ?? '', workingDirectory: program.workingDirectory,
        envVariables: program.envVariables,
      },
    });
    log.info({ vm: vm.value, program: program.programPath, pid }, 'started guest program');
    return Number(pid);
  }

  async listProcesses(vm: MoRef, creds: GuestCredentials, pids?: number[]): Promise<GuestProcessInfo[]> {
    const { processManager } = await this.managers();
    const r = await this.client.call<GuestProcessInfo[] | undefined>('ListProcessesInGuest', {
      _this: processManager, vm, auth: auth(creds), pids,
    });
    return (r ?? []).map((p) => ({ ...p, pid: Number(p.pid) }));
  }

  async terminate(vm: MoRef, creds: GuestCredentials, pid: number): Promise<void> {
    const { processManager } = await this.managers();
    await this.client.call('TerminateProcessInGuest', { _this: processManager, vm, auth: auth(creds), pid });
  }

  /** Runs a program to completion: start, poll until exitCode/endTime, kill on timeout. */
  async run(vm: MoRef, creds: GuestCredentials, program: GuestProgram, opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const t0 = Date.now();
    const pid = await this.startProgram(vm, creds, program);
    let delay = opts.pollMs ?? 200;
    for (;;) {
      opts.signal?.throwIfAborted();
      const [p] = await this.listProcesses(vm, creds, [pid]);
      if (p?.endTime) {
        // vSphere sets endTime and exitCode together when the process exits (and keeps them ~5 min).
        return { pid, exitCode: Number(p.exitCode ?? 0), startTime: p.startTime, endTime: p.endTime, durationMs: Date.now() - t0 };
      }
      if (Date.now() - t0 > timeoutMs) {
        await this.terminate(vm, creds, pid).catch(() => undefined);
        throw new TimeoutError(`guest program ${program.programPath} (pid ${pid})`, timeoutMs);
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(10, timeoutMs - (Date.now() - t0)))));
      delay = Math.min(delay * 2, 2000);
    }
  }

  /** Uploads bytes to a file in the guest (InitiateFileTransferToGuest + PUT). */
  async upload(vm: MoRef, creds: GuestCredentials, guestPath: string, data: Buffer, opts: { overwrite?: boolean; posixPermissions?: number; windows?: boolean } = {}): Promise<void> {
    const attributes: GuestFileAttributes | undefined = opts.windows ? { kind: 'windows' }
      : opts.posixPermissions !== undefined ? { kind: 'posix', permissions: opts.posixPermissions } : undefined;
    await this.uploadStream(vm, creds, guestPath, data, data.length, { overwrite: opts.overwrite ?? true, ...(attributes ? { attributes } : {}) });
  }

  /**
   * Uploads `size` bytes (a buffer, or a stream that must yield exactly that many; a function is
   * called for the stream only once the guest has accepted the transfer) to a file in the guest,
   * applying `attributes` once it has arrived. FileAlreadyExists (FileFaultError) when the file exists
   * and `overwrite` is false.
   */
  async uploadStream(vm: MoRef, creds: GuestCredentials, guestPath: string, data: Buffer | Readable | (() => Promise<Readable>), size: number,
    opts: GuestUploadOptions = {}): Promise<void> {
    const { fileManager } = await this.managers();
    const url = await this.client.call<string>('InitiateFileTransferToGuest', {
      _this: fileManager, vm, auth: auth(creds), guestFilePath: guestPath, fileAttributes: attributesToVim(opts.attributes), fileSize: size,
      overwrite: opts.overwrite ?? true,
    });
    await this.#put(vm, url, typeof data === 'function' ? await data() : data, size, opts.signal);
  }

  /** One page of a guest folder listing (or the one file a path names); FileFaultError FileNotFound if it does not exist. */
  async listFiles(vm: MoRef, creds: GuestCredentials, path: string, opts: { matchPattern?: string; index?: number; maxResults?: number } = {}): Promise<{ files: GuestFileInfo[]; remaining: number }> {
    const { fileManager } = await this.managers();
    const r = await this.client.call<{ files?: Record<string, unknown>[]; remaining?: number } | undefined>('ListFilesInGuest', {
      _this: fileManager, vm, auth: auth(creds), filePath: path, index: opts.index, maxResults: opts.maxResults, matchPattern: opts.matchPattern,
    });
    const files = (r?.files ?? []).map((f) => {
      const attributes = attributesFromVim(f.attributes as Record<string, unknown> | undefined);
      return { path: String(f.path), type: String(f.type), size: Number(f.size ?? 0), ...(attributes ? { attributes } : {}) };
    });
    return { files, remaining: Number(r?.remaining ?? 0) };
  }

  /** A whole listing, page by page (bounded: at most `limit` entries). */
  async listAllFiles(vm: MoRef, creds: GuestCredentials, path: string, opts: { matchPattern?: string; limit?: number } = {}): Promise<GuestFileInfo[]> {
    const limit = opts.limit ?? 100_000;
    const out: GuestFileInfo[] = [];
    for (;;) {
      const page = await this.listFiles(vm, creds, path, { index: out.length, maxResults: 1000, ...(opts.matchPattern ? { matchPattern: opts.matchPattern } : {}) });
      out.push(...page.files);
      if (page.remaining <= 0 || page.files.length === 0 || out.length >= limit) return out;
    }
  }

  /** Sets the given attributes of a file or folder in the guest (the others stay); FileNotFound if nothing is there. */
  async changeAttributes(vm: MoRef, creds: GuestCredentials, path: string, attributes: GuestFileAttributes): Promise<void> {
    const { fileManager } = await this.managers();
    await this.client.call('ChangeFileAttributesInGuest', { _this: fileManager, vm, auth: auth(creds), guestFilePath: path, fileAttributes: attributesToVim(attributes) });
  }

  /** Makes a folder in the guest (and its missing parents when asked); FileAlreadyExists if it exists. */
  async makeDirectory(vm: MoRef, creds: GuestCredentials, path: string, createParents: boolean): Promise<void> {
    const { fileManager } = await this.managers();
    await this.client.call('MakeDirectoryInGuest', { _this: fileManager, vm, auth: auth(creds), directoryPath: path, createParentDirectories: createParents });
    log.info({ vm: vm.value, path }, 'made a guest folder');
  }

  async #put(vm: MoRef, rawUrl: string, data: Buffer | Readable, size: number, signal?: AbortSignal): Promise<void> {
    const vc = new URL(this.client.baseUrl);
    const u = new URL(rawUrl.replace('://*', `://${vc.host}`));
    let agent = this.client.agent;
    if (u.host !== vc.host) {
      // The URL points at the ESXi host running the VM: pin its certificate to what vCenter knows of it.
      const { 'runtime.host': host } = await this.pc.retrieveOne<{ 'runtime.host'?: MoRef }>(vm, ['runtime.host']);
      const tp = host && (await this.pc.retrieveOne<{ 'summary.config.sslThumbprint'?: string }>(host, ['summary.config.sslThumbprint']))['summary.config.sslThumbprint'];
      agent = new PinnedAgent(tp ? { thumbprint: tp, maxSockets: 1 } : { maxSockets: 1 });
    }
    await new Promise<void>((resolve, reject) => {
      const req = httpsRequest(u, { method: 'PUT', agent, ...(signal ? { signal } : {}), headers: { 'Content-Length': size, 'Content-Type': 'application/octet-stream' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve()
          : reject(new VSphereError('GuestFileTransferFailed', `upload to the guest failed: HTTP ${res.statusCode}`, 'Check VMware Tools and the guest path.'))));
      });
      req.on('error', (err) => reject(err instanceof VSphereError || signal?.aborted ? err : new VCenterUnreachableError(u.origin, err)));
      if (Buffer.isBuffer(data)) { req.end(data); return; }
      data.on('error', (err) => { req.destroy(err); reject(err); });
      data.pipe(req);
    });
  }
}
