import { HttpResponse, type HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { map } from 'rxjs';
import type { ServiceText } from '@contract';
import { I18n } from './i18n';

type Keys = Record<string, ServiceText | (ServiceText | null)[] | undefined>;

/**
 * Renders the service's texts in the UI's locale: wherever an answer has `texts` (message keys beside a run's
 * phase, outcome, remedy and warnings, a restore point's consistency reason, …), the English field next to it
 * is replaced by the catalog text for its key. Texts without a key (vCenter's own messages) stay as they came.
 */
export function localizeServiceTexts<T>(body: T, i18n: I18n): T {
  walk(body, i18n, 0);
  return body;
}

function walk(node: unknown, i18n: I18n, depth: number): void {
  if (!node || typeof node !== 'object' || depth > 8) return;
  if (Array.isArray(node)) { for (const x of node) walk(x, i18n, depth + 1); return; }
  const obj = node as Record<string, unknown>;
  const keys = obj['texts'] as Keys | undefined;
  if (keys && typeof keys === 'object') {
    for (const [field, key] of Object.entries(keys)) {
      const value = obj[field];
      if (Array.isArray(key) && Array.isArray(value)) obj[field] = value.map((v, i) => (typeof v === 'string' ? i18n.svc(v, key[i]) : v));
      else if (key && !Array.isArray(key) && (typeof value === 'string' || value === undefined)) obj[field] = i18n.svc(value, key);
    }
  }
  for (const [k, v] of Object.entries(obj)) if (k !== 'texts' && v && typeof v === 'object') walk(v, i18n, depth + 1);
}

/** Localizes the service texts of every JSON answer of the API (see localizeServiceTexts). */
export const serviceTextInterceptor: HttpInterceptorFn = (req, next) => {
  const i18n = inject(I18n);
  return next(req).pipe(map((ev) => (ev instanceof HttpResponse && ev.body && typeof ev.body === 'object'
    ? ev.clone({ body: localizeServiceTexts(ev.body, i18n) }) : ev)));
};
