// Validates manifest/plugin.json against the remote plugin manifest rules in shared/reference/remote-plugin.md
// (7.0 schema + 8.0 additions) and against the UI: every view/modal uri must hit a route of the Angular app.
// Run: node test/run.ts manifest
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { ROUTE_PATHS, matchesRoute } from '../../ui/src/app/route-paths.ts';

const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root));
type Json = Record<string, any>;
const manifest: Json = JSON.parse(read('manifest/plugin.json').toString('utf8'));

const TOP_LEVEL = ['manifestVersion', 'requirements', 'configuration', 'global', 'objects', 'definitions'];
const VERSIONS = ['1.0.0', '1.0.1', '1.1.0', '1.2.0'];
const REQUIREMENT_KEYS = ['plugin.api.version', 'vsphere.client', 'vcenter.server', 'confirmation.modal.api',
  'proxied.plugin.server.origin.api', 'icon.sprite.sheet.theming', 'plugin.backend.info.api',
  'action.accepts.multiple.targets', 'plugin.dynamic.extensions', 'open.modal.api'];
const LOCALE = /^[a-z]{2}-[A-Z]{2}$/;
const KEY_FIELDS = ['labelKey', 'titleKey', 'nameKey', 'accessibilityTitleKey'];
const URI_PREFIX = 'ui/index.html#/';
const TILE = 32;

/** Every value under `node` with its JSON path. */
function* walk(node: unknown, path = '$'): Generator<[string, string, unknown]> {
  if (Array.isArray(node)) { for (let i = 0; i < node.length; i++) yield* walk(node[i], `${path}[${i}]`); }
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) { yield [`${path}.${k}`, k, v]; yield* walk(v, `${path}.${k}`); }
  }
}
const onlyKeys = (obj: Json, allowed: string[], where: string) => {
  for (const k of Object.keys(obj)) assert.ok(allowed.includes(k), `${where}: unexpected key "${k}" (allowed: ${allowed.join(', ')})`);
};
const actions = (): Json[] => Object.values(manifest.objects ?? {}).flatMap((o: any) => o.menu?.actions ?? []);
const views = (): Json[] => Object.values(manifest.objects ?? {}).flatMap((o: any) => [...(o.monitor?.views ?? []), ...(o.configure?.views ?? [])]);

test('top level: only the schema keys, supported versions', () => {
  onlyKeys(manifest, TOP_LEVEL, '$');
  for (const k of ['manifestVersion', 'requirements', 'configuration', 'definitions']) assert.ok(k in manifest, `missing ${k}`);
  assert.ok(VERSIONS.includes(manifest.manifestVersion), `manifestVersion ${manifest.manifestVersion}`);
  assert.ok(VERSIONS.includes(manifest.requirements['plugin.api.version']), 'requirements["plugin.api.version"]');
  onlyKeys(manifest.requirements, REQUIREMENT_KEYS, '$.requirements');
  for (const k of ['vsphere.client', 'vcenter.server']) {
    const r = manifest.requirements[k];
    if (r) { onlyKeys(r, ['version', 'environments'], k); assert.match(r.version, /^[[(][\d.]*,[\d.]*[\])]$/); }
  }
});

test('no keys that are not in the schema (common mistakes)', () => {
  for (const [path, key] of walk(manifest)) {
    assert.notEqual(key, 'contextObjects', `${path}: contextObjects is not a manifest key`);
    assert.notEqual(key, 'iconSrc', `${path}: iconSrc is not a manifest key`);
  }
  assert.equal(manifest.global?.view?.navigation, undefined, 'global.view.navigation does not exist');
  for (const o of Object.values<any>(manifest.objects)) assert.equal(o.view, undefined, 'objects.<type>.view does not exist (use summary.view)');
});

test('configuration, global view and object extensions have the documented shapes', () => {
  onlyKeys(manifest.configuration, ['nameKey', 'icon'], '$.configuration');
  onlyKeys(manifest.configuration.icon, ['name'], '$.configuration.icon');
  onlyKeys(manifest.global, ['view'], '$.global');
  onlyKeys(manifest.global.view, ['navigationId', 'uri', 'navigationVisible'], '$.global.view');
  for (const [type, o] of Object.entries<any>(manifest.objects)) {
    assert.match(type, /^[A-Z][A-Za-z]+$/, `object type ${type}`);
    onlyKeys(o, ['summary', 'monitor', 'configure', 'menu'], `objects.${type}`);
    if (o.summary) {
      onlyKeys(o.summary, ['view', 'dynamicUri'], `objects.${type}.summary`);
      onlyKeys(o.summary.view, ['id', 'uri', 'dynamic', 'size'], `objects.${type}.summary.view`);
      if (o.summary.view.size) onlyKeys(o.summary.view.size, ['widthSpan', 'heightSpan'], 'summary.view.size');
    }
    for (const cat of ['monitor', 'configure'] as const) {
      if (!o[cat]) continue;
      onlyKeys(o[cat], ['views', 'dynamicUri'], `objects.${type}.${cat}`);
      for (const v of o[cat].views) {
        onlyKeys(v, ['navigationId', 'labelKey', 'uri', 'dynamic'], `objects.${type}.${cat}.views`);
        for (const k of ['navigationId', 'labelKey', 'uri']) assert.equal(typeof v[k], 'string', `${cat} view ${k}`);
      }
    }
    if (o.menu) onlyKeys(o.menu, ['actions', 'dynamicUri'], `objects.${type}.menu`);
  }
  assert.ok(manifest.objects.VirtualMachine.summary.view, 'VirtualMachine summary card');
  assert.equal(manifest.objects.VirtualMachine.monitor.views.length, 1);
  assert.equal(manifest.objects.VirtualMachine.configure.views.length, 1);
});

test('i18n: locale names, every key defined in every locale', () => {
  const i18n = manifest.definitions.i18n;
  onlyKeys(i18n, ['locales', 'definitions'], 'definitions.i18n');
  assert.deepEqual([...i18n.locales].sort(), ['de-DE', 'en-US']);
  for (const l of i18n.locales) assert.match(l, LOCALE);
  for (const [key, byLocale] of Object.entries<Record<string, string>>(i18n.definitions)) {
    for (const l of i18n.locales) assert.ok(typeof byLocale[l] === 'string' && byLocale[l].trim(), `${key} has no ${l} text`);
    for (const l of Object.keys(byLocale)) assert.ok(i18n.locales.includes(l), `${key}: locale ${l} not declared`);
  }
  const used = new Set<string>();
  for (const [path, key, value] of walk(manifest)) {
    if (!KEY_FIELDS.includes(key)) continue;
    assert.equal(typeof value, 'string', path);
    assert.ok(value as string in i18n.definitions, `${path} = "${value}" is not defined in definitions.i18n`);
    used.add(value as string);
  }
  for (const key of Object.keys(i18n.definitions)) assert.ok(used.has(key), `i18n key ${key} is never used`);
});

test('icons: every icon name is in the sprite sheet (and its dark override), tiles lie inside the PNG', () => {
  const sheet = manifest.definitions.iconSpriteSheet;
  onlyKeys(sheet, ['uri', 'definitions', 'themeOverrides'], 'iconSpriteSheet');
  assert.equal(sheet.uri, 'ui/assets/sprites.png');
  const png = read('manifest/icons/sprites.png');
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'sprites.png is a PNG');
  const width = png.readUInt32BE(16), height = png.readUInt32BE(20);
  assert.ok(existsSync(new URL('ui/src/assets/sprites.png', root)), 'ui/src/assets/sprites.png (served at /ui/assets/sprites.png)');
  assert.ok(read('ui/src/assets/sprites.png').equals(png), 'ui/src/assets/sprites.png differs: run node manifest/icons/make-sprites.ts');
  const sets: [string, Record<string, { x: number; y: number }>][] = [['light', sheet.definitions]];
  onlyKeys(sheet.themeOverrides ?? {}, ['dark'], 'iconSpriteSheet.themeOverrides');
  if (sheet.themeOverrides?.dark) {
    onlyKeys(sheet.themeOverrides.dark, ['uri', 'definitions'], 'themeOverrides.dark');
    assert.equal(sheet.themeOverrides.dark.uri, sheet.uri);
    sets.push(['dark', sheet.themeOverrides.dark.definitions]);
  }
  for (const [theme, defs] of sets) {
    for (const [name, d] of Object.entries(defs)) {
      onlyKeys(d, ['x', 'y'], `${theme} icon ${name}`);
      assert.ok(Number.isInteger(d.x) && Number.isInteger(d.y) && d.x >= 0 && d.y >= 0, `${theme} ${name} offsets`);
      assert.ok(d.x + TILE <= width && d.y + TILE <= height, `${theme} ${name}: tile at ${d.x},${d.y} outside ${width}×${height}`);
    }
  }
  const names = [...walk(manifest)].filter(([p, k]) => k === 'name' && /\.icon\.name$/.test(p)).map(([p, , v]) => [p, v as string]);
  assert.ok(names.length >= 5);
  for (const [path, name] of names) {
    assert.ok(name in sheet.definitions, `${path} = "${name}" missing from iconSpriteSheet.definitions`);
    if (sheet.themeOverrides?.dark) assert.ok(name in sheet.themeOverrides.dark.definitions, `${path} = "${name}" missing from the dark override`);
  }
});

test('every uri routes to an Angular route of the UI', () => {
  const uris = [...walk(manifest)].filter(([, k]) => k === 'uri').map(([p, , v]) => [p, v as string])
    .filter(([p]) => !p.includes('iconSpriteSheet'));
  assert.ok(uris.length >= 8, 'views and modals');
  for (const [path, uri] of uris) {
    assert.ok(uri.startsWith(URI_PREFIX), `${path} = "${uri}" must start with ${URI_PREFIX} (relative to /plugin.json)`);
    assert.ok(matchesRoute(uri.slice(URI_PREFIX.length)), `${path} = "${uri}" matches no route in ui/src/app/route-paths.ts`);
  }
  // The route table is the one the router really uses.
  const routes = read('ui/src/app/app.routes.ts').toString('utf8');
  for (const name of Object.keys(ROUTE_PATHS)) assert.match(routes, new RegExp(`path: P\\.${name}\\b`), `app.routes.ts does not route ${name}`);
});

test('actions: unique ids, documented trigger shapes, multi-target requirement', () => {
  const ids = new Set<string>();
  const navIds = new Set([manifest.global.view.navigationId, ...views().map((v) => v.navigationId)]);
  assert.equal(navIds.size, views().length + 1, 'navigationIds are unique');
  const list = actions();
  assert.deepEqual(list.map((a) => a.id).sort(), ['stillpoint.addToJob', 'stillpoint.backupNow', 'stillpoint.recoverFiles', 'stillpoint.replicate', 'stillpoint.restoreExchange', 'stillpoint.restoreVm']);
  for (const a of list) {
    if (a.trigger?.type === 'separator' && Object.keys(a).length === 1) continue;
    onlyKeys(a, ['id', 'labelKey', 'icon', 'trigger', 'acceptsMultipleTargets', 'dynamic'], `action ${a.id}`);
    assert.ok(!ids.has(a.id), `duplicate action id ${a.id}`); ids.add(a.id);
    const t = a.trigger;
    if (t.type === 'modal') {
      onlyKeys(t, ['type', 'uri', 'titleKey', 'accessibilityTitleKey', 'size'], `action ${a.id} trigger`);
      assert.equal(typeof t.uri, 'string'); assert.equal(typeof t.titleKey, 'string');
      onlyKeys(t.size, ['width', 'height'], `action ${a.id} size`);
      assert.ok(Number.isInteger(t.size.width) && t.size.width > 0 && Number.isInteger(t.size.height) && t.size.height > 0, `action ${a.id} size`);
    } else if (t.type === 'navigation') {
      onlyKeys(t, ['type', 'targetViewId'], `action ${a.id} trigger`);
      assert.ok(navIds.has(t.targetViewId), `action ${a.id}: unknown targetViewId ${t.targetViewId}`);
    } else {
      assert.fail(`action ${a.id}: trigger type ${t.type}`);
    }
    if (a.acceptsMultipleTargets !== undefined) {
      assert.equal(typeof a.acceptsMultipleTargets, 'boolean');
      assert.equal(manifest.requirements['action.accepts.multiple.targets'], true, 'acceptsMultipleTargets needs requirements["action.accepts.multiple.targets"]');
    }
  }
  const multi = Object.fromEntries(list.map((a) => [a.id, !!a.acceptsMultipleTargets]));
  assert.deepEqual(multi, { 'stillpoint.backupNow': true, 'stillpoint.restoreVm': false, 'stillpoint.recoverFiles': false, 'stillpoint.addToJob': true, 'stillpoint.replicate': true, 'stillpoint.restoreExchange': false });
});
