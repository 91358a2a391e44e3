// Runs the whole test suite with Node's test runner. `npm test` calls this after setup and typecheck.
// Usage: node test/run.ts [substring-filter ...]
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { ensureUiBuilt } from './helpers/ui-build.ts';

const filters = process.argv.slice(2);
const files = globSync('test/**/*.test.ts', { exclude: (p) => p.includes('node_modules') })
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('test/run.ts: no test files matched');
  process.exit(1);
}
// The service serves the built UI; several test files (API and browser) need it.
ensureUiBuilt();
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, STILLPOINT_LOG_LEVEL: process.env.STILLPOINT_LOG_LEVEL ?? 'silent' },
});
process.exit(r.status ?? 1);
