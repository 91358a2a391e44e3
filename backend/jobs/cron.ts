// Cron expressions for job schedules: the five classic fields (minute hour day-of-month month
// day-of-week) with lists, ranges, steps, names (jan, mon) and the @hourly/@daily/@weekly/@monthly
// shorthands; an optional sixth, leading seconds field as in Quartz and node-cron. Times are evaluated in the service's local time zone. As in Vixie cron, when both
// day-of-month and day-of-week are restricted a day matches if either does.

export interface CronSchedule {
  readonly source: string;
  next(after: Date): Date;
}

interface Field { readonly name: string; readonly min: number; readonly max: number; readonly names?: readonly string[] }

const SECONDS: Field = { name: 'second', min: 0, max: 59 };
const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

const SHORTHANDS: Record<string, string> = {
  '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *',
};

export class CronError extends Error {}

export function parseCron(source: string): CronSchedule {
  const expr = SHORTHANDS[source.trim().toLowerCase()] ?? source.trim();
  const all = expr.split(/\s+/);
  if (all.length !== 5 && all.length !== 6) {
    throw new CronError(`'${source}' is not a cron expression: expected 5 fields (minute hour day-of-month month day-of-week), e.g. '0 22 * * 1-5'.`);
  }
  const seconds = all.length === 6 ? parseField(all[0]!, SECONDS, source) : new Set([0]);
  const parts = all.slice(all.length - 5);
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, source));
  const [minutes, hours, doms, months, dows] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (dows.has(7)) dows.add(0);
  const domStar = parts[2] === '*' || parts[2] === '?';
  const dowStar = parts[4] === '*' || parts[4] === '?';
  if (![...doms].some((d) => [...months].some((m) => d <= daysInMonthMax(m)))) {
    throw new CronError(`'${source}' never fires: no month in it has that day.`);
  }

  const dayMatches = (d: Date): boolean => {
    const dom = doms.has(d.getDate());
    const dow = dows.has(d.getDay());
    if (domStar && dowStar) return true;
    if (domStar) return dow;
    if (dowStar) return dom;
    return dom || dow;
  };

  return {
    source,
    next(after: Date): Date {
      const t = new Date(after.getTime());
      t.setMilliseconds(0);
      t.setSeconds(t.getSeconds() + 1);
      // Walk forward field by field; bounded so an impossible combination cannot loop forever.
      for (let guard = 0; guard < 100_000; guard++) {
        if (!months.has(t.getMonth() + 1)) {
          t.setMonth(t.getMonth() + 1, 1);
          t.setHours(0, 0, 0, 0);
          continue;
        }
        if (!dayMatches(t)) {
          t.setDate(t.getDate() + 1);
          t.setHours(0, 0, 0, 0);
          continue;
        }
        if (!hours.has(t.getHours())) {
          t.setHours(t.getHours() + 1, 0, 0, 0);
          continue;
        }
        if (!minutes.has(t.getMinutes())) {
          t.setMinutes(t.getMinutes() + 1, 0, 0);
          continue;
        }
        const s = [...seconds].sort((a, b) => a - b).find((x) => x >= t.getSeconds());
        if (s === undefined) {
          t.setMinutes(t.getMinutes() + 1, 0, 0);
          continue;
        }
        t.setSeconds(s);
        return t;
      }
      throw new CronError(`'${source}' has no next run time.`);
    },
  };
}

function daysInMonthMax(m: number): number {
  return [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

function parseField(text: string, f: Field, source: string): Set<number> {
  const out = new Set<number>();
  const bad = (why: string) => new CronError(`'${source}': ${f.name} field '${text}' ${why}; allowed ${f.min}-${f.max}.`);
  for (const item of text.split(',')) {
    const [rangePart, stepPart] = item.split('/');
    if (rangePart === undefined || rangePart === '' || item.split('/').length > 2) throw bad('is malformed');
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1) throw bad('has an invalid step');
    let lo: number;
    let hi: number;
    if (rangePart === '*' || rangePart === '?') {
      lo = f.min;
      hi = f.name === 'day of week' ? 6 : f.max;
    } else {
      const [a, b] = rangePart.split('-');
      lo = value(a!, f, bad);
      hi = b === undefined ? (stepPart === undefined ? lo : f.max) : value(b, f, bad);
      if (rangePart.split('-').length > 2 || hi < lo) throw bad('has an invalid range');
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function value(s: string, f: Field, bad: (why: string) => CronError): number {
  const names = f.names;
  const idx = names ? names.indexOf(s.toLowerCase()) : -1;
  const n = idx >= 0 ? idx + (f.min === 1 ? 1 : 0) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < f.min || n > f.max) throw bad(`has the value '${s}' out of range`);
  return n;
}
