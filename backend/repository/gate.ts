// A small async readers/writer lock. Backups hold it shared while they decide "this chunk already
// exists" and record the reference; GC holds it exclusively while it marks in-flight references and
// deletes unreferenced index entries, so a chunk a running backup deduplicates against is never swept.
export class Gate {
  #shared = 0;
  #exclusive = false;
  #queue: { excl: boolean; go: () => void }[] = [];

  async shared<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.#exclusive || this.#queue.some((q) => q.excl)) await new Promise<void>((go) => this.#queue.push({ excl: false, go }));
    else this.#shared++;
    try { return await fn(); } finally { this.#shared--; this.#next(); }
  }

  async exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.#exclusive || this.#shared > 0) await new Promise<void>((go) => this.#queue.push({ excl: true, go }));
    else this.#exclusive = true;
    try { return await fn(); } finally { this.#exclusive = false; this.#next(); }
  }

  #next(): void {
    if (this.#exclusive || this.#shared > 0) return;
    const head = this.#queue[0];
    if (!head) return;
    if (head.excl) { this.#queue.shift(); this.#exclusive = true; head.go(); return; }
    while (this.#queue[0] && !this.#queue[0].excl) { const q = this.#queue.shift()!; this.#shared++; q.go(); }
  }
}
