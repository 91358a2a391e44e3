// A repository knows what it holds without the service: back up through the service (a job and an
// on-demand backup), copy the repository elsewhere, delete the service's data folder, and
// `stillpoint repo ls --json` on the copy still tells each point's job, consistency and why,
// warnings, the VSS writers' components with their files, and how each disk is laid out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestService } from '../helpers/service.ts';
import type { Job, JobRun } from '../../backend/api/contract.ts';
import type { RestorePointMetadata } from '../../backend/model/restore-point.ts';
import { cli } from '../repository/helpers.ts';

test('a copied repository lists job, consistency and reason, warnings, VSS components and disk layouts with no service data', async () => {
  const svc = await startTestService();
  const copy = mkdtempSync(join(tmpdir(), 'stillpoint-repo-copy-'));
  try {
    const token = await svc.login();
    const ids = Object.fromEntries(Object.entries(await svc.lab.control.vms()).map(([n, v]) => [n, v.moref]));
    const job = await svc.call<Job>('POST', '/api/jobs', {
      token, body: { name: 'apps nightly', vmIds: [ids['win-app01']!], schedule: { cron: null }, retention: {}, concurrency: 1, enabled: true, appAware: { quiesce: true, onQuiesceFailure: 'fallback', vssBackupType: 'copy' } },
    });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const jobRun = await svc.waitRun(token, (await svc.call<JobRun>('POST', `/api/jobs/${job.body.id}/run`, { token })).body.id);
    assert.equal(jobRun.status, 'success', JSON.stringify(jobRun));
    // web-off01 is powered off: crash-consistent, with a warning that says so.
    const manual = await svc.waitRun(token, (await svc.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [ids['web-off01']!] } })).body.id);
    assert.equal(manual.status, 'warning', JSON.stringify(manual));

    const repoDir = svc.service.config.repository.path;
    const dataDir = svc.service.config.dataDir;
    await svc.service.close(); // releases the repository
    cpSync(repoDir, join(copy, 'repo'), { recursive: true });
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(existsSync(repoDir), false, 'the service data folder (and the repository in it) is gone');

    const ls = cli(['ls', join(copy, 'repo'), '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const points = JSON.parse(ls.stdout) as { id: string; vm: { id: string; name: string }; consistency: string; metadata?: RestorePointMetadata }[];
    assert.equal(points.length, 2, ls.stdout);

    const win = points.find((p) => p.vm.name === 'win-app01');
    assert.ok(win?.metadata, ls.stdout);
    const m = win.metadata;
    assert.deepEqual({ kind: m.origin.kind, jobId: m.origin.jobId, jobName: m.origin.jobName, runId: m.origin.runId },
      { kind: 'job', jobId: job.body.id, jobName: 'apps nightly', runId: jobRun.id });
    assert.equal(m.consistency.consistency, 'application');
    assert.match(m.consistency.reason, /SqlServerWriter/);
    assert.equal(m.source.vm.moref, ids['win-app01']);
    assert.equal(m.source.vcenter.instanceUuid, svc.lab.vcGuid);
    assert.equal(m.vmConfig?.name, 'win-app01');
    const sql = m.vss?.writers.find((w) => w.name === 'SqlServerWriter');
    assert.ok(sql, `VSS writers: ${JSON.stringify(m.vss)}`);
    assert.ok(sql.components.length > 0 && sql.components.every((c) => c.files.length > 0 && c.files.every((f) => f.path.length > 0)), JSON.stringify(sql));
    // win-app01's disk: GPT with an NTFS (Microsoft basic data) and an ext4 (Linux filesystem) partition, on SCSI 0:0.
    const layout = m.layouts[String(win.metadata.vmConfig!.disks[0]!.key)];
    assert.equal(layout?.partitioning.scheme, 'gpt', JSON.stringify(m.layouts));
    assert.deepEqual(layout.partitioning.partitions.map((p) => p.typeName), ['Microsoft basic data', 'Linux filesystem']);
    assert.equal(layout.controller?.busNumber, 0);

    const off = points.find((p) => p.vm.name === 'web-off01');
    assert.ok(off?.metadata, ls.stdout);
    assert.equal(off.metadata.origin.kind, 'on-demand');
    assert.equal(off.metadata.consistency.consistency, 'crash');
    assert.ok(off.metadata.warnings.some((w) => /crash-consistent/.test(w)), JSON.stringify(off.metadata.warnings));
    await svc.lab.stop();
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
