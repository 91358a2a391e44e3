// The vCenter steps the failover operations share: the replica's network adapters (read, moved to a
// network, connected or not, always sent as read), waiting for a power state or for VMware Tools'
// heartbeat, and shutting a guest down through Tools (power off after a timeout).
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidRequest } from '../../common/errors.ts';
import { hostNetworks } from '../../restore/placement.ts';
import type { MoRef, VirtualDevice, VSphere } from '../../vsphere/index.ts';
import type { NicState } from '../replica-state.ts';

export type Nic = VirtualDevice & { macAddress?: string; backing?: { _type?: string; deviceName?: string; network?: MoRef } };

const isNic = (d: VirtualDevice): d is Nic => typeof (d as Nic).macAddress === 'string' || /Ethernet|Vmxnet|E1000|Pcnet|Vlance|Sriov/i.test(String(d._type ?? ''));

export async function readNics(vs: VSphere, vm: MoRef): Promise<Nic[]> {
  const { 'config.hardware.device': devices } = await vs.pc.retrieveOne<{ 'config.hardware.device'?: VirtualDevice[] }>(vm, ['config.hardware.device']);
  return (devices ?? []).filter(isNic);
}

export function nicStates(nics: Nic[]): NicState[] {
  return nics.map((n) => ({
    key: n.key, ...(n.backing?.deviceName ? { network: n.backing.deviceName } : {}),
    connected: !!n.connectable?.connected, startConnected: !!n.connectable?.startConnected,
  }));
}

export interface NicEdit { key: number; network?: string; connected?: boolean; startConnected?: boolean }

/** Edits NICs with each device sent as read (vSphere keeps its MAC); a network is looked up on the VM's host. */
export async function editNics(vs: VSphere, vm: MoRef, edits: NicEdit[]): Promise<void> {
  if (!edits.length) return;
  const nics = await readNics(vs, vm);
  let nets: Map<string, MoRef> | undefined;
  const changes = [];
  for (const e of edits) {
    const n = nics.find((x) => x.key === e.key);
    if (!n) continue;
    const c = n.connectable;
    const device: Nic = {
      ...n, connectable: {
        ...(c ?? {}), allowGuestControl: c?.allowGuestControl ?? true,
        connected: e.connected ?? !!c?.connected, startConnected: e.startConnected ?? !!c?.startConnected,
      },
    };
    if (e.network && e.network !== n.backing?.deviceName) {
      if (!nets) {
        const host = (await vs.vms.get(vm)).host;
        nets = host ? await hostNetworks(vs, host) : new Map();
      }
      const net = nets.get(e.network);
      if (!net) throw new InvalidRequest(`Network '${e.network}' does not exist on the replica's host: choose among ${[...nets.keys()].sort().map((x) => `'${x}'`).join(', ') || '(none)'}.`);
      device.backing = { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: e.network, network: net };
    }
    changes.push({ operation: 'edit' as const, device });
  }
  if (changes.length) await vs.vms.reconfigure(vm, { deviceChange: changes });
}

/** Polls a VM property until `ok` holds; throws with `what` after timeoutMs. */
export async function waitForVm<T>(vs: VSphere, vm: MoRef, prop: string, ok: (v: T | undefined) => boolean, what: string,
  opts: { timeoutMs: number; signal?: AbortSignal; pollMs?: number }): Promise<T | undefined> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const p = await vs.pc.retrieveOne<Record<string, T | undefined>>(vm, [prop]);
    if (ok(p[prop])) return p[prop];
    if (Date.now() >= end) throw new Error(`${what} did not happen within ${Math.round(opts.timeoutMs / 1000)} s`);
    await delay(opts.pollMs ?? 1000, undefined, opts.signal ? { signal: opts.signal } : {});
  }
}

export async function powerState(vs: VSphere, vm: MoRef): Promise<string> {
  return (await vs.vms.get(vm)).powerState;
}

export async function powerOffIfOn(vs: VSphere, vm: MoRef): Promise<void> {
  if ((await powerState(vs, vm)) !== 'poweredOff') await vs.vms.powerOff(vm);
}

/** Waits until Tools runs in the guest and its heartbeat is green; returns when it was seen. */
export async function waitForHeartbeat(vs: VSphere, vm: MoRef, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<string> {
  await waitForVm<string>(vs, vm, 'guestHeartbeatStatus', (v) => v === 'green', 'A green VMware Tools heartbeat', opts);
  return new Date().toISOString();
}

/**
 * Shuts the guest down through VMware Tools (ShutdownGuest) and waits for it to power off; powers it
 * off when Tools does not run or the guest is still on after timeoutMs. Says which it was.
 */
export async function shutDownGuest(vs: VSphere, vm: MoRef, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<'already off' | 'shut down' | 'powered off'> {
  if ((await powerState(vs, vm)) === 'poweredOff') return 'already off';
  try {
    await vs.client.call('ShutdownGuest', { _this: vm });
  } catch {
    await vs.vms.powerOff(vm);
    return 'powered off';
  }
  try {
    await waitForVm<string>(vs, vm, 'runtime.powerState', (v) => v === 'poweredOff', 'The guest shutdown', opts);
    return 'shut down';
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    await powerOffIfOn(vs, vm);
    return 'powered off';
  }
}
