// A map bounded in bytes that forgets its least recently used values (always keeps the newest one).
// `onEvict` hears of each value it forgets (not of clear()): e.g. to give its buffer back to a pool.
export class Lru<K, V extends { length: number }> {
  #map = new Map<K, V>();
  #bytes = 0;
  #max: number;
  #onEvict: ((k: K, v: V) => void) | undefined;
  constructor(max: number, onEvict?: (k: K, v: V) => void) { this.#max = max; this.#onEvict = onEvict; }
  get bytes(): number { return this.#bytes; }
  get size(): number { return this.#map.size; }
  has(k: K): boolean { return this.#map.has(k); }
  get(k: K): V | undefined {
    const v = this.#map.get(k);
    if (v) { this.#map.delete(k); this.#map.set(k, v); }
    return v;
  }
  set(k: K, v: V): void {
    if (this.#map.has(k)) return;
    this.#map.set(k, v);
    this.#bytes += v.length;
    while (this.#bytes > this.#max && this.#map.size > 1) {
      const [ok, ov] = this.#map.entries().next().value!;
      this.#map.delete(ok);
      this.#bytes -= ov.length;
      this.#onEvict?.(ok, ov);
    }
  }
  clear(): void { this.#map.clear(); this.#bytes = 0; }
}
