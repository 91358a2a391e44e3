// The replication run kind: a replication job's run replicates each of its VMs to the job's DR target,
// from a consistent snapshot of the running VM (replicate-vm.ts, the job's application-aware
// settings: quiesce, scripts, guest credential; the DR site may be another vCenter than the VM's) or
// from the VM's newest restore point (from-backup.ts).
import { InvalidRequest } from '../../common/errors.ts';
import { formatBytes } from '../../common/units.ts';
import type { Job, Run } from '../../model/job.ts';
import type { GuestCredentials } from '../../vsphere/index.ts';
import type { VmContext, VmKind, VmOutcome } from '../../jobs/kinds.ts';
import { replicateFromBackup, type FromBackupDeps } from '../from-backup.ts';
import { replicateVm, type ReplicateDeps, type ReplicateResult } from '../replicate-vm.ts';
import { replicaTarget, runTarget } from './job-input.ts';
import { say } from '../../common/service-text.ts';

export interface ReplicationKindDeps {
  /** What replicating this VM from a snapshot to a DR site needs (its own vCenter, journal, locks; the DR site's vCenter and transporters). */
  replicateDeps(vmId: string, drSite: string): Promise<ReplicateDeps>;
  /** What replicating from the repository to this DR site needs. */
  fromBackupDeps(site: string): Promise<FromBackupDeps>;
  /** A VM is in a session (backup, restore, replication) on this node. */
  holder(vmId: string): { owner: string } | undefined;
  guestCredentials(id: string): GuestCredentials;
  /** A VM's run ended (the health monitor looks at its replica). */
  onReplicated?(job: Job): void;
  /** The VM was permanently failed over (its replica is the VM now): the job leaves it out, with the VM it became. */
  permanentlyFailedOver?(vmId: string): { vmName: string; at: string } | undefined;
}

export class ReplicationKind implements VmKind<unknown> {
  readonly kind = 'replication' as const;
  readonly #d: ReplicationKindDeps;
  constructor(deps: ReplicationKindDeps) { this.#d = deps; }

  async processVm(ctx: VmContext<unknown>): Promise<VmOutcome> {
    const job = ctx.job;
    if (!job) throw new InvalidRequest('A replication run belongs to a replication job.');
    const t = replicaTarget(job);
    const target = runTarget(job);
    const gone = this.#d.permanentlyFailedOver?.(ctx.vmId);
    if (gone) {
      return {
        status: 'warning', bytesRead: 0, bytesStored: 0,
        message: `Left out: ${ctx.vmName} was permanently failed over to ${gone.vmName} on ${gone.at}; that VM is production now. Remove ${ctx.vmName} from job '${job.name}', or replicate ${gone.vmName} instead.`,
        warnings: [`${ctx.vmName} is permanently failed over: not replicated.`],
      };
    }
    const progress = (p: { phase: string; percent: number; bytes: number }) => ctx.progress({ phase: p.phase, percent: p.percent, bytesRead: p.bytes });
    if (t.replication.source === 'backup') {
      const r = await replicateFromBackup(await this.#d.fromBackupDeps(t.site), { vmId: ctx.vmId, target, runId: ctx.runId, signal: ctx.signal, onProgress: progress });
      if (r.upToDate) {
        return { status: 'success', message: `Replica ${r.replicaName} has the newest restore point (${r.restorePointId}) already: nothing to send.`, consistency: r.consistency, bytesRead: 0, bytesStored: 0, warnings: r.warnings };
      }
      return outcome(r, `from restore point ${r.restorePointId}`);
    }
    const settings = job.appAware;
    const guest = settings.guestCredentialId ? { id: settings.guestCredentialId, credentials: this.#d.guestCredentials(settings.guestCredentialId) } : undefined;
    const r = await replicateVm(await this.#d.replicateDeps(ctx.vmId, t.site), {
      vmId: ctx.vmId, target, settings, runId: ctx.runId, initiatedBy: ctx.initiatedBy, signal: ctx.signal, onProgress: progress, ...(guest ? { guest } : {}),
    });
    return outcome(r, r.reason);
  }

  finished(_run: Run, job: Job | undefined): void { if (job) this.#d.onReplicated?.(job); }
}

function outcome(r: ReplicateResult, why: string): VmOutcome {
  const removed = r.removedPoints.length ? say('replication.removedPoints', { n: r.removedPoints.length }) : '';
  return {
    status: r.warnings.length ? 'warning' : 'success',
    message: `${r.created ? 'Created replica' : 'Updated replica'} ${r.replicaName} (${r.replicaId}): recovery point '${r.point.name}', ` +
      `${r.consistency}-consistent (${why}); sent ${formatBytes(r.bytes)} ${r.transport === 'hot-add' ? 'by hot-add' : 'by full upload (whole disks)'}.${removed}`,
    consistency: r.consistency, bytesRead: r.bytes, bytesStored: r.bytes, warnings: r.warnings,
  };
}
