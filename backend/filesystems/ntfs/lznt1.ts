/**
 * LZNT1 decompression (NTFS compressed attributes, compression unit = 16 clusters).
 * Input is guest-controlled: every loop is bounded by the input or output length.
 */
import { FsError } from '../types.ts'

/**
 * Decompresses one compression unit. `out` is the unit buffer (pre-zeroed); returns the
 * number of bytes produced. Chunks are 4096 bytes uncompressed; a zero header ends the data.
 */
export function lznt1Decompress(src: Buffer, out: Buffer): number {
  let ip = 0
  let op = 0
  while (ip + 2 <= src.length && op < out.length) {
    const header = src.readUInt16LE(ip)
    ip += 2
    if (header === 0) break
    const size = (header & 0x0fff) + 1
    const end = ip + size
    if (end > src.length) throw new FsError('ECORRUPT', 'lznt1: chunk runs past the compressed data')
    const chunkStart = op
    const chunkEnd = Math.min(out.length, chunkStart + 4096)
    if ((header & 0x8000) === 0) {
      // Stored chunk: raw bytes (normally 4096).
      const n = Math.min(size, chunkEnd - op)
      src.copy(out, op, ip, ip + n)
      op += n
      ip = end
      continue
    }
    while (ip < end && op < chunkEnd) {
      const flags = src[ip++]!
      for (let bit = 0; bit < 8 && ip < end && op < chunkEnd; bit++) {
        if ((flags & (1 << bit)) === 0) {
          out[op++] = src[ip++]!
          continue
        }
        if (ip + 2 > end) throw new FsError('ECORRUPT', 'lznt1: truncated back-reference')
        const token = src.readUInt16LE(ip)
        ip += 2
        const pos = op - chunkStart
        let lenMask = 0x0fff
        let offShift = 12
        for (let i = pos - 1; i >= 0x10; i >>= 1) { lenMask >>= 1; offShift-- }
        const offset = (token >>> offShift) + 1
        let length = (token & lenMask) + 3
        if (offset > pos) throw new FsError('ECORRUPT', 'lznt1: back-reference before the chunk start')
        if (op + length > chunkEnd) length = chunkEnd - op
        for (let k = 0; k < length; k++) { out[op] = out[op - offset]!; op++ }
      }
    }
    ip = end
    // A compressed chunk shorter than 4096 bytes is followed by zeros (already zero in out),
    // except for the last chunk of the data; advance to the chunk boundary only if more chunks follow.
    if (ip + 2 <= src.length && src.readUInt16LE(ip) !== 0 && op < chunkEnd) op = chunkEnd
  }
  return op
}
