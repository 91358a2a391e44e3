import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCron, CronError } from '../../backend/jobs/cron.ts';

const at = (s: string) => new Date(s);
const fmt = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

test('weekday nightly job fires on the next weekday at 22:00', () => {
  const c = parseCron('0 22 * * 1-5');
  assert.equal(fmt(c.next(at('2026-11-27T23:00:00'))), '2026-11-30 22:00'); // Fri 23:00 -> Mon
  assert.equal(fmt(c.next(at('2026-11-25T21:59:30'))), '2026-11-25 22:00');
  assert.equal(fmt(c.next(at('2026-11-25T22:00:00'))), '2026-11-26 22:00'); // strictly after
});

test('steps, lists and names', () => {
  assert.equal(fmt(parseCron('*/15 * * * *').next(at('2026-11-25T10:16:00'))), '2026-11-25 10:30');
  assert.equal(fmt(parseCron('30 1 * jan,jul sun').next(at('2026-11-25T00:00:00'))), '2027-01-03 01:30');
  assert.equal(fmt(parseCron('@monthly').next(at('2026-11-25T00:00:00'))), '2026-12-01 00:00');
  assert.equal(fmt(parseCron('0 0 * * 7').next(at('2026-11-25T00:00:00'))), '2026-11-29 00:00'); // 7 = Sunday
});

test('day of month or day of week when both are set (Vixie semantics)', () => {
  const c = parseCron('0 12 1 * fri');
  assert.equal(fmt(c.next(at('2026-11-25T00:00:00'))), '2026-11-27 12:00'); // Friday comes first
  assert.equal(fmt(c.next(at('2026-11-27T13:00:00'))), '2026-12-01 12:00'); // then the 1st
});

test('leap day schedule waits for a leap year', () => {
  assert.equal(fmt(parseCron('0 0 29 2 *').next(at('2026-03-01T00:00:00'))), '2028-02-29 00:00');
});

test('an optional leading seconds field', () => {
  const c = parseCron('*/10 * * * * *');
  const n = c.next(at('2026-11-25T10:16:03'));
  assert.equal(`${fmt(n)}:${n.getSeconds()}`, '2026-11-25 10:16:10');
  const m = parseCron('30 0 22 * * *').next(at('2026-11-25T22:00:30'));
  assert.equal(`${fmt(m)}:${m.getSeconds()}`, '2026-11-26 22:00:30');
  assert.equal(parseCron('0 22 * * *').next(at('2026-11-25T21:59:59')).getSeconds(), 0);
});

test('bad expressions are refused with the field named', () => {
  assert.throws(() => parseCron('61 * * * *'), (e: unknown) => e instanceof CronError && /minute/.test((e as Error).message));
  assert.throws(() => parseCron('* * *'), /expected 5 fields/);
  assert.throws(() => parseCron('0 0 31 2 *'), /never fires/);
  assert.throws(() => parseCron('0 0 * * mon-'), CronError);
  assert.throws(() => parseCron('*/0 * * * *'), /step/);
});
