// Guest operations through VMware Tools: run a program (StartProgramInGuest, then poll
// ListProcessesInGuest until it exits, bounded by a timeout) and upload files (InitiateFileTransferToGuest
// + HTTPS PUT). Guest passwords are never logged.
import { request as httpsRequest } from 'node:https';
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
    const { fileManager } = await this.managers();
    const fileAttributes = opts.windows
      ? { _type: 'GuestWindowsFileAttributes' }
      : opts.posixPermissions !== undefined
        ? { _type: 'GuestPosixFileAttributes', permissions: opts.posixPermissions }
        : { _type: 'GuestFileAttributes' };
    const url = await this.client.call<string>('InitiateFileTransferToGuest', {
      _this: fileManager, vm, auth: auth(creds), guestFilePath: guestPath, fileAttributes, fileSize: data.length,
      overwrite: opts.overwrite ?? true,
    });
    await this.#put(vm, url, data);
  }

  async #put(vm: MoRef, rawUrl: string, data: Buffer): Promise<void> {
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
      const req = httpsRequest(u, { method: 'PUT', agent, headers: { 'Content-Length': data.length, 'Content-Type': 'application/octet-stream' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve()
          : reject(new VSphereError('GuestFileTransferFailed', `upload to the guest failed: HTTP ${res.statusCode}`, 'Check VMware Tools and the guest path.'))));
      });
      req.on('error', (err) => reject(err instanceof VSphereError ? err : new VCenterUnreachableError(u.origin, err)));
      req.end(data);
    });
  }
}
