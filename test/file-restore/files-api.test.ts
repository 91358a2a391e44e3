// File-level restore through the API, as the "Recover files…" wizard drives it: the lab VMs' disks
// (win-app01: GPT with NTFS + ext4; linux-db01: MBR with FAT32 + ext4) backed up through the service,
// then browsed, searched and downloaded. Bytes are checked against sleuthkit's icat on the source image.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { startTestService, type TestService } from '../helpers/service.ts';
import { Soap, ref } from '../lab-tests/soap.ts';
import type { ApiError, FileDownloadLink, FileEntry, FileListing, FileSearchResult, FileVolume, Health, JobRun } from '../../backend/api/contract.ts';
import { imageManifest, type LabImageManifest } from '../lab/lab.ts';

let t: TestService;
let admin: string;
let ids: Record<string, string>;
const rp: Record<string, string> = {};
let manifests: Record<string, LabImageManifest>;
let tmp: string;

before(async () => {
  t = await startTestService();
  admin = await t.login();
  const vms = await t.lab.control.vms();
  ids = Object.fromEntries(Object.entries(vms).map(([n, v]) => [n, v.moref]));
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids['win-app01'], ids['linux-db01']] } });
  assert.equal(b.status, 202, JSON.stringify(b.body));
  const run = await t.waitRun(admin, b.body.id, 120_000);
  assert.equal(run.status === 'success' || run.status === 'warning', true, JSON.stringify(run));
  for (const v of run.vms) rp[v.vmName] = v.restorePointId!;
  manifests = Object.fromEntries(['win-app01', 'linux-db01'].map((n) => [n, imageManifest(t.lab.imagesDir!, n)]));
  tmp = mkdtempSync(join(tmpdir(), 'stillpoint-files-'));
});
after(async () => { await t?.stop(); if (tmp) rmSync(tmp, { recursive: true, force: true }); });

/** A raw HTTPS request: status, headers and body bytes. */
function raw(method: string, path: string, o: { token?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; cut?: boolean }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...o.headers, ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) };
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    if (payload) headers['content-type'] = 'application/json';
    const req = request(t.service.url + path, { method, headers, ca: t.service.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      // The service cuts a download it cannot finish: the client sees an incomplete body.
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), cut: true }));
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const volumes = async (vm: string, token = admin) => (await t.call<FileVolume[]>('GET', `/api/restore-points/${rp[vm]}/volumes`, { token })).body;
const list = async (vm: string, volumeId: string, ref?: string) => {
  const r = await t.call<FileListing>('GET', `/api/restore-points/${rp[vm]}/volumes/${volumeId}/list${ref ? `?ref=${encodeURIComponent(ref)}` : ''}`, { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
async function byPath(vm: string, volumeId: string, path: string): Promise<FileEntry> {
  const r = await t.call<FileEntry>('GET', `/api/restore-points/${rp[vm]}/volumes/${volumeId}/entry?path=${encodeURIComponent(path)}`, { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
/** The file's bytes read by sleuthkit from the lab's source image (inode = the entry's MFT record / inode number). */
function icat(vm: string, partition: number, entryRef: string): Buffer {
  const p = manifests[vm]!.partitions.find((x) => x.index === partition)!;
  return execFileSync('icat', ['-o', String(p.startSector), join(t.lab.imagesDir!, `${vm}.img`), entryRef.split('-')[0]!], { maxBuffer: 64 << 20 });
}

test('volumes of both lab VMs: partitions with the right filesystems, labels and consistency; first listing timed', async () => {
  const t0 = Date.now();
  const win = await volumes('win-app01');
  const firstMs = Date.now() - t0;
  assert.deepEqual(win.map((v) => [v.id, v.partition, v.filesystem, v.label, v.browsable]), [['2000-p1', 1, 'ntfs', 'System', true], ['2000-p2', 2, 'ext', 'data', true]]);
  assert.equal(win[0]!.partitionType, 'Microsoft basic data');
  assert.equal(win[0]!.consistency?.clean, true, JSON.stringify(win[0]));
  assert.equal(win[0]!.diskKey, 2000);
  assert.equal(win[0]!.offset, manifests['win-app01']!.partitions[0]!.startSector * 512);
  const lin = await volumes('linux-db01');
  assert.deepEqual(lin.map((v) => [v.id, v.filesystem, v.label]), [['2000-p1', 'fat', 'BOOT'], ['2000-p2', 'ext', 'root']]);
  const t1 = Date.now();
  const root = await list('win-app01', '2000-p1');
  const listMs = Date.now() - t1;
  const t2 = Date.now();
  await list('win-app01', '2000-p1');
  console.log(`# first volumes (open disks + filesystems) ${firstMs} ms, first root listing ${listMs} ms, cached listing ${Date.now() - t2} ms`);
  assert.ok(['Data', 'Users', 'inetpub', 'ProgramData'].every((n) => root.entries.some((e) => e.name === n && e.type === 'dir')), JSON.stringify(root.entries.map((e) => e.name)));
  assert.equal(root.dir.type, 'dir');
});

test('open folders by ref: entries with size, times and attributes; FAT and ext4 too', async () => {
  const root = await list('win-app01', '2000-p1');
  const users = root.entries.find((e) => e.name === 'Users')!;
  const pub = (await list('win-app01', '2000-p1', users.ref)).entries.find((e) => e.name === 'Public')!;
  const docs = (await list('win-app01', '2000-p1', pub.ref)).entries.find((e) => e.name === 'Documents')!;
  const files = (await list('win-app01', '2000-p1', docs.ref)).entries;
  const expected = manifests['win-app01']!.partitions[0]!.files.filter((f) => f.path.startsWith('/Users/Public/Documents/'));
  assert.deepEqual(files.map((e) => [e.name, e.size]).sort(), expected.map((f) => [f.path.split('/').pop(), f.size]).sort());
  assert.ok(files.every((e) => e.type === 'file' && e.mtime && e.volumeId === '2000-p1'));
  const fat = await list('linux-db01', '2000-p1');
  assert.ok(fat.entries.some((e) => e.name === 'README.TXT' && e.size === manifests['linux-db01']!.partitions[0]!.files.find((f) => f.path === '/README.TXT')!.size));
  const etc = (await list('linux-db01', '2000-p2')).entries.find((e) => e.name === 'etc')!;
  const hostname = (await list('linux-db01', '2000-p2', etc.ref)).entries.find((e) => e.name === 'hostname')!;
  assert.equal(typeof hostname.mode, 'number');
  assert.equal(hostname.uid !== undefined, true);
  const page = await t.call<FileListing>('GET', `/api/restore-points/${rp['win-app01']}/volumes/2000-p1/list?offset=1&limit=2`, { token: admin });
  assert.deepEqual(page.body.entries.map((e) => e.name), (await list('win-app01', '2000-p1')).entries.slice(1, 3).map((e) => e.name));
  const notDir = await t.call<ApiError>('GET', `/api/restore-points/${rp['linux-db01']}/volumes/2000-p2/list?ref=${hostname.ref}`, { token: admin });
  assert.equal(notDir.status, 400, JSON.stringify(notDir.body));
  const noVol = await t.call<ApiError>('GET', `/api/restore-points/${rp['linux-db01']}/volumes/2000-p9/list`, { token: admin });
  assert.equal(noVol.status, 404, JSON.stringify(noVol.body));
});

test('search by glob over every volume, by name and by path; NDJSON streams one match per line', async () => {
  const r = await t.call<FileSearchResult>('GET', `/api/restore-points/${rp['win-app01']}/search?pattern=${encodeURIComponent('*.txt')}`, { token: admin });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const want = manifests['win-app01']!.partitions.flatMap((p) => p.files.filter((f) => f.path.endsWith('.txt')).map((f) => `2000-p${p.index}:${f.path.slice(1)}`)).sort();
  assert.deepEqual(r.body.matches.map((m) => `${m.volumeId}:${m.path}`).sort(), want);
  assert.equal(r.body.truncated, false);
  assert.ok(r.body.matches.every((m) => m.diskKey === 2000));
  const deep = await t.call<FileSearchResult>('GET', `/api/restore-points/${rp['win-app01']}/search?pattern=${encodeURIComponent('data/**/*.TXT')}&volumeId=2000-p1`, { token: admin });
  assert.deepEqual(deep.body.matches.map((m) => m.path), ['Data/Nested/Deeper/notes.txt']);
  const limited = await t.call<FileSearchResult>('GET', `/api/restore-points/${rp['win-app01']}/search?pattern=*&limit=3`, { token: admin });
  assert.equal(limited.body.matches.length, 3);
  assert.equal(limited.body.truncated, true);
  const nd = await raw('GET', `/api/restore-points/${rp['linux-db01']}/search?pattern=${encodeURIComponent('*.conf')}`, { token: admin, headers: { accept: 'application/x-ndjson' } });
  assert.equal(nd.status, 200);
  const lines = nd.body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.slice(0, -1).map((l) => l.path), ['etc/app/app.conf']);
  assert.equal(lines.at(-1)!.done, true);
});

test('download a file: bytes equal icat on the source image; Range gives 206; Last-Modified, Content-Disposition', async () => {
  const big = await byPath('win-app01', '2000-p1', 'Data/big.bin');
  const url = `/api/restore-points/${rp['win-app01']}/volumes/2000-p1/content?ref=${encodeURIComponent(big.ref)}`;
  const full = await raw('GET', url, { token: admin });
  assert.equal(full.status, 200, full.body.toString().slice(0, 300));
  const oracle = icat('win-app01', 1, big.ref);
  assert.equal(full.body.length, big.size);
  assert.ok(full.body.equals(oracle), 'the bytes are the ones sleuthkit reads from the source image');
  assert.equal(full.headers['content-disposition'], `attachment; filename="big.bin"; filename*=UTF-8''big.bin`);
  assert.equal(full.headers['last-modified'], new Date(big.mtime!).toUTCString());
  assert.equal(full.headers['accept-ranges'], 'bytes');
  const part = await raw('GET', url, { token: admin, headers: { range: 'bytes=1048570-1048589' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1048570-1048589/${big.size}`);
  assert.ok(part.body.equals(oracle.subarray(1048570, 1048590)));
  const tail = await raw('GET', url, { token: admin, headers: { range: 'bytes=-100', 'if-range': String(full.headers.etag) } });
  assert.equal(tail.status, 206);
  assert.ok(tail.body.equals(oracle.subarray(oracle.length - 100)));
  const stale = await raw('GET', url, { token: admin, headers: { range: 'bytes=0-9', 'if-range': '"something-else"' } });
  assert.equal(stale.status, 200, 'an If-Range that does not match gets the whole file');
  const beyond = await raw('GET', url, { token: admin, headers: { range: `bytes=${big.size}-` } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers['content-range'], `bytes */${big.size}`);
  const blob = await byPath('win-app01', '2000-p2', 'srv/data/blob.bin');
  const ext = await raw('GET', `/api/restore-points/${rp['win-app01']}/volumes/2000-p2/content?ref=${blob.ref}`, { token: admin });
  assert.ok(ext.body.equals(icat('win-app01', 2, blob.ref)), 'ext4 file equals icat');
  const kernel = await byPath('linux-db01', '2000-p1', 'EFI/BOOT/kernel.img');
  const fat = await raw('GET', `/api/restore-points/${rp['linux-db01']}/volumes/2000-p1/content?ref=${kernel.ref}`, { token: admin });
  assert.ok(fat.body.equals(icat('linux-db01', 1, kernel.ref)), 'FAT32 file equals icat');
  const quarterly = await byPath('win-app01', '2000-p1', 'Users/Public/Documents/Quarterly Report.txt');
  const q = await raw('GET', `/api/restore-points/${rp['win-app01']}/volumes/2000-p1/content?ref=${quarterly.ref}`, { token: admin });
  assert.equal(q.headers['content-disposition'], `attachment; filename="Quarterly Report.txt"; filename*=UTF-8''Quarterly%20Report.txt`);
  const folder = await raw('GET', `/api/restore-points/${rp['win-app01']}/volumes/2000-p1/content?ref=${(await byPath('win-app01', '2000-p1', 'Data')).ref}`, { token: admin });
  assert.equal(folder.status, 400);
  assert.match(JSON.parse(folder.body.toString()).message, /folder: download it as a zip/);
});

test('a zip of a folder and a file, streamed: unzip lists and extracts the same bytes', async () => {
  const data = await byPath('win-app01', '2000-p1', 'Data');
  const readme = await byPath('win-app01', '2000-p1', 'Users/Public/Documents/readme.txt');
  const z = await raw('POST', `/api/restore-points/${rp['win-app01']}/zip`, { token: admin, body: { items: [{ volumeId: '2000-p1', ref: data.ref }, { volumeId: '2000-p1', ref: readme.ref }], name: 'picked' } });
  assert.equal(z.status, 200, z.body.toString().slice(0, 300));
  assert.equal(z.headers['content-type'], 'application/zip');
  assert.match(String(z.headers['content-disposition']), /filename="picked\.zip"/);
  assert.equal(z.headers['content-length'], undefined, 'streamed, not buffered');
  const file = join(tmp, 'picked.zip');
  writeFileSync(file, z.body);
  const names = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(names, ['Data/', 'Data/Nested/', 'Data/Nested/Deeper/', 'Data/Nested/Deeper/notes.txt', 'Data/big.bin', 'readme.txt']);
  const big = await byPath('win-app01', '2000-p1', 'Data/big.bin');
  assert.ok(execFileSync('unzip', ['-p', file, 'Data/big.bin'], { maxBuffer: 64 << 20 }).equals(icat('win-app01', 1, big.ref)));
  assert.equal(execFileSync('unzip', ['-p', file, 'readme.txt'], { encoding: 'utf8' }), 'Stillpoint lab: win-app01 system volume.\r\n');
  execFileSync('unzip', ['-tq', file]);
});

test('download links work without the session header, once', async () => {
  const hostname = await byPath('linux-db01', '2000-p2', 'etc/hostname');
  const l = await t.call<FileDownloadLink>('POST', `/api/restore-points/${rp['linux-db01']}/download-links`, { token: admin, body: { kind: 'file', volumeId: '2000-p2', ref: hostname.ref } });
  assert.equal(l.status, 201, JSON.stringify(l.body));
  assert.match(l.body.url, /^\/api\/downloads\/[A-Za-z0-9_-]{32}$/);
  const got = await raw('GET', l.body.url);
  assert.equal(got.status, 200);
  assert.equal(got.body.toString(), 'linux-db01\n');
  assert.equal((await raw('GET', l.body.url)).status, 404, 'a link is spent by its first use');
  const zl = await t.call<FileDownloadLink>('POST', `/api/restore-points/${rp['linux-db01']}/download-links`, { token: admin, body: { kind: 'zip', items: [{ volumeId: '2000-p2', ref: hostname.ref }] } });
  const zip = await raw('GET', zl.body.url);
  assert.equal(zip.status, 200);
  assert.equal(zip.body.readUInt32LE(0), 0x04034b50, 'a zip');
  const bad = await t.call<ApiError>('POST', `/api/restore-points/${rp['linux-db01']}/download-links`, { token: admin, body: { kind: 'file', volumeId: '2000-p2', ref: '999999' } });
  assert.ok(bad.status >= 400 && bad.status < 500, JSON.stringify(bad.body));
});

test('authorization: a hidden VM\'s points are 404, a visible VM without the file-restore privilege is 403', async () => {
  const op = await t.login('restricted');
  // web-off01 is hidden from the restricted user: back it up as the administrator.
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids['web-off01']] } });
  const hiddenRp = (await t.waitRun(admin, b.body.id, 120_000)).vms[0]!.restorePointId!;
  const hidden = await t.call<ApiError>('GET', `/api/restore-points/${hiddenRp}/volumes`, { token: op });
  assert.equal(hidden.status, 404, JSON.stringify(hidden.body));
  assert.equal((await raw('GET', `/api/restore-points/${hiddenRp}/volumes/2000/content?ref=5`, { token: op })).status, 404);
  // The operator holds VirtualMachine.Provisioning.GetVmFiles on linux-db01 through its role: allowed.
  assert.equal((await t.call('GET', `/api/restore-points/${rp['linux-db01']}/volumes`, { token: op })).status, 200);
  const soap = new Soap(t.lab);
  await soap.login();
  const AM = { type: 'AuthorizationManager', value: 'AuthorizationManager' };
  const vm = { type: 'VirtualMachine', value: ids['win-app01']! };
  const saved = /<returnval>([\s\S]*?)<\/returnval>/.exec(await soap.ok('RetrieveEntityPermissions', `${ref('_this', AM)}${ref('entity', vm)}<inherited>false</inherited>`))![1]!;
  await soap.ok('RemoveEntityPermission', `${ref('_this', AM)}${ref('entity', vm)}<user>VSPHERE.LOCAL\\operator</user><isGroup>false</isGroup>`);
  try {
    const op2 = await t.login('restricted'); // a fresh session: privilege answers are cached per session for a minute
    const r = await t.call<ApiError>('GET', `/api/restore-points/${rp['win-app01']}/volumes`, { token: op2 });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.message, /VirtualMachine\.Provisioning\.GetVmFiles on VM 'win-app01'/);
    const link = await t.call<ApiError>('POST', `/api/restore-points/${rp['win-app01']}/download-links`, { token: op2, body: { kind: 'file', volumeId: '2000-p1', ref: '5-5' } });
    assert.equal(link.status, 403);
  } finally {
    await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', vm)}<permission>${saved}</permission>`);
  }
});

test('an NTFS named stream (alternate data stream) downloads by its name', async () => {
  // Give readme.txt a Zone.Identifier stream with ntfs-3g on a copy of the NTFS partition, write the
  // changed blocks back as guest writes, and back up again.
  const vm = (await t.lab.control.vms())['win-app01']!;
  const p1 = manifests['win-app01']!.partitions[0]!;
  const part = join(tmp, 'p1.ntfs');
  execFileSync('dd', [`if=${vm.disks[0]!.flatPath}`, `of=${part}`, 'bs=512', `skip=${p1.startSector}`, `count=${p1.sectorCount}`, 'status=none']);
  const before = readFileSync(part);
  const zone = Buffer.from('[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://example.invalid/readme.txt\r\n');
  writeFileSync(join(tmp, 'zone'), zone);
  execFileSync('ntfscp', ['-f', '-N', 'Zone.Identifier', part, join(tmp, 'zone'), '/Users/Public/Documents/readme.txt'], { stdio: 'pipe', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  const after = readFileSync(part);
  const block = 64 * 1024;
  for (let o = 0; o < after.length; o += block) {
    if (!after.subarray(o, o + block).equals(before.subarray(o, o + block))) await t.lab.control.writeDisk('win-app01', 0, p1.startSector * 512 + o, after.subarray(o, o + block));
  }
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids['win-app01']] } });
  const point = (await t.waitRun(admin, b.body.id, 120_000)).vms[0]!.restorePointId!;
  const e = await t.call<FileEntry>('GET', `/api/restore-points/${point}/volumes/2000-p1/entry?path=${encodeURIComponent('Users/Public/Documents/readme.txt')}`, { token: admin });
  assert.deepEqual(e.body.streams, [{ name: 'Zone.Identifier', size: zone.length }]);
  const url = `/api/restore-points/${point}/volumes/2000-p1/content?ref=${encodeURIComponent(e.body.ref)}`;
  const s = await raw('GET', `${url}&stream=Zone.Identifier`, { token: admin });
  assert.equal(s.status, 200);
  assert.ok(s.body.equals(zone));
  assert.match(String(s.headers['content-disposition']), /filename="readme\.txt_Zone\.Identifier"/);
  assert.equal((await raw('GET', url, { token: admin })).body.toString(), 'Stillpoint lab: win-app01 system volume.\r\n', 'the main stream is unchanged');
  const none = await raw('GET', `${url}&stream=nope`, { token: admin });
  assert.equal(none.status, 404);
  assert.match(JSON.parse(none.body.toString()).message, /has the streams Zone\.Identifier/);
});

test('stillpoint files through the service: ls, find, get by restore point id with the user\'s session', async () => {
  const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', 'files', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000,
    }, (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
  const ls = await cli('ls', rp['linux-db01']!, 'root/etc');
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /file\s+\S+ B\s+.*hostname/);
  const find = await cli('find', rp['linux-db01']!, '*.db', '--json');
  assert.equal(find.code, 0, find.stderr);
  assert.deepEqual(find.stdout.trim().split('\n').map((l) => JSON.parse(l) as { volume: string; path: string; size: number }).map((m) => [m.volume, m.path, m.size]), [['2000-p2', 'var/lib/db/data.db', 2097152]]);
  const out = join(tmp, 'data.db');
  const get = await cli('get', rp['linux-db01']!, '2000-p2/var/lib/db/data.db', '-o', out);
  assert.equal(get.code, 0, get.stderr);
  const db = await byPath('linux-db01', '2000-p2', 'var/lib/db/data.db');
  assert.ok(readFileSync(out).equals(icat('linux-db01', 2, db.ref)));
});

test('a hostile image (an ext4 directory entry pointing back at the root: a loop; a directory claiming 2^44 bytes) fails with a clear error in time; the service stays healthy', async () => {
  const disk = (await t.lab.control.vms())['linux-db01']!.disks[0]!.flatPath;
  const p2 = manifests['linux-db01']!.partitions[1]!;
  const img = readFileSync(disk);
  // The root directory's entry "etc": inode(4) rec_len(2) name_len=3 type=2 (dir) "etc".
  const needle = Buffer.from([3, 2, 0x65, 0x74, 0x63]);
  let at = img.indexOf(needle, p2.startSector * 512);
  while (at >= 0 && img.readUInt32LE(at - 6) !== Number(execFileSync('ifind', ['-o', String(p2.startSector), '-n', '/etc', disk], { encoding: 'utf8' }).trim())) at = img.indexOf(needle, at + 1);
  assert.ok(at > 0, 'found the root directory entry of /etc');
  // And /var/lib's inode will claim a directory of about 2^44 bytes (i_size_high): where it is, read before any damage.
  const part = join(tmp, 'p2.ext4');
  execFileSync('dd', [`if=${disk}`, `of=${part}`, 'bs=512', `skip=${p2.startSector}`, `count=${p2.sectorCount}`, 'status=none']);
  const debugfs = (req: string) => execFileSync('debugfs', ['-R', req, part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  const imap = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs('imap /var/lib'))!;
  const blockSize = Number(/Block size:\s+(\d+)/.exec(debugfs('stats'))![1]);
  const two = Buffer.alloc(4); two.writeUInt32LE(2);
  await t.lab.control.writeDisk('linux-db01', 0, at - 6, two);
  const huge = Buffer.alloc(4); huge.writeUInt32LE(0x1000);
  await t.lab.control.writeDisk('linux-db01', 0, p2.startSector * 512 + Number(imap[1]) * blockSize + parseInt(imap[2]!, 16) + 108, huge);
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [ids['linux-db01']] } });
  const hostile = (await t.waitRun(admin, b.body.id, 120_000)).vms[0]!.restorePointId!;
  const bound = 20_000 + 5_000;
  const t0 = Date.now();
  const s = await t.call<FileSearchResult & ApiError>('GET', `/api/restore-points/${hostile}/search?pattern=*.conf&volumeId=2000-p2`, { token: admin });
  const took = Date.now() - t0;
  console.log(`# hostile search answered ${s.status} in ${took} ms: ${JSON.stringify(s.body.problems ?? s.body.message)}`);
  assert.ok(took < bound, `answered in ${took} ms`);
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.deepEqual(s.body.problems?.map((p) => p.message.replace(/: cannot be read: .*/, ': cannot be read')), ['etc: the folder appears again inside itself (a loop in the damaged filesystem), not followed', 'var/lib: cannot be read']);
  assert.equal(s.body.truncated, false, 'the rest of the volume was searched');
  const t1 = Date.now();
  const big = await t.call<ApiError>('GET', `/api/restore-points/${hostile}/volumes/2000-p2/entry?path=var/lib`, { token: admin });
  console.log(`# hostile directory size answered ${big.status} in ${Date.now() - t1} ms: ${big.body.message}`);
  assert.ok(Date.now() - t1 < bound);
  assert.equal(big.status, 422, JSON.stringify(big.body));
  assert.match(big.body.message, /damaged here: .*size/);
  const root = await t.call<FileListing & ApiError>('GET', `/api/restore-points/${hostile}/volumes/2000-p2/list`, { token: admin });
  assert.equal(root.status, 200, 'the damage is below the root: the root still lists');
  assert.deepEqual(root.body.entries.map((e) => e.name), ['etc', 'home', 'lost+found', 'var']);
  const zip = await raw('POST', `/api/restore-points/${hostile}/zip`, { token: admin, body: { items: [{ volumeId: '2000-p2', ref: '2' }] } });
  assert.equal(zip.status, 200);
  assert.equal(zip.cut, undefined);
  writeFileSync(join(tmp, 'hostile.zip'), zip.body);
  const listed = execFileSync('unzip', ['-Z1', join(tmp, 'hostile.zip')], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(listed.includes('STILLPOINT-ERRORS.txt') && listed.includes('2000-p2/var/'), listed.join(' '));
  const report = execFileSync('unzip', ['-p', join(tmp, 'hostile.zip'), 'STILLPOINT-ERRORS.txt'], { encoding: 'utf8' });
  assert.match(report, /2000-p2: etc: the folder appears again inside itself/);
  assert.match(report, /2000-p2: var\/lib: cannot be read: .*absurd size/);
  const health = await t.call<Health>('GET', '/api/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.repository.ok, true);
  const fine = await list('linux-db01', '2000-p1');
  assert.ok(fine.entries.length > 0, 'other restore points still browse');
});
