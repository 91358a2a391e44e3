// The replicate run kind: an on-demand replication of a VM to the DR site, with the run's progress,
// history and cancel from the runner (jobs/runner.ts).
import { Conflict } from '../common/errors.ts';
import { formatBytes } from '../common/units.ts';
import { DEFAULT_APP_AWARE, type AppAwareSettings } from '../model/app-aware.ts';
import type { GuestCredentials } from '../vsphere/index.ts';
import type { VmContext, VmKind, VmOutcome } from '../jobs/kinds.ts';
import { replicateVm, type ReplicateDeps, type ReplicationTarget } from './replicate-vm.ts';
import { say } from '../common/service-text.ts';

export interface ReplicateParams {
  target: ReplicationTarget;
  settings?: AppAwareSettings;
}

export interface ReplicateKindDeps {
  replicateDeps(vmId: string): Promise<ReplicateDeps>;
  holder(vmId: string): { owner: string } | undefined;
  guestCredentials?(id: string): GuestCredentials;
  /** A run ended (a replica may have been made). */
  onReplicated?(): void;
}

export class ReplicateKind implements VmKind<ReplicateParams> {
  readonly kind = 'replicate' as const;
  readonly #d: ReplicateKindDeps;
  constructor(deps: ReplicateKindDeps) { this.#d = deps; }

  async admit(vmIds: string[]): Promise<void> {
    const busy = vmIds.map((id) => ({ id, h: this.#d.holder(id) })).filter((x) => x.h);
    if (busy.length) throw new Conflict(`In use: ${busy.map((b) => `${b.id} (by ${b.h!.owner})`).join(', ')}. Wait until it finishes or cancel it.`);
  }

  async processVm(ctx: VmContext<ReplicateParams>): Promise<VmOutcome> {
    const deps = await this.#d.replicateDeps(ctx.vmId);
    const settings = ctx.params.settings ?? DEFAULT_APP_AWARE;
    const guest = settings.guestCredentialId && this.#d.guestCredentials
      ? { id: settings.guestCredentialId, credentials: this.#d.guestCredentials(settings.guestCredentialId) } : undefined;
    const r = await replicateVm(deps, {
      vmId: ctx.vmId, target: ctx.params.target, settings, runId: ctx.runId, initiatedBy: ctx.initiatedBy, signal: ctx.signal,
      ...(guest ? { guest } : {}),
      onProgress: (p) => ctx.progress({ phase: p.phase, percent: p.percent, bytesRead: p.bytes }),
    });
    const removed = r.removedPoints.length ? say('replication.removedPoints', { n: r.removedPoints.length }) : '';
    const how = r.transport === 'hot-add'
      ? say('replication.how.hotAdd', { written: formatBytes(r.bytesWritten ?? 0), compared: formatBytes(r.bytesConsidered ?? 0) }) : say('replication.how.fullUpload');
    return {
      status: r.warnings.length ? 'warning' : 'success',
      message: say(r.created ? 'replication.created' : 'replication.updated', {
        replica: r.replicaName, replicaId: r.replicaId, point: r.point.name, consistency: say(`replication.consistency.${r.consistency}`),
        reason: r.reason, bytes: formatBytes(r.bytes), how, removed,
      }),
      consistency: r.consistency, bytesRead: r.bytes, bytesStored: r.bytes, warnings: r.warnings,
    };
  }

  finished(): void { this.#d.onReplicated?.(); }
}
