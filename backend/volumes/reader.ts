/** ReadAt helpers for volumes: a window over a disk, and a reader that refuses with the volume's problem. */
import { FsError, type ReadAt } from '../filesystems/types.ts'

/** Bytes [start, start + size) of `base`; reads past the end are cut, as with any ReadAt. */
export function sliceReader(base: ReadAt, start: number, size: number): ReadAt {
  const len = Math.max(0, Math.min(size, base.size - start))
  return {
    size: len,
    async readAt(offset: number, length: number) {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) throw new FsError('ERANGE', `read of ${length} bytes at ${offset} is outside the volume`)
      const n = Math.max(0, Math.min(length, len - offset))
      return n === 0 ? Buffer.alloc(0) : base.readAt(start + offset, n)
    },
    ...(base.readInto ? {
      async readInto(offset: number, out: Uint8Array) {
        if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError('ERANGE', `read of ${out.length} bytes at ${offset} is outside the volume`)
        const n = Math.max(0, Math.min(out.length, len - offset))
        return n === 0 ? 0 : base.readInto!(start + offset, n === out.length ? out : out.subarray(0, n))
      },
    } : {}),
  }
}

/** For volumes we list but cannot read (thin LVs, missing PVs ...): every read says why. */
export function refusingReader(size: number, why: string): ReadAt {
  return { size, async readAt() { throw new FsError('ENOTSUP', why) } }
}

/** Reads exactly up to `length` bytes (a short answer only at the end of the volume). */
export async function readFully(r: ReadAt, offset: number, length: number): Promise<Buffer> {
  const want = Math.max(0, Math.min(length, r.size - offset))
  const parts: Buffer[] = []
  let got = 0
  // A reader may answer short; bounded by the number of bytes wanted (each round yields ≥ 1 byte or stops).
  while (got < want) {
    const b = await r.readAt(offset + got, want - got)
    if (b.length === 0) break
    parts.push(b.length > want - got ? b.subarray(0, want - got) : b)
    got += Math.min(b.length, want - got)
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}
