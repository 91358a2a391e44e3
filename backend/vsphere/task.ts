// Waiting for vSphere Tasks: a PropertyCollector filter on the task's info plus WaitForUpdatesEx (one
// round-trip per change, no busy polling); falls back to polling with backoff if the endpoint has no
// private collectors. A failed task becomes the typed error of its info.error fault.
import type { VimClient } from './client.ts';
import { localizedFaultToError, TimeoutError, VSphereError } from './faults.ts';
import { PropertyCollector } from './property-collector.ts';
import type { MoRef, TaskInfo } from './types.ts';

export type WaitTaskOptions = {
  /** Called with 0–100 whenever vCenter reports progress. */
  onProgress?: (percent: number, info: Partial<TaskInfo>) => void;
  /** Give up after this long (default 1 h). The task keeps running in vCenter. */
  timeoutMs?: number;
  signal?: AbortSignal;
};

/** Waits for the task to finish; resolves to info.result, rejects with the typed fault. */
export async function waitForTask<T = unknown>(client: VimClient, task: MoRef, opts: WaitTaskOptions = {}): Promise<T> {
  const info = await waitForTaskInfo(client, task, opts);
  if (info.state === 'error') {
    const err = localizedFaultToError(info.error);
    Object.assign(err, { task, taskInfo: info });
    throw err;
  }
  return info.result as T;
}

/** Waits for the task to reach success or error; returns its final TaskInfo. */
export async function waitForTaskInfo(client: VimClient, task: MoRef, opts: WaitTaskOptions = {}): Promise<TaskInfo> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
  let pc: PropertyCollector | undefined;
  try {
    pc = await new PropertyCollector(client).createPrivate();
  } catch {
    return pollTask(client, task, opts, deadline);
  }
  try {
    await pc.createFilter({
      propSet: [{ type: 'Task', all: false, pathSet: ['info'] }],
      objectSet: [{ obj: task, skip: false }],
    });
    let version = '';
    let lastProgress = -1;
    for (;;) {
      opts.signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`task ${task.value}`, opts.timeoutMs ?? 3_600_000);
      const upd = await pc.waitForUpdates(version, Math.max(1, Math.min(60, Math.ceil(left / 1000))));
      if (!upd) continue;
      version = upd.version;
      for (const fs of upd.filterSet ?? []) {
        for (const os of fs.objectSet ?? []) {
          if (os.kind === 'leave') throw new VSphereError('ManagedObjectNotFound', `task ${task.value} disappeared`, 'Check Recent Tasks in vCenter.');
          for (const ch of os.changeSet ?? []) {
            if (ch.name !== 'info' || !ch.val) continue;
            const info = ch.val as TaskInfo;
            if (info.progress !== undefined && info.progress !== lastProgress) {
              lastProgress = info.progress;
              opts.onProgress?.(info.progress, info);
            }
            if (info.state === 'success' || info.state === 'error') {
              if (info.state === 'success' && lastProgress !== 100) opts.onProgress?.(100, info);
              return info;
            }
          }
        }
      }
    }
  } finally {
    await pc.destroy().catch(() => undefined);
  }
}

async function pollTask(client: VimClient, task: MoRef, opts: WaitTaskOptions, deadline: number): Promise<TaskInfo> {
  const pc = new PropertyCollector(client);
  let delay = 100;
  let lastProgress = -1;
  for (;;) {
    opts.signal?.throwIfAborted();
    const { info } = await pc.retrieveOne<{ info: TaskInfo }>(task, ['info']);
    if (info.progress !== undefined && info.progress !== lastProgress) {
      lastProgress = info.progress;
      opts.onProgress?.(info.progress, info);
    }
    if (info.state === 'success' || info.state === 'error') return info;
    if (Date.now() > deadline) throw new TimeoutError(`task ${task.value}`, opts.timeoutMs ?? 3_600_000);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
}

/** Calls a *_Task method and waits for it. */
export async function runTask<T = unknown>(client: VimClient, method: string, args: Record<string, unknown>, opts: WaitTaskOptions = {}): Promise<T> {
  const task = await client.call<MoRef>(method, args);
  return waitForTask<T>(client, task, opts);
}
