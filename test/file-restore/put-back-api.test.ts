// Restored files put back into the running VM through the API, as the "Recover files…" wizard's
// "Restore to the VM" drives it: the lab VMs are backed up through the service, files and folders of
// their restore points are restored into their guests, and the lab's guest file systems show what
// arrived (bytes against the lab image's manifest, attributes against the restore point's entries).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { until, within } from '../helpers/wait.ts';
import type { ApiError, FileEntry, FileRestoreRequest, FileVolume, GuestCredential, JobRun, VmSummary } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { TASK_TYPES } from '../../plugin/extension.ts';
import { imageManifest, type LabImageManifest } from '../lab/lab.ts';

interface LabGuestEntry {
  path: string; type: 'file' | 'directory'; size: number; sha256?: string; content?: string; made?: boolean;
  attributes: { kind: string; permissions?: number; ownerId?: number; groupId?: number; hidden?: boolean; readOnly?: boolean; modificationTime?: string; createTime?: string };
}

let t: TestService;
let vs: VSphere;
let admin: string;
let ids: Record<string, string>;
const rp: Record<string, string> = {};
let cred: string;
let badCred: string;
let manifests: Record<string, LabImageManifest>;

before(async () => {
  t = await startTestService();
  vs = await connectToLab(t.lab);
  admin = await t.login();
  const vms = await t.lab.control.vms();
  ids = Object.fromEntries(Object.entries(vms).map(([n, v]) => [n, v.moref]));
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids['win-app01'], ids['linux-db01']] } });
  assert.equal(b.status, 202, JSON.stringify(b.body));
  const run = await t.waitRun(admin, b.body.id, 120_000);
  for (const v of run.vms) rp[v.vmName] = v.restorePointId!;
  const c = await t.call<GuestCredential>('POST', '/api/credentials', { token: admin, body: { name: 'lab guest', username: t.lab.guestUsername, password: t.lab.guestPassword, scope: 'shared' } });
  cred = c.body.id;
  badCred = (await t.call<GuestCredential>('POST', '/api/credentials', { token: admin, body: { name: 'wrong', username: t.lab.guestUsername, password: 'not-it' } })).body.id;
  manifests = Object.fromEntries(['win-app01', 'linux-db01'].map((n) => [n, imageManifest(t.lab.imagesDir!, n)]));
});
after(async () => { await vs?.close(); await t?.stop(); });

const guestFiles = async (vm: string) => (await t.lab.control.request('GET', `/lab/guest/files?vm=${vm}`)) as LabGuestEntry[];
const guestFile = async (vm: string, path: string) => (await guestFiles(vm)).find((e) => e.path === path);
const place = (vm: string, path: string, content: string) => t.lab.control.request('POST', `/lab/guest/files?vm=${vm}&path=${encodeURIComponent(path)}`, content);
const sha = (vm: string, partition: number, path: string) => manifests[vm]!.partitions.find((p) => p.index === partition)!.files.find((f) => f.path === path)!.sha256;

async function volume(vm: string, fs: string): Promise<FileVolume> {
  const r = await t.call<FileVolume[]>('GET', `/api/restore-points/${rp[vm]}/volumes`, { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.find((v) => v.filesystem === fs)!;
}
async function entry(vm: string, volumeId: string, path: string): Promise<FileEntry> {
  const r = await t.call<FileEntry>('GET', `/api/restore-points/${rp[vm]}/volumes/${volumeId}/entry?path=${encodeURIComponent(path)}`, { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
const restore = (vm: string, body: FileRestoreRequest, token = admin) => t.call<JobRun & ApiError>('POST', `/api/restore-points/${rp[vm]}/files/restore`, { token, body });
async function restored(vm: string, body: FileRestoreRequest): Promise<JobRun> {
  const r = await restore(vm, body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'file-restore');
  return t.waitRun(admin, r.body.id);
}

test('files and a folder of a Linux restore point into a guest folder: bytes, mode, owner and times arrive; progress events; history; vCenter task', async () => {
  const ext = await volume('linux-db01', 'ext');
  const conf = await entry('linux-db01', ext.id, '/etc/app/app.conf');
  const alice = await entry('linux-db01', ext.id, '/home/alice');
  const db = await entry('linux-db01', ext.id, '/var/lib/db/data.db');
  const seen: JobRun[] = [];
  let runId = '';
  const stream = t.events(admin, (e) => {
    if (e.type !== 'run' || e.run.kind !== 'file-restore') return false;
    seen.push(e.run);
    return e.run.id === runId && e.run.status !== 'running';
  });
  assert.equal(await stream.opened, 200);
  const r = await restore('linux-db01', {
    items: [{ volumeId: ext.id, ref: conf.ref }, { volumeId: ext.id, ref: alice.ref }, { volumeId: ext.id, ref: db.ref }],
    target: { kind: 'folder', path: '/srv/restored' }, existing: 'overwrite', credentialId: cred,
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  runId = r.body.id;
  await within('the run to end in the event stream', stream.done, 60_000);
  const done = await t.waitRun(admin, runId);
  assert.equal(done.status, 'success', JSON.stringify(done));
  assert.match(done.vms[0]!.message ?? '', /Restored 3 files .*into VM 'linux-db01'/);
  assert.ok(seen.some((s) => s.id === runId && s.vms[0]!.status === 'running' && /writing/.test(s.vms[0]!.phase)), `progress events: ${JSON.stringify(seen.map((s) => [s.vms[0]?.phase, s.progress]))}`);
  assert.equal(seen.at(-1)!.progress, 100);

  const got = await guestFile('linux-db01', '/srv/restored/app.conf');
  assert.equal(got?.sha256, sha('linux-db01', 2, '/etc/app/app.conf'), JSON.stringify((await guestFiles('linux-db01')).map((e) => e.path)));
  assert.equal(got.attributes.kind, 'posix');
  assert.equal(got.attributes.permissions, conf.mode! & 0o7777);
  assert.equal(got.attributes.ownerId, conf.uid);
  assert.equal(Date.parse(got.attributes.modificationTime!), Date.parse(conf.mtime!));
  assert.equal((await guestFile('linux-db01', '/srv/restored/alice/notes/todo.txt'))?.sha256, sha('linux-db01', 2, '/home/alice/notes/todo.txt'));
  assert.equal((await guestFile('linux-db01', '/srv/restored/data.db'))?.sha256, sha('linux-db01', 2, '/var/lib/db/data.db'));
  assert.equal((await guestFile('linux-db01', '/srv/restored'))?.made, true);
  const folder = await guestFile('linux-db01', '/srv/restored/alice');
  assert.equal(folder?.attributes.permissions, alice.mode! & 0o7777);
  assert.equal(Date.parse(folder.attributes.modificationTime!), Date.parse(alice.mtime!));

  const history = await t.call<JobRun[]>('GET', `/api/vms/${ids['linux-db01']}/runs`, { token: admin });
  assert.ok(history.body.some((h) => h.id === runId && h.kind === 'file-restore' && h.status === 'success'));
  const tm = vs.client.serviceContent.taskManager!;
  const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: { value: string; type: string }[] }>(tm, ['recentTask']);
  const infos = await Promise.all((recentTask ?? []).map((x) => vs.pc.retrieveOne<{ info: { descriptionId: string; state: string; entity?: { value: string } } }>(x, ['info'])));
  assert.ok(infos.some((i) => i.info.descriptionId === TASK_TYPES.restoreFiles && i.info.state === 'success' && i.info.entity?.value === ids['linux-db01']),
    `no successful ${TASK_TYPES.restoreFiles} task: ${JSON.stringify(infos.map((i) => i.info.descriptionId))}`);
});

test('to the original location, for a file that exists: skip leaves it, keep both writes "name (1)", overwrite replaces it; Windows guest too', async () => {
  const ext = await volume('linux-db01', 'ext');
  const hostname = await entry('linux-db01', ext.id, '/etc/hostname');
  await place('linux-db01', '/etc/hostname', 'old-name\n');
  const body = (existing: FileRestoreRequest['existing']): FileRestoreRequest => ({ items: [{ volumeId: ext.id, ref: hostname.ref }], target: { kind: 'original' }, existing, credentialId: cred });

  const skip = await restored('linux-db01', body('skip'));
  assert.equal(skip.status, 'success', JSON.stringify(skip));
  assert.match(skip.vms[0]!.message ?? '', /1 skipped because they exist/);
  assert.equal((await guestFile('linux-db01', '/etc/hostname'))?.content, 'old-name\n');

  const both = await restored('linux-db01', body('keep-both'));
  assert.match(both.vms[0]!.message ?? '', /\/etc\/hostname \(1\)/);
  assert.equal((await guestFile('linux-db01', '/etc/hostname'))?.content, 'old-name\n');
  assert.equal((await guestFile('linux-db01', '/etc/hostname (1)'))?.sha256, sha('linux-db01', 2, '/etc/hostname'));

  const over = await restored('linux-db01', body('overwrite'));
  assert.equal(over.status, 'success', JSON.stringify(over));
  assert.equal((await guestFile('linux-db01', '/etc/hostname'))?.sha256, sha('linux-db01', 2, '/etc/hostname'));

  const ntfs = await volume('win-app01', 'ntfs');
  const readme = await entry('win-app01', ntfs.id, '/Users/Public/Documents/readme.txt');
  const win = await restored('win-app01', { items: [{ volumeId: ntfs.id, ref: readme.ref }], target: { kind: 'original' }, existing: 'overwrite', credentialId: cred });
  assert.equal(win.status, 'success', JSON.stringify(win));
  const got = await guestFile('win-app01', 'C:\\Users\\Public\\Documents\\readme.txt');
  assert.equal(got?.sha256, sha('win-app01', 1, '/Users/Public/Documents/readme.txt'));
  assert.equal(got.attributes.kind, 'windows');
  assert.equal(Date.parse(got.attributes.modificationTime!), Date.parse(readme.mtime!));
});

test('a wrong guest password fails the run with the reason; a folder path for the other guest family is refused at once', async () => {
  const ext = await volume('linux-db01', 'ext');
  const conf = await entry('linux-db01', ext.id, '/etc/app/app.conf');
  const failed = await restored('linux-db01', { items: [{ volumeId: ext.id, ref: conf.ref }], target: { kind: 'folder', path: '/srv/never' }, existing: 'overwrite', credentialId: badCred });
  assert.equal(failed.status, 'failed');
  assert.match(failed.vms[0]!.message ?? '', /refused the guest credential.*Check the guest OS credentials/);
  assert.equal(await guestFile('linux-db01', '/srv/never'), undefined);

  const bad = await restore('linux-db01', { items: [{ volumeId: ext.id, ref: conf.ref }], target: { kind: 'folder', path: 'C:\\Restore' }, existing: 'skip', credentialId: cred });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /not an absolute path/);
});

test('the original place of a volume the guest\'s system volume is not is unknown: the run fails saying so; a run can be cancelled', async () => {
  const data = await volume('win-app01', 'ext');
  const csv = await entry('win-app01', data.id, '/srv/data/report.csv');
  const unknown = await restored('win-app01', { items: [{ volumeId: data.id, ref: csv.ref }], target: { kind: 'original' }, existing: 'overwrite', credentialId: cred });
  assert.equal(unknown.status, 'failed');
  assert.match(unknown.vms[0]!.message ?? '', /original location of 'report\.csv' in the guest is not known: restore it to a folder/);

  await t.lab.control.injectFault({ method: 'InitiateFileTransferToGuest', fault: '', delayMs: 1500, vm: 'win-app01', count: 1 });
  const r = await restore('win-app01', { items: [{ volumeId: data.id, ref: csv.ref }], target: { kind: 'folder', path: 'C:\\Cancelled' }, existing: 'overwrite', credentialId: cred });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  await until('the run to write into the guest', async () => (await t.call<JobRun>('GET', `/api/runs/${r.body.id}`, { token: admin })).body.vms[0]?.phase.startsWith('writing'));
  assert.equal((await t.call<JobRun>('POST', `/api/runs/${r.body.id}/cancel`, { token: admin })).status, 200);
  const cancelled = await t.waitRun(admin, r.body.id);
  assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled));
  assert.equal(await guestFile('win-app01', 'C:\\Cancelled\\report.csv'), undefined);
  await t.lab.control.clearFaults();
});

test('authorization: no GuestOperations.Modify on the VM → 403; another user\'s private credential is not theirs to use', async () => {
  const op = await t.login('restricted');
  const ext = await volume('linux-db01', 'ext');
  const conf = await entry('linux-db01', ext.id, '/etc/app/app.conf');
  const body: FileRestoreRequest = { items: [{ volumeId: ext.id, ref: conf.ref }], target: { kind: 'folder', path: '/srv/op' }, existing: 'skip', credentialId: cred };
  const denied = await restore('linux-db01', body, op);
  assert.equal(denied.status, 403, JSON.stringify(denied.body));
  assert.match(denied.body.message, /VirtualMachine\.GuestOperations\.Modify on VM 'linux-db01'/);
  const ntfs = await volume('win-app01', 'ntfs');
  const readme = await entry('win-app01', ntfs.id, '/Users/Public/Documents/readme.txt');
  const priv = await restore('win-app01', { items: [{ volumeId: ntfs.id, ref: readme.ref }], target: { kind: 'folder', path: 'C:\\Op' }, existing: 'skip', credentialId: badCred }, op);
  assert.equal(priv.status, 400);
  assert.match(priv.body.message, /not a stored guest credential/);
  const ok = await restore('win-app01', { items: [{ volumeId: ntfs.id, ref: readme.ref }], target: { kind: 'folder', path: 'C:\\Op' }, existing: 'skip', credentialId: cred }, op);
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  assert.equal((await t.waitRun(op, ok.body.id)).status, 'success');
  assert.ok(await guestFile('win-app01', 'C:\\Op\\readme.txt'));
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      timeout: 60_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

test('CLI: files put PATH... --to FOLDER --credential NAME --existing keep-both, and its usage errors', async () => {
  const ext = await volume('linux-db01', 'ext');
  await place('linux-db01', '/srv/cli/todo.txt', 'mine');
  const r = await cli(['files', 'put', rp['linux-db01']!, `${ext.id}/home/alice/notes/todo.txt`, `${ext.id}/etc/app`, '--to', '/srv/cli', '--credential', 'lab guest', '--existing', 'keep-both']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^success: Restored 2 files .*kept next to the existing file/m);
  assert.equal((await guestFile('linux-db01', '/srv/cli/todo.txt'))?.content, 'mine');
  assert.equal((await guestFile('linux-db01', '/srv/cli/todo (1).txt'))?.sha256, sha('linux-db01', 2, '/home/alice/notes/todo.txt'));
  assert.equal((await guestFile('linux-db01', '/srv/cli/app/app.conf'))?.sha256, sha('linux-db01', 2, '/etc/app/app.conf'));
  const both = await cli(['files', 'put', rp['linux-db01']!, `${ext.id}/etc/hostname`, '--to', '/srv/cli', '--original', '--credential', cred]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /usage: stillpoint files put/);
  const failed = await cli(['files', 'put', rp['linux-db01']!, `${ext.id}/etc/hostname`, '--original', '--credential', badCred, '--json']);
  assert.equal(failed.code, 1);
  assert.equal((JSON.parse(failed.stdout) as JobRun).status, 'failed');
});

test('a powered-off VM is refused at once (409) naming what to do, before any run starts', async () => {
  const ext = await volume('linux-db01', 'ext');
  const conf = await entry('linux-db01', ext.id, '/etc/app/app.conf');
  const vm = { type: 'VirtualMachine', value: ids['linux-db01']! };
  const before = (await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length;
  await vs.vms.powerOff(vm);
  try {
    const body: FileRestoreRequest = { items: [{ volumeId: ext.id, ref: conf.ref }], target: { kind: 'folder', path: '/srv/off' }, existing: 'skip', credentialId: cred };
    // The service's inventory follows vCenter within seconds.
    await until('the service to see the VM powered off', async () =>
      (await t.call<VmSummary[]>('GET', '/api/vms', { token: admin })).body.find((v) => v.id === vm.value)?.powerState === 'poweredOff', { timeoutMs: 20_000, everyMs: 250 });
    const r = await restore('linux-db01', body);
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(r.body.message, /VM 'linux-db01' is powered off: power it on to put files into its guest, or download the files/);
    assert.equal((await t.call<JobRun[]>('GET', '/api/runs', { token: admin })).body.length, before, 'no run was started');
  } finally {
    await vs.vms.powerOn(vm);
  }
});
