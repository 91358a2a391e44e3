// The isolation primitive: parsers of guest bytes run in bounded workers; a stuck, greedy or
// crashing one fails its call with a clear error and leaves this process working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIsolated, IsolatedWorker, IsolationError, keepSpare, spareReady } from '../../backend/file-restore/isolation.ts';

const fx = new URL('./fixtures-isolation.ts', import.meta.url);

test('runIsolated returns the result and passes errors back with their code', async () => {
  assert.equal(await runIsolated<number>(fx, 'add', [2, 3]), 5);
  await assert.rejects(runIsolated(fx, 'fail', []), (e: Error & { code?: string }) => e.name === 'FsError' && e.code === 'ECORRUPT' && /bad superblock/.test(e.message));
  await assert.rejects(runIsolated(fx, 'nope', []), /no function export 'nope'/);
});

test('a call stuck in a loop is stopped at its time bound', async () => {
  const t0 = Date.now();
  await assert.rejects(runIsolated(fx, 'spin', [], { timeoutMs: 500, label: 'listing a folder' }),
    (e: IsolationError) => e.code === 'ETIMEOUT' && /listing a folder took longer than 500 ms/.test(e.message));
  assert.ok(Date.now() - t0 < 5000);
});

test('a call that eats memory is stopped at its heap limit, a crash is reported', async () => {
  await assert.rejects(runIsolated(fx, 'hog', [], { maxHeapMb: 32, timeoutMs: 30_000 }), (e: IsolationError) => e.code === 'EMEMORY' && /32 MiB/.test(e.message));
  await assert.rejects(runIsolated(fx, 'crash', [], { timeoutMs: 10_000 }), (e: IsolationError) => e.code === 'ECRASH');
});

test('a long-lived worker keeps state, restarts after a timeout and runs the factory again', async () => {
  const w = new IsolatedWorker(fx, 'counter', [10], { timeoutMs: 30_000 });
  try {
    assert.equal(await w.call('next'), 11);
    assert.equal(await w.call('next'), 12);
    assert.equal(await w.call('echo', [new Uint8Array(7)]), 7);
    await assert.rejects(w.call('spin', [], { timeoutMs: 300 }), (e: IsolationError) => e.code === 'ETIMEOUT' && /spin took longer than 300 ms/.test(e.message));
    assert.equal(await w.call('next'), 11, 'a new worker, state built again');
    assert.equal(w.starts, 2);
    await assert.rejects(w.call('constructor'), /no method/);
  } finally { await w.close(); }
  await assert.rejects(w.call('next'), (e: IsolationError) => e.code === 'ECLOSED');
});

test('a kept spare worker (module loaded, no state) is adopted by the next long-lived worker, given its args then', async () => {
  const release = keepSpare(fx, 'counter', 64);
  const workers: IsolatedWorker[] = [];
  try {
    assert.equal(await spareReady(fx, 'counter', 64), true);
    const readyAt = Date.now();
    const a = new IsolatedWorker(fx, 'counter', [100], { maxHeapMb: 64, spare: true });
    workers.push(a);
    assert.ok(await a.call<number>('loadedAt') <= readyAt, 'the worker had loaded its module before it was asked for');
    assert.equal(await a.call('next'), 101, 'the factory ran with this worker\'s args');
    assert.equal(await spareReady(fx, 'counter', 64), true, 'another spare is started');
    const b = new IsolatedWorker(fx, 'counter', [7], { maxHeapMb: 64, spare: true });
    workers.push(b);
    assert.equal(await b.call('next'), 8);
    assert.equal(await a.call('next'), 102, 'each adopter keeps its own state');
  } finally {
    release();
    await Promise.all(workers.map((w) => w.close()));
  }
  assert.equal(await spareReady(fx, 'counter', 64), false, 'no spare once released');
});
