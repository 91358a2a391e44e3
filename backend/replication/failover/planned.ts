// Planned failover, no data lost: replicate the source (H3's replicateVm), shut the source down through
// VMware Tools (power off after a timeout), replicate again (what was written up to the shutdown), then
// fail over to that newest point.
import { Conflict } from '../../common/errors.ts';
import { DEFAULT_APP_AWARE, type AppAwareSettings } from '../../model/app-aware.ts';
import { parseDatastorePath, type MoRef } from '../../vsphere/index.ts';
import { MAX_POINTS } from '../recovery-points.ts';
import { replicateVm, type ReplicateDeps, type ReplicateResult, type ReplicationTarget } from '../replicate-vm.ts';
import type { NetworkMapping } from '../replica-vm.ts';
import { holdFailedOver } from './holds.ts';
import { loadReplica, log, takeReplica, type FailoverDeps } from './context.ts';
import { runFailover, type FailoverRequest, type FailoverResult } from './failover.ts';
import { checkReIpRules } from './reip.ts';
import { shutDownGuest } from './vm-ops.ts';

export interface PlannedDeps extends FailoverDeps {
  /** What replicateVm needs for the source VM (its site-qualified id). */
  replicateDeps(sourceVmId: string): Promise<ReplicateDeps>;
}

export interface PlannedRequest extends FailoverRequest {
  /** Application-aware settings of the two syncs (default: the product's). */
  settings?: AppAwareSettings;
  /** Network mapping the syncs apply; recovery points kept (default: the replica's count + 2, at most 28). */
  target?: Partial<ReplicationTarget>;
  /** How long the guest may take to shut down before it is powered off (default 15 min). */
  shutdownTimeoutMs?: number;
}

export interface PlannedResult extends FailoverResult { syncs: { point: string; bytes: number }[]; shutdown: string }

export async function plannedFailover(deps: PlannedDeps, req: PlannedRequest): Promise<PlannedResult> {
  const { vs } = deps;
  const reIp = checkReIpRules(req.reIp);
  const replica = await loadReplica(vs, req.replicaMoref);
  if (replica.failover) throw new Conflict(`Replica '${replica.replicaName}' is failed over already: undo that failover or fail back first.`);
  const sourceVmId = replica.sourceVmId;
  if (!sourceVmId) throw new Conflict(`Replica '${replica.replicaName}' does not name its source VM: replicate it once, then try again.`);
  const source = await vs.inventory.findVmByUuid(replica.sourceUuid, true);
  if (!source) throw new Conflict(`The source of replica '${replica.replicaName}' (instance UUID ${replica.sourceUuid}) is not in vCenter: a planned failover needs it; fail over without a sync instead.`);
  const info = await vs.vms.get(replica.replica);
  const datastore = info.vmPathName ? parseDatastorePath(info.vmPathName).datastore : undefined;
  if (!replica.host || !datastore) throw new Conflict(`Replica '${replica.replicaName}' has no host or datastore in vCenter: check it in the vSphere Client.`);
  const target: ReplicationTarget = {
    host: replica.host, datastore, keep: Math.min(MAX_POINTS, replica.points.length + 2),
    ...(req.networkMap ? { networkMap: req.networkMap as NetworkMapping[] } : {}), ...req.target,
  };
  const rdeps = await deps.replicateDeps(sourceVmId);
  const progress = (base: number, span: number) => (p: { phase: string; percent: number }) => req.onProgress?.(p.phase, base + (span * p.percent) / 100);
  const sync = async (n: number, base: number): Promise<ReplicateResult> => replicateVm(rdeps, {
    vmId: sourceVmId, target, settings: req.settings ?? DEFAULT_APP_AWARE, ...(req.runId ? { runId: `${req.runId}-sync${n}` } : {}),
    ...(req.initiatedBy ? { initiatedBy: req.initiatedBy } : {}), ...(req.signal ? { signal: req.signal } : {}), onProgress: progress(base, 30),
  });
  req.onProgress?.('first sync', 0);
  const first = await sync(1, 0);
  req.onProgress?.('shutting the source down through VMware Tools', 32);
  const shutdown = await shutDownGuest(vs, source as MoRef, { timeoutMs: req.shutdownTimeoutMs ?? 15 * 60_000, ...(req.signal ? { signal: req.signal } : {}) });
  log.info({ source: sourceVmId, shutdown }, 'planned failover: source is off');
  req.onProgress?.('second sync (the source is off)', 35);
  const second = await sync(2, 35);
  const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, sourceVmId, `planned failover ${req.runId ?? ''}`.trim());
  try {
    const fresh = await loadReplica(vs, req.replicaMoref);
    const r = await runFailover(deps, {
      ...req, point: second.point.id, mode: 'planned',
      onProgress: (phase, percent) => req.onProgress?.(phase, 70 + percent * 0.3),
    }, fresh, reIp);
    return { ...r, syncs: [{ point: first.point.name, bytes: first.bytes }, { point: second.point.name, bytes: second.bytes }], shutdown, warnings: [...first.warnings, ...second.warnings, ...r.warnings] };
  } finally {
    release();
    if ((await loadReplica(vs, req.replicaMoref).catch(() => undefined))?.failover) holdFailedOver(deps.locks, sourceVmId, replica.replicaName);
  }
}
