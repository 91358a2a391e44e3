// Reading a replica's disks whole through a transporter at the DR site: a replica disk is a chain of
// snapshot deltas (its recovery points), which no datastore HTTP read of one file shows whole (on ESXi a
// delta is SEsparse). Hot-added to the transporter's helper VM, each disk is one device showing the
// chain's current state; the service reads ranges of it. Used to copy a replica to a new VM (failback).
import { childLog } from '../../common/log.ts';
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { detachVmLeftovers } from './helper-disks.ts';
import type { TransporterLink } from './link.ts';
import { vcenterAccess } from './hub.ts';

const log = childLog('replication.hot-add');
const READ = 4 * 1024 * 1024;

export interface HotAddReader {
  sources: DiskSource[];
  /** Bytes received from the transporter. */
  readonly received: number;
  /** Detaches the disks (through vCenter when the transporter went away); never throws, returns warnings. */
  close(): Promise<string[]>;
}

/** Attaches the VM's disks (their current chains, the VM powered off) to the transporter's helper for reading. */
export async function openHotAddReader(vs: VSphere, link: TransporterLink, vm: MoRef, disks: { label: string; fileName: string; capacity: number }[], signal?: AbortSignal): Promise<HotAddReader> {
  let opened: Awaited<ReturnType<TransporterLink['open']>>;
  try {
    opened = await link.open(await vcenterAccess(vs), disks.map((d) => ({ fileName: d.fileName, capacity: d.capacity })), signal);
  } catch (e) {
    // The transporter may have attached them and gone away before answering.
    await detachVmLeftovers(vs, { type: 'VirtualMachine', value: link.address.helperVm }, vm).catch(() => undefined);
    throw e;
  }
  const sources = disks.map((d, i): DiskSource => ({
    description: `${d.label} (${d.fileName}, through transporter '${link.address.name}')`,
    capacity: d.capacity,
    async read(start, length, sig) {
      const parts: Buffer[] = [];
      for (let o = 0; o < length; o += READ) parts.push(await link.read(opened.session, i, start + o, Math.min(READ, length - o), sig));
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
  }));
  return {
    sources,
    get received() { return link.received; },
    async close() {
      try {
        await link.close(opened.session);
        return [];
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'the transporter did not end its session; detaching through vCenter');
      }
      try {
        const left = await detachVmLeftovers(vs, { type: 'VirtualMachine', value: link.address.helperVm }, vm);
        return left.length ? [`Transporter '${link.address.name}' did not detach the replica's disks; Stillpoint detached them through vCenter (${left.join(', ')}).`] : [];
      } catch (e) {
        return [`The replica's disks may still be attached to transporter '${link.address.name}' (${(e as Error).message}): the transporter detaches them at its next start.`];
      }
    },
  };
}
