// The restore kind: a full VM restore of one restore point, as a run whose VM entry is the source
// VM and whose message names the VM the restore made (or overwrote).
import type { RestoreTarget } from '../../restore/types.ts';
import type { VmContext, VmKind, VmOutcome } from '../kinds.ts';
import { say } from '../../common/service-text.ts';

export interface RestoreParams {
  restorePointId: string;
  target: RestoreTarget;
}

/** A full VM restore (backend/restore), reporting progress as phases with byte counts. */
export type RestoreFn = (restorePointId: string, target: RestoreTarget, opts: {
  onProgress: (p: { phase: string; done: number; total: number }) => void; signal: AbortSignal;
}) => Promise<{ vmId: string; vmName: string; disks?: { bytes: number }[] }>;

export interface RestoreKindDeps {
  restore: RestoreFn;
  /** Takes the VM for a restore over it, or throws Conflict naming who holds it. */
  takeVm(vmId: string, owner: string): () => void;
  /** A restore ended (it may have created or changed a VM). */
  onRestored?(): void;
}

export class RestoreKind implements VmKind<RestoreParams> {
  readonly kind = 'restore' as const;
  readonly #d: RestoreKindDeps;
  constructor(deps: RestoreKindDeps) { this.#d = deps; }

  async admit(vmIds: string[], p: RestoreParams, initiatedBy: string): Promise<(() => void) | void> {
    if (p.target.kind !== 'original') return;
    const releases = vmIds.map((id) => this.#d.takeVm(id, `restore by ${initiatedBy}`));
    return () => releases.forEach((r) => r());
  }

  async processVm(ctx: VmContext<RestoreParams>): Promise<VmOutcome> {
    // Bytes of the disks copied so far: every finished disk's phase plus the current one (the other
    // phases count steps, not bytes, and must not overwrite the figure).
    const diskBytes = new Map<string, number>();
    const copied = () => [...diskBytes.values()].reduce((a, b) => a + b, 0);
    const r = await this.#d.restore(ctx.params.restorePointId, ctx.params.target, {
      signal: ctx.signal,
      onProgress: (p) => {
        if (p.phase.startsWith('uploading disk')) diskBytes.set(p.phase, p.done);
        ctx.progress({ phase: p.phase, bytesRead: copied(), ...(p.total > 0 ? { percent: (100 * p.done) / p.total } : {}) });
      },
    });
    // Read from the repository and written to the datastore: the restored disks' bytes.
    const bytes = r.disks?.length ? r.disks.reduce((a, d) => a + d.bytes, 0) : copied();
    return { status: 'success', message: say('restore.result', { vmName: r.vmName, vmId: r.vmId }), restorePointId: ctx.params.restorePointId, bytesRead: bytes, bytesStored: bytes, warnings: [] };
  }

  finished(): void { this.#d.onRestored?.(); }
}
