// `stillpoint repo …` end to end: init (encrypted), backup, ls, restore, verify, stats, prune, lock,
// delete, errors and exit codes, --json everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { tempDir, sourceTree, ext4Image, sha256File, mutate, cli, ROOT } from './helpers.ts';

test('CLI: init/backup/ls/restore/verify/stats/prune/lock/delete with --json and clear errors', async (t) => {
  const dir = tempDir(t);
  const src = sourceTree(dir);
  const img = ext4Image(join(dir, 'disk.img'), 24, src);
  const repo = join(dir, 'repo');
  const env = { STILLPOINT_PASSPHRASE: 'cli pass' };
  const json = (r: { code: number; stdout: string; stderr: string }) => { assert.equal(r.code, 0, r.stderr); return JSON.parse(r.stdout); };

  assert.equal(json(cli(['init', repo, '--encrypt', '--json'], env)).encrypted, true);
  const first = cli(['backup', repo, img, '--name', 'web01'], env);
  assert.equal(first.code, 0, first.stderr);
  const id1 = first.stdout.trim();
  assert.match(id1, /^rp-\d{8}T\d{6}Z-[0-9a-f]{6}$/, 'backup prints only the new restore point id');
  const second = json(cli(['backup', repo, img, '--name', 'web01', '--json'], env));
  assert.equal(second.newStoredBytes, 0, 'unchanged re-backup stores nothing');
  assert.equal(second.parent, id1, 'the previous point of the same VM is the parent');
  mutate(img, 0.05, 3);
  const id3 = cli(['backup', repo, img, '--name', 'web01'], env).stdout.trim();

  const ls = json(cli(['ls', repo, '--json'], env));
  assert.deepEqual(ls.map((r: { id: string }) => r.id), [id3, second.id, id1]);
  const lsText = cli(['ls', repo], env);
  assert.ok(lsText.stdout.includes(id1) && lsText.stdout.includes('web01'));

  const out = join(dir, 'out.img');
  assert.equal(json(cli(['restore', repo, id3, out, '--json'], env)).bytes, 24 * 1024 * 1024);
  assert.equal(sha256File(out), sha256File(img));
  const v = json(cli(['verify', repo, '--json'], env));
  assert.equal(v.ok, true);
  assert.equal(json(cli(['verify', repo, '--quick', '--json'], env)).mode, 'quick');
  const st = json(cli(['stats', repo, '--json'], env));
  assert.equal(st.restorePoints, 3);
  assert.equal(st.encrypted, true);

  // Lock the oldest point: prune keeps it, delete refuses it.
  assert.equal(cli(['lock', repo, id1, '--until', '2999-01-01'], env).code, 0);
  const del = cli(['delete', repo, id1], env);
  assert.equal(del.code, 1);
  assert.match(del.stderr, /locked until 2999/);
  const pr = json(cli(['prune', repo, '--keep-last', '1', '--json'], env));
  assert.deepEqual(pr.remove.map((r: { id: string }) => r.id), [second.id]);
  assert.ok(pr.keep.some((k: { id: string; reasons: string[] }) => k.id === id1 && k.reasons.some((x) => /locked/.test(x))));
  assert.ok(pr.gc.deletedChunks >= 0);
  assert.equal(json(cli(['ls', repo, '--json'], env)).length, 2);

  // Errors: wrong passphrase, missing repository, usage, a repository held by another process.
  const wrong = cli(['ls', repo, '--json'], { STILLPOINT_PASSPHRASE: 'nope' });
  assert.equal(wrong.code, 1);
  assert.equal(JSON.parse(wrong.stdout).error.code, 'EPASSPHRASE');
  assert.match(wrong.stderr, /wrong passphrase/);
  const missing = cli(['stats', join(dir, 'nothing')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not a Stillpoint repository.*repo init/s);
  assert.equal(cli(['prune', repo], env).code, 2);
  assert.equal(cli(['frobnicate', repo], env).code, 2);

  const holder = spawn(process.execPath, ['-e', `
    const { Repository } = await import(${JSON.stringify(join(ROOT, 'backend/repository/repository.ts'))});
    await Repository.open(${JSON.stringify(repo)}, { passphrase: 'cli pass', command: 'stillpoint service' });
    console.log('ready'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, STILLPOINT_LOG_LEVEL: 'silent' } });
  t.after(() => holder.kill('SIGKILL'));
  await new Promise<void>((r) => holder.stdout.once('data', () => r()));
  const busy = cli(['verify', repo], env);
  assert.equal(busy.code, 1);
  assert.ok(busy.stderr.includes(`pid ${holder.pid}`) && /stillpoint service/.test(busy.stderr), busy.stderr);
  // ls reads the restore point objects, not the index: it answers while the service holds the repository.
  assert.deepEqual(json(cli(['ls', repo, '--json'], env)).map((r: { id: string }) => r.id), [id3, id1]);
});
