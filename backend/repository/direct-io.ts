// Output slots for restores in a worker, and O_DIRECT writes from them.
//
// Restores write around the page cache when the target allows O_DIRECT: on VMs whose free memory goes
// back to the host, filling the page cache costs ~1 s of kernel time per GiB, several times the cost of
// the write itself. Each run of consecutive chunks is decoded straight into one of a few slots and
// written from there with one write, asynchronously, so the next run decodes while the device writes.
//
// O_DIRECT needs memory aligned to the target's DMA alignment (512 bytes on virtio-blk), and it is only
// fast when aligned to pages: a 4 KiB block that straddles two pages becomes two segments, and on this
// VM such writes ran 3–10× slower (8 MiB writes: 80–475 ms instead of 11–23 ms; that was the restore
// stall). JavaScript cannot ask for aligned ArrayBuffers (large ones start 16 bytes into a page), but
// WebAssembly memory always starts on a page: all slots of a worker live in one, at 4 KiB strides.
// Without it (no WebAssembly), restores write through the page cache.
import { write } from 'node:fs';

export const DIRECT_ALIGN = 4096;
/** Restores write runs of up to this many bytes of consecutive non-zero chunks at once. */
export const RUN_BYTES = 8 * 2 ** 20;
/** Chunks per restore run (at least one). */
export const runChunks = (chunkSize: number): number => Math.max(1, Math.floor(RUN_BYTES / chunkSize));

const WASM_PAGE = 65536;
// The project's TypeScript lib has no WebAssembly types; this is the one constructor used here.
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };

/** `bytes` (rounded up to 64 KiB) of page-aligned memory, or null where WebAssembly is unavailable. */
function alignedBuffer(bytes: number): ArrayBuffer | null {
  try {
    const pages = Math.ceil(bytes / WASM_PAGE);
    return new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
  } catch {
    return null;
  }
}

/** `count` page-aligned slots of `size` bytes in one buffer; take() waits while all are in use. */
export class SlotArena {
  readonly size: number;
  readonly count: number;
  readonly #stride: number;
  #ab: ArrayBuffer | undefined;
  #aligned = false;
  #free: number[];
  #waiters: ((slot: number) => void)[] = [];
  /** Descriptors O_DIRECT failed on (EINVAL): written through the page cache from then on. */
  readonly #refused = new Set<number>();
  constructor(size: number, count: number) {
    this.size = size;
    this.count = count;
    this.#stride = Math.ceil(size / DIRECT_ALIGN) * DIRECT_ALIGN;
    this.#free = Array.from({ length: count }, (_, i) => count - 1 - i);
  }
  // Made on first use: backups never pay for it (untouched pages cost no memory either).
  get #buf(): ArrayBuffer {
    if (this.#ab) return this.#ab;
    const bytes = this.#stride * this.count;
    const ab = alignedBuffer(bytes);
    this.#aligned = ab !== null;
    return (this.#ab = ab ?? new ArrayBuffer(bytes));
  }
  take(): Promise<number> {
    const s = this.#free.pop();
    return s !== undefined ? Promise.resolve(s) : new Promise((r) => this.#waiters.push(r));
  }
  give(slot: number): void {
    const w = this.#waiters.shift();
    if (w) w(slot); else this.#free.push(slot);
  }
  /** Slot `slot` (page-aligned when #aligned). */
  view(slot: number): Buffer { return Buffer.from(this.#buf, slot * this.#stride, this.size); }
  /** Whether runs for `fd` (an O_DIRECT descriptor) can be written with O_DIRECT from the slots. */
  direct(fd: number): boolean { void this.#buf; return this.#aligned && !this.#refused.has(fd); }
  /** O_DIRECT failed on `fd` after all: write through the page cache from now on. */
  refuse(fd: number): void { this.#refused.add(fd); }
  /** Forgets refused descriptors (descriptor numbers are reused by later restores). */
  forget(): void { this.#refused.clear(); }
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
