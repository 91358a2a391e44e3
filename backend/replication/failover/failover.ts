// Failover: the replica becomes the running VM at the DR site, from the latest or a chosen recovery
// point. Revert to the point; NICs moved to their DR networks (the mapping; unmapped NICs stay
// disconnected) and disconnected; CBT on (failback later sends only what changed from here); power on;
// re-IP through guest operations while disconnected; mapped NICs connected; the replica is recorded as
// failed over (a custom attribute, so replication leaves it alone and undo/failback know the point).
import { Conflict, InvalidRequest } from '../../common/errors.ts';
import { guestFamily } from '../../model/guest.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import type { NetworkMapping } from '../replica-vm.ts';
import { writeFailover, type FailoverRecord, type NicState } from '../replica-state.ts';
import { holdFailedOver } from './holds.ts';
import { choosePoint, loadReplica, takeReplica, underTask, type FailoverDeps, type OpRequest } from './context.ts';
import { applyReIp, checkReIpRules, type ReIpDone, type ReIpRule } from './reip.ts';
import { editNics, nicStates, powerOffIfOn, readNics, waitForVm, type Nic } from './vm-ops.ts';
import { say } from '../../common/service-text.ts';

export interface FailoverRequest extends OpRequest {
  /** Recovery point id or name; the latest when not given. */
  point?: string;
  /** Source network → DR network. Without it, the NICs keep the networks replication gave them. */
  networkMap?: NetworkMapping[];
  reIp?: ReIpRule[];
  mode?: 'normal' | 'planned';
  /** How long to wait for VMware Tools after power-on (re-IP needs it). Default 10 min. */
  toolsTimeoutMs?: number;
}

export interface FailoverResult {
  replicaId: string;
  replicaName: string;
  point: { id: string; name: string };
  networks: { key: number; network?: string; connected: boolean }[];
  reIp: ReIpDone[];
  warnings: string[];
}

/** Which network each replica NIC goes to and whether it is connected after the failover. */
export async function planNics(vs: VSphere, replicaNics: Nic[], sourceUuid: string, map: NetworkMapping[] | undefined): Promise<{ key: number; network?: string; connect: boolean; mac?: string }[]> {
  if (!map) return replicaNics.map((n) => ({ key: n.key, ...(n.backing?.deviceName ? { network: n.backing.deviceName } : {}), connect: !!n.connectable?.startConnected, ...(n.macAddress ? { mac: n.macAddress } : {}) }));
  const to = new Map(map.map((m) => [m.source, m.target]));
  const src = await vs.inventory.findVmByUuid(sourceUuid, true).catch(() => undefined);
  const sourceNics = src ? await readNics(vs, src).catch(() => []) : [];
  return replicaNics.map((n, i) => {
    const target = to.get(sourceNics[i]?.backing?.deviceName ?? '') ?? to.get(n.backing?.deviceName ?? '');
    return { key: n.key, ...(target ? { network: target } : n.backing?.deviceName ? { network: n.backing.deviceName } : {}), connect: !!target, ...(n.macAddress ? { mac: n.macAddress } : {}) };
  });
}

/** CBT on (or restarted) so the disks' change ids from now on are the failback's baseline. */
async function startChangeTracking(vs: VSphere, vm: MoRef): Promise<void> {
  if (await vs.cbt.isEnabled(vm)) await vs.cbt.reset(vm);
  else await vs.cbt.setEnabled(vm, true);
}

export async function failover(deps: FailoverDeps, req: FailoverRequest): Promise<FailoverResult> {
  const { vs } = deps;
  const reIp = checkReIpRules(req.reIp);
  const replica = await loadReplica(vs, req.replicaMoref);
  if (replica.failover) throw new Conflict(`Replica '${replica.replicaName}' is failed over already (since ${replica.failover.at}, point '${replica.failover.pointName}'): undo that failover, make it permanent or fail back first.`);
  if (reIp.length && !req.guest) throw new InvalidRequest('Re-IP rules need a guest credential (guestCredentialId): the new addresses are set through guest operations.');
  const release = takeReplica(deps.locks, req.replicaId ?? req.replicaMoref, replica.sourceVmId, `failover ${req.runId ?? ''}`.trim());
  let r: FailoverResult;
  try {
    r = await runFailover(deps, req, replica, reIp);
  } finally {
    release();
  }
  holdFailedOver(deps.locks, replica.sourceVmId, replica.replicaName);
  return r;
}

/** The failover itself, for callers that hold the replica already (planned failover, plans). */
export async function runFailover(deps: FailoverDeps, req: FailoverRequest, replica: Awaited<ReturnType<typeof loadReplica>>, reIp: ReIpRule[]): Promise<FailoverResult> {
  const { vs } = deps;
  const ref = replica.replica;
  const point = await choosePoint(vs, replica, req.point);
  return underTask(vs, ref, req, 'failover', async (report) => {
    const warnings: string[] = [];
    const before: NicState[] = nicStates(await readNics(vs, ref));
    report(say('phase.revertingToPoint', { point: point.name }), 5);
    await powerOffIfOn(vs, ref);
    await vs.snapshots.revert(point.ref, { suppressPowerOn: true });
    try {
      const nics = await planNics(vs, await readNics(vs, ref), replica.sourceUuid, req.networkMap);
      report(say('phase.movingNicsToDrNetworks'), 15);
      await editNics(vs, ref, nics.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: false, startConnected: false })));
      report(say('phase.enablingCbtForFailback'), 25);
      await startChangeTracking(vs, ref);
      report(say('phase.poweringOn'), 35);
      await vs.vms.powerOn(ref);
      const changeIds = (await vs.vms.get(ref)).disks.flatMap((d) => (d.changeId ? [{ key: d.key, changeId: d.changeId }] : []));
      if (!changeIds.length) warnings.push(say('warning.noCbtChangeId'));
      let done: ReIpDone[] = [];
      if (reIp.length && req.guest) {
        report(say('phase.waitingForTools'), 50);
        await waitForVm<string>(vs, ref, 'guest.toolsRunningStatus', (v) => v === 'guestToolsRunning', 'VMware Tools starting in the replica', { timeoutMs: req.toolsTimeoutMs ?? 600_000, ...(req.signal ? { signal: req.signal } : {}) });
        const family = guestFamily((await vs.vms.get(ref)).guestId);
        done = await applyReIp(vs, ref, family, req.guest, nics.filter((n) => n.mac && n.connect).map((n) => ({ key: n.key, mac: n.mac! })), reIp, {
          ...(req.signal ? { signal: req.signal } : {}), onStep: (what) => report(what, 65),
        });
        if (!done.length) warnings.push(say('warning.noReIpRuleMatched'));
      }
      const connect = nics.filter((n) => n.connect);
      report(say('phase.connectingMappedNics'), 85);
      await editNics(vs, ref, connect.map((n) => ({ key: n.key, connected: true, startConnected: true })));
      const left = nics.filter((n) => !n.connect);
      if (left.length) warnings.push(say('warning.unmappedAfterFailover', { nics: left.map((n) => `network adapter ${n.key} on '${n.network ?? '?'}'`).join(', ') }));
      const rec: FailoverRecord = {
        mode: req.mode ?? 'normal', pointId: point.id, pointName: point.name, at: new Date().toISOString(), by: req.initiatedBy ?? 'Stillpoint',
        ...(req.runId ? { runId: req.runId } : {}), nics: before, changeIds,
      };
      await writeFailover(vs, ref, rec);
      return {
        replicaId: ref.value, replicaName: replica.replicaName, point: { id: point.id, name: point.name },
        networks: nics.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: n.connect })), reIp: done, warnings,
      };
    } catch (e) {
      // Back to a powered-off replica at the point, its NICs as before: replication can go on.
      await powerOffIfOn(vs, ref).catch(() => undefined);
      await vs.snapshots.revert(point.ref, { suppressPowerOn: true }).catch(() => undefined);
      await editNics(vs, ref, before.map((n) => ({ key: n.key, ...(n.network ? { network: n.network } : {}), connected: false, startConnected: n.startConnected }))).catch(() => undefined);
      throw e;
    }
  }, (r) => `${r.replicaName} failed over to recovery point '${r.point.name}' and powered on${r.reIp.length ? `, re-IP: ${r.reIp.map((x) => `${x.from} → ${x.to}`).join(', ')}` : ''}.`);
}
