// Output slots for restores in a worker, and O_DIRECT writes from them.
//
// Restores write around the page cache when the target allows O_DIRECT: on VMs whose free memory goes
// back to the host, filling the page cache costs ~1 s of kernel time per GiB, several times the cost of
// the write itself. Each chunk is decoded straight into one of a few slots and written from there
// asynchronously, so the next chunk decodes while the device writes. O_DIRECT needs a block-aligned
// memory address, which JavaScript cannot ask for: each slot is over-allocated and its aligned offset
// found once by trying 4 KiB writes at 16-byte steps (misaligned ones fail with EINVAL without touching
// the file; the probe writes where the chunk is written next anyway).
import { write, writeSync } from 'node:fs';

export const DIRECT_ALIGN = 4096;

export class Slot {
  readonly ab: ArrayBuffer;
  readonly size: number;
  /** Byte offset of the block-aligned view; -1 not probed yet, -2 none works (no O_DIRECT here). */
  #align = -1;
  constructor(size: number) { this.size = size; this.ab = new ArrayBuffer(size + DIRECT_ALIGN); }
  plain(): Buffer { return Buffer.from(this.ab, 0, this.size); }
  /** The block-aligned view, probing with a write to `fd` at `pos` the first time; undefined if none works. */
  aligned(fd: number, pos: number): Buffer | undefined {
    if (this.#align === -1) {
      this.#align = -2;
      for (let off = 0; off < DIRECT_ALIGN; off += 16) {
        try {
          writeSync(fd, new Uint8Array(this.ab, off, DIRECT_ALIGN), 0, DIRECT_ALIGN, pos);
          this.#align = off;
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        }
      }
    }
    return this.#align >= 0 ? Buffer.from(this.ab, this.#align, this.size) : undefined;
  }
}

/** At most `max` slots of `size` bytes; take() waits while all are in use. */
export class SlotPool {
  #free: Slot[] = [];
  #made = 0;
  #waiters: ((s: Slot) => void)[] = [];
  readonly #size: number;
  readonly #max: number;
  constructor(size: number, max: number) { this.#size = size; this.#max = max; }
  take(): Promise<Slot> {
    const s = this.#free.pop();
    if (s) return Promise.resolve(s);
    if (this.#made < this.#max) { this.#made++; return Promise.resolve(new Slot(this.#size)); }
    return new Promise((r) => this.#waiters.push(r));
  }
  give(s: Slot): void {
    const w = this.#waiters.shift();
    if (w) w(s); else this.#free.push(s);
  }
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
