#!/bin/sh
':' //; f="$0"; [ -L "$f" ] && f="$(readlink -f "$f")"; n="${f%/*}/../node_modules/node/bin/node"; [ -x "$n" ] || n=node; exec "$n" "$0" "$@"
// Launcher for the `stillpoint` CLI, a file that is both a shell script and an ES module. The
// CLI is TypeScript run by Node 24's type stripping; the machine's own node may be older. Run as a
// program, the shell line above starts the project's pinned Node 24 (node_modules/node) directly,
// so Node starts once; it runs no other program unless it was started through a symlink (readlink),
// since each fork costs a command's start-up a few ms. Run as `node bin/stillpoint.mjs` by an older node, it re-runs itself with
// the pinned Node 24 (Node starts twice, ~0.3 s more).
import module from 'node:module';

const cli = new URL('../backend/cli/main.ts', import.meta.url);
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  // Keeps compiled and type-stripped modules on disk between runs: most of a command's start-up.
  module.enableCompileCache?.();
  await import(cli.href);
} else {
  // Loaded only here: node:fs/path/url/child_process cost a command under Node 24 start-up time for nothing.
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    console.error('stillpoint: needs Node 24; run `npm install` in ' + fileURLToPath(new URL('..', import.meta.url)) + ' first.');
    process.exit(1);
  }
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
