// The growth chart shows the repository's size on disk per day as the repository card showed it, and
// does not fall when restore points are pruned (their bytes stay until garbage collection).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { GrowthHistory } from '../../backend/service/growth-history.ts';

const MiB = 1 << 20;

test('each day keeps the last size read that day, across restarts of the service', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-growth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const h = new GrowthHistory(dir);
  h.record(2 * MiB, new Date('2026-11-30T10:00:00Z'));
  h.record(5 * MiB, new Date('2026-12-01T09:00:00Z'));
  h.record(8.78 * MiB, new Date('2026-12-01T23:00:00Z'));
  assert.deepEqual(new GrowthHistory(dir).series(), [
    { date: '2026-11-30', storedBytes: 2 * MiB },
    { date: '2026-12-01', storedBytes: 8.78 * MiB },
  ]);
});

test('days before the first sample come from the restore points, never above what was measured', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-growth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const h = new GrowthHistory(dir);
  // Pruning left points whose new bytes sum to 1.5 MiB, while the repository still holds 8.78 MiB.
  h.record(8.78 * MiB, new Date('2026-12-02T12:00:00Z'));
  const fromPoints = [
    { date: '2026-11-28', storedBytes: 1 * MiB },
    { date: '2026-11-29', storedBytes: 20 * MiB },
    { date: '2026-12-02', storedBytes: 1.5 * MiB },
  ];
  assert.deepEqual(h.series(fromPoints), [
    { date: '2026-11-28', storedBytes: 1 * MiB },
    { date: '2026-11-29', storedBytes: 8.78 * MiB },
    { date: '2026-12-02', storedBytes: 8.78 * MiB },
  ]);
});
