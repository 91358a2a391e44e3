// RPO compliance of the replicas of replication jobs' VMs: the job that covers a replica's source VM
// gives the RPO target; the replica's newest recovery point gives the age. Observing a list of
// replicas raises the vCenter events of RpoMonitor (health.ts) on the replica and its source VM.
import type { Job } from '../../model/job.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { RpoMonitor, rpoCompliance, type RpoCompliance, type WatchedReplica } from '../health.ts';
import type { ReplicaStatus } from '../replica-state.ts';
import { isReplicationJob, replicaTarget } from './job-input.ts';

export interface ReplicationHealthDeps {
  jobs(): Job[];
  jobVms(job: Job): Promise<string[]>;
  /** The service account's vCenter of a site-qualified object id, and the bare moref there. */
  locate(qualifiedId: string): Promise<{ vs: VSphere; ref: MoRef } | undefined>;
  now?(): Date;
}

export type ListedReplica = ReplicaStatus & { replicaId: string };

/** A replica's RPO compliance under the replication job that covers its source VM. */
export type JobRpo = RpoCompliance & { jobId: string; jobName: string };

export class ReplicationHealth {
  readonly #d: ReplicationHealthDeps;
  readonly #monitor = new RpoMonitor();
  constructor(deps: ReplicationHealthDeps) { this.#d = deps; }

  /** The first enabled replication job (by name) that covers the VM now. */
  async jobOf(vmId: string): Promise<Job | undefined> {
    const jobs = this.#d.jobs().filter((j) => j.enabled && isReplicationJob(j)).sort((a, b) => a.name.localeCompare(b.name));
    for (const j of jobs) if ((await this.#d.jobVms(j).catch(() => j.vmIds)).includes(vmId)) return j;
    return undefined;
  }

  /** The replica's RPO compliance, when its source VM is in a replication job. */
  async rpo(s: ReplicaStatus): Promise<JobRpo | undefined> {
    // A failed-over replica runs as the VM: replication does not write it, so it has no RPO until undone or failed back.
    if (!s.sourceVmId || s.state === 'failedOver') return undefined;
    const job = await this.jobOf(s.sourceVmId);
    if (!job) return undefined;
    const newest = s.points.at(-1);
    const c = rpoCompliance(newest ? newest.takenAt ?? newest.createdAt : undefined, replicaTarget(job).replication.rpoMinutes, this.#d.now?.() ?? new Date());
    return { jobId: job.id, jobName: job.name, ...c };
  }

  /** Computes each replica's RPO compliance and raises an event for each level that changed. */
  async observe(list: ListedReplica[]): Promise<Map<string, JobRpo>> {
    const out = new Map<string, JobRpo>();
    const watched: WatchedReplica[] = [];
    for (const s of list) {
      const rpo = await this.rpo(s);
      if (!rpo) continue;
      out.set(s.replicaId, rpo);
      const [replica, source] = await Promise.all([this.#d.locate(s.replicaId), s.sourceVmId ? this.#d.locate(s.sourceVmId) : undefined]);
      if (!replica) continue;
      watched.push({
        id: s.replicaId, name: s.replicaName, sourceName: s.sourceName ?? s.sourceVmId ?? '?', replicaVs: replica.vs, replica: replica.ref,
        ...(source ? { source } : {}), compliance: rpo,
      });
    }
    await this.#monitor.observe(watched);
    return out;
  }
}
