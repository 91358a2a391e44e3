// The service's configuration file may live outside the data folder (STILLPOINT_CONFIG) and name the
// data folder itself: the secrets it seals must open again with the key of the folder the service uses.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../backend/config.ts';

test("a config file's own dataDir is the data folder, and its sealed secrets open again on the next start", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'elsewhere');
  const file = join(dir, 'stillpoint.json');
  writeFileSync(file, JSON.stringify({
    dataDir, repository: { passphrase: 'repo secret' },
    vcenter: { url: 'https://vc.example.com/sdk', username: 'u', password: 'vc secret' },
  }));
  const first = loadConfig({ STILLPOINT_CONFIG: file });
  assert.equal(first.dataDir, dataDir);
  assert.ok(existsSync(join(dataDir, 'secret.key')), 'the key is made in the data folder the file names');
  assert.ok(!readFileSync(file, 'utf8').includes('secret"'), 'both secrets are sealed in the file');
  const second = loadConfig({ STILLPOINT_CONFIG: file });
  assert.equal(second.repository.passphrase, 'repo secret');
  assert.equal(second.vcenter.password, 'vc secret');
});

test('STILLPOINT_DATA_DIR wins over the file, and the secrets are sealed with that folder\'s key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'stillpoint.json');
  const chosen = join(dir, 'chosen');
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'ignored'), repository: { passphrase: 'p1' } }));
  assert.equal(loadConfig({ STILLPOINT_CONFIG: file, STILLPOINT_DATA_DIR: chosen }).dataDir, chosen);
  assert.equal(loadConfig({ STILLPOINT_CONFIG: file, STILLPOINT_DATA_DIR: chosen }).repository.passphrase, 'p1');
  assert.ok(!existsSync(join(dir, 'ignored')), 'no key is made in a folder the service does not use');
});
