// The catalog of NTFS volumes against sleuthkit (issue 11): a restore point holding a real NTFS image
// made by mkntfs + ntfs-3g (deep tree, Unicode names, hard links with an attribute list, reparse points,
// alternate data streams, compressed and sparse files) and the Debian forensics-samples-ntfs disk (MBR,
// NTFS at sector 2048) is catalogued as the service does it (isolated worker fed with $MFT read from
// the repository), and every path, kind and file size is compared with `fls -r -p -l` on the raw images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Repository } from '../../backend/repository/repository.ts';
import { CatalogStore } from '../../backend/file-restore/catalog/store.ts';
import { buildCatalog } from '../../backend/file-restore/catalog/build.ts';
import { tempDir } from '../repository/helpers.ts';

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const SAMPLE = '/usr/share/forensics-samples/fs.ntfs.xz';
const VM = { id: 'vm-ntfs', name: 'winfs' };

/** `fls -r -p -l`: allocated files and folders (no named streams, orphans or virtual entries) → kind and size. */
function fls(img: string, sector: number): Map<string, { kind: 'd' | 'r'; size: number }> {
  const out = execFileSync('fls', ['-o', String(sector), '-r', '-p', '-l', img], { env: { ...process.env, PATH, TZ: 'UTC' }, maxBuffer: 64 << 20 }).toString('utf8');
  const m = new Map<string, { kind: 'd' | 'r'; size: number }>();
  for (const line of out.split('\n')) {
    if (!line || /^\S\/\S \* /.test(line) || line.startsWith('V/V')) continue;
    const g = /^(.)\/(.) (\d+)-(\d+)-(\d+):\t(.*)$/.exec(line);
    assert.ok(g, `unparsed fls line ${line}`);
    const cols = g[6]!.split('\t');
    const path = cols[0]!;
    if (path.startsWith('$OrphanFiles') || path.slice(path.lastIndexOf('/') + 1).includes(':')) continue;
    const type = Number(g[4]);
    if (type === 144 && g[2] === 'd') m.set(path, { kind: 'd', size: 0 });
    else if (type === 128) m.set(path, { kind: g[2] as 'd' | 'r', size: Number(cols[5]) });
  }
  return m;
}

test('NTFS catalogs list what fls -r lists: every path, kind and file size (mkntfs + ntfs-3g image, forensics sample)', async (t) => {
  const dir = tempDir(t, 'sp-catalog-ntfs-');
  const img = join(dir, 'full.img');
  execFileSync('bash', [join(import.meta.dirname, '..', 'filesystems', 'images', 'ntfs.sh'), img, 'full'], { stdio: ['ignore', 'ignore', 'inherit'] });
  assert.ok(existsSync(SAMPLE), `${SAMPLE} missing: apt-get install forensics-samples-ntfs`);
  const sample = join(dir, 'fs.ntfs');
  execFileSync('sh', ['-c', `xz -dc "${SAMPLE}" > "${sample}"`]);

  const repo = await Repository.init(join(dir, 'repo'), { chunkSize: 64 * 1024 });
  t.after(() => repo.close());
  const w = await repo.beginRestorePoint({ vm: VM, consistency: 'crash' });
  for (const [key, file] of [['2000', img], ['2001', sample]] as const) {
    const d = await w.addDisk({ key, label: `disk ${key}`, capacity: statSync(file).size });
    await d.writeFile(file);
  }
  const rp = await w.commit();
  const store = new CatalogStore(join(dir, 'data'));
  const r = await buildCatalog(repo, store, rp);
  const entries = [...store.open(VM.id, rp.id)!.all()];

  for (const [key, file, sector] of [['2000', img, 0], ['2001', sample, 2048]] as const) {
    const vi = r.header.volumes.findIndex((v) => v.diskKey === key && v.fsType === 'ntfs');
    assert.ok(vi >= 0, `an NTFS volume on disk ${key}: ${JSON.stringify(r.header.volumes)}`);
    assert.equal(r.header.volumes[vi]!.error, undefined);
    const ours = new Map(entries.filter((e) => e.volume === vi).map((e) => [e.path.slice(1), e]));
    const theirs = fls(file, sector);
    assert.ok(theirs.size > 25, `${theirs.size} entries from fls`);
    for (const [path, x] of theirs) {
      const e = ours.get(path);
      assert.ok(e, `${key}: ${path} (fls) is not in the catalog`);
      if (x.kind === 'd') assert.ok(e.type === 'dir' || e.type === 'symlink' || e.type === 'other', `${path}: a folder for fls, ${e.type} in the catalog`);
      else if (e.type === 'file') assert.equal(e.size, x.size, `${path}: size`);
    }
    // What the catalog has beyond fls: entries without an unnamed data stream (index-only metafiles, reparse points).
    const extra = [...ours.entries()].filter(([p]) => !theirs.has(p));
    for (const [p, e] of extra) assert.ok(p.split('/').some((c) => c.startsWith('$')) || e.type === 'symlink' || e.type === 'other', `${key}: ${p} (${e.type}) is not listed by fls`);
    t.diagnostic(`disk ${key}: ${theirs.size} fls entries all in the catalog (${ours.size} entries; extra: ${extra.map(([p]) => p).join(', ')})`);
  }
});
