// zstd compression with one long-lived context per thread.
//
// zlib.zstdCompressSync() builds a compression context (and zeroes its tables) and allocates a fresh
// output buffer for every call. For 1 MiB chunks that costs ~5% of the CPU of a first backup, and the
// dead output buffers are most of a worker's garbage (measured: ~0.5 s of GC per worker on a 4 GiB
// image). A ZstdCompress stream's native handle instead compresses one whole frame per
// writeSync(ZSTD_e_end) into a buffer we own, and is then ready for the next frame with the same
// parameters: output identical to zstdCompressSync's, no allocation per chunk.
//
// That handle is a node:zlib internal (`_handle`, `_writeState`), so its shape is checked once and
// any surprise falls back to the public API; the round trip is covered by the repository tests.
import zlib from 'node:zlib';

interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror?: (message: string, errno: number) => void;
}

const C = zlib.constants;

/** The native handle of a new zstd stream and its [outLeft, inLeft] state, or undefined if node:zlib changed shape. */
function nativeHandle(make: () => unknown, onError: (message: string) => void): { handle: NativeHandle; state: Uint32Array } | undefined {
  try {
    const stream = make() as { _handle?: NativeHandle; _writeState?: Uint32Array };
    const h = stream._handle;
    if (!h || typeof h.writeSync !== 'function' || !(stream._writeState instanceof Uint32Array)) return undefined;
    h.onerror = onError;
    return { handle: h, state: stream._writeState };
  } catch {
    return undefined; // public API only
  }
}

export class ZstdCompressor {
  readonly #params: Record<number, number>;
  readonly #scratch: Buffer;
  #handle: NativeHandle | undefined;
  #state: Uint32Array | undefined;
  #failed: string | undefined;

  /** `maxInput`: the largest input (the chunk size); frames up to zstd's bound for it fit the scratch buffer. */
  constructor(level: number, maxInput: number) {
    this.#params = { [C.ZSTD_c_compressionLevel]: level, [C.ZSTD_c_checksumFlag]: 1 };
    this.#scratch = Buffer.allocUnsafeSlow(maxInput + (maxInput >> 7) + 65536);
    this.#open();
  }

  #open(): void {
    const n = nativeHandle(() => zlib.createZstdCompress({ params: this.#params }), (message) => { this.#failed = message; });
    this.#handle = n?.handle;
    this.#state = n?.state;
  }

  /**
   * Compresses `src` into one zstd frame (with content checksum). Returns the frame, a view of this
   * compressor's scratch buffer that is valid until the next call.
   */
  compress(src: Uint8Array): Buffer {
    const h = this.#handle;
    if (!h) return zlib.zstdCompressSync(src, { params: this.#params, chunkSize: this.#scratch.length });
    this.#failed = undefined;
    h.writeSync(C.ZSTD_e_end, src, 0, src.length, this.#scratch, 0, this.#scratch.length);
    const [outLeft, inLeft] = this.#state!;
    if (this.#failed !== undefined || inLeft !== 0 || outLeft === 0) {
      // The context is mid-frame or broken: start over with a new one, this chunk the public way.
      this.#open();
      return zlib.zstdCompressSync(src, { params: this.#params, chunkSize: this.#scratch.length });
    }
    return this.#scratch.subarray(0, this.#scratch.length - outLeft!);
  }
}

/**
 * Length of the zstd frame at the start of `b` from its headers alone (frame header, then block
 * headers up to the last block, then the 4-byte content checksum), or -1 if `b` does not hold one
 * whole frame with a content checksum. Lets a reused decompressor insist on frames that end exactly
 * where the record ends, so it is never left mid-frame and every frame's checksum is checked.
 */
export function frameLength(b: Uint8Array): number {
  if (b.length < 9 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return -1;
  const fhd = b[4]!;
  const fcs = fhd >> 6, single = (fhd >> 5) & 1, reserved = (fhd >> 3) & 1, checksum = (fhd >> 2) & 1, dict = fhd & 3;
  if (reserved || !checksum) return -1;
  let p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dict]! + (fcs === 0 ? single : [0, 2, 4, 8][fcs]!);
  for (;;) {
    if (p + 3 > b.length) return -1;
    const h = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16);
    p += 3;
    const type = (h >> 1) & 3;
    if (type === 3) return -1;
    p += type === 1 ? 1 : h >>> 3;
    if (h & 1) break;
  }
  p += 4;
  return p <= b.length ? p : -1;
}

/**
 * The longest frame zstd makes of `n` bytes it cannot compress: the bytes in raw blocks of at most
 * 128 KiB with a 3-byte header each, the frame header (at most 18 bytes) and the 4-byte checksum.
 */
export function rawFrameBound(n: number): number { return n + 18 + 3 * Math.max(1, Math.ceil(n / (128 << 10))) + 4; }

/**
 * Output room a ZstdDecompressor needs beyond the decoded length: with one spare byte, a frame that
 * would decode to more than expected shows as overlong instead of stopping at a full buffer mid-frame.
 * Every buffer a chunk is decoded into is sized chunk size + FRAME_END_ROOM.
 */
export const FRAME_END_ROOM = 1;

/** zstd decompression into the caller's buffer with one long-lived context (see ZstdCompressor). */
export class ZstdDecompressor {
  #handle: NativeHandle | undefined;
  #state: Uint32Array | undefined;
  #failed: string | undefined;

  constructor() { this.#open(); }

  #open(): void {
    const n = nativeHandle(() => zlib.createZstdDecompress(), (message) => { this.#failed = message; });
    this.#handle = n?.handle;
    this.#state = n?.state;
  }

  /**
   * Decodes the single frame `src` (exactly one whole frame, checksum checked) into `dst`, which must
   * have room for `length + FRAME_END_ROOM` bytes; returns the `length` decoded bytes as a view of `dst`. Throws
   * on anything else: damaged frame, wrong length, trailing bytes.
   */
  decompress(src: Uint8Array, dst: Buffer, length: number): Buffer {
    const end = frameLength(src);
    if (end !== src.length) throw new Error(end < 0 ? 'not a whole zstd frame with checksum' : `zstd frame ends at ${end} of ${src.length} bytes`);
    if (dst.length < length + FRAME_END_ROOM) throw new Error('output buffer too small');
    const h = this.#handle;
    if (!h) {
      const b = zlib.zstdDecompressSync(src, { chunkSize: length + 64 });
      if (b.length !== length) throw new Error(`chunk length ${b.length} != ${length}`);
      b.copy(dst);
      return dst.subarray(0, length);
    }
    this.#failed = undefined;
    h.writeSync(C.ZSTD_e_end, src, 0, src.length, dst, 0, length + FRAME_END_ROOM);
    const [outLeft, inLeft] = this.#state!;
    const n = length + FRAME_END_ROOM - outLeft!;
    if (this.#failed !== undefined || inLeft !== 0 || n !== length) {
      const why = this.#failed ?? (inLeft !== 0 ? 'the frame did not consume its record' : `chunk length ${n} != ${length}`);
      this.#open(); // errors stick to a context: the next chunk gets a fresh one
      throw new Error(why);
    }
    return dst.subarray(0, length);
  }
}
