// The failover operations as JobRunner run kinds: each run names the replica VM(s), shows progress and
// a vCenter task, and keeps its outcome in the run history. A failover plan is one run whose VMs are
// the plan's replicas in order (one at a time), with the groups' delays and scripts.
import { Conflict } from '../../common/errors.ts';
import { formatBytes } from '../../common/units.ts';
import type { AppAwareSettings } from '../../model/app-aware.ts';
import type { RunKind } from '../../model/job.ts';
import { guestFamily } from '../../model/guest.ts';
import type { VmLocks } from '../../sources/snapshot/vm-lock.ts';
import type { GuestCredentials, VSphere } from '../../vsphere/index.ts';
import type { VmContext, VmKind, VmOutcome } from '../../jobs/kinds.ts';
import type { ReplicateDeps } from '../replicate-vm.ts';
import type { NetworkMapping } from '../replica-vm.ts';
import type { FailoverDeps, OpRequest } from './context.ts';
import { commitFailback, failback, undoFailback, type FailbackDeps, type FailbackTransport } from './failback.ts';
import { failbackToNewVm, type NewVmTarget } from './failback-new-vm.ts';
import type { TransporterFinder } from '../replicate-vm.ts';
import { failover } from './failover.ts';
import { permanentFailover } from './permanent.ts';
import { plannedFailover } from './planned.ts';
import { groupDelay, placeInPlan, type FailoverPlans } from './plans.ts';
import type { ReIpRule } from './reip.ts';
import { testFailover } from './test-failover.ts';
import { undoFailover } from './undo.ts';
import { say, sayList } from '../../common/service-text.ts';

export interface FailoverKindDeps {
  /** The replica VM's (site-qualified id's) own vCenter and its bare moref there. */
  at(vmId: string): Promise<{ vs: VSphere; moref: string }>;
  locks: VmLocks;
  dataDir: string;
  replicateDeps(sourceVmId: string): Promise<ReplicateDeps>;
  guestCredentials(id: string): GuestCredentials;
  plans: FailoverPlans;
  /** A replica changed state (inventory caches, UI). */
  onChanged?(): void;
  /** The transporters of a VM's site (failback through a transporter at production). */
  transportersFor?(vmId: string): TransporterFinder;
  /** Replication jobs naming VM `from` name `to` instead (failback to a new VM); returns the jobs changed. */
  repointSource?(from: string, to: string): string[];
}

export interface FailoverParams {
  point?: string;
  networkMap?: NetworkMapping[];
  reIp?: ReIpRule[];
  guestCredentialId?: string;
  settings?: AppAwareSettings;
  isolatedNetwork?: string;
  /** Failback: fail back (default), or commit / undo the failback that waits. */
  action?: 'failback' | 'commit' | 'undo';
  commit?: boolean;
  /** Failback: how the changes reach the original VM. */
  transport?: FailbackTransport;
  /** Failback to a new VM at production instead of the original. */
  toNew?: NewVmTarget;
  /** Permanent failover: the source's id as replication jobs name it. */
  sourceVmId?: string;
  timeoutMs?: number;
}

export interface FailoverPlanParams { planId: string; mode: 'normal' | 'test' }

type Handler<P> = (d: FailoverKindDeps, deps: FailbackDeps, req: OpRequest, p: P, ctx: VmContext<P>) => Promise<VmOutcome>;

const ok = (message: string, warnings: string[] = [], bytes = 0): VmOutcome => ({ status: warnings.length ? 'warning' : 'success', message, bytesRead: bytes, bytesStored: bytes, warnings });

function guestOf(d: FailoverKindDeps, p: { guestCredentialId?: string }): { guest?: GuestCredentials } {
  return p.guestCredentialId ? { guest: d.guestCredentials(p.guestCredentialId) } : {};
}

const HANDLERS: Record<string, Handler<FailoverParams>> = {
  failover: async (d, deps, req, p) => {
    const r = await failover(deps, { ...req, ...guestOf(d, p), ...(p.point ? { point: p.point } : {}), ...(p.networkMap ? { networkMap: p.networkMap } : {}), ...(p.reIp ? { reIp: p.reIp } : {}), ...(p.timeoutMs ? { toolsTimeoutMs: p.timeoutMs } : {}) });
    return ok(say('failover.result', {
      point: r.point.name, replica: r.replicaName,
      onNetworks: r.networks.length ? say('failover.onNetworks', { networks: r.networks.map((n) => `${n.network ?? '?'}${n.connected ? '' : ' (disconnected)'}`).join(', ') }) : '',
      reIp: r.reIp.length ? say('failover.reIp', { pairs: r.reIp.map((x) => `${x.from} → ${x.to}`).join(', ') }) : '',
    }), r.warnings);
  },
  'failover-test': async (_d, deps, req, p) => {
    const r = await testFailover(deps, { ...req, ...(p.point ? { point: p.point } : {}), ...(p.isolatedNetwork ? { isolatedNetwork: p.isolatedNetwork } : {}), ...(p.timeoutMs ? { heartbeatTimeoutMs: p.timeoutMs } : {}) });
    return ok(say('failover.testResult', { point: r.point.name, network: r.network, seconds: r.bootSeconds }), r.warnings);
  },
  'failover-planned': async (d, deps, req, p) => {
    const r = await plannedFailover({ ...deps, replicateDeps: d.replicateDeps }, {
      ...req, ...guestOf(d, p), ...(p.networkMap ? { networkMap: p.networkMap } : {}), ...(p.reIp ? { reIp: p.reIp } : {}), ...(p.settings ? { settings: p.settings } : {}),
      ...(p.timeoutMs ? { shutdownTimeoutMs: p.timeoutMs } : {}),
    });
    const bytes = r.syncs.reduce((n, s) => n + s.bytes, 0);
    return ok(say('failover.plannedResult', { syncs: r.syncs.map((s) => formatBytes(s.bytes)).join(' + '), shutdown: r.shutdown, point: r.point.name }), r.warnings, bytes);
  },
  'failover-undo': async (_d, deps, req) => {
    const r = await undoFailover(deps, req);
    return ok(say('failover.undone', { replica: r.replicaName, point: r.point.name }));
  },
  'failover-permanent': async (_d, deps, req, p) => {
    const r = await permanentFailover(deps, { ...req, ...(p.sourceVmId ? { sourceVmId: p.sourceVmId } : {}) });
    return ok(say('failover.permanent', { vm: r.vmName, n: r.removedPoints.length }), r.warnings);
  },
  failback: async (_d, deps, req, p) => {
    if (p.action === 'commit') { const r = await commitFailback(deps, req); return ok(say('failback.committed', { replica: r.replicaName })); }
    if (p.action === 'undo') { const r = await undoFailback(deps, req); return ok(say('failback.undone', { replica: r.replicaName }), r.warnings); }
    const shutdown = p.timeoutMs ? { shutdownTimeoutMs: p.timeoutMs } : {};
    if (p.toNew) {
      const r = await failbackToNewVm(deps, { ...req, toNew: p.toNew, ...shutdown });
      if (p.commit) await commitFailback(deps, req);
      const jobs = r.jobs.map((j) => `'${j}'`).join(', ');
      const repointed = !r.jobs.length ? '' : say(r.jobs.length > 1 ? 'failback.repointedMany' : 'failback.repointedOne', { jobs, vm: r.vmName });
      return ok(say('failback.newVmResult', { vm: r.vmName, bytes: formatBytes(r.sentBytes), repointed, next: say(p.commit ? 'failback.next.committed' : 'failback.next.newVm') }), r.warnings, r.sentBytes);
    }
    const r = await failback(deps, { ...req, ...(p.commit ? { commit: true } : {}), ...shutdown, ...(p.transport ? { transport: p.transport } : {}) });
    const how = sayList([r.transport === 'hot-add' ? say('failback.how.hotAdd', { transporter: r.transporter ?? '' }) : say('failback.how.fullUpload'),
      say('failback.readThrough', { transporter: r.reader.transporter, bytes: formatBytes(r.reader.receivedBytes) })]);
    return ok(say('failback.result', {
      source: r.sourceName, changed: formatBytes(r.changedBytes), sent: formatBytes(r.sentBytes), how,
      next: say(r.committed ? 'failback.next.committed' : 'failback.next.original'),
    }), r.warnings, r.sentBytes);
  },
};

export const FAILOVER_KINDS = ['failover', 'failover-test', 'failover-planned', 'failover-undo', 'failover-permanent', 'failback'] as const;
export type FailoverKindName = typeof FAILOVER_KINDS[number];

function admitFree(locks: VmLocks, vmIds: string[]): void {
  const busy = vmIds.map((id) => ({ id, h: locks.holder(id) })).filter((x) => x.h);
  if (busy.length) throw new Conflict(`In use: ${busy.map((b) => `${b.id} (by ${b.h!.owner})`).join(', ')}. Wait until it finishes or cancel it.`);
}

/** One failover operation as a run kind (the run's VM is the replica). */
export class FailoverOpKind implements VmKind<FailoverParams> {
  readonly kind: RunKind;
  readonly #d: FailoverKindDeps;
  constructor(kind: FailoverKindName, deps: FailoverKindDeps) { this.kind = kind; this.#d = deps; }

  async admit(vmIds: string[]): Promise<void> { admitFree(this.#d.locks, vmIds); }

  async processVm(ctx: VmContext<FailoverParams>): Promise<VmOutcome> {
    const { vs, moref } = await this.#d.at(ctx.vmId);
    const req: OpRequest = {
      replicaMoref: moref, replicaId: ctx.vmId, runId: ctx.runId, initiatedBy: ctx.initiatedBy, signal: ctx.signal,
      onProgress: (phase, percent) => ctx.progress({ phase, percent }),
    };
    const deps: FailbackDeps = {
      vs, locks: this.#d.locks, dataDir: this.#d.dataDir,
      ...(this.#d.transportersFor ? { transporters: this.#d.transportersFor(ctx.vmId) } : {}),
      ...(this.#d.repointSource ? { repointSource: this.#d.repointSource } : {}),
    };
    return HANDLERS[this.kind]!(this.#d, deps, req, ctx.params, ctx as VmContext<FailoverParams>);
  }

  finished(): void { this.#d.onChanged?.(); }
}

/** A failover plan's run: each VM failed over (or test-failed over) in order, groups after their delay, scripts after. */
export class FailoverPlanKind implements VmKind<FailoverPlanParams> {
  readonly kind = 'failover-plan' as const;
  readonly #d: FailoverKindDeps;
  constructor(deps: FailoverKindDeps) { this.#d = deps; }

  async admit(vmIds: string[]): Promise<void> { admitFree(this.#d.locks, vmIds); }

  async processVm(ctx: VmContext<FailoverPlanParams>): Promise<VmOutcome> {
    const plan = this.#d.plans.get(ctx.params.planId);
    const place = placeInPlan(plan, ctx.vmId);
    if (place.first && place.index > 0 && place.group.delaySeconds) {
      ctx.progress({ phase: say('phase.waitingBeforeGroup', { seconds: place.group.delaySeconds, group: place.index + 1 }), percent: 0 });
      await groupDelay(place.group, ctx.signal);
    }
    const p: FailoverParams = {
      ...(plan.networkMap ? { networkMap: plan.networkMap } : {}), ...(plan.reIp ? { reIp: plan.reIp } : {}),
      ...(plan.guestCredentialId ? { guestCredentialId: plan.guestCredentialId } : {}),
    };
    const op = new FailoverOpKind(ctx.params.mode === 'test' ? 'failover-test' : 'failover', this.#d);
    const out = await op.processVm({ ...ctx, params: p } as VmContext<FailoverParams>);
    const script = place.group.script;
    if (!script || ctx.params.mode === 'test' || !plan.guestCredentialId) return { ...out, message: say('failover.groupResult', { group: place.index + 1, result: out.message }) };
    ctx.progress({ phase: say('phase.runningGroupScript', { path: script.programPath }), percent: 95 });
    const { vs, moref } = await this.#d.at(ctx.vmId);
    const vm = { type: 'VirtualMachine', value: moref };
    const warnings = [...out.warnings];
    try {
      const r = await vs.guest.run(vm, this.#d.guestCredentials(plan.guestCredentialId), { programPath: script.programPath, ...(script.arguments ? { arguments: script.arguments } : {}) },
        { timeoutMs: (script.timeoutSeconds ?? 600) * 1000, signal: ctx.signal });
      if (r.exitCode !== 0) warnings.push(say('warning.groupScriptExit', { path: script.programPath, code: r.exitCode, family: guestFamily((await vs.vms.get(vm)).guestId) }));
    } catch (e) {
      warnings.push(say('warning.groupScriptFailed', { path: script.programPath, error: (e as Error).message }));
    }
    return { ...out, status: warnings.length ? 'warning' : out.status, warnings, message: say(warnings.length > out.warnings.length ? 'failover.groupResultScriptWarned' : 'failover.groupResultScriptOk', { group: place.index + 1, result: out.message }) };
  }

  finished(): void { this.#d.onChanged?.(); }
}
