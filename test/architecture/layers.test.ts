// The engine's layers, checked on the source: data flows vSphere → sources → pipeline → sinks, the
// engine never reaches up into its edges (API, service wiring, plugin, CLI), and no two top-level
// folders of backend/ import each other, directly or round a longer loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const backend = join(root, 'backend');

/** Where a file lives: its top-level folder under backend/, "(root)" for backend/*.ts, or the repo folder outside backend. */
function area(abs: string): string {
  const rel = relative(backend, abs);
  if (rel.startsWith('..')) return relative(root, abs).split('/')[0]!;
  const parts = rel.split('/');
  return parts.length === 1 ? '(root)' : parts[0]!;
}

interface Edge { from: string; to: string; file: string; spec: string }

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const rel of globSync('backend/**/*.ts', { cwd: root })) {
    const file = join(root, rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm)) {
      const spec = m[1] ?? m[2]!;
      out.push({ from: area(file), to: area(resolve(dirname(file), spec)), file: rel, spec });
    }
  }
  return out;
}

const ENGINE = ['model', 'common', 'vsphere', 'volumes', 'sources', 'pipeline', 'sinks', 'repository', 'backup', 'restore', 'jobs'];
const EDGES = ['api', 'service', 'plugin', 'cli', 'ui'];

test('the import scan sees the engine (a scan that finds nothing cannot pass)', () => {
  const all = edges();
  assert.ok(all.length > 200, `only ${all.length} imports found`);
  for (const a of ['model', 'vsphere', 'repository', 'backup', 'jobs', 'api']) assert.ok(all.some((e) => e.from === a), `no imports from ${a}/`);
});

test('nothing under the engine folders imports api/, service/, plugin/, cli/ or the UI', () => {
  const bad = edges().filter((e) => ENGINE.includes(e.from) && EDGES.includes(e.to));
  assert.deepEqual(bad.map((e) => `${e.file} imports ${e.spec}`), []);
});

test('the domain model imports nothing but itself', () => {
  const bad = edges().filter((e) => e.from === 'model' && e.to !== 'model');
  assert.deepEqual(bad.map((e) => `${e.file} imports ${e.spec}`), []);
});

test('data flows one way: sinks and the pipeline never import sources, the repository never imports the engine above it', () => {
  const forbidden: Record<string, string[]> = {
    pipeline: ['sources', 'sinks', 'backup', 'restore', 'jobs'],
    sinks: ['sources', 'backup', 'restore', 'jobs'],
    sources: ['sinks', 'backup', 'restore', 'jobs'],
    repository: ['vsphere', 'sources', 'pipeline', 'sinks', 'backup', 'restore', 'jobs'],
    vsphere: ['sources', 'pipeline', 'sinks', 'repository', 'backup', 'restore', 'jobs'],
  };
  const bad = edges().filter((e) => forbidden[e.from]?.includes(e.to));
  assert.deepEqual(bad.map((e) => `${e.file} imports ${e.spec}`), []);
});

test('no import cycle between top-level folders of backend/', () => {
  const graph = new Map<string, Map<string, Edge>>();
  for (const e of edges()) {
    if (e.from === e.to || e.from === '(root)' || e.to === '(root)') continue;
    (graph.get(e.from) ?? graph.set(e.from, new Map()).get(e.from)!).set(e.to, e);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const [m, e] of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push(`${[...path.slice(path.indexOf(m)), m].join(' → ')} (e.g. ${e.file} imports ${e.spec})`);
      else if (!state.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.deepEqual(cycles, []);
});
