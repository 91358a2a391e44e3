// Permanent failover: the running replica becomes the VM. Its recovery points are removed (their deltas
// consolidated into the disks it runs on), its replica marks are cleared, and its source is recorded as
// permanently failed over (replication jobs leave it out: isPermanentlyFailedOver in replica-state.ts).
import { Conflict } from '../../common/errors.ts';
import { REPLICA_OF_FIELD, REPLICA_SYNC_FIELD } from '../marks.ts';
import { listPoints } from '../recovery-points.ts';
import { FAILOVER_FIELD, recordPermanentFailover } from '../replica-state.ts';
import { withHoldReleased } from './holds.ts';
import { loadReplica, takeReplica, underTask, type FailoverDeps, type OpRequest } from './context.ts';
import { say } from '../../common/service-text.ts';
import { count } from '../../common/units.ts';

export interface PermanentRequest extends OpRequest {
  /** The source's site-qualified id, as replication jobs name it (defaults to the id the replica recorded). */
  sourceVmId?: string;
}

export interface PermanentResult { vmId: string; vmName: string; removedPoints: string[]; warnings: string[] }

export async function permanentFailover(deps: FailoverDeps, req: PermanentRequest): Promise<PermanentResult> {
  const { vs } = deps;
  const replica = await loadReplica(vs, req.replicaMoref);
  const rec = replica.failover;
  if (!rec) throw new Conflict(`Replica '${replica.replicaName}' is not failed over: fail it over first, check it runs as it should, then make it permanent.`);
  if (rec.failback) throw new Conflict(`Replica '${replica.replicaName}' has been failed back to its source: commit or undo that failback first.`);
  const ref = replica.replica;
  return withHoldReleased(deps.locks, replica.sourceVmId, replica.replicaName, async () => {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `permanent failover ${req.runId ?? ''}`.trim());
    try {
      return await underTask(vs, ref, req, 'permanent failover', async (report) => {
        const warnings: string[] = [];
        const removed: string[] = [];
        const points = await listPoints(vs, ref);
        for (const [i, p] of points.entries()) {
          report(say('phase.removingRecoveryPoint', { point: p.name }), 5 + (70 * i) / Math.max(1, points.length));
          await vs.snapshots.remove(p.ref, { removeChildren: false, consolidate: true });
          removed.push(p.name);
        }
        report(say('phase.consolidatingDisks'), 80);
        try {
          await vs.snapshots.consolidateIfNeeded(ref);
        } catch (e) {
          warnings.push(say('warning.disksNeedConsolidation', { error: (e as Error).message }));
        }
        report(say('phase.clearingReplicaMarks'), 90);
        const sourceName = replica.sourceName ?? replica.sourceUuid;
        await vs.vms.reconfigure(ref, { annotation: `Permanently failed over from VM '${sourceName}' (instance UUID ${replica.sourceUuid}) on ${new Date().toISOString()} by ${req.initiatedBy ?? 'Stillpoint'}: this is the production VM now.` });
        for (const f of [REPLICA_OF_FIELD, REPLICA_SYNC_FIELD, FAILOVER_FIELD]) await vs.customFields.setByName(ref, f, '');
        recordPermanentFailover(deps.dataDir, {
          sourceVmId: req.sourceVmId ?? replica.sourceVmId ?? replica.sourceUuid, sourceUuid: replica.sourceUuid, ...(replica.sourceName ? { sourceName: replica.sourceName } : {}),
          vmId: req.replicaId ?? ref.value, vmName: replica.replicaName, at: new Date().toISOString(), by: req.initiatedBy ?? 'Stillpoint',
        });
        return { vmId: req.replicaId ?? ref.value, vmName: replica.replicaName, removedPoints: removed, warnings };
      }, (r) => `${r.vmName} is the production VM now (permanent failover): ${count(r.removedPoints.length, 'recovery point')} removed, no longer a replica.`);
    } finally {
      release();
    }
  }, () => false);
}
