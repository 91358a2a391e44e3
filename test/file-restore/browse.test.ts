// Browse sessions on a repository built here (no service): an NTFS volume (whole disk) with an
// alternate data stream and a Unicode name made by ntfs-3g's ntfscp, read back as ntfs-3g wrote it;
// a volume whose parser runs over its time bound is reported with a clear problem while the service
// side goes on; idle sessions close; the HTTP helpers (Range, Content-Disposition) on their own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Repository } from '../../backend/repository/repository.ts';
import { FileRestore, type FileBlock } from '../../backend/file-restore/sessions.ts';
import { contentDisposition, parseRange } from '../../backend/api/routes/files.ts';

let dir: string;
let repo: Repository;
let rpId: string;
const streamBytes = Buffer.from('Zone.Identifier-like data in a named stream\r\n'.repeat(100));
const mainBytes = Buffer.from('the main data stream\r\n');
/** Large enough to stream in several reads at once (sessions.ts LARGE_FILE). */
const bigBytes = randomBytes(40 << 20);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stillpoint-browse-'));
  const img = join(dir, 'ntfs.img');
  execFileSync('truncate', ['-s', '64M', img]);
  execFileSync('mkntfs', ['-q', '-F', '-Q', '-s', '512', '-L', 'Streams', img], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  writeFileSync(join(dir, 'main.txt'), mainBytes);
  writeFileSync(join(dir, 'ads.txt'), streamBytes);
  const cp = (...a: string[]) => execFileSync('ntfscp', ['-f', ...a], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }, stdio: 'pipe' });
  cp(img, join(dir, 'main.txt'), '/report.txt');
  cp('-N', 'Zone.Identifier', img, join(dir, 'ads.txt'), '/report.txt');
  cp(img, join(dir, 'main.txt'), '/naïve file.txt');
  writeFileSync(join(dir, 'big.bin'), bigBytes);
  cp(img, join(dir, 'big.bin'), '/big.bin');
  repo = await Repository.init(join(dir, 'repo'), {});
  const w = await repo.beginRestorePoint({ vm: { id: 'vm-ntfs', name: 'ntfs-vm' }, consistency: 'crash' });
  const d = await w.addDisk({ key: '2000', label: 'Hard disk 1', capacity: statSync(img).size, file: img });
  await d.writeFile(img);
  rpId = (await w.commit()).id;
});
after(async () => { await repo?.close(); if (dir) rmSync(dir, { recursive: true, force: true }); });

/**
 * Every file of the repository folder with its size and modification time; the lock's only by its size:
 * the open repository rewrites its heartbeat every 10 s (lock.ts), which a slow run saw as a write.
 */
const snapshot = () => readdirSync(join(dir, 'repo'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
  .map((e) => { const p = join(e.parentPath, e.name); const st = statSync(p); return e.name === 'lock' && e.parentPath === join(dir, 'repo') ? `${p} ${st.size}` : `${p} ${st.size} ${st.mtimeMs}`; }).sort();

test('an NTFS whole-disk volume: named streams are listed and read; Unicode names come through; nothing is written', async () => {
  const files = new FileRestore(async () => repo);
  const before = snapshot();
  try {
    const s = await files.open(rpId);
    const vols = await s.volumes();
    assert.deepEqual(vols.map((v) => [v.id, v.filesystem, v.label, v.browsable]), [['2000', 'ntfs', 'Streams', true]]);
    const root = await s.list('2000', undefined, 0, 100);
    const report = root.entries.find((e) => e.name === 'report.txt')!;
    assert.deepEqual(report.streams, [{ name: 'Zone.Identifier', size: streamBytes.length }]);
    assert.ok((await s.read('2000', report.ref, 0, 1 << 20)).equals(mainBytes));
    assert.ok((await s.read('2000', report.ref, 0, 1 << 20, 'Zone.Identifier')).equals(streamBytes));
    const chunks: Buffer[] = [];
    for await (const c of s.fileStream('2000', report.ref, 10, streamBytes.length, 'Zone.Identifier')) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(streamBytes.subarray(10)));
    assert.ok(root.entries.some((e) => e.name === 'naïve file.txt'));
    const found: string[] = [];
    for await (const b of s.search('NAÏVE*', [], 10)) found.push(...b.items.map((i) => i.path));
    assert.deepEqual(found, ['naïve file.txt']);
  } finally { await files.close(); }
  assert.deepEqual(snapshot(), before, 'browsing wrote nothing into the repository');
});

test('a filesystem that cannot be opened within the time bound is a volume problem, not a failure of the session', async () => {
  const files = new FileRestore(async () => repo, { openTimeoutMs: 1 });
  try {
    const s = await files.open(rpId);
    const t0 = Date.now();
    const [v] = await s.volumes();
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(v!.browsable, false);
    assert.equal(v!.filesystem, 'ntfs', 'the signature is still reported');
    assert.match(v!.problem!, /the filesystem could not be opened: .*took longer than 1 ms and was stopped: the data it reads may be damaged or hostile/);
    await assert.rejects(s.list(v!.id, undefined), /cannot be browsed: the filesystem could not be opened/);
    assert.equal(s.workerStarts, 1, 'refused without touching the volume again');
  } finally { await files.close(); }
  // A normal bound on the same repository afterwards: everything works.
  const again = new FileRestore(async () => repo);
  try { assert.equal((await (await again.open(rpId)).volumes())[0]!.browsable, true); } finally { await again.close(); }
});

test('an idle session closes (its worker and disk images), a busy one stays', async () => {
  const files = new FileRestore(async () => repo, { idleMs: 0 });
  try {
    const s = await files.open(rpId);
    await s.volumes();
    const release = s.hold();
    await files.closeIdle();
    assert.equal(s.closed, false, 'a session in use (a download, a zip) stays open');
    release();
    await files.closeIdle();
    assert.equal(s.closed, true);
    assert.equal((await files.sessions()).length, 0);
    await assert.rejects(s.list('2000', undefined), /closed/);
    const s2 = await files.open(rpId);
    assert.notEqual(s2, s, 'a new session opens on the next use');
    assert.equal((await s2.list('2000', undefined)).dir.type, 'dir');
  } finally { await files.close(); }
});

test('HTTP helpers: byte ranges and Content-Disposition with RFC 5987 names', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 10 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 100 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 100 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 100 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: the whole file');
  assert.equal(parseRange(undefined, 100), undefined);
  assert.equal(contentDisposition('naïve file.txt'), `attachment; filename="na_ve file.txt"; filename*=UTF-8''na%C3%AFve%20file.txt`);
  assert.equal(contentDisposition('a"b\\c;d%.txt'), `attachment; filename="a_b_c_d_.txt"; filename*=UTF-8''a%22b%5Cc%3Bd%25.txt`);
  assert.equal(contentDisposition('报告 (1).docx'), `attachment; filename="__ (1).docx"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%281%29.docx`);
});

test('a large file streams in several reads at once, byte for byte, from any offset to any end', async () => {
  const files = new FileRestore(async () => repo);
  try {
    const s = await files.open(rpId);
    const big = (await s.list('2000', undefined, 0, 100)).entries.find((e) => e.name === 'big.bin')!;
    assert.equal(big.size, bigBytes.length);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    for (const [from, to] of [[0, bigBytes.length], [12_345, bigBytes.length - 777]] as const) {
      const h = createHash('sha256');
      let n = 0;
      for await (const c of s.fileStream('2000', big.ref, from, to)) { h.update(c as Buffer); n += (c as Buffer).length; }
      assert.equal(n, to - from);
      assert.equal(h.digest('hex'), sha(bigBytes.subarray(from, to)), `bytes ${from}–${to}`);
    }
  } finally { await files.close(); }
});

test('a download\'s blocks come in reused buffers: a block is never overwritten before its release, byte for byte from any offset', async () => {
  const files = new FileRestore(async () => repo);
  try {
    const s = await files.open(rpId);
    const big = (await s.list('2000', undefined, 0, 100)).entries.find((e) => e.name === 'big.bin')!;
    for (const [from, to] of [[0, bigBytes.length], [1_000_003, bigBytes.length - 4097]] as const) {
      let held: { block: FileBlock; copy: Buffer } | undefined;
      let pos = from;
      for await (const b of s.fileBlocks('2000', big.ref, from, to)) {
        // The block written before (a socket still sending it) keeps its bytes while later ones arrive.
        if (held) { assert.ok(held.block.bytes.equals(held.copy), 'a held block was overwritten'); held.block.release(); }
        assert.ok(b.bytes.equals(bigBytes.subarray(pos, pos + b.bytes.length)), `bytes at ${pos}`);
        pos += b.bytes.length;
        held = { block: b, copy: Buffer.from(b.bytes) };
      }
      held?.block.release();
      assert.equal(pos, to);
    }
  } finally { await files.close(); }
});
