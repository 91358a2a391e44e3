// Shared by the failover, failback and plan tests: a lab with production and DR networks (VMs with
// NICs), a service-account session, and helpers to replicate a VM and read a replica's disk files; for
// failback, the service and a transporter at the DR site (a failback reads the replica through it).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab, type LabVm } from '../lab/lab.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { SessionJournal } from '../../backend/sources/snapshot/journal.ts';
import { VmLocks } from '../../backend/sources/snapshot/vm-lock.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { replicateVm, type ReplicateResult } from '../../backend/replication/replicate-vm.ts';
import type { NetworkMapping } from '../../backend/replication/replica-vm.ts';
import { DEFAULT_SETTINGS } from '../helpers/backup-env.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { startDrTransporter, startTransporter, type TransporterProc } from './transport-lab.ts';

/** The service on the lab with the DR helper's transporter running (`restart` after a test stopped it). */
export interface FailbackSite {
  t: TestService;
  token: string;
  transporter: TransporterProc;
  restart(): Promise<void>;
}

export interface FailoverLab {
  lab: Lab;
  vs: VSphere;
  locks: VmLocks;
  journal: SessionJournal;
  dataDir: string;
  vmId(name: string): Promise<string>;
  vm(name: string): Promise<LabVm>;
  replicate(vm: string, networkMap: NetworkMapping[], keep?: number): Promise<ReplicateResult>;
  /** The service and the DR transporter for failback, started at the first call (after the VMs the test made: its inventory knows them). */
  failbackSite(): Promise<FailbackSite>;
  close(): Promise<void>;
}

export async function startFailoverLab(): Promise<FailoverLab> {
  const lab = await startLab({ replication: true, diskMiB: 64 });
  const vs = await connectToLab(lab);
  const dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-failover-'));
  const journal = new SessionJournal(join(dataDir, 'data'));
  const locks = new VmLocks();
  let site: FailbackSite | undefined;
  const self: FailoverLab = {
    lab, vs, locks, journal, dataDir,
    async vmId(name) { return (await lab.control.vms())[name]!.moref; },
    async vm(name) { return (await lab.control.vms())[name]!; },
    async replicate(vm, networkMap, keep) {
      const vmId = await self.vmId(vm);
      return replicateVm({ vs, journal, locks }, { vmId, target: { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', networkMap, ...(keep ? { keep } : {}) }, settings: DEFAULT_SETTINGS });
    },
    async failbackSite() {
      if (site) return site;
      const t = await startTestService({ lab, register: false });
      const token = await t.login();
      const dr = await startDrTransporter(t, token);
      const made: FailbackSite = {
        t, token, transporter: dr.transporter,
        async restart() { made.transporter = await startTransporter({ lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: dr.pairing }); },
      };
      site = made;
      return made;
    },
    async close() {
      if (site?.transporter.proc.exitCode === null) await site.transporter.kill9();
      await site?.t.stop();
      await vs.close().catch(() => undefined);
      await lab.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Files in a VM's datastore folder (name → size), for "nothing changed" checks. */
export function folderFiles(vm: LabVm): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(vm.datastoreDir, { withFileTypes: true })) if (f.isFile() && !f.name.endsWith('.log')) out[f.name] = statSync(join(vm.datastoreDir, f.name)).size;
  return out;
}

/** The bytes of a disk at [off, off+len) as its chain shows them: the top-most file whose bytes there are not all zero. */
export function readThroughChain(vm: LabVm, disk: number, off: number, len: number): Buffer {
  for (const f of vm.disks[disk]!.chain) {
    const fd = readFileSync(f.dataPath);
    const b = Buffer.alloc(len);
    fd.copy(b, 0, off, Math.min(fd.length, off + len));
    if (b.some((x) => x !== 0)) return b;
  }
  return Buffer.alloc(len);
}

/** A guest-operation log entry (GET /lab/guest/calls), with the lab's NIC edits (kind "nic", nicrecord.go). */
export interface GuestLogEntry {
  kind: string; vm: string; programPath?: string; arguments?: string;
  deviceKey?: number; network?: string; connected?: boolean; startConnected?: boolean;
}
