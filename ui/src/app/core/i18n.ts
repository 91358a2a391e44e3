import { Injectable, Pipe, type PipeTransform, inject, signal } from '@angular/core';
import enUS from '../i18n/en-US.json';
import deDE from '../i18n/de-DE.json';

export const LOCALES = ['en-US', 'de-DE'] as const;
export type Locale = (typeof LOCALES)[number];
type Catalog = Record<string, string>;
const CATALOGS: Record<Locale, Catalog> = { 'en-US': enUS as Catalog, 'de-DE': deDE as Catalog };
const STORAGE_KEY = 'stillpoint.locale';

/** Maps whatever a client reports ("de", "de_DE", "de-AT", "en") onto a supported locale. */
export function normalizeLocale(raw: string | null | undefined): Locale | null {
  if (!raw) return null;
  const l = raw.replace('_', '-').toLowerCase();
  if (l.startsWith('de')) return 'de-DE';
  if (l.startsWith('en')) return 'en-US';
  return null;
}

/** Small translation service: JSON catalogs bundled per locale, `{name}` placeholders, Intl formatting. */
@Injectable({ providedIn: 'root' })
export class I18n {
  readonly locale = signal<Locale>('en-US');

  /** Standalone: ?locale= → stored choice → browser language. Plugin: the client locale wins. */
  init(clientLocale: string | null): void {
    const fromQuery = normalizeLocale(new URLSearchParams(location.search).get('locale')
      ?? new URLSearchParams(location.hash.split('?')[1] ?? '').get('locale'));
    const stored = clientLocale ? null : normalizeLocale(sessionStorageGet(STORAGE_KEY));
    const loc = fromQuery ?? normalizeLocale(clientLocale) ?? stored ?? normalizeLocale(navigator.language) ?? 'en-US';
    this.set(loc, false);
  }
  set(loc: Locale, remember = true): void {
    this.locale.set(loc);
    document.documentElement.lang = loc;
    if (remember) sessionStorageSet(STORAGE_KEY, loc);
  }
  t(key: string, params?: Record<string, string | number | undefined | null>): string {
    const text = CATALOGS[this.locale()][key] ?? CATALOGS['en-US'][key] ?? key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => (params[name] ?? '') + '');
  }
  has(key: string): boolean { return key in CATALOGS['en-US']; }

  number(n: number | null | undefined, digits = 0): string {
    if (n == null || Number.isNaN(n)) return '—';
    return new Intl.NumberFormat(this.locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
  }
  percent(n: number | null | undefined): string {
    if (n == null) return '—';
    return new Intl.NumberFormat(this.locale(), { style: 'percent', maximumFractionDigits: 0 }).format(n);
  }
  bytes(n: number | null | undefined): string {
    if (n == null || Number.isNaN(n)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0; let v = n;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${this.number(v, i === 0 ? 0 : v < 10 ? 2 : 1)} ${units[i]}`;
  }
  duration(ms: number | null | undefined): string {
    if (ms == null || Number.isNaN(ms)) return '—';
    const s = Math.round(ms / 1000);
    if (s < 60) return this.t('unit.seconds', { n: s });
    const m = Math.floor(s / 60);
    if (m < 60) return this.t('unit.minutesSeconds', { m, s: s % 60 });
    return this.t('unit.hoursMinutes', { h: Math.floor(m / 60), m: m % 60 });
  }
  dateTime(iso: string | null | undefined, style: 'short' | 'medium' = 'medium'): string {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '—';
    return new Intl.DateTimeFormat(this.locale(), { dateStyle: style, timeStyle: 'short' }).format(d);
  }
  date(iso: string | null | undefined): string {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '—' : new Intl.DateTimeFormat(this.locale(), { day: '2-digit', month: '2-digit' }).format(d);
  }
  relative(iso: string | null | undefined): string {
    if (!iso) return '—';
    const diff = (new Date(iso).getTime() - Date.now()) / 1000;
    const rtf = new Intl.RelativeTimeFormat(this.locale(), { numeric: 'auto' });
    const abs = Math.abs(diff);
    if (abs < 60) return rtf.format(Math.round(diff), 'second');
    if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
    if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
    return rtf.format(Math.round(diff / 86400), 'day');
  }
}

function sessionStorageGet(k: string): string | null { try { return localStorage.getItem(k); } catch { return null; } }
function sessionStorageSet(k: string, v: string): void { try { localStorage.setItem(k, v); } catch { /* private mode */ } }

/** `{{ 'key' | t }}` / `{{ 'key' | t: { n: 3 } }}` — impure so a locale switch re-renders. */
@Pipe({ name: 't', pure: false })
export class TranslatePipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(key: string, params?: Record<string, string | number | undefined | null>): string { return this.i18n.t(key, params); }
}
@Pipe({ name: 'bytes', pure: false })
export class BytesPipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(n: number | null | undefined): string { return this.i18n.bytes(n); }
}
@Pipe({ name: 'duration', pure: false })
export class DurationPipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(ms: number | null | undefined): string { return this.i18n.duration(ms); }
}
@Pipe({ name: 'dt', pure: false })
export class DateTimePipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(iso: string | null | undefined, style: 'short' | 'medium' = 'medium'): string { return this.i18n.dateTime(iso, style); }
}
@Pipe({ name: 'num', pure: false })
export class NumberPipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(n: number | null | undefined, digits = 0): string { return this.i18n.number(n, digits); }
}
@Pipe({ name: 'rel', pure: false })
export class RelativeTimePipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(iso: string | null | undefined): string { return this.i18n.relative(iso); }
}
export const I18N_PIPES = [TranslatePipe, BytesPipe, DurationPipe, DateTimePipe, NumberPipe, RelativeTimePipe] as const;
