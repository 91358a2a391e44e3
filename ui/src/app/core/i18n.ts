import { Injectable, Pipe, type PipeTransform, inject, signal } from '@angular/core';
import enUS from '../i18n/en-US.json';
import deDE from '../i18n/de-DE.json';
import type { ServiceText } from '@contract';

export const LOCALES = ['en-US', 'de-DE'] as const;
export type Locale = (typeof LOCALES)[number];
type Catalog = Record<string, string>;
const CATALOGS: Record<Locale, Catalog> = { 'en-US': enUS as Catalog, 'de-DE': deDE as Catalog };
const STORAGE_KEY = 'stillpoint.locale';
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

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
  /**
   * A catalog text with `{name}` placeholders. A key with plural forms (`key.one`, `key.other`, … as
   * Intl.PluralRules names them) picks the form for the number in `n`.
   */
  t(key: string, params?: Record<string, string | number | undefined | null>): string {
    const text = this.lookup(this.pluralKey(key, params?.['n'])) ?? key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => (params[name] ?? '') + '');
  }
  has(key: string): boolean { return key in CATALOGS['en-US'] || `${key}.other` in CATALOGS['en-US']; }

  private lookup(key: string): string | undefined { return CATALOGS[this.locale()][key] ?? CATALOGS['en-US'][key]; }
  private pluralKey(key: string, n: unknown): string {
    if (key in CATALOGS['en-US'] || !(`${key}.other` in CATALOGS['en-US'])) return key;
    const count = Number(n);
    const form = Number.isFinite(count) ? new Intl.PluralRules(this.locale()).select(count) : 'other';
    return this.lookup(`${key}.${form}`) !== undefined ? `${key}.${form}` : `${key}.other`;
  }

  /**
   * A text the service wrote: rendered from the catalog by its message key (svc.<key>) when the service sent
   * one and the catalog knows it, else the service's own (English) text. Parameters that are service texts
   * are rendered the same way; ISO timestamps in parameters get the one date format.
   */
  svc(text: string | null | undefined, key?: ServiceText | null): string {
    if (key && this.has(`svc.${key.key}`)) return this.serviceText(key);
    return text ?? '';
  }
  private serviceText(st: ServiceText): string {
    const params: Record<string, string> = {};
    for (const [name, v] of Object.entries(st.params ?? {})) {
      params[name] = typeof v === 'string' ? (ISO_TIMESTAMP.test(v) ? this.dateTime(v) : v)
        : Array.isArray(v) ? v.map((x) => this.serviceText(x)).join('; ') : this.serviceText(v);
    }
    return this.t(`svc.${st.key}`, params);
  }

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
  /** The one date-and-time format of the UI (per locale): every timestamp a screen shows goes through here. */
  dateTime(iso: string | null | undefined): string {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '—';
    return new Intl.DateTimeFormat(this.locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  }
  /** A day as a chart axis label (day and month only). */
  date(iso: string | null | undefined): string {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '—' : new Intl.DateTimeFormat(this.locale(), { day: '2-digit', month: '2-digit' }).format(d);
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
  transform(iso: string | null | undefined): string { return this.i18n.dateTime(iso); }
}
@Pipe({ name: 'num', pure: false })
export class NumberPipe implements PipeTransform {
  private readonly i18n = inject(I18n);
  transform(n: number | null | undefined, digits = 0): string { return this.i18n.number(n, digits); }
}
export const I18N_PIPES = [TranslatePipe, BytesPipe, DurationPipe, DateTimePipe, NumberPipe] as const;
