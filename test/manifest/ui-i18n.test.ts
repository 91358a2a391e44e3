// The UI's own translation catalogs (ui/src/app/i18n/*.json): same keys in en-US and de-DE, no empty texts,
// every literal key the templates and services use is defined, and the keys built from contract enums exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, globSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const catalog = (l: string): Record<string, string> => JSON.parse(readFileSync(new URL(`ui/src/app/i18n/${l}.json`, root), 'utf8'));
const en = catalog('en-US');
const de = catalog('de-DE');

test('en-US and de-DE define the same keys, none empty, same placeholders', () => {
  assert.deepEqual(Object.keys(de).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(en)) {
    assert.ok(v.trim() && de[k].trim(), `${k} is empty`);
    const ph = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(ph(de[k]), ph(v), `${k}: placeholders differ`);
  }
});

test('every literal translation key used in the UI source exists', () => {
  const files = globSync('ui/src/app/**/*.ts', { cwd: root.pathname });
  assert.ok(files.length > 10);
  const used = new Set<string>();
  for (const f of files) {
    const src = readFileSync(new URL(f, root), 'utf8');
    for (const m of src.matchAll(/'([a-zA-Z][\w-]*(?:\.[\w-]+)+)'\s*\)?\s*\|\s*t\b/g)) used.add(m[1]);
    for (const m of src.matchAll(/\bt\('([a-zA-Z][\w-]*(?:\.[\w-]+)+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/titleKey: '([\w.]+)'/g)) used.add(m[1]);
    // `(cond ? 'a.b' : 'c.d') | t`
    for (const m of src.matchAll(/\?\s*'([\w.]+)'\s*:\s*'([\w.]+)'\)\s*\|\s*t\b/g)) { used.add(m[1]); used.add(m[2]); }
  }
  assert.ok(used.size > 150, `found ${used.size} keys`);
  for (const k of used) assert.ok(k in en || `${k}.other` in en, `key "${k}" is used but not in en-US.json`);
});

test('a count is said with plural forms (one/other), never with "(s)"', () => {
  for (const [cat, name] of [[en, 'en-US'], [de, 'de-DE']] as const) {
    for (const [k, v] of Object.entries(cat)) {
      if (k.startsWith('exchange.')) continue; // the Exchange wizard's texts: issue 14 item 6 follow-up
      assert.doesNotMatch(v, /\w\((s|e|n|en)\)/, `${name} ${k}: "${v}" needs plural forms`);
    }
    for (const k of Object.keys(cat).filter((x) => x.endsWith('.other'))) {
      const base = k.slice(0, -'.other'.length);
      assert.ok(`${base}.one` in cat, `${name} ${base} has .other but no .one`);
      assert.ok(!(base in cat), `${name} ${base} is both a text and a plural`);
    }
  }
  assert.equal(en['vms.count.one'], '{n} virtual machine');
  assert.equal(de['monitor.restorePointCount.one'], '{n} Wiederherstellungspunkt');
});

test('every text the service writes has a key in both catalogs, and the en-US text is the service\'s own', async () => {
  const { SERVICE_TEXTS } = await import('../../backend/common/service-text.ts');
  for (const [key, t] of Object.entries(SERVICE_TEXTS)) {
    const forms: [string, string][] = typeof t === 'string' ? [[`svc.${key}`, t]] : [[`svc.${key}.one`, t.one], [`svc.${key}.other`, t.other]];
    for (const [k, text] of forms) {
      assert.equal(en[k], text, `en-US ${k}`);
      assert.ok(de[k] && (de[k] !== text || !/[a-z]/i.test(text.replace(/\{\w+\}/g, ''))), `de-DE ${k} is missing or still English`);
    }
  }
  const svcKeys = Object.keys(en).filter((k) => k.startsWith('svc.')).map((k) => k.slice(4).replace(/\.(one|other)$/, ''));
  for (const k of svcKeys) assert.ok(k in SERVICE_TEXTS, `svc.${k} is in the catalog but the service has no such text`);
});

test('keys built from contract enums are complete', () => {
  const families: Record<string, string[]> = {
    'status.': ['queued', 'running', 'success', 'warning', 'failed', 'cancelled'],
    'backup.done.': ['queued', 'running', 'success', 'warning', 'failed', 'cancelled'],
    'restore.done.': ['queued', 'running', 'success', 'warning', 'failed', 'cancelled'],
    'consistency.': ['application', 'filesystem', 'crash', 'application.help', 'filesystem.help', 'crash.help'],
    'kind.': ['backup', 'restore', 'replication'],
    'power.': ['poweredOn', 'poweredOff', 'suspended'],
    'replica.state.': ['ready', 'syncing', 'failedOver', 'error'],
    'appAware.onFailure.': ['fail', 'fallback'],
    'appAware.vss.': ['copy', 'full'],
    'schedule.preset.': ['manual', 'daily', 'every6h', 'hourly', 'weekdays', 'weekly'],
    'retention.gfs.': ['daily', 'weekly', 'monthly', 'yearly'],
    'retention.gfsLabel.': ['daily', 'weekly', 'monthly', 'yearly'],
    'scripts.': ['preFreeze', 'postThaw'],
    'scripts.enable.': ['preFreeze', 'postThaw'],
    'locale.': ['en-US', 'de-DE'],
  };
  for (const [prefix, names] of Object.entries(families)) for (const n of names) assert.ok(prefix + n in en, `missing ${prefix}${n}`);
});
