#!/usr/bin/env node
// Launcher for the `stillpoint` CLI. The CLI is TypeScript run by Node 24's type stripping;
// when this file is started by an older node (e.g. the machine's own), re-run it with the
// project's pinned Node 24 from node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'backend', 'cli', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(cli);
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    console.error('stillpoint: needs Node 24; run `npm install` in ' + root + ' first.');
    process.exit(1);
  }
  const r = spawnSync(pinned, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
