// The message keys of service texts on the wire (contract.ts ServiceText): added beside the English texts
// when a DTO is made, so the domain keeps plain strings and the UI gets what it needs to translate.
import { identify } from '../common/service-text.ts';
import type { ServiceText } from './contract.ts';

/** The key of one text, or nothing when the text has none (a vCenter message, a path). */
export const textKey = (text: string | undefined): ServiceText | undefined => identify(text);

/** Keys of a list of texts; undefined when none of them has one (then the field is left out). */
export function textKeys(texts: readonly string[]): (ServiceText | null)[] | undefined {
  const keys = texts.map((t) => identify(t) ?? null);
  return keys.some((k) => k) ? keys : undefined;
}

/** An object of the given fields' keys, without the fields that have none; undefined when empty. */
export function textsOf<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: NonNullable<T[K]> } | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v) out[k] = v;
  return Object.keys(out).length ? out as { [K in keyof T]?: NonNullable<T[K]> } : undefined;
}
