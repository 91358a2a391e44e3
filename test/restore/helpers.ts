// Shared helpers of the restore tests: restore points made with the repository API from the lab VMs'
// flat files, hashing, and looking at the lab datastores' local folders.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureVmConfig } from '../../backend/sources/snapshot/vm-config.ts';
import { Repository, type RestorePoint } from '../../backend/repository/repository.ts';
import { mor, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';

export function connect(lab: Lab): Promise<VSphere> {
  return connectToLab(lab);
}

export async function tempRepo(): Promise<{ repo: Repository; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sp-restore-test-'));
  const repo = await Repository.init(join(dir, 'repo'), { threads: 2 });
  return { repo, dir };
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A crash-consistent restore point of a lab VM, straight from its flat file(s), with its vmConfig. */
export async function backUp(vs: VSphere, repo: Repository, name: string, vm: LabVm,
  override: { vmId?: string; uuid?: string; capacity?: number } = {}): Promise<RestorePoint> {
  const ref = mor('VirtualMachine', vm.moref);
  const info = await vs.vms.get(ref);
  const vmConfig = await captureVmConfig(vs, ref);
  const w = await repo.beginRestorePoint({
    vm: { id: override.vmId ?? vm.moref, name, ...(override.uuid ?? info.instanceUuid ? { uuid: override.uuid ?? info.instanceUuid } : {}) },
    consistency: 'crash', vmConfig,
  });
  for (const disk of vm.disks) {
    const label = vmConfig.disks.find((d) => d.key === disk.key)?.label ?? `disk ${disk.key}`;
    const d = await w.addDisk({ key: String(disk.key), label, capacity: override.capacity ?? disk.capacityBytes, file: disk.fileName });
    if (override.capacity === undefined) await d.writeFile(disk.flatPath);
    await d.finish();
  }
  return w.commit();
}

/** Local folder of a lab datastore (vcsim keeps datastores as plain directories; the url is that path). */
export async function datastoreDir(vs: VSphere, name: string): Promise<string> {
  const ds = (await vs.inventory.datastores()).find((d) => d.name === name);
  if (!ds?.url || !existsSync(ds.url)) throw new Error(`no local folder for datastore ${name}`);
  return ds.url;
}

/** Every file and folder under the lab's datastores (to show that nothing was created). */
export function datastoreListing(lab: Lab): string[] {
  const root = join(lab.dataDir, 'datastores');
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${n.name}` : n.name;
      if (n.isDirectory()) { out.push(`${r}/`); walk(join(d, n.name), r); } else out.push(r);
    }
  };
  walk(root, '');
  return out.filter((p) => !/\.log$/.test(p)).sort();
}

export const readLocal = (p: string): Buffer => readFileSync(p);
