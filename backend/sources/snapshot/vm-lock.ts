// One VM is never in two snapshot sessions at once, whichever job, manual backup or replication
// asks. Callers either wait their turn or are told at once who holds the VM.
import { Conflict } from '../../common/errors.ts';

interface Holder { owner: string; since: Date; release: Promise<void> }

export class VmLocks {
  readonly #held = new Map<string, Holder>();

  holder(vmId: string): { owner: string; since: Date } | undefined {
    const h = this.#held.get(vmId);
    return h && { owner: h.owner, since: h.since };
  }

  /** Takes the VM now or throws Conflict naming the holder. */
  tryAcquire(vmId: string, owner: string): () => void {
    const h = this.#held.get(vmId);
    if (h) throw new Conflict(`VM ${vmId} is in use by ${h.owner} since ${h.since.toISOString()}: wait until it finishes or cancel it.`);
    let done!: () => void;
    const release = new Promise<void>((r) => { done = r; });
    this.#held.set(vmId, { owner, since: new Date(), release });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held.delete(vmId);
      done();
    };
  }

  /** Waits (FIFO is not promised) until the VM is free, then takes it. `signal` aborts the wait. */
  async acquire(vmId: string, owner: string, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      signal?.throwIfAborted();
      const h = this.#held.get(vmId);
      if (!h) return this.tryAcquire(vmId, owner);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        h.release.then(() => { signal?.removeEventListener('abort', onAbort); resolve(); });
      });
    }
  }
}
