// Restore points describe themselves: source, origin, consistency and why, warnings, the VSS
// manifest, the VM configuration and disk layouts travel with the repository folder. A copy made
// with `cp -a` lists all of it through the real CLI; encrypted repositories keep it sealed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { Repository, type RestorePointMetadata } from '../../backend/repository/repository.ts';
import { NTDS_WRITER_ID, type VssManifest } from '../../backend/model/vss.ts';
import type { VmConfig } from '../../backend/model/vm-config.ts';
import type { DiskLayout } from '../../backend/model/restore-point.ts';
import { tempDir, sparseRandomImage, ROOT } from './helpers.ts';

const MiB = 1024 * 1024;
const BIN = join(ROOT, 'bin', 'stillpoint.mjs');

function stillpoint(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, STILLPOINT_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const vss: VssManifest = {
  backupType: 'full',
  writers: [{
    writerId: NTDS_WRITER_ID, instanceId: '{4c1b6d2e-0000-4a4b-9c9d-111122223333}', name: 'NTDS',
    components: [{
      name: 'ntds', logicalPath: 'C:_Windows_NTDS', type: 'database', caption: 'Active Directory', selectable: true,
      files: [
        { path: 'C:\\Windows\\NTDS', filespec: 'ntds.dit', recursive: false, role: 'database' },
        { path: 'C:\\Windows\\NTDS', filespec: 'edb*.log', recursive: false, role: 'log' },
      ],
    }],
  }, {
    writerId: '{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}', name: 'WMI Writer',
    components: [{ name: 'WMI', files: [{ path: 'C:\\Windows\\system32\\wbem\\Repository', filespec: '*', recursive: true, role: 'file' }] }],
  }],
};

const vmConfig: VmConfig = {
  version: 1, name: 'dc01', guestId: 'windows2019srv_64Guest', guestFullName: 'Microsoft Windows Server 2019 (64-bit)',
  numCPUs: 4, numCoresPerSocket: 2, memoryMB: 8192, firmware: 'efi', hardwareVersion: 'vmx-19',
  vmPathName: '[ds1] dc01/dc01.vmx', host: 'host-12',
  controllers: [{ key: 1000, type: 'ParaVirtualSCSIController', busNumber: 0, sharedBus: 'noSharing' }],
  disks: [{ key: 2000, label: 'Hard disk 1', capacityBytes: 6 * MiB, controllerKey: 1000, unitNumber: 0, thin: true, diskMode: 'persistent', fileName: '[ds1] dc01/dc01.vmdk' }],
  nics: [{ key: 4000, type: 'VirtualVmxnet3', network: 'VM Network', macAddress: '00:50:56:aa:bb:cc', addressType: 'assigned', connected: true }],
};

const gpt: DiskLayout = {
  controller: { type: 'ParaVirtualSCSIController', busNumber: 0, unitNumber: 0 },
  thin: true,
  partitioning: {
    scheme: 'gpt', diskGuid: '6f0d7e6a-1b2c-4d3e-8f90-a1b2c3d4e5f6',
    partitions: [
      { index: 1, start: 1 * MiB, length: 100 * MiB, type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', typeName: 'EFI system', name: 'EFI system partition' },
      { index: 2, start: 101 * MiB, length: 16 * MiB, type: 'e3c9e316-0b5c-4db8-817d-f92df00215ae', typeName: 'Microsoft reserved', name: 'Microsoft reserved partition' },
      { index: 3, start: 117 * MiB, length: 40 * 1024 * MiB, type: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', typeName: 'Microsoft basic data', name: 'Basic data partition' },
    ],
  },
};

const mbr: DiskLayout = {
  controller: { type: 'ParaVirtualSCSIController', busNumber: 0, unitNumber: 1 },
  partitioning: { scheme: 'mbr', partitions: [{ index: 1, start: 1 * MiB, length: 3 * MiB, type: '0x07', typeName: 'NTFS/exFAT' }, { index: 5, start: 4 * MiB, length: MiB, type: '0x83', typeName: 'Linux', logical: true }] },
};

function metadata(kind: 'job' | 'on-demand', warnings: string[]): RestorePointMetadata {
  return {
    source: { site: 'site-hq', vcenter: { instanceUuid: 'b7c3d0e2-5f4a-4e1b-9c8d-7a6b5c4d3e2f', url: 'https://vc01.example.test/sdk' }, vm: { moref: 'vm-42', instanceUuid: '502e3f1a-aaaa-bbbb-cccc-0123456789ab', name: 'dc01' } },
    origin: kind === 'job'
      ? { kind: 'job', jobId: 'job-7', jobName: 'Nightly AD', runId: 'run-2026-01-05-0100', initiatedBy: 'scheduler' }
      : { kind: 'on-demand', initiatedBy: 'VSPHERE.LOCAL\\alice' },
    consistency: kind === 'job'
      ? { consistency: 'application', reason: 'VSS writers took part: NTDS, WMI Writer' }
      : { consistency: 'crash', reason: 'VMware Tools not running: no quiescing' },
    warnings,
    vss: kind === 'job' ? vss : undefined,
    vmConfig,
    layouts: { '2000': gpt },
  };
}

async function writePoints(repo: Repository, img: string, img2: string) {
  const capacity = statSync(img).size;
  // 1: a job run with VSS; one warning known at begin time, one learned while running, a layout set late.
  const w1 = await repo.beginRestorePoint({ vm: { id: 'vm-42', name: 'dc01', uuid: '502e3f1a-aaaa-bbbb-cccc-0123456789ab' }, notes: 'nightly', metadata: metadata('job', ['CBT was reset: full read']) });
  assert.equal(w1.consistency, 'application');
  const d1 = await w1.addDisk({ key: '2000', label: 'Hard disk 1', capacity, file: '[ds1] dc01/dc01.vmdk', changeId: '52 aa/1' });
  await d1.writeFile(img);
  const d2 = await w1.addDisk({ key: '2001', label: 'Hard disk 2', capacity: statSync(img2).size });
  await d2.writeFile(img2);
  w1.addWarning('disk 2001: 3 unreadable sectors were read as zeros');
  w1.setDiskLayout('2001', mbr);
  const rp1 = await w1.commit();
  assert.throws(() => w1.addWarning('late'), /already committed/);
  // 2: on demand, crash consistent, incremental.
  const w2 = await repo.beginRestorePoint({ vm: { id: 'vm-42', name: 'dc01' }, consistency: 'crash', parent: rp1.id, metadata: metadata('on-demand', []) });
  await (await w2.addDisk({ key: '2000', label: 'Hard disk 1', capacity })).writeFile(img);
  w2.addWarning('snapshot consolidation needed afterwards');
  const rp2 = await w2.commit();
  return { rp1, rp2 };
}

function expected1(): RestorePointMetadata {
  return { ...metadata('job', ['CBT was reset: full read', 'disk 2001: 3 unreadable sectors were read as zeros']), layouts: { '2000': gpt, '2001': mbr } };
}
function expected2(): RestorePointMetadata {
  const m = metadata('on-demand', ['snapshot consolidation needed afterwards']);
  delete m.vss;
  return m;
}

test('restore points carry their metadata; a cp -a copy lists it through the CLI', async (t) => {
  const dir = tempDir(t);
  const img = sparseRandomImage(join(dir, 'disk.img'), 6, [[0, 64 * 1024], [2 * MiB, MiB]]);
  const img2 = sparseRandomImage(join(dir, 'disk2.img'), 5, [[MiB, 4096]]);
  const repoDir = join(dir, 'repo');
  const repo = await Repository.init(repoDir);
  const { rp1, rp2 } = await writePoints(repo, img, img2);
  // An old-style point: no metadata, free-form vmConfig; still written and listed.
  const w3 = await repo.beginRestorePoint({ vm: { id: 'vm-9', name: 'legacy' }, consistency: 'filesystem', vmConfig: { cpus: 1 } });
  w3.addWarning('no metadata, still a warning');
  await (await w3.addDisk({ key: '0', label: 'disk', capacity: MiB })).write(0, Buffer.alloc(MiB, 7));
  const rp3 = await w3.commit();
  // Invalid metadata and contradicting consistency are refused up front.
  await assert.rejects(repo.beginRestorePoint({ vm: { id: 'x', name: 'x' }, metadata: { ...metadata('job', []), origin: { kind: 'cron' } } as unknown as RestorePointMetadata }), /origin.kind/);
  await assert.rejects(repo.beginRestorePoint({ vm: { id: 'x', name: 'x' }, consistency: 'crash', metadata: metadata('job', []) }), /differs/);
  await assert.rejects(repo.beginRestorePoint({ vm: { id: 'x', name: 'x' } }), /consistency must be/);
  await repo.close();

  const copy = join(dir, 'copy');
  execFileSync('cp', ['-a', repoDir, copy]);
  const ls = stillpoint(['repo', 'ls', copy, '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  const list = JSON.parse(ls.stdout) as (typeof rp1 & { warnings: string[] })[];
  assert.deepEqual(list.map((r) => r.id).sort(), [rp1.id, rp2.id, rp3.id].sort());
  const got1 = list.find((r) => r.id === rp1.id)!;
  const got2 = list.find((r) => r.id === rp2.id)!;
  const got3 = list.find((r) => r.id === rp3.id)!;

  // Every field comes back, exactly.
  assert.deepEqual(got1.metadata, expected1());
  assert.deepEqual(got2.metadata, expected2());
  assert.equal(got1.consistency, 'application');
  assert.equal(got2.consistency, 'crash');
  assert.deepEqual(got1.warnings, expected1().warnings);
  assert.deepEqual(got1.vmConfig, vmConfig, 'rp.vmConfig stays readable for restores');
  assert.equal(got2.parent, rp1.id);
  assert.deepEqual(got1.disks.map((d) => [d.key, d.changeId ?? null]), [['2000', '52 aa/1'], ['2001', null]]);
  // The pieces item restore and the UI need, spelled out.
  const m = got1.metadata!;
  assert.equal(m.source.vcenter.instanceUuid, 'b7c3d0e2-5f4a-4e1b-9c8d-7a6b5c4d3e2f');
  assert.deepEqual(m.source.vm, { moref: 'vm-42', instanceUuid: '502e3f1a-aaaa-bbbb-cccc-0123456789ab', name: 'dc01' });
  assert.equal(m.source.site, 'site-hq');
  assert.deepEqual(m.origin, { kind: 'job', jobId: 'job-7', jobName: 'Nightly AD', runId: 'run-2026-01-05-0100', initiatedBy: 'scheduler' });
  assert.equal(m.consistency.reason, 'VSS writers took part: NTDS, WMI Writer');
  const ntds = m.vss!.writers.find((w) => w.writerId === NTDS_WRITER_ID)!;
  assert.equal(ntds.name, 'NTDS');
  const files = ntds.components[0]!.files;
  assert.deepEqual(files.find((f) => f.role === 'database'), { path: 'C:\\Windows\\NTDS', filespec: 'ntds.dit', recursive: false, role: 'database' });
  assert.equal(files.find((f) => f.role === 'log')!.path, 'C:\\Windows\\NTDS');
  assert.equal(m.layouts['2000']!.partitioning.scheme, 'gpt');
  assert.equal(m.layouts['2000']!.partitioning.partitions[2]!.typeName, 'Microsoft basic data');
  assert.equal(m.layouts['2001']!.partitioning.partitions[1]!.logical, true);
  assert.deepEqual(got2.metadata!.origin, { kind: 'on-demand', initiatedBy: 'VSPHERE.LOCAL\\alice' });
  // The old-style record loads as before.
  assert.equal(got3.metadata, undefined);
  assert.deepEqual(got3.vmConfig, { cpus: 1 });
  assert.deepEqual(got3.warnings, ['no metadata, still a warning']);

  // The table view has the consistency and a warnings count.
  const text = stillpoint(['repo', 'ls', copy]);
  assert.equal(text.code, 0, text.stderr);
  const line1 = text.stdout.split('\n').find((l) => l.startsWith(rp1.id))!;
  assert.match(line1, /application\s+2 warnings\s+2 disks/);
  assert.match(line1, /job Nightly AD/);
  assert.match(text.stdout.split('\n').find((l) => l.startsWith(rp2.id))!, /crash\s+1 warning\s+1 disk\s.*on-demand/);
  assert.match(text.stdout, /consistency/);

  // The copy is a working repository: its points still read.
  const again = await Repository.open(copy);
  t.after(() => again.close());
  assert.deepEqual((await again.getRestorePoint(rp1.id)).metadata, expected1());
  assert.deepEqual(await again.read(rp1.id, '2000', 2 * MiB, 16), readFileSync(img).subarray(2 * MiB, 2 * MiB + 16));
});

function filesUnder(d: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p)); else if (e.isFile()) out.push(p);
  }
  return out;
}

test('an encrypted repository keeps the metadata sealed; its copy lists it with the passphrase', async (t) => {
  const dir = tempDir(t);
  const img = sparseRandomImage(join(dir, 'disk.img'), 6, [[0, 64 * 1024], [2 * MiB, MiB]]);
  const img2 = sparseRandomImage(join(dir, 'disk2.img'), 5, [[MiB, 4096]]);
  const env = { STILLPOINT_PASSPHRASE: 'sealed metadata' };
  // Texts of 8+ bytes, so random ciphertext does not contain one by chance.
  const secrets = ['ntds.dit', 'C:\\Windows\\NTDS', 'Nightly AD', 'b7c3d0e2-5f4a-4e1b-9c8d-7a6b5c4d3e2f', 'vc01.example.test', 'Basic data partition',
    'unreadable sectors', 'consolidation', 'VSPHERE.LOCAL', '00:50:56:aa:bb:cc', 'VSS writers took part'];
  const scan = (root: string): string[] => {
    const found: string[] = [];
    for (const f of filesUnder(root)) {
      const b = readFileSync(f);
      for (const s of secrets) if (b.includes(Buffer.from(s)) || b.includes(Buffer.from(s, 'utf16le'))) found.push(`${s} in ${f}`);
    }
    return found;
  };

  // Control: the same points in a plain repository do show the text, so the scan finds what is there.
  const plainDir = join(dir, 'plain');
  const plain = await Repository.init(plainDir);
  await writePoints(plain, img, img2);
  await plain.close();
  assert.ok(scan(plainDir).length > 0, 'the scan sees metadata in a plain repository');

  const repoDir = join(dir, 'enc');
  const repo = await Repository.init(repoDir, { passphrase: env.STILLPOINT_PASSPHRASE });
  const { rp1 } = await writePoints(repo, img, img2);
  await repo.close();
  assert.deepEqual(scan(repoDir), [], 'no metadata text in clear in any file of the encrypted repository');

  const copy = join(dir, 'copy');
  execFileSync('cp', ['-a', repoDir, copy]);
  assert.deepEqual(scan(copy), []);
  const ls = stillpoint(['repo', 'ls', copy, '--json'], env);
  assert.equal(ls.code, 0, ls.stderr);
  const got = (JSON.parse(ls.stdout) as { id: string; metadata: RestorePointMetadata }[]).find((r) => r.id === rp1.id)!;
  assert.deepEqual(got.metadata, expected1());
  const wrong = stillpoint(['repo', 'ls', copy, '--json'], { STILLPOINT_PASSPHRASE: 'nope' });
  assert.equal(wrong.code, 1);
  assert.equal(JSON.parse(wrong.stdout).error.code, 'EPASSPHRASE');
});
