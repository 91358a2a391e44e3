/** A small least-recently-used map: what the readers cache blocks, clusters and inodes in. */
export class Lru<K, V> {
  private map = new Map<K, V>()
  private readonly cap: number
  constructor(cap: number) { this.cap = cap }
  get(k: K): V | undefined {
    const v = this.map.get(k)
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v) }
    return v
  }
  set(k: K, v: V): void {
    this.map.delete(k)
    this.map.set(k, v)
    if (this.map.size > this.cap) this.map.delete(this.map.keys().next().value as K)
  }
}
