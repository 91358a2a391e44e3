import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';
import type { JobRun, ReplicaState, ReplicationJob, ReplicationJobInput } from '@contract';
import { ApiFailure } from '../../core/api';
import { AuthService } from '../../core/auth';

export type Replica = Extract<ReplicaState, { replicaVmId: string }>;
/** A failover plan as GET /api/failover-plans lists it (backend/api/contracts/failover.ts): what the DR view shows of it. */
export interface FailoverPlan { id: string; name: string; description?: string; groups: { replicaIds: string[]; delaySeconds?: number }[] }
export type DrAction = 'failover' | 'test' | 'planned' | 'undo' | 'permanent' | 'failback' | 'failbackCommit' | 'failbackUndo';

/** Where a failback goes: the original VM (and how the changes travel) or a new VM at production (a full copy). */
export type FailbackChoice =
  | { target: 'original'; transport: 'auto' | 'hot-add' | 'full-upload' }
  | { target: 'new'; name: string; host: string; datastore: string; folder?: string };

/** Replication jobs, replicas and the failover actions (backend/api/contracts/replication-jobs.ts and the failover routes). */
@Injectable({ providedIn: 'root' })
export class ReplicationApi {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  private async wrap<T>(o: Observable<T>): Promise<T> {
    try { return await firstValueFrom(o); } catch (e) { throw ApiFailure.from(e); }
  }

  jobs(): Promise<ReplicationJob[]> { return this.wrap(this.http.get<ReplicationJob[]>(this.auth.url('replication-jobs'))); }
  createJob(body: ReplicationJobInput): Promise<ReplicationJob> { return this.wrap(this.http.post<ReplicationJob>(this.auth.url('replication-jobs'), body)); }
  job(id: string): Promise<ReplicationJob> { return this.wrap(this.http.get<ReplicationJob>(this.auth.url(`replication-jobs/${encodeURIComponent(id)}`))); }
  /** Saves an edited job (PUT: the same checks as creating it; its placement is fixed once it has replicas). */
  updateJob(id: string, body: ReplicationJobInput): Promise<ReplicationJob> { return this.wrap(this.http.put<ReplicationJob>(this.auth.url(`replication-jobs/${encodeURIComponent(id)}`), body)); }
  runJob(id: string): Promise<JobRun> { return this.wrap(this.http.post<JobRun>(this.auth.url(`replication-jobs/${encodeURIComponent(id)}/run`), {})); }
  deleteJob(id: string): Promise<void> { return this.wrap(this.http.delete<void>(this.auth.url(`replication-jobs/${encodeURIComponent(id)}`))); }
  plans(): Promise<FailoverPlan[]> { return this.wrap(this.http.get<FailoverPlan[]>(this.auth.url('failover-plans'))); }
  runPlan(id: string, mode: 'normal' | 'test'): Promise<JobRun> { return this.wrap(this.http.post<JobRun>(this.auth.url(`failover-plans/${encodeURIComponent(id)}/run`), { mode })); }
  replicas(): Promise<ReplicaState[]> { return this.wrap(this.http.get<ReplicaState[]>(this.auth.url('replicas'))); }

  /** A failover action on a replica (Failover / Test / Planned take a recovery point; the others act on the failed-over replica). */
  act(replicaId: string, action: DrAction, point?: string, failback?: FailbackChoice): Promise<unknown> {
    const id = encodeURIComponent(replicaId);
    if (action === 'failback' || action === 'failbackCommit' || action === 'failbackUndo') {
      const f = failback;
      const body = action === 'failbackCommit' ? { action: 'commit' } : action === 'failbackUndo' ? { action: 'undo' }
        : f?.target === 'new' ? { toNew: { name: f.name, host: f.host, datastore: f.datastore, ...(f.folder ? { folder: f.folder } : {}) } }
        : f?.transport && f.transport !== 'auto' ? { transport: f.transport } : {};
      return this.wrap(this.http.post<unknown>(this.auth.url(`replicas/${id}/failback`), body));
    }
    const mode = action === 'test' ? 'test' : action === 'planned' ? 'planned' : 'normal';
    const path = action === 'failover' || action === 'test' || action === 'planned' ? `replicas/${id}/failover` : `replicas/${id}/${action}`;
    const body = action === 'failover' || action === 'test' || action === 'planned' ? { mode, ...(point ? { point } : {}) } : action === 'permanent' ? { confirm: true } : {};
    return this.wrap(this.http.post<unknown>(this.auth.url(path), body));
  }
}

/** A run returned by an action, if it is one. */
export function asRun(v: unknown): JobRun | null {
  return v && typeof v === 'object' && 'id' in v && 'vms' in v && 'status' in v ? v as JobRun : null;
}
