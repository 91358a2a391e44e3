// Job schedules (backend/jobs/cron.ts), without a lab. Schedules run in the service's local time
// zone; these tests run in UTC so that no daylight-saving change falls between their dates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCron, CronError } from '../../backend/jobs/cron.ts';

process.env.TZ = 'UTC'; // Date reads TZ on each use: every date below is UTC

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

const next = (expr: string, after: string) => fmt(parseCron(expr).next(at(after)));
const nextS = (expr: string, after: string) => { const d = parseCron(expr).next(at(after)); return `${fmt(d)}:${String(d.getSeconds()).padStart(2, '0')}`; };

test('day of month and day of week: either matches when both are restricted, only the restricted one otherwise', () => {
  // 2026-11-13 is a Friday, 2026-11-15 a Sunday.
  assert.equal(next('0 0 15 * fri', '2026-11-07T00:00:00'), '2026-11-13 00:00'); // a Friday that is not the 15th
  assert.equal(next('0 0 15 * fri', '2026-11-13T00:00:00'), '2026-11-15 00:00'); // the 15th, a Sunday
  assert.equal(next('0 0 15 * fri', '2026-11-15T00:00:00'), '2026-11-20 00:00');
  assert.equal(next('0 0 15 * *', '2026-11-07T00:00:00'), '2026-11-15 00:00', 'day of week * does not widen it');
  assert.equal(next('0 0 * * fri', '2026-11-13T00:00:00'), '2026-11-20 00:00', 'day of month * does not widen it');
  assert.equal(next('0 0 ? * fri', '2026-11-13T00:00:00'), '2026-11-20 00:00', '? is the same as *');
  assert.equal(next('0 0 15 * ?', '2026-11-07T00:00:00'), '2026-11-15 00:00');
});

test('ranges, steps, lists and names', () => {
  assert.equal(next('0 9-17/2 * * *', '2026-11-25T09:30:00'), '2026-11-25 11:00');
  assert.equal(next('0 9-17/2 * * *', '2026-11-25T17:00:00'), '2026-11-26 09:00', '17 is the last step of 9-17/2');
  assert.equal(next('5/20 * * * *', '2026-11-25T10:06:00'), '2026-11-25 10:25', 'a/step runs from a to the end of the field');
  assert.equal(next('5/20 * * * *', '2026-11-25T10:46:00'), '2026-11-25 11:05');
  assert.equal(next('*/90 * * * *', '2026-11-25T10:16:00'), '2026-11-25 11:00', 'a step past the field leaves its first value');
  // mon-fri/2: Monday, Wednesday, Friday (2026-11-07 is a Saturday).
  assert.deepEqual(['2026-11-07', '2026-11-09', '2026-11-11', '2026-11-13'].map((d) => next('0 0 * * mon-fri/2', `${d}T00:00:00`)),
    ['2026-11-09 00:00', '2026-11-11 00:00', '2026-11-13 00:00', '2026-11-16 00:00']);
  assert.equal(next('0 0 1,15,20-22 * *', '2026-11-15T00:00:00'), '2026-11-20 00:00');
  assert.equal(next('0 0 1,15,20-22 * *', '2026-11-22T00:00:00'), '2026-12-01 00:00');
  assert.equal(next('0 0 * * 5-7', '2026-11-07T00:00:00'), '2026-11-08 00:00', '7 in a range is Sunday too');
  assert.equal(next('0 0 * * MON', '2026-11-07T00:00:00'), '2026-11-09 00:00', 'names in any case');
  assert.equal(next('0 0 1 jun-aug *', '2026-11-25T00:00:00'), '2027-06-01 00:00');
});

test('month ends, year ends and shorthands', () => {
  assert.equal(next('0 0 31 * *', '2026-11-01T00:00:00'), '2026-12-31 00:00', 'months without a 31st are skipped');
  assert.equal(next('0 0 1 1 *', '2026-12-31T23:59:00'), '2027-01-01 00:00');
  assert.equal(next('59 23 * * *', '2026-11-25T23:59:00'), '2026-11-26 23:59', 'strictly after, also at the last minute of a day');
  assert.equal(next('59 23 31 12 *', '2026-12-31T23:59:00'), '2027-12-31 23:59');
  assert.equal(next('@yearly', '2026-11-25T10:00:00'), '2027-01-01 00:00');
  assert.equal(next('@annually', '2026-11-25T10:00:00'), '2027-01-01 00:00');
  assert.equal(next('@weekly', '2026-11-25T10:00:00'), '2026-11-29 00:00');
  assert.equal(next('@daily', '2026-11-25T10:00:00'), '2026-11-26 00:00');
  assert.equal(next('@midnight', '2026-11-25T10:00:00'), '2026-11-26 00:00');
  assert.equal(next('@hourly', '2026-11-25T10:16:00'), '2026-11-25 11:00');
  assert.equal(next('  @Daily ', '2026-11-25T10:00:00'), '2026-11-26 00:00', 'shorthands ignore case and spaces');
  assert.equal(parseCron('  @Daily ').source, '  @Daily ', 'the schedule keeps what the user wrote');
});

test('the seconds field', () => {
  assert.equal(nextS('15 30 8 * * mon', '2026-11-07T00:00:00'), '2026-11-09 08:30:15');
  assert.equal(nextS('*/20 * * * * *', '2026-11-25T10:16:40'), '2026-11-25 10:17:00');
  assert.equal(nextS('*/20 * * * * *', '2026-11-25T10:16:39.999'), '2026-11-25 10:16:40', 'milliseconds do not skip a second');
  assert.equal(nextS('0 0 0 1 1 *', '2026-11-25T00:00:00'), '2027-01-01 00:00:00');
});

test('invalid expressions are refused with a CronError that quotes the expression and names the field and its range', () => {
  const refused = (expr: string, re: RegExp) => assert.throws(() => parseCron(expr), (e: unknown) => {
    assert.ok(e instanceof CronError, `${expr}: ${String(e)}`);
    assert.match(e.message, re, expr);
    assert.ok(e.message.includes(`'${expr}'`), `${expr}: the message quotes the expression: ${e.message}`);
    return true;
  });
  refused('', /expected 5 fields \(minute hour day-of-month month day-of-week\)/);
  refused('every day at 10', /expected 5 fields/);
  refused('0 0 0 * * * *', /expected 5 fields/);
  refused('0 24 * * *', /hour field '24' has the value '24' out of range; allowed 0-23/);
  refused('0 0 0 * *', /day of month field '0' .*allowed 1-31/);
  refused('0 0 * 13 *', /month field '13' .*allowed 1-12/);
  refused('0 0 * foo *', /month field 'foo' has the value 'foo' out of range/);
  refused('0 0 * * 8', /day of week field '8' .*allowed 0-7/);
  refused('0 0 * * fri-mon', /day of week field 'fri-mon' has an invalid range/);
  refused('1-2-3 * * * *', /minute field '1-2-3' has an invalid range/);
  refused('*/x * * * *', /minute field '\*\/x' has an invalid step/);
  refused('*/-1 * * * *', /invalid step/);
  refused('1/2/3 * * * *', /minute field '1\/2\/3' is malformed/);
  refused(',5 * * * *', /minute field ',5' is malformed/);
  refused('1.5 * * * *', /minute field '1.5' has the value '1.5' out of range/);
  refused('60 0 0 * * *', /second field '60' .*allowed 0-59/);
  refused('0 0 30 2 *', /never fires: no month in it has that day/);
  refused('0 0 31 4,6,9,11 *', /never fires/);
});
