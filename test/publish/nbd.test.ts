// Publishing restore-point disks over NBD, checked with real NBD clients (libnbd's nbdinfo and
// nbdcopy, qemu-img): sizes, byte-identical copies, TLS with the service certificate, refused
// tokens and addresses, refused writes, unpublish and expiry ending access, the published point
// held against deletion and retention; then the same through the service's API with the lab.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Repository } from '../../backend/repository/repository.ts';
import { Publications, type Publication } from '../../backend/publish/publications.ts';
import { loadOrCreateServerCert, type ServerCert } from '../../backend/common/tls-cert.ts';
import { ext4Image, sha256File, sourceTree, sparseRandomImage } from '../repository/helpers.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { until, within } from '../helpers/wait.ts';
import { Soap, ref } from '../lab-tests/soap.ts';
import type { ApiError, DiskPublication, JobRun } from '../../backend/api/contract.ts';

const MiB = 1024 * 1024;

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, maxBuffer: 16 * MiB }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr });
    });
  });
}

async function nbdinfo(url: string): Promise<{ size: number; readOnly: boolean; description?: string }> {
  const r = await run('nbdinfo', ['--json', url]);
  assert.equal(r.code, 0, `nbdinfo ${url}: ${r.stderr}`);
  const e = (JSON.parse(r.stdout) as { exports: Record<string, unknown>[] }).exports[0]!;
  return { size: e['export-size'] as number, readOnly: e.is_read_only as boolean, description: e.description as string | undefined };
}

/** A minimal NBD client speaking the protocol byte by byte, for what the tools never send (writes to a read-only export). */
class RawClient {
  sock: Socket;
  size = 0;
  #buf = Buffer.alloc(0);
  #want: (() => void) | undefined;
  closed: Promise<void>;

  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.on('data', (d: Buffer) => { this.#buf = Buffer.concat([this.#buf, d]); this.#want?.(); });
    this.closed = new Promise((resolve) => this.sock.once('close', () => { resolve(); this.#want?.(); }));
    this.sock.on('error', () => {});
  }

  async take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.sock.destroyed) throw new Error('connection closed');
      await within('NBD server bytes', new Promise<void>((r) => { this.#want = r; }), 10_000);
    }
    const b = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return b;
  }

  /** Handshake and NBD_OPT_GO; the reply types seen (the last is ACK on success). */
  async go(name: string): Promise<number[]> {
    const hello = await this.take(18);
    assert.equal(hello.toString('latin1', 0, 8), 'NBDMAGIC');
    assert.equal(hello.toString('latin1', 8, 16), 'IHAVEOPT');
    const flags = Buffer.alloc(4); flags.writeUInt32BE(3); this.sock.write(flags);
    const n = Buffer.from(name);
    const h = Buffer.alloc(16 + 4 + n.length + 2);
    h.write('IHAVEOPT', 0, 'latin1'); h.writeUInt32BE(7, 8); h.writeUInt32BE(4 + n.length + 2, 12); h.writeUInt32BE(n.length, 16); n.copy(h, 20);
    this.sock.write(h);
    const types: number[] = [];
    for (;;) {
      const r = await this.take(20);
      const type = r.readUInt32BE(12);
      const data = await this.take(r.readUInt32BE(16));
      types.push(type);
      if (type === 3 && data.readUInt16BE(0) === 0) this.size = Number(data.readBigUInt64BE(2));
      if (type !== 3) return types;
    }
  }

  /** One request; the reply's error and, for a successful read, its data. */
  async cmd(type: number, offset: number, length: number, payload?: Buffer): Promise<{ error: number; data?: Buffer }> {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(0x25609513, 0); h.writeUInt16BE(type, 6); h.writeBigUInt64BE(0x1234n, 8); h.writeBigUInt64BE(BigInt(offset), 16); h.writeUInt32BE(length, 24);
    this.sock.write(payload ? Buffer.concat([h, payload]) : h);
    const r = await this.take(16);
    assert.equal(r.readUInt32BE(0), 0x67446698);
    assert.equal(r.readBigUInt64BE(8), 0x1234n, 'the reply carries the request handle');
    const error = r.readUInt32BE(4);
    return { error, ...(type === 0 && error === 0 ? { data: Buffer.from(await this.take(length)) } : {}) };
  }
}

describe('a restore point published from a repository', () => {
  let dir: string;
  let repo: Repository;
  let pubs: Publications;
  let cert: ServerCert;
  let pki: string;
  let rpId: string;
  let source: string;
  let sourceSha: string;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sp-publish-test-'));
    // A real ext4 filesystem with files in it, then a disk with a sparse tail.
    source = ext4Image(join(dir, 'disk.img'), 24, sourceTree(dir, { docBytes: MiB, binBytes: 2 * MiB, randomBytes: MiB }));
    sparseRandomImage(join(dir, 'other.img'), 6, [[MiB, 2 * MiB]]);
    sourceSha = sha256File(source);
    repo = await Repository.init(join(dir, 'repo'), { chunkSize: 256 * 1024 });
    const w = await repo.beginRestorePoint({ vm: { id: 'vm-1', name: 'web01' }, consistency: 'crash' });
    await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: readFileSync(source).length })).writeFile(source);
    rpId = (await w.commit()).id;
    cert = loadOrCreateServerCert(dir);
    pki = join(dir, 'pki');
    mkdirSync(pki);
    writeFileSync(join(pki, 'ca-cert.pem'), cert.cert); // libnbd's tls-certificates folder: the CA that signed the server
    pubs = new Publications({ openImage: (rp, disk) => repo.openDiskImage(rp, disk), hold: async (rp, why) => repo.hold(rp, why), listen: { host: '127.0.0.1', port: 0 }, tls: cert, handshakeTimeoutMs: 4000 });
  });
  after(async () => { await pubs?.close(); await repo?.close(); rmSync(dir, { recursive: true, force: true }); });

  const publish = async (over: Partial<Parameters<Publications['publish']>[0]> = {}): Promise<Publication> => {
    const p = await pubs.publish({ rpId, vmId: 'vm-1', vmName: 'web01', disks: [{ key: '2000', label: 'Hard disk 1' }], owner: 'alice', tls: false, ...over });
    port = Number(new URL(p.exports[0]!.url).port);
    return p;
  };

  test('nbdinfo shows the export read-only with the disk size; nbdcopy and qemu-img copy bytes identical to the source and to a full restore', async () => {
    const p = await publish();
    const url = p.exports[0]!.url;
    assert.match(url, /^nbd:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/);
    const info = await nbdinfo(url);
    assert.equal(info.size, readFileSync(source).length);
    assert.equal(p.exports[0]!.size, info.size);
    assert.equal(info.readOnly, true);
    assert.match(info.description ?? '', /web01, Hard disk 1, restore point rp-/);

    const [copy, converted] = [join(dir, 'nbdcopy.img'), join(dir, 'qemu.img')];
    const [a, b] = await Promise.all([run('nbdcopy', [url, copy]), run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, converted])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(sha256File(copy), sourceSha);
    assert.equal(sha256File(converted), sourceSha);
    await repo.restoreDisk(rpId, '2000', join(dir, 'restored.img'));
    assert.equal(sha256File(join(dir, 'restored.img')), sha256File(copy));
    // The copy is the filesystem that was backed up.
    const fsck = await run('/usr/sbin/e2fsck', ['-fn', copy]);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    await pubs.unpublish(p.id);
  });

  test('mounting on a Linux box: nbdfuse exposes the export as a file, the kernel mounts it read-only, its files equal the originals', async () => {
    const p = await publish();
    const [fuseDir, mnt] = [join(dir, 'fuse'), join(dir, 'mnt')];
    mkdirSync(fuseDir);
    mkdirSync(mnt);
    const fuse = spawn('nbdfuse', ['--readonly', fuseDir, p.exports[0]!.url], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => fuse.once('exit', () => resolve()));
    let mounted = false;
    try {
      // Only asynchronous file calls on the mount: its reads are served by this very process's NBD server.
      await until('nbdfuse to show the disk', () => access(join(fuseDir, 'nbd')).then(() => true, () => false), { timeoutMs: 10_000 });
      const m = await run('mount', ['-o', 'ro,loop', join(fuseDir, 'nbd'), mnt]);
      assert.equal(m.code, 0, m.stderr);
      mounted = true;
      const mountedSha = createHash('sha256').update(await readFile(join(mnt, 'random.bin'))).digest('hex');
      assert.equal(mountedSha, sha256File(join(dir, 'src', 'random.bin')));
      assert.deepEqual((await readdir(join(mnt, 'doc'))).sort(), readdirSync(join(dir, 'src', 'doc')).sort());
      assert.notEqual((await run('touch', [join(mnt, 'new-file')])).code, 0, 'the mount is read-only');
    } finally {
      if (mounted) await run('umount', [mnt]);
      await run('fusermount3', ['-u', fuseDir]);
      await within('nbdfuse to exit', exited, 10_000).catch(() => fuse.kill('SIGKILL'));
    }
    await pubs.unpublish(p.id);
  });

  test('TLS: nbds:// verified against the service certificate copies the same bytes; its plain nbd:// form is refused', async () => {
    const p = await publish({ tls: true });
    const url = p.exports[0]!.url;
    assert.match(url, /^nbds:\/\//);
    const withCa = `${url}?tls-certificates=${pki}`;
    assert.equal((await nbdinfo(withCa)).size, readFileSync(source).length);
    const out = join(dir, 'tls.img');
    const c = await run('nbdcopy', [withCa, out]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(sha256File(out), sourceSha);
    const plain = await run('nbdinfo', [url.replace(/^nbds:/, 'nbd:')]);
    assert.notEqual(plain.code, 0, 'a TLS publication is not served in clear');
    assert.match(plain.stderr, /opt_go/);
    // A client that trusts another CA refuses the server.
    const otherPki = join(dir, 'other-pki');
    mkdirSync(otherPki);
    writeFileSync(join(otherPki, 'ca-cert.pem'), loadOrCreateServerCert(join(dir, 'other-service')).cert);
    const untrusted = await run('nbdinfo', [`${url}?tls-certificates=${otherPki}`]);
    assert.notEqual(untrusted.code, 0, 'a certificate from another CA is not accepted');
    assert.match(untrusted.stderr, /certificate|verif/i);
    await pubs.unpublish(p.id);
  });

  test('a wrong token, an empty name or another address is refused and listing shows nothing', async () => {
    const p = await publish();
    const url = p.exports[0]!.url;
    const token = url.slice(url.lastIndexOf('/') + 1);
    const wrong = url.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const r = await run('nbdinfo', [wrong]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such file|unknown/i);
    assert.notEqual((await run('nbdinfo', [`nbd://127.0.0.1:${port}/`])).code, 0);
    const list = await run('nbdinfo', ['--list', '--json', `nbd://127.0.0.1:${port}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { exports: unknown[] }).exports, []);
    assert.ok(!list.stdout.includes(token));
    await pubs.unpublish(p.id);

    const elsewhere = await publish({ allowFrom: ['192.0.2.0/24', '2001:db8::5'] });
    const refused = await run('nbdinfo', [elsewhere.exports[0]!.url]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /opt_go/);
    await pubs.unpublish(elsewhere.id);
    const here = await publish({ allowFrom: ['127.0.0.0/8'] });
    assert.equal((await nbdinfo(here.exports[0]!.url)).size, readFileSync(source).length);
    await pubs.unpublish(here.id);
    await assert.rejects(publish({ allowFrom: ['10.0.0.0/99'] }), /not a client address/);
  });

  test('writes, trims and out-of-range reads get NBD errors and the connection stays usable; unpublish disconnects the client', async () => {
    const p = await publish();
    const token = p.exports[0]!.url.split('/').pop()!;
    const c = new RawClient(port);
    assert.deepEqual(await c.go(token), [3, 3, 1], 'INFO export, INFO block size, ACK');
    assert.equal(c.size, readFileSync(source).length);
    const before = await c.cmd(0, 1024, 4096);
    assert.equal((await c.cmd(1, 0, 4096, Buffer.alloc(4096, 0xaa))).error, 1, 'write: EPERM');
    assert.equal((await c.cmd(4, 0, 4096)).error, 1, 'trim: EPERM');
    assert.equal((await c.cmd(0, c.size - 100, 4096)).error, 22, 'read past the end: EINVAL');
    assert.equal((await c.cmd(0, 0, 33 * MiB)).error, 22, 'read over 32 MiB: EINVAL');
    assert.equal((await c.cmd(3, 0, 0)).error, 0, 'flush');
    const again = await c.cmd(0, 1024, 4096);
    assert.ok(again.data!.equals(before.data!), 'the write changed nothing');
    assert.ok(again.data!.equals(readFileSync(source).subarray(1024, 1024 + 4096)));
    assert.equal(pubs.connections(p.id), 1);

    await pubs.unpublish(p.id);
    await within('the client to be disconnected', c.closed, 10_000);
    assert.notEqual((await run('nbdinfo', [p.exports[0]!.url])).code, 0, 'the address no longer works');
    await assert.rejects(pubs.unpublish(p.id), /does not exist/);
  });

  test('NBD_OPT_EXPORT_NAME (older clients) serves a valid token and closes on a wrong one; garbage and silent clients are cut off', async () => {
    const p = await publish();
    const token = p.exports[0]!.url.split('/').pop()!;
    const exportName = async (name: string) => {
      const c = new RawClient(port);
      await c.take(18);
      const n = Buffer.from(name);
      const h = Buffer.alloc(20 + n.length);
      h.writeUInt32BE(3, 0); h.write('IHAVEOPT', 4, 'latin1'); h.writeUInt32BE(1, 12); h.writeUInt32BE(n.length, 16); n.copy(h, 20);
      c.sock.write(h);
      return c;
    };
    const ok = await exportName(token);
    const reply = await ok.take(10);
    assert.equal(Number(reply.readBigUInt64BE(0)), readFileSync(source).length);
    assert.equal(reply.readUInt16BE(8) & 3, 3, 'HAS_FLAGS and READ_ONLY');
    const read = await ok.cmd(0, 0, 512);
    assert.ok(read.data!.equals(readFileSync(source).subarray(0, 512)));
    ok.sock.destroy();
    await within('a wrong export name to close the connection', (await exportName(token.slice(1))).closed, 10_000);

    const garbage = new RawClient(port);
    await garbage.take(18);
    garbage.sock.write(Buffer.alloc(64, 0x41));
    await within('a client sending garbage to be disconnected', garbage.closed, 10_000);
    const silent = new RawClient(port);
    await silent.take(18);
    await within('a silent client to be disconnected after the handshake time', silent.closed, 10_000);
    const huge = new RawClient(port);
    await huge.take(18);
    const h = Buffer.alloc(20);
    h.writeUInt32BE(3, 0); h.write('IHAVEOPT', 4, 'latin1'); h.writeUInt32BE(7, 12); h.writeUInt32BE(0x7fffffff, 16);
    huge.sock.write(h);
    await within('a client announcing a 2 GiB option to be disconnected', huge.closed, 10_000);
    assert.equal((await nbdinfo(p.exports[0]!.url)).size, readFileSync(source).length, 'the server still serves');
    await pubs.unpublish(p.id);
  });

  test('an expiring publication ends by itself', async () => {
    const p = await publish({ expiresAt: new Date(Date.now() + 300) });
    assert.ok(p.expiresAt);
    await until('the publication to expire', () => !pubs.get(p.id), { timeoutMs: 10_000 });
    assert.notEqual((await run('nbdinfo', [p.exports[0]!.url])).code, 0);
  });

  test('a published restore point is held: deleting and retention refuse it naming the publication; after unpublishing it goes and GC reclaims it', async () => {
    const other = join(dir, 'other.img');
    const w = await repo.beginRestorePoint({ vm: { id: 'vm-2', name: 'db01' }, consistency: 'crash' });
    await (await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 6 * MiB })).writeFile(other);
    const rp2 = (await w.commit()).id;
    const p = await pubs.publish({ rpId: rp2, vmId: 'vm-2', disks: [{ key: '2000' }], owner: 'alice', tls: false });
    await assert.rejects(repo.deleteRestorePoint(rp2), (e: Error & { code?: string }) => e.code === 'EBUSY' && e.message.includes(`published over NBD (${p.id})`));
    const newer = await repo.beginRestorePoint({ vm: { id: 'vm-2', name: 'db01' }, consistency: 'crash' });
    await (await newer.addDisk({ key: '2000', label: 'Hard disk 1', capacity: 6 * MiB })).write(0, Buffer.alloc(MiB, 3));
    await newer.commit();
    const kept = await repo.applyRetention({ keepLast: 1 }, { vmId: 'vm-2' });
    assert.deepEqual(kept.remove, [], 'retention removes nothing published');
    assert.match(kept.keep.find((k) => k.id === rp2)!.reasons.join(), /in use: it is published over NBD/);
    await repo.gc();
    const out = join(dir, 'after-gc.img');
    const c = await run('nbdcopy', [p.exports[0]!.url, out]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(sha256File(out), sha256File(other));
    await pubs.unpublish(p.id);
    await repo.deleteRestorePoint(rp2);
    const report = await repo.gc();
    assert.ok(report.reclaimedBytes >= 2 * MiB, `reclaimed ${report.reclaimedBytes} bytes`);
  });
});

describe('publishing through the service API (lab vCenter)', () => {
  let t: TestService;
  let op: string;
  let admin: string;
  let ids: Record<string, string>;
  let rpId: string;
  let atBackup: string;
  let diskKey: number;

  before(async () => {
    t = await startTestService({ config: { publish: { host: '127.0.0.1', port: 0 } } });
    [op, admin] = [await t.login('restricted'), await t.login()];
    ids = Object.fromEntries(Object.entries(await t.lab.control.vms()).map(([n, v]) => [n, v.moref]));
    atBackup = sha256File((await t.lab.control.vms())['linux-db01']!.disks[0]!.flatPath);
    const b = await t.call<JobRun>('POST', '/api/backups', { token: op, body: { vmIds: [ids['linux-db01']!] } });
    const run0 = await t.waitRun(op, b.body.id);
    assert.equal(run0.status, 'success', JSON.stringify(run0));
    rpId = run0.vms[0]!.restorePointId!;
    diskKey = (await t.call<{ disks: { key: number }[] }>('GET', `/api/restore-points/${rpId}`, { token: op })).body.disks[0]!.key;
  });
  after(async () => { await t?.stop(); });

  test('publish → nbdcopy equals the backed-up disk; others see the publication without its address; unpublish ends it; events in vCenter', async () => {
    const r = await t.call<DiskPublication>('POST', `/api/restore-points/${rpId}/publish`, { token: op, body: { disks: [diskKey], expiresInMinutes: 60 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const pub = r.body;
    assert.equal(pub.owner, t.lab.restrictedUsername);
    assert.ok(pub.expiresAt && Date.parse(pub.expiresAt) > Date.now() + 59 * 60_000);
    const url = pub.exports[0]!.url!;
    assert.match(url, /^nbd:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/);
    const out = join(t.dataDir, 'published.img');
    const c = await run('nbdcopy', [url, out]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(sha256File(out), atBackup);
    assert.equal(pub.exports[0]!.size, readFileSync(out).length);

    const mine = await t.call<DiskPublication[]>('GET', '/api/publications', { token: op });
    assert.equal(mine.body.find((p) => p.id === pub.id)?.exports[0]?.url, url);
    const theirs = await t.call<DiskPublication[]>('GET', '/api/publications', { token: admin });
    const seen = theirs.body.find((p) => p.id === pub.id);
    assert.ok(seen, 'the administrator sees the publication');
    assert.equal(seen.exports[0]!.url, undefined, 'but not its address, which is the credential');

    const del = await t.call('DELETE', `/api/publications/${pub.id}`, { token: op });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assert.notEqual((await run('nbdinfo', [url])).code, 0);
    assert.equal((await t.call('GET', `/api/publications/${pub.id}`, { token: op })).status, 404);

    const soap = new Soap(t.lab);
    await soap.login();
    const events = await soap.ok('QueryEvents', `${ref('_this', { type: 'EventManager', value: 'EventManager' })}<filter><entity>${ref('entity', { type: 'VirtualMachine', value: ids['linux-db01']! })}<recursion>self</recursion></entity></filter>`);
    assert.match(events, new RegExp(`operator@vsphere.local published [^<]* of the restore point of [^<]* read-only over NBD until [^<]* \\(publication ${pub.id}\\)`));
    assert.match(events, new RegExp(`ended the NBD publication ${pub.id}`));
  });

  test('the command line: files publish prints the address, files publications lists it, files unpublish ends it', async () => {
    const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bin/stillpoint.mjs', 'files', ...args], {
        env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
        timeout: 60_000,
      }, (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
    });
    const p = await cli(['publish', rpId, '--disk', String(diskKey), '--tls', '--json']);
    assert.equal(p.code, 0, p.stderr);
    const pub = JSON.parse(p.stdout) as DiskPublication;
    assert.equal(pub.tls, true);
    const url = pub.exports[0]!.url!;
    assert.match(url, /^nbds:\/\//);
    const pki = join(t.dataDir, 'pki');
    mkdirSync(pki, { recursive: true });
    writeFileSync(join(pki, 'ca-cert.pem'), t.service.cert);
    assert.equal((await nbdinfo(`${url}?tls-certificates=${pki}`)).size, pub.exports[0]!.size);
    const list = await cli(['publications']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`publication ${pub.id}: restore point ${rpId} of linux-db01, read-only, TLS only, until unpublished`));
    assert.ok(list.stdout.includes(url));
    const u = await cli(['unpublish', pub.id]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /ended/);
    const again = await cli(['unpublish', pub.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /does not exist/);
  });

  test('refusals: an unknown disk (400), a VM the user cannot see (404), missing privileges (403 naming them)', async () => {
    const bad = await t.call<ApiError>('POST', `/api/restore-points/${rpId}/publish`, { token: op, body: { disks: [999] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /has no disk 999/);
    const hidden = ids['web01'] ?? Object.entries(ids).find(([n]) => !t.lab.restrictedVms.includes(n))![1];
    const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [hidden] } });
    const hiddenRp = (await t.waitRun(admin, b.body.id)).vms[0]!.restorePointId!;
    assert.equal((await t.call('POST', `/api/restore-points/${hiddenRp}/publish`, { token: op, body: {} })).status, 404);

    // linux-db01 made read-only for the operator: seen, but not publishable.
    const soap = new Soap(t.lab);
    await soap.login();
    const AM = { type: 'AuthorizationManager', value: 'AuthorizationManager' };
    const vm = { type: 'VirtualMachine', value: ids['linux-db01']! };
    const saved = /<returnval>([\s\S]*?)<\/returnval>/.exec(await soap.ok('RetrieveEntityPermissions', `${ref('_this', AM)}${ref('entity', vm)}<inherited>false</inherited>`))![1]!;
    await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', vm)}<permission>${saved.replace(/<roleId>-?\d+<\/roleId>/, '<roleId>-2</roleId>')}</permission>`);
    try {
      const r = await t.call<ApiError>('POST', `/api/restore-points/${rpId}/publish`, { token: op, body: {} });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.match(r.body.message, /VirtualMachine\.Provisioning\.DiskRandomRead, VirtualMachine\.Provisioning\.GetVmFiles on VM 'linux-db01'/);
    } finally {
      await soap.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', vm)}<permission>${saved}</permission>`);
    }
    assert.equal((await t.call('GET', '/api/publications', { token: op })).status, 200);
  });
});
