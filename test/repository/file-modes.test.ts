// File modes: a repository (an encrypted one's wrapped key in config.json included) is private to its
// owner: folders 0700, files 0600, the LevelDB index too; an existing 0755 folder given to init and the
// parts of an older repository become private on open. The service's config.json is 0600 once it
// holds sealed secrets, also when it existed before with 0644.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { readdirSync, statSync, mkdirSync, chmodSync, writeFileSync, readFileSync } from 'node:fs';
import { Repository } from '../../backend/repository/repository.ts';
import { loadConfig } from '../../backend/config.ts';
import { tempDir, sparseRandomImage } from './helpers.ts';

const MiB = 1024 * 1024;

/** Every folder and file under `root` (itself included) with its permission bits. */
function modes(root: string): Map<string, number> {
  const out = new Map<string, number>([['.', statSync(root).mode & 0o777]]);
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.set(relative(root, p), statSync(p).mode & 0o777);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

function assertPrivate(root: string): void {
  const m = modes(root);
  const wrong = [...m].filter(([p, mode]) => mode !== (statSync(join(root, p)).isDirectory() ? 0o700 : 0o600));
  assert.deepEqual(wrong.map(([p, mode]) => `${p} ${mode.toString(8)}`), []);
}

test('an encrypted repository is private after init, backup and close: folders 0700, files 0600, index included', async (t) => {
  const prev = process.umask(0o022);
  t.after(() => process.umask(prev));
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  mkdirSync(repoDir, { mode: 0o755 }); // an existing empty folder given to init
  chmodSync(repoDir, 0o755);
  const img = sparseRandomImage(join(dir, 'a.img'), 8, [[0, 6 * MiB]]);
  const repo = await Repository.init(repoDir, { passphrase: 'pw', packSize: 2 * MiB });
  const m = modes(repoDir);
  assert.equal(m.get('config.json'), 0o600, 'the wrapped key');
  assert.equal(m.get('index'), 0o700);
  const w = await repo.beginRestorePoint({ vm: { id: 'vm', name: 'vm' }, consistency: 'crash' });
  await (await w.addDisk({ key: '0', label: 'd', capacity: 8 * MiB })).writeFile(img);
  await w.commit();
  await repo.close();
  assert.ok([...modes(repoDir).keys()].some((p) => p.endsWith('.pack')));
  assert.ok([...modes(repoDir).keys()].some((p) => p.startsWith('index/') && p.endsWith('.log')));
  assertPrivate(repoDir);
});

test('opening a repository made with 0755/0644 makes its root, config.json and index private', async (t) => {
  const dir = tempDir(t);
  const repoDir = join(dir, 'repo');
  await (await Repository.init(repoDir)).close();
  chmodSync(repoDir, 0o755);
  chmodSync(join(repoDir, 'config.json'), 0o644);
  chmodSync(join(repoDir, 'index'), 0o755);
  for (const f of readdirSync(join(repoDir, 'index'))) chmodSync(join(repoDir, 'index', f), 0o644);
  const repo = await Repository.open(repoDir);
  const m = modes(repoDir);
  assert.equal(m.get('.'), 0o700);
  assert.equal(m.get('config.json'), 0o600);
  assert.equal(m.get('index'), 0o700);
  await repo.close();
  assertPrivate(repoDir);
});

test("the service's config.json becomes 0600 when its secrets are sealed, also when it existed with 0644", (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ repository: { passphrase: 'repo secret' }, vcenter: { url: 'https://vc.example.com/sdk', username: 'u', password: 'vc secret' } }));
  chmodSync(file, 0o644);
  const cfg = loadConfig({ STILLPOINT_CONFIG: file, STILLPOINT_DATA_DIR: dataDir });
  assert.equal(cfg.dataDir, dataDir);
  const text = readFileSync(file, 'utf8');
  assert.equal(cfg.repository.passphrase, 'repo secret');
  assert.ok(!text.includes('repo secret') && !text.includes('vc secret') && text.includes('passphraseSealed'));
  assert.equal(statSync(file).mode & 0o777, 0o600);
});
