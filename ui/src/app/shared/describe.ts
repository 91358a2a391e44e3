import type { RetentionPolicy } from '@contract';
import type { I18n } from '../core/i18n';

export interface CronPreset { id: string; cron: string | null }
/** Schedule presets offered by the job wizard (cron: minute hour day-of-month month day-of-week). */
export const CRON_PRESETS: CronPreset[] = [
  { id: 'manual', cron: null },
  { id: 'daily', cron: '0 22 * * *' },
  { id: 'every6h', cron: '0 */6 * * *' },
  { id: 'hourly', cron: '0 * * * *' },
  { id: 'weekdays', cron: '30 21 * * 1-5' },
  { id: 'weekly', cron: '0 2 * * 0' },
];

export function describeSchedule(cron: string | null, i18n: I18n): string {
  if (!cron) return i18n.t('schedule.manual');
  const p = CRON_PRESETS.find((x) => x.cron === cron);
  return p ? `${i18n.t('schedule.preset.' + p.id)} (${cron})` : cron;
}

export function describeRetention(r: RetentionPolicy, i18n: I18n): string {
  const parts: string[] = [];
  if (r.keepLast) parts.push(i18n.t('retention.keepLastN', { n: r.keepLast }));
  for (const k of ['daily', 'weekly', 'monthly', 'yearly'] as const) if (r[k]) parts.push(i18n.t('retention.gfs.' + k, { n: r[k] }));
  return parts.length ? parts.join(', ') : i18n.t('retention.forever');
}

/** Very small cron check (numbers, *, ranges, lists, steps): 5 fields, or 6 with a leading seconds field as the backend accepts. */
export function isValidCron(cron: string): boolean {
  const f = cron.trim().split(/\s+/);
  if (f.length !== 5 && f.length !== 6) return false;
  const limits = [...(f.length === 6 ? [[0, 59]] : []), [0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
  return f.every((field, i) => field.split(',').every((part) => {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return false;
    const [lo, hi] = limits[i];
    const nums = [m[2], m[3]].filter((x) => x !== undefined).map(Number);
    return nums.every((n) => n >= lo && n <= hi) && (m[4] === undefined || Number(m[4]) > 0);
  }));
}
