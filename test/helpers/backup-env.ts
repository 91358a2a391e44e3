// A lab vCenter, a service-account VSphere client, a fresh repository and the backup plumbing, for
// tests of the backup engine below the API.
import { mkdtempSync, rmSync, createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { Repository } from '../../backend/repository/repository.ts';
import { SessionJournal } from '../../backend/sources/snapshot/journal.ts';
import { VmLocks } from '../../backend/sources/snapshot/vm-lock.ts';
import type { AppAwareSettings } from '../../backend/api/contract.ts';
import { connectToLab } from './lab-vsphere.ts';

export interface BackupEnv {
  lab: Lab;
  vs: VSphere;
  repo: Repository;
  journal: SessionJournal;
  locks: VmLocks;
  dir: string;
  vmId(name: string): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_SETTINGS: AppAwareSettings = { quiesce: true, onQuiesceFailure: 'fail', vssBackupType: 'copy' };

export async function startBackupEnv(opts: { diskMiB?: number } = {}): Promise<BackupEnv> {
  const lab = await startLab(opts.diskMiB ? { diskMiB: opts.diskMiB } : {});
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-backup-'));
  const vs = await connectToLab(lab);
  const repo = await Repository.init(join(dir, 'repo'));
  return {
    lab, vs, repo, dir, journal: new SessionJournal(join(dir, 'data')), locks: new VmLocks(),
    async vmId(name) { return (await lab.control.vms())[name]!.moref; },
    async close() {
      await repo.close().catch(() => undefined);
      await vs.close().catch(() => undefined);
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}
