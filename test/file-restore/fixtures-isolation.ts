// Work for the isolation tests: each export misbehaves the way a parser fed hostile bytes might.
export async function add(a: number, b: number): Promise<number> { return a + b; }
export function spin(): never { for (;;) { /* a parser stuck in a loop */ } }
export function hog(): number {
  const keep: number[][] = [];
  for (;;) keep.push(new Array(1e6).fill(keep.length));
}
export function fail(): never { throw Object.assign(new Error('bad superblock'), { name: 'FsError', code: 'ECORRUPT' }); }
export function crash(): Promise<void> { return new Promise(() => setImmediate(() => { throw new Error('boom from a timer'); })); }
/** When this module was loaded in its worker (a spare loads it long before its factory runs). */
const loadedAt = Date.now();
export function counter(start: number) {
  let n = start;
  return { next: () => ++n, spin: () => { for (;;) { /* stuck */ } }, echo: (b: Uint8Array) => b.length, loadedAt: () => loadedAt };
}
