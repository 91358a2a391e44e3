// Test failover (as Veeam's SureReplica): a protective snapshot on the replica, every NIC on the
// isolated test network (a portgroup on a vSwitch without uplinks), power on, wait for VMware Tools'
// heartbeat, then power off, revert to the protective snapshot and remove it, NICs back. The replica's
// recovery points and files are as before; what the test run wrote is gone with the protective delta.
import { Conflict } from '../../common/errors.ts';
import { choosePoint, loadReplica, takeReplica, underTask, type FailoverDeps, type OpRequest } from './context.ts';
import { editNics, nicStates, powerOffIfOn, readNics, waitForHeartbeat } from './vm-ops.ts';
import { say } from '../../common/service-text.ts';

export const ISOLATED_NETWORK = 'Stillpoint-Test-Isolated';
const PROTECTIVE = 'stillpoint test failover (protective)';

export interface TestFailoverRequest extends OpRequest {
  point?: string;
  /** The isolated network on the replica's host (default Stillpoint-Test-Isolated). */
  isolatedNetwork?: string;
  /** How long to wait for the heartbeat (default 10 min). */
  heartbeatTimeoutMs?: number;
}

export interface TestFailoverResult {
  replicaId: string;
  replicaName: string;
  point: { id: string; name: string };
  network: string;
  heartbeatAt: string;
  /** Seconds from power-on to a green heartbeat. */
  bootSeconds: number;
  warnings: string[];
}

export async function testFailover(deps: FailoverDeps, req: TestFailoverRequest): Promise<TestFailoverResult> {
  const { vs } = deps;
  const replica = await loadReplica(vs, req.replicaMoref);
  if (replica.failover) throw new Conflict(`Replica '${replica.replicaName}' is failed over: a test failover needs a replica that is not running.`);
  const network = req.isolatedNetwork ?? ISOLATED_NETWORK;
  const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `test failover ${req.runId ?? ''}`.trim());
  const ref = replica.replica;
  try {
    return await underTask(vs, ref, req, 'test failover', async (report) => {
      const warnings: string[] = [];
      const point = await choosePoint(vs, replica, req.point);
      // The replica's own current state (normally its latest point) is where the cleanup returns to.
      const currentBefore = (await vs.vms.get(ref)).currentSnapshot;
      const moved = currentBefore?.value !== point.id;
      const nicsBefore = nicStates(await readNics(vs, ref));
      await powerOffIfOn(vs, ref);
      if (moved) {
        report(say('phase.revertingToPoint', { point: point.name }), 5);
        await vs.snapshots.revert(point.ref, { suppressPowerOn: true });
      }
      report(say('phase.takingProtectiveSnapshot'), 10);
      const protective = await vs.snapshots.create(ref, { name: PROTECTIVE, description: JSON.stringify({ runId: req.runId, point: point.id }), memory: false, quiesce: false });
      try {
        report(say('phase.movingNicsTo', { network }), 20);
        await editNics(vs, ref, nicsBefore.map((n) => ({ key: n.key, network, connected: false, startConnected: true })));
        report(say('phase.poweringOnIsolated'), 30);
        const t0 = Date.now();
        await vs.vms.powerOn(ref);
        report(say('phase.waitingForHeartbeat'), 45);
        const heartbeatAt = await waitForHeartbeat(vs, ref, { timeoutMs: req.heartbeatTimeoutMs ?? 600_000, ...(req.signal ? { signal: req.signal } : {}) });
        return { replicaId: ref.value, replicaName: replica.replicaName, point: { id: point.id, name: point.name }, network, heartbeatAt, bootSeconds: Math.round((Date.now() - t0) / 100) / 10, warnings };
      } finally {
        report(say('phase.cleaningUpTestFailover'), 80);
        await powerOffIfOn(vs, ref);
        await vs.snapshots.revert(protective.node.ref, { suppressPowerOn: true });
        await vs.snapshots.remove(protective.node.ref, { removeChildren: false, consolidate: true });
        await editNics(vs, ref, nicsBefore.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: n.connected, startConnected: n.startConnected })));
        if (moved && currentBefore) await vs.snapshots.revert(currentBefore, { suppressPowerOn: true });
        await vs.snapshots.consolidateIfNeeded(ref).catch(() => undefined);
      }
    }, (r) => `test failover of ${r.replicaName} (point '${r.point.name}', network '${r.network}'): heartbeat after ${r.bootSeconds} s; cleaned up.`);
  } finally {
    release();
  }
}
