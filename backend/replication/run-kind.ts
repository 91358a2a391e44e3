// The replicate run kind: an on-demand replication of a VM to the DR site, with the run's progress,
// history and cancel from the runner (jobs/runner.ts).
import { Conflict } from '../common/errors.ts';
import { formatBytes } from '../common/units.ts';
import { DEFAULT_APP_AWARE, type AppAwareSettings } from '../model/app-aware.ts';
import type { GuestCredentials } from '../vsphere/index.ts';
import type { VmContext, VmKind, VmOutcome } from '../jobs/kinds.ts';
import { replicateVm, type ReplicateDeps, type ReplicationTarget } from './replicate-vm.ts';

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
    const removed = r.removedPoints.length ? ` Removed ${r.removedPoints.length} old recovery point(s).` : '';
    return {
      status: r.warnings.length ? 'warning' : 'success',
      message: `${r.created ? 'Created replica' : 'Updated replica'} ${r.replicaName} (${r.replicaId}): recovery point '${r.point.name}', ` +
        `${r.consistency}-consistent (${r.reason}); sent ${formatBytes(r.bytes)} by ${r.transport === 'hot-add' ? 'hot-add' : 'full upload'}` +
        `${r.transport === 'hot-add' ? ` (${formatBytes(r.bytesWritten ?? 0)} written of ${formatBytes(r.bytesConsidered ?? 0)} compared)` : ' (whole disks)'}.${removed}`,
      consistency: r.consistency, bytesRead: r.bytes, bytesStored: r.bytes, warnings: r.warnings,
    };
  }

  finished(): void { this.#d.onReplicated?.(); }
}
