// The guest-files sink against the lab vCenter's guest file systems: files from plain streams are put
// into a Linux and a Windows guest, with their attributes, into folders that did not exist, and each
// choice for files that exist already (skip, overwrite, keep both) does what it says.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { writeFilesToGuest, GuestUnusableError, type ExistingChoice, type GuestFileItem, type GuestTarget } from '../../backend/sinks/guest-files.ts';
import { mor, type GuestCredentials, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from '../vsphere/helpers.ts';

interface LabGuestEntry {
  path: string; type: 'file' | 'directory'; size: number; sha256?: string; content?: string; made?: boolean;
  attributes: { kind: string; permissions?: number; ownerId?: number; groupId?: number; hidden?: boolean; readOnly?: boolean; createTime?: string; modificationTime?: string; accessTime?: string };
}
interface LabCall { kind: string; guestFilePath?: string; overwrite?: boolean; createParents?: boolean }

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const item = (relativePath: string, data: Buffer, more: Partial<GuestFileItem> = {}): GuestFileItem => ({
  relativePath, size: data.length, open: () => Readable.from([data.subarray(0, 3), data.subarray(3)]), ...more,
});
async function* each<T>(xs: T[]): AsyncIterable<T> { yield* xs; }

describe('guest-files sink: restored files into a running guest', () => {
  let lab: Lab;
  let vs: VSphere;
  let vms: Record<string, LabVm>;
  let creds: GuestCredentials;
  const files = async (vm: string) => (await lab.control.request('GET', `/lab/guest/files?vm=${vm}`)) as LabGuestEntry[];
  const entry = async (vm: string, path: string) => (await files(vm)).find((e) => e.path === path);
  const place = (vm: string, path: string, content: string) => lab.control.request('POST', `/lab/guest/files?vm=${vm}&path=${encodeURIComponent(path)}`, content);
  const put = (vm: string, family: 'linux' | 'windows', items: GuestFileItem[], target: GuestTarget, existing: ExistingChoice, c = creds) =>
    writeFilesToGuest({ items: each(items), totalFiles: items.length }, {
      guest: vs.guest, vm: mor('VirtualMachine', vms[vm]!.moref), creds: c, family, target, existing,
    });

  before(async () => {
    ({ lab, vs, vms } = await startLabSession());
    creds = { username: lab.guestUsername, password: lab.guestPassword };
  });
  afterEach(async () => {
    await lab.control.clearFaults();
    await lab.control.resetGuest();
    for (const vm of ['linux-db01', 'win-app01']) await lab.control.request('DELETE', `/lab/guest/files?vm=${vm}`);
  });
  after(() => stopLabSession(lab, vs));

  it('Linux guest: bytes, mode, owner and times arrive, a folder\'s too; a missing folder is made before the upload', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    big.write('start');
    const mtime = new Date('2024-03-01T10:20:30Z');
    const atime = new Date('2024-03-02T08:00:00Z');
    const folderTime = new Date('2022-07-07T07:07:07Z');
    const r = await put('linux-db01', 'linux', [
      item('etc/app', Buffer.alloc(0), { type: 'dir', mode: 0o40750, uid: 1001, gid: 1002, mtime: folderTime }),
      item('etc/app/app.conf', Buffer.from('listen 8080\n'), { mode: 0o100640, uid: 1001, gid: 1002, mtime, atime }),
      item('data/blob.bin', big, { mode: 0o644 }),
    ], { kind: 'folder', path: '/srv/restore/' }, 'overwrite');
    assert.deepEqual(r.failed, []);
    assert.deepEqual(r.written.map((w) => w.to), ['/srv/restore/etc/app/app.conf', '/srv/restore/data/blob.bin']);
    assert.equal(r.bytes, 12 + big.length);
    const conf = await entry('linux-db01', '/srv/restore/etc/app/app.conf');
    assert.equal(conf?.content, 'listen 8080\n');
    const a = conf!.attributes;
    assert.deepEqual({ kind: a.kind, permissions: a.permissions, ownerId: a.ownerId, groupId: a.groupId }, { kind: 'posix', permissions: 0o640, ownerId: 1001, groupId: 1002 });
    assert.equal(Date.parse(a.modificationTime!), mtime.getTime());
    assert.equal(Date.parse(a.accessTime!), atime.getTime());
    assert.equal((await entry('linux-db01', '/srv/restore/data/blob.bin'))?.sha256, sha(big));
    assert.equal((await entry('linux-db01', '/srv/restore/etc/app'))?.made, true, 'the folder was made through MakeDirectoryInGuest');
    const calls = (await lab.control.guestCalls()) as LabCall[];
    const mkdir = calls.findIndex((c) => c.kind === 'mkdir' && c.guestFilePath === '/srv/restore/etc/app');
    const upload = calls.findIndex((c) => c.kind === 'upload' && c.guestFilePath === '/srv/restore/etc/app/app.conf');
    assert.ok(mkdir >= 0 && mkdir < upload, `mkdir before upload: ${JSON.stringify(calls.map((c) => `${c.kind} ${c.guestFilePath}`))}`);
    assert.equal(calls[mkdir]!.createParents, true);
    const folder = (await entry('linux-db01', '/srv/restore/etc/app'))!.attributes;
    assert.equal(folder.permissions, 0o750);
    assert.equal(folder.ownerId, 1001);
    assert.equal(Date.parse(folder.modificationTime!), folderTime.getTime());
    const setAttrs = calls.findIndex((c) => c.kind === 'attributes' && c.guestFilePath === '/srv/restore/etc/app');
    assert.ok(setAttrs > upload, 'folder attributes are set after the files in it were written');
  });

  it('Windows guest: original location, hidden/read-only and creation time; Windows path rules', async () => {
    const btime = new Date('2023-01-05T12:00:00Z');
    const r = await put('win-app01', 'windows', [
      item('Users/Public/notes.txt', Buffer.from('hello\r\n'), { originalPath: 'C:\\Users\\Public\\notes.txt', hidden: true, readOnly: true, btime, mtime: btime }),
      item('Users/Public/bad:name.txt', Buffer.from('x'), { originalPath: 'C:\\Users\\Public\\bad:name.txt' }),
    ], { kind: 'original' }, 'overwrite');
    assert.deepEqual(r.written.map((w) => w.to), ['C:\\Users\\Public\\notes.txt']);
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.message, /character Windows does not allow/);
    const notes = await entry('win-app01', 'C:\\Users\\Public\\notes.txt');
    assert.equal(notes?.content, 'hello\r\n');
    const a = notes!.attributes;
    assert.deepEqual({ kind: a.kind, hidden: a.hidden, readOnly: a.readOnly, permissions: a.permissions }, { kind: 'windows', hidden: true, readOnly: true, permissions: undefined });
    assert.equal(Date.parse(a.createTime!), btime.getTime());
    assert.equal(Date.parse(a.modificationTime!), btime.getTime());
    await assert.rejects(put('win-app01', 'windows', [], { kind: 'folder', path: '/tmp' }, 'skip'), /not an absolute Windows path/);
    // Windows names match without case: README.TXT in the guest is the restored readme.txt.
    await place('win-app01', 'D:\\Share\\README.TXT', 'theirs');
    const both = await put('win-app01', 'windows', [item('readme.txt', Buffer.from('ours'))], { kind: 'folder', path: 'd:/share/' }, 'keep-both');
    assert.deepEqual(both.written.map((w) => w.to), ['D:\\share\\readme (1).txt']);
    assert.equal((await entry('win-app01', 'D:\\Share\\README.TXT'))?.content, 'theirs');
    const skip = await put('win-app01', 'windows', [item('Readme.Txt', Buffer.from('ours'))], { kind: 'folder', path: 'D:\\Share' }, 'skip');
    assert.equal(skip.skipped.length, 1);
  });

  it('existing files: skip leaves them, overwrite replaces them, keep both writes "name (1).ext" next to them', async () => {
    await place('linux-db01', '/srv/app/a.txt', 'old a');
    await place('linux-db01', '/srv/app/b.txt', 'old b');
    await place('linux-db01', '/srv/app/b (1).txt', 'old b1');
    const restored = () => [item('a.txt', Buffer.from('new a')), item('b.txt', Buffer.from('new b')), item('c.txt', Buffer.from('new c'))];

    const skip = await put('linux-db01', 'linux', restored(), { kind: 'folder', path: '/srv/app' }, 'skip');
    assert.deepEqual(skip.skipped.map((s) => s.to), ['/srv/app/a.txt', '/srv/app/b.txt']);
    assert.deepEqual(skip.written.map((w) => w.to), ['/srv/app/c.txt']);
    assert.equal((await entry('linux-db01', '/srv/app/a.txt'))?.content, 'old a');

    const both = await put('linux-db01', 'linux', restored(), { kind: 'folder', path: '/srv/app' }, 'keep-both');
    assert.deepEqual(both.written.map((w) => [w.to, w.renamed]), [['/srv/app/a (1).txt', true], ['/srv/app/b (2).txt', true], ['/srv/app/c (1).txt', true]]);
    assert.equal((await entry('linux-db01', '/srv/app/b.txt'))?.content, 'old b');
    assert.equal((await entry('linux-db01', '/srv/app/b (1).txt'))?.content, 'old b1');
    assert.equal((await entry('linux-db01', '/srv/app/b (2).txt'))?.content, 'new b');

    const over = await put('linux-db01', 'linux', restored(), { kind: 'folder', path: '/srv/app' }, 'overwrite');
    assert.equal(over.written.length, 3);
    assert.equal((await entry('linux-db01', '/srv/app/a.txt'))?.content, 'new a');
    const uploads = ((await lab.control.guestCalls()) as LabCall[]).filter((c) => c.kind === 'upload');
    assert.ok(uploads.slice(-3).every((c) => c.overwrite === true));
    assert.ok(uploads.slice(0, -3).every((c) => c.overwrite !== true), 'skip and keep-both never ask the guest to overwrite');
  });

  it('a file the guest user may not write fails alone (GuestPermissionDenied); the others arrive', async () => {
    await lab.control.injectFault({ method: 'InitiateFileTransferToGuest', fault: 'GuestPermissionDenied', vm: 'linux-db01', count: 1 });
    const r = await put('linux-db01', 'linux', [item('locked.txt', Buffer.from('x')), item('free.txt', Buffer.from('y'))], { kind: 'folder', path: '/srv/perm' }, 'overwrite');
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.message, /guest user may not write \/srv\/perm\/locked\.txt/);
    assert.deepEqual(r.written.map((w) => w.to), ['/srv/perm/free.txt']);
  });

  it('a file the restore point cannot give (its stream fails) fails alone and leaves nothing half-written', async () => {
    let sent = false;
    const broken = item('broken.bin', Buffer.alloc(100), {
      open: () => new Readable({ read() { if (!sent) { sent = true; this.push(Buffer.alloc(40)); } else this.destroy(new Error('extent beyond the end of the volume')); } }),
    });
    const r = await put('linux-db01', 'linux', [broken, item('fine.txt', Buffer.from('fine'))], { kind: 'folder', path: '/srv/src' }, 'overwrite');
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.message, /'broken\.bin' could not be read from the restore point: extent beyond the end/);
    assert.deepEqual(r.written.map((w) => w.to), ['/srv/src/fine.txt']);
    assert.equal(r.bytes, 4);
    assert.equal(await entry('linux-db01', '/srv/src/broken.bin'), undefined);
  });

  it('a name that climbs out of the target folder is refused; a wrong guest password stops everything with a clear error', async () => {
    const r = await put('linux-db01', 'linux', [item('../../etc/passwd', Buffer.from('x')), item('ok.txt', Buffer.from('ok'))], { kind: 'folder', path: '/srv/x' }, 'overwrite');
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.message, /'\.\.'/);
    assert.deepEqual(r.written.map((w) => w.to), ['/srv/x/ok.txt']);
    await assert.rejects(put('linux-db01', 'linux', [item('a.txt', Buffer.from('a'))], { kind: 'folder', path: '/srv/y' }, 'overwrite', { username: creds.username, password: 'wrong' }),
      (e: unknown) => e instanceof GuestUnusableError && /refused the guest credential/.test(e.message) && /credentials/.test(e.hint));
  });
});
