// kill -9 of `stillpoint repo backup` at random moments: the repository must open, verify clean and
// hold every restore point whose id the CLI printed, byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFileSync } from 'node:fs';
import { Repository } from '../../backend/repository/repository.ts';
import { tempDir, sourceTree, ext4Image, sha256File, mutate, cliAsync } from './helpers.ts';

const MiB = 1024 * 1024;

test('kill -9 during backup at random points (25 trials) leaves a clean repository', async (t) => {
  const dir = tempDir(t);
  const src = sourceTree(dir, { randomBytes: 12 * MiB });
  const img = ext4Image(join(dir, 'disk.img'), 48, src);
  const repoDir = join(dir, 'repo');
  const init = await Repository.init(repoDir, { packSize: 2 * MiB });
  await init.close();

  const completed = new Map<string, string>(); // rp id -> sha256 of the image it was made from
  let killed = 0;
  let attempts = 0;
  // How long one backup takes on this machine now, so kills land inside backups on a fast or a loaded machine.
  let took = 0;
  for (let trial = 0; trial < 25; trial++) {
    mutate(img, 0.08, trial + 1); // new data every trial, so packs are being written when the kill lands
    const snapshot = join(dir, `snap.img`);
    copyFileSync(img, snapshot);
    const hash = sha256File(snapshot);
    const child = cliAsync(['backup', repoDir, snapshot, '--name', 'crashvm']);
    let stdout = '';
    child.stdout.on('data', (b) => { stdout += b; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Every third trial runs to completion (and measures the time); the others are killed at a random
    // moment of a typical backup's duration.
    const kill = trial % 3 !== 0 && took > 0;
    const delay = kill ? Math.floor(took * (0.05 + 0.9 * Math.random())) : 0;
    const t0 = Date.now();
    const timer = kill ? setTimeout(() => child.kill('SIGKILL'), delay) : undefined;
    const code = await exited;
    clearTimeout(timer);
    if (!kill) took = Date.now() - t0;
    else attempts++;
    if (code === 0) completed.set(stdout.trim(), hash);
    else killed++;

    const repo = await Repository.open(repoDir); // takes over the dead process's lock
    try {
      const ids = (await repo.listRestorePoints()).map((r) => r.id);
      for (const id of completed.keys()) assert.ok(ids.includes(id), `trial ${trial}: completed ${id} is listed`);
      // A point may be committed just before the kill landed, without its id printed; it must be intact too.
      for (const id of ids) if (!completed.has(id)) completed.set(id, '');
      const v = await repo.verify({ quick: true });
      assert.equal(v.ok, true, `trial ${trial} (kill after ${delay} ms): ${JSON.stringify(v.damaged.slice(0, 3))}`);
    } finally {
      await repo.close();
    }
  }
  assert.ok(killed >= attempts / 2, `at least half of the ${attempts} kills landed mid-backup (${killed})`);
  assert.ok(killed >= 8, `at least 8 backups were killed mid-way (${killed})`);
  assert.ok([...completed.values()].some((h) => h), 'some backups completed');

  const repo = await Repository.open(repoDir);
  t.after(() => repo.close());
  const v = await repo.verify();
  assert.equal(v.ok, true, JSON.stringify(v.damaged.slice(0, 3)));
  await repo.gc(); // orphaned pack tails and unreferenced chunks go away
  const v2 = await repo.verify();
  assert.equal(v2.ok, true);
  const out = join(dir, 'out.img');
  for (const [id, hash] of completed) {
    await repo.restoreDisk(id, '0', out);
    if (hash) assert.equal(sha256File(out), hash, `restore point ${id} restores byte-identical`);
  }
});
