// Builds the Angular UI when its output is missing or older than its sources (demo and browser tests).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function ensureUiBuilt(): void {
  const index = join(root, 'ui', 'dist', 'browser', 'index.html');
  const sources = Math.max(newest(join(root, 'ui', 'src')), statSync(join(root, 'ui', 'angular.json')).mtimeMs, statSync(join(root, 'backend', 'api', 'contract.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  process.stderr.write('Building the UI (ng build)…\n');
  // flock: test files and people building at once would write the same ui/dist and leave it half done.
  const r = spawnSync('flock', [join(tmpdir(), 'stillpoint-ui-build.lock'), 'npm', 'run', 'build:ui', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('the UI build failed (npm run build:ui)');
}
