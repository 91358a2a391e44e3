// The run state machine, without a lab: a kind registered with the runner processes VMs; the runner
// owns statuses (queued → running → success/warning/failed/cancelled), concurrency, cancel, history,
// events and what a crash leaves behind. The kind here is the runner's own extension point driven by
// the test, not a stand-in for vSphere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobRunner } from '../../backend/jobs/runner.ts';
import { JobStore } from '../../backend/jobs/store.ts';
import type { VmContext, VmKind, VmOutcome } from '../../backend/jobs/kinds.ts';
import { SecretBox } from '../../backend/common/secrets.ts';
import type { Run } from '../../backend/model/job.ts';
import { until } from '../helpers/wait.ts';

/** A kind whose VMs finish when the test says so (or at once with a preset outcome). */
class Steered implements VmKind<Record<string, never>> {
  readonly kind = 'backup' as const;
  readonly waiting = new Map<string, { ctx: VmContext<Record<string, never>>; finish: (o: VmOutcome | Error) => void }>();
  maxInFlight = 0;
  refuse?: Error;
  async admit(): Promise<void> { if (this.refuse) throw this.refuse; }
  processVm(ctx: VmContext<Record<string, never>>): Promise<VmOutcome> {
    return new Promise((resolve, reject) => {
      ctx.progress({ phase: 'working', percent: 10 });
      const finish = (o: VmOutcome | Error) => { this.waiting.delete(ctx.vmId); if (o instanceof Error) reject(o); else resolve(o); };
      this.waiting.set(ctx.vmId, { ctx, finish });
      this.maxInFlight = Math.max(this.maxInFlight, this.waiting.size);
      ctx.signal.addEventListener('abort', () => finish(ctx.signal.reason as Error), { once: true });
    });
  }
}

const ok = (status: 'success' | 'warning' = 'success'): VmOutcome => ({ status, message: status, bytesRead: 1, bytesStored: 1, warnings: status === 'warning' ? ['w'] : [] });

function setup(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'sp-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new JobStore(dir, SecretBox.forDataDir(dir));
  const events: Run[] = [];
  const runner = new JobRunner({ store, publish: (e) => { if (e.type === 'run') events.push(e.run); }, vmName: async (id) => `name of ${id}`, jobVms: async (j) => j.vmIds });
  const kind = new Steered();
  runner.registerVmKind(kind);
  return { dir, store, runner, kind, events };
}

const start = (runner: JobRunner, vmIds: string[], concurrency = 2) =>
  runner.start({ kind: 'backup', vmIds, initiatedBy: 'test', concurrency, params: {} });

test('VMs go queued → running → done, at most `concurrency` at once; the run\'s status sums up its VMs', async (t) => {
  const { store, runner, kind, events } = setup(t);
  const run = await start(runner, ['vm-1', 'vm-2', 'vm-3'], 2);
  assert.equal(run.status, 'running');
  assert.ok(run.vms.every((v) => v.status === 'queued' || v.status === 'running'), JSON.stringify(run.vms));
  await until('two VMs in flight', () => kind.waiting.size === 2);
  assert.deepEqual(store.run(run.id).vms.map((v) => v.status).sort(), ['queued', 'running', 'running']);
  kind.waiting.get('vm-1')!.finish(ok());
  await until('the third VM started', () => kind.waiting.has('vm-3'));
  kind.waiting.get('vm-2')!.finish(ok('warning'));
  kind.waiting.get('vm-3')!.finish(new Error('disk unreadable: check the datastore'));
  const done = await until('the run to end', () => { const r = store.run(run.id); return r.endedAt ? r : undefined; });
  assert.equal(kind.maxInFlight, 2);
  assert.deepEqual(done.vms.map((v) => [v.status, v.message]), [['success', 'success'], ['warning', 'warning'], ['failed', 'disk unreadable: check the datastore']]);
  assert.equal(done.status, 'warning', 'mixed results are a warning');
  assert.equal(done.progress, 100);
  assert.equal(events.at(-1)?.endedAt, done.endedAt, 'the last event is the finished run');
  assert.ok(events.some((e) => e.vms.some((v) => v.phase === 'working')), 'progress was published');
});

test('all good → success, all failed → failed', async (t) => {
  const { store, runner, kind } = setup(t);
  const outcome = async (finish: (vm: string) => VmOutcome | Error) => {
    const run = await start(runner, ['vm-a', 'vm-b']);
    await until('both in flight', () => kind.waiting.size === 2);
    for (const vm of ['vm-a', 'vm-b']) kind.waiting.get(vm)!.finish(finish(vm));
    return (await until('the end', () => { const r = store.run(run.id); return r.endedAt ? r : undefined; })).status;
  };
  assert.equal(await outcome(() => ok()), 'success');
  assert.equal(await outcome(() => new Error('x')), 'failed');
});

test('cancel: the running VM is cancelled with its reason, queued ones never start', async (t) => {
  const { store, runner, kind } = setup(t);
  const run = await start(runner, ['vm-1', 'vm-2', 'vm-3'], 1);
  await until('the first VM in flight', () => kind.waiting.has('vm-1'));
  runner.cancel(run.id);
  const done = await until('the run to end', () => { const r = store.run(run.id); return r.endedAt ? r : undefined; });
  assert.deepEqual(done.vms.map((v) => v.status), ['cancelled', 'cancelled', 'cancelled']);
  assert.match(done.vms[0]!.message!, /^Cancelled: cancelled by the user/);
  assert.equal(done.vms[1]!.message, 'Cancelled before it started.');
  assert.equal(done.status, 'cancelled');
  assert.throws(() => runner.cancel(run.id), /not running \(it ended cancelled\)/);
});

test('a kind that refuses a run at admission leaves no run behind', async (t) => {
  const { store, runner, kind } = setup(t);
  kind.refuse = new Error('In use: vm-1 (by job nightly)');
  await assert.rejects(start(runner, ['vm-1']), /In use/);
  assert.deepEqual(store.runs(), []);
});

test('after a crash, a run with mixed results is recorded as a normal run with those results would be', async (t) => {
  const { dir, store, runner, kind } = setup(t);
  const run = await start(runner, ['vm-ok', 'vm-cut'], 2);
  await until('both in flight', () => kind.waiting.size === 2);
  kind.waiting.get('vm-ok')!.finish(ok());
  await until('vm-ok recorded as done', () => store.run(run.id).vms[0]!.status === 'success');
  // The process "dies" here: a new store and runner read what the old one left on disk.
  const after = new JobRunner({ store: new JobStore(dir, SecretBox.forDataDir(dir)), publish: () => {}, vmName: async (id) => id, jobVms: async (j) => j.vmIds });
  const fixed = after.markInterrupted();
  assert.equal(fixed.length, 1);
  const r = fixed[0]!;
  assert.deepEqual(r.vms.map((v) => v.status), ['success', 'failed']);
  assert.match(r.vms[1]!.message!, /Interrupted: the Stillpoint service stopped during this backup/);
  assert.equal(r.status, 'warning', 'one VM succeeded: warning, as for a normal run with mixed results');
  assert.ok(r.endedAt);
  kind.waiting.get('vm-cut')!.finish(new Error('gone'));
});
