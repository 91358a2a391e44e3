// Output slots for restores in a worker, and O_DIRECT writes from them.
//
// Restores write around the page cache when the target allows O_DIRECT: on VMs whose free memory goes
// back to the host, filling the page cache costs ~1 s of kernel time per GiB, several times the cost of
// the write itself. Each chunk is decoded straight into one of a few slots and written from there
// asynchronously, so the next chunk decodes while the device writes.
//
// O_DIRECT needs a memory address aligned to the target's block size, which JavaScript cannot ask for.
// Each slot is over-allocated, and its aligned offset is found per restore target (targets differ in
// what they need): the first chunk a slot restores is decoded at offset 0 and written the ordinary way;
// then the first 4 KiB of that chunk are copied to 16-byte steps of the slot and written again with
// O_DIRECT to the same place until one is accepted (misaligned writes fail with EINVAL). The probe
// only ever writes bytes that are already there, and only after the chunk decoded and was checked.
import { write, writeSync } from 'node:fs';

export const DIRECT_ALIGN = 4096;

export class Slot {
  readonly ab: ArrayBuffer;
  readonly size: number;
  /** Aligned offset per O_DIRECT descriptor (a restore target); -1: no offset works for it. */
  readonly #align = new Map<number, number>();
  constructor(size: number) { this.size = size; this.ab = new ArrayBuffer(size + DIRECT_ALIGN); }
  plain(): Buffer { return Buffer.from(this.ab, 0, this.size); }
  /** The view aligned for `fd`: a Buffer, undefined if not probed yet, null if O_DIRECT does not work. */
  aligned(fd: number): Buffer | undefined | null {
    const off = this.#align.get(fd);
    return off === undefined ? undefined : off < 0 ? null : Buffer.from(this.ab, off, this.size);
  }
  /** O_DIRECT failed on `fd` after all: write through the page cache from now on. */
  refuse(fd: number): void { this.#align.set(fd, -1); }
  /**
   * Finds the aligned offset for `fd`: `written` (≥ 4 KiB, at `pos`, the start of plain()) is already
   * in the file, so the probe writes its own first 4 KiB back.
   */
  probe(fd: number, pos: number, written: Buffer): void {
    const head = Buffer.from(written.subarray(0, DIRECT_ALIGN));
    this.#align.set(fd, -1);
    for (let off = 0; off < DIRECT_ALIGN; off += 16) {
      const view = new Uint8Array(this.ab, off, DIRECT_ALIGN);
      view.set(head);
      try {
        writeSync(fd, view, 0, DIRECT_ALIGN, pos);
        this.#align.set(fd, off);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      }
    }
  }
  /** Forgets the probes (descriptor numbers are reused by later restores). */
  forget(): void { this.#align.clear(); }
}

/** At most `max` slots of `size` bytes; take() waits while all are in use. */
export class SlotPool {
  #free: Slot[] = [];
  #all: Slot[] = [];
  #waiters: ((s: Slot) => void)[] = [];
  readonly #size: number;
  readonly #max: number;
  constructor(size: number, max: number) { this.#size = size; this.#max = max; }
  take(): Promise<Slot> {
    const s = this.#free.pop();
    if (s) return Promise.resolve(s);
    if (this.#all.length < this.#max) { const n = new Slot(this.#size); this.#all.push(n); return Promise.resolve(n); }
    return new Promise((r) => this.#waiters.push(r));
  }
  give(s: Slot): void {
    const w = this.#waiters.shift();
    if (w) w(s); else this.#free.push(s);
  }
  /** Called when restores end: their descriptors are closed. */
  forget(): void { for (const s of this.#all) s.forget(); }
}

/** Writes all of `b` at `pos` on the libuv pool (the caller's thread goes on decoding). */
export function writeAsync(fd: number, b: Buffer, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (off: number): void => {
      if (off >= b.length) { resolve(); return; }
      write(fd, b, off, b.length - off, pos + off, (err, n) => (err ? reject(err) : next(off + n)));
    };
    next(0);
  });
}
