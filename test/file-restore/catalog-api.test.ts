// The file catalog through the service and the lab vCenter: each backup of linux-db01 (MBR: FAT32 +
// ext4) is followed by a catalog run in the background; the catalog shows each volume's filesystem and
// consistency, finds a file's versions across the two points, compares the points; a hidden VM's
// catalog is 404 to the restricted user.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startTestService, type TestService } from '../helpers/service.ts';
import type { ApiError, CatalogChanges, CatalogStatus, FileVersions, JobRun, VolumeConsistency } from '../../backend/api/contract.ts';

let t: TestService;
let admin: string;
let ids: Record<string, string>;
const points: string[] = [];
let manifest: { partitions: { index: number; fs: string; files: { path: string; size: number }[] }[] };

before(async () => {
  t = await startTestService();
  admin = await t.login();
  ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
  manifest = JSON.parse(readFileSync(join(t.lab.imagesDir!, 'linux-db01.manifest.json'), 'utf8'));
});
after(async () => { await t?.stop(); });

async function backup(vm: string): Promise<string> {
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids[vm]] } });
  assert.equal(b.status, 202, JSON.stringify(b.body));
  const run = await t.waitRun(admin, b.body.id, 120_000);
  assert.ok(run.status === 'success' || run.status === 'warning', JSON.stringify(run));
  return run.vms[0]!.restorePointId!;
}

/** The catalog the service builds after the backup, once it is no longer queued or building (bounded). */
async function catalogOf(rp: string): Promise<CatalogStatus> {
  const t0 = Date.now();
  for (;;) {
    const r = await t.call<CatalogStatus>('GET', `/api/restore-points/${rp}/catalog`, { token: admin });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (r.body.state === 'ready' || r.body.state === 'failed') return r.body;
    assert.notEqual(r.body.state, 'missing', 'a backup queues its catalog build');
    if (Date.now() - t0 > 120_000) throw new Error(`catalog of ${rp} still ${r.body.state}: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('after each backup a catalog run builds the point\'s file catalog; versions, changes and consistency through the API', async () => {
  const rp1 = await backup('linux-db01');
  const c1 = await catalogOf(rp1);
  assert.equal(c1.state, 'ready', JSON.stringify(c1));
  assert.ok(c1.runId);
  const run = await t.waitRun(admin, c1.runId!, 60_000);
  assert.deepEqual([run.kind, run.status, run.initiatedBy, run.vms[0]!.vmName, run.vms[0]!.restorePointId], ['catalog', 'success', 'Stillpoint (after the backup)', 'linux-db01', rp1]);
  assert.match(run.vms[0]!.message!, /^Catalogued \d+ file\(s\) on 2 of 2 volume\(s\)/);
  assert.deepEqual(c1.volumes!.map((v) => [v.volumeId, v.filesystem, v.consistency?.clean]), [['2000-p1', 'fat', true], ['2000-p2', 'ext', true]]);
  for (const [i, p] of manifest.partitions.entries()) assert.ok(c1.volumes![i]!.files >= p.files.length, `${p.fs}: every file of the image is catalogued`);

  const fsr = await t.call<VolumeConsistency[]>('GET', `/api/restore-points/${rp1}/filesystems`, { token: admin });
  assert.equal(fsr.status, 200);
  assert.deepEqual(fsr.body.map((v) => [v.volumeId, v.consistency?.summary]), [['2000-p1', 'FAT32: clean'], ['2000-p2', 'ext: clean']]);

  const rp2 = await backup('linux-db01');
  const c2 = await catalogOf(rp2);
  assert.equal(c2.state, 'ready');
  assert.equal(c2.comparedWith?.restorePointId, rp1, 'the new point is compared with the previous one');
  assert.equal(c2.comparedWith?.massEncryption.warning, false);

  const db = manifest.partitions[1]!.files.find((f) => f.path.endsWith('/data.db'))!;
  const v = await t.call<FileVersions>('GET', `/api/vms/${ids['linux-db01']}/file-versions?name=DATA.DB`, { token: admin });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.deepEqual(v.body.restorePoints.map((p) => [p.id, p.catalog]), [[rp2, 'ready'], [rp1, 'ready']]);
  assert.deepEqual(v.body.matches.map((m) => [m.restorePointId, m.volumeId, m.path, m.size]), [[rp2, '2000-p2', db.path.slice(1), db.size], [rp1, '2000-p2', db.path.slice(1), db.size]]);
  assert.deepEqual(v.body.versions.map((x) => x.restorePoints), [[rp1, rp2]], 'unchanged: one version in both points');
  const glob = await t.call<FileVersions>('GET', `/api/vms/${ids['linux-db01']}/file-versions?name=${encodeURIComponent('EFI/**/*.img')}`, { token: admin });
  assert.deepEqual(glob.body.matches.map((m) => m.path), ['EFI/BOOT/kernel.img', 'EFI/BOOT/kernel.img']);

  const ch = await t.call<CatalogChanges>('GET', `/api/restore-points/${rp2}/changes?against=${rp1}`, { token: admin });
  assert.equal(ch.status, 200, JSON.stringify(ch.body));
  assert.deepEqual([ch.body.from, ch.body.to, ch.body.massEncryption.warning], [rp1, rp2, false]);
  assert.equal(ch.body.totals.added + ch.body.totals.removed + ch.body.totals.renamed, 0, 'the lab disk did not change its files');
  const bad = await t.call<ApiError>('GET', `/api/restore-points/${rp2}/changes?against=not-a-point`, { token: admin });
  assert.equal(bad.status, 400);
  const badGlob = await t.call<ApiError>('GET', `/api/vms/${ids['linux-db01']}/file-versions?name=${'*a'.repeat(40)}`, { token: admin });
  assert.equal(badGlob.status, 400, JSON.stringify(badGlob.body));
  points.push(rp1, rp2);
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password, STILLPOINT_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('stillpoint files versions VM GLOB and files diff A B', async () => {
  const [rp1, rp2] = points;
  assert.ok(rp1 && rp2, 'the first test made two points');
  const v = await cli(['files', 'versions', 'linux-db01', 'data.db']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^PATH\s+SIZE\s+MODIFIED\s+IN RESTORE POINTS/m);
  assert.match(v.stdout, /2000-p2\/var\/lib\/db\/data\.db\s+2\.00 MiB\s+\S+ \S+\s+2 points/);
  assert.match(v.stderr, /searched 2 of 2 restore points/);
  const d = await cli(['files', 'diff', rp1, rp2, '--json']);
  assert.equal(d.code, 0, d.stderr);
  const changes = JSON.parse(d.stdout) as CatalogChanges;
  assert.deepEqual([changes.from, changes.to, changes.massEncryption.warning], [rp1, rp2, false]);
  const text = await cli(['files', 'diff', rp2, rp1]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^from ${rp1} to ${rp2}: 0 added`));
  assert.match(text.stderr, /No sign of mass encryption/);
  const bad = await cli(['files', 'diff', rp1]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /usage: stillpoint files diff POINT_A POINT_B/);
});

test('a hidden VM\'s catalog, versions and changes are 404 to the restricted user; a visible VM with the privilege is allowed', async () => {
  const hidden = await backup('web-off01');
  const op = await t.login('restricted');
  assert.equal((await t.call<ApiError>('GET', `/api/restore-points/${hidden}/catalog`, { token: op })).status, 404);
  assert.equal((await t.call<ApiError>('GET', `/api/vms/${ids['web-off01']}/file-versions?name=x`, { token: op })).status, 404);
  assert.equal((await t.call<ApiError>('POST', `/api/restore-points/${hidden}/catalog`, { token: op })).status, 404);
  const ok = await t.call<FileVersions>('GET', `/api/vms/${ids['linux-db01']}/file-versions?name=hostname`, { token: op });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.ok(ok.body.matches.length >= 1);
});
