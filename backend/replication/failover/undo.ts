// Undo failover: the replica is powered off, reverted to the recovery point it was started from (what
// it did while running is discarded), its NICs put back as they were, and it is a ready replica again:
// replication goes on from its latest point.
import { Conflict } from '../../common/errors.ts';
import { writeFailover } from '../replica-state.ts';
import { withHoldReleased } from './holds.ts';
import { loadReplica, takeReplica, underTask, type FailoverDeps, type OpRequest } from './context.ts';
import { editNics, powerOffIfOn } from './vm-ops.ts';
import { say } from '../../common/service-text.ts';

export interface UndoResult { replicaId: string; replicaName: string; point: { id: string; name: string } }

export async function undoFailover(deps: FailoverDeps, req: OpRequest): Promise<UndoResult> {
  const { vs } = deps;
  const replica = await loadReplica(vs, req.replicaMoref);
  const rec = replica.failover;
  if (!rec) throw new Conflict(`Replica '${replica.replicaName}' is not failed over: there is nothing to undo.`);
  if (rec.failback) throw new Conflict(`Replica '${replica.replicaName}' has been failed back to its source (${rec.failback.at}): commit or undo that failback first.`);
  const ref = replica.replica;
  return withHoldReleased(deps.locks, replica.sourceVmId, replica.replicaName, async () => {
    const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `undo failover ${req.runId ?? ''}`.trim());
    try {
      return await underTask(vs, ref, req, 'undo failover', async (report) => {
        report(say('phase.poweringOffReplica'), 10);
        await powerOffIfOn(vs, ref);
        report(say('phase.revertingToPoint', { point: rec.pointName }), 40);
        await vs.snapshots.revert({ type: 'VirtualMachineSnapshot', value: rec.pointId }, { suppressPowerOn: true });
        report(say('phase.puttingNicsBack'), 70);
        await editNics(vs, ref, rec.nics.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: false, startConnected: n.startConnected })));
        await writeFailover(vs, ref, undefined);
        return { replicaId: ref.value, replicaName: replica.replicaName, point: { id: rec.pointId, name: rec.pointName } };
      }, (r) => `failover of ${r.replicaName} undone: back at recovery point '${r.point.name}', powered off; replication resumes.`);
    } finally {
      release();
    }
  }, () => false);
}
