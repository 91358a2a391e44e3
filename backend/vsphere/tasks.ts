// vCenter tasks owned by Stillpoint (TaskManager.CreateTask): they show in the vSphere Client's Recent
// Tasks with our progress and description. The taskTypeId must be declared in our extension's taskList.
import type { VimClient } from './client.ts';
import type { LocalizableMessage, MoRef, TaskInfo, TaskInfoState } from './types.ts';

export type CreateVcTaskOptions = {
  /** The entity the task is about (a VM, the datacenter, …). */
  obj: MoRef;
  /** "<extension key>.<task id>", declared in the extension's taskList. */
  taskTypeId: string;
  /** Shown as "Initiator" (user name). */
  initiatedBy?: string;
  cancelable?: boolean;
  parentTaskKey?: string;
};

/** A handle on one vCenter task we created. */
export class VcTask {
  readonly client: VimClient;
  readonly ref: MoRef;
  readonly key: string;
  readonly info: TaskInfo;

  constructor(client: VimClient, info: TaskInfo) {
    this.client = client;
    this.info = info;
    this.ref = info.task;
    this.key = info.key;
  }

  async setState(state: TaskInfoState, opts: { result?: unknown; error?: { message: string; fault?: string } } = {}): Promise<void> {
    const args: Record<string, unknown> = { _this: this.ref, state };
    if (opts.result !== undefined) args.result = typeof opts.result === 'string' ? { _type: 'xsd:string', value: opts.result } : opts.result;
    if (opts.error) {
      args.fault = {
        fault: { _type: opts.error.fault ?? 'SystemError', faultMessage: [{ key: 'com.stillpoint.error', message: opts.error.message }], reason: opts.error.message },
        localizedMessage: opts.error.message,
      };
    }
    await this.client.call('SetTaskState', args);
  }

  running(): Promise<void> {
    return this.setState('running');
  }

  succeed(result?: unknown): Promise<void> {
    return this.setState('success', { result });
  }

  fail(message: string, fault = 'SystemError'): Promise<void> {
    return this.setState('error', { error: { message, fault } });
  }

  async progress(percentDone: number): Promise<void> {
    await this.client.call('UpdateProgress', { _this: this.ref, percentDone: Math.max(0, Math.min(100, Math.round(percentDone))) });
  }

  /** Sets the description line; `key` is a message catalog key (with `message` as the fallback text). */
  async describe(message: string, key = 'com.stillpoint.task.description', args?: { key: string; value: string }[]): Promise<void> {
    const description: LocalizableMessage = { key, message };
    if (args) description.arg = args;
    await this.client.call('SetTaskDescription', { _this: this.ref, description });
  }
}

export class VcTasks {
  readonly client: VimClient;

  constructor(client: VimClient) {
    this.client = client;
  }

  async create(opts: CreateVcTaskOptions): Promise<VcTask> {
    const tm = this.client.serviceContent.taskManager;
    if (!tm) throw new Error('this endpoint has no TaskManager');
    const info = await this.client.call<TaskInfo>('CreateTask', {
      _this: tm, obj: opts.obj, taskTypeId: opts.taskTypeId, initiatedBy: opts.initiatedBy, cancelable: !!opts.cancelable,
      parentTaskKey: opts.parentTaskKey,
    });
    return new VcTask(this.client, info);
  }

  /** Runs `fn` inside a vCenter task: running → progress → success, or error with the thrown message. */
  async track<T>(opts: CreateVcTaskOptions & { description?: string }, fn: (task: VcTask) => Promise<T>): Promise<T> {
    const task = await this.create(opts);
    await task.running();
    if (opts.description) await task.describe(opts.description);
    try {
      const r = await fn(task);
      await task.succeed();
      return r;
    } catch (err) {
      await task.fail((err as Error)?.message ?? String(err)).catch(() => undefined);
      throw err;
    }
  }
}
