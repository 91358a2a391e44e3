/**
 * ESE column compression (Windows 7+): the first byte's top 5 bits name the scheme.
 * 1 = 7-bit ASCII, 2 = 7-bit Unicode (low 3 bits: bits used in the last byte − 1),
 * 3 = XPRESS "plain" LZ77 (MS-XCA §2.3/2.4, no Huffman) after a 16-bit uncompressed size.
 * XPRESS9/10 and LZ4 (5, 6, 7) are reported as unsupported rather than guessed at.
 */
import { FsError } from '../filesystems/types.ts'

export const SCHEME_7BIT_ASCII = 1
export const SCHEME_7BIT_UNICODE = 2
export const SCHEME_XPRESS = 3

/** Upper bound on one decompressed value: ESE chunks are ≤ 64 KiB, multi-chunk values are assembled elsewhere. */
const MAX_OUT = 1 << 20

export function compressionScheme(buf: Buffer): number { return buf.length ? buf[0] >> 3 : 0 }

/** Decompresses a value that the tagged-data flags (or a long-value chunk's size) say is compressed. */
export function decompressValue(buf: Buffer): Buffer {
  if (buf.length === 0) throw new FsError('ECORRUPT', 'compressed ESE value is empty')
  const scheme = buf[0] >> 3
  switch (scheme) {
    case SCHEME_7BIT_ASCII: return sevenBit(buf, false)
    case SCHEME_7BIT_UNICODE: return sevenBit(buf, true)
    case SCHEME_XPRESS: {
      if (buf.length < 3) throw new FsError('ECORRUPT', 'XPRESS-compressed ESE value is shorter than its 3-byte header')
      return xpressPlain(buf.subarray(3), buf.readUInt16LE(1))
    }
    case 5: case 6: case 7:
      throw new FsError('ENOTSUP', `ESE value uses compression scheme ${scheme} (${scheme === 7 ? 'LZ4' : `XPRESS${scheme + 4}`}), which this reader does not decode yet`)
    default:
      throw new FsError('ECORRUPT', `ESE value claims compression but its scheme ${scheme} is unknown`)
  }
}

/** 7-bit packing, least significant bits first; the header's low 3 bits give the bits used in the last byte. */
function sevenBit(buf: Buffer, wide: boolean): Buffer {
  if (buf.length < 2) return Buffer.alloc(0)
  const bits = (buf.length - 2) * 8 + (buf[0] & 7) + 1
  const count = Math.floor(bits / 7)
  const out = Buffer.alloc(wide ? count * 2 : count)
  let acc = 0, have = 0, pos = 1
  for (let i = 0; i < count; i++) {
    while (have < 7) { acc |= buf[pos++] << have; have += 8 }
    const ch = acc & 0x7f
    acc >>>= 7; have -= 7
    if (wide) out.writeUInt16LE(ch, i * 2); else out[i] = ch
  }
  return out
}

/** MS-XCA plain LZ77 decompression (flags word, literal bytes, 16-bit match tokens, shared length nibbles). */
export function xpressPlain(input: Buffer, expected: number): Buffer {
  if (expected > MAX_OUT) throw new FsError('ELIMIT', `XPRESS value claims ${expected} bytes, over the ${MAX_OUT}-byte bound`)
  const out = Buffer.alloc(expected)
  let ip = 0, op = 0, flags = 0, flagCount = 0, halfBytePos = -1
  while (op < expected) {
    if (flagCount === 0) {
      if (ip + 4 > input.length) break
      flags = input.readUInt32LE(ip); ip += 4; flagCount = 32
    }
    flagCount--
    if ((flags & (1 << flagCount)) === 0) {
      if (ip >= input.length) break
      out[op++] = input[ip++]
      continue
    }
    if (ip + 2 > input.length) break
    const token = input.readUInt16LE(ip); ip += 2
    let length = token & 7
    const offset = (token >>> 3) + 1
    if (length === 7) {
      if (halfBytePos < 0) {
        if (ip >= input.length) throw corruptXpress('length nibble past the end')
        halfBytePos = ip; length = input[ip++] & 15
      } else {
        length = input[halfBytePos] >> 4; halfBytePos = -1
      }
      if (length === 15) {
        if (ip >= input.length) throw corruptXpress('length byte past the end')
        length = input[ip++]
        if (length === 255) {
          if (ip + 2 > input.length) throw corruptXpress('16-bit length past the end')
          length = input.readUInt16LE(ip); ip += 2
          if (length === 0) {
            if (ip + 4 > input.length) throw corruptXpress('32-bit length past the end')
            length = input.readUInt32LE(ip); ip += 4
          }
          if (length < 22) throw corruptXpress('match length below its minimum')
          length -= 22
        }
        length += 15
      }
      length += 7
    }
    length += 3
    if (offset > op) throw corruptXpress(`match reaches ${offset} bytes back with only ${op} written`)
    if (op + length > expected) throw corruptXpress('match runs past the declared size')
    for (let i = 0; i < length; i++, op++) out[op] = out[op - offset]
  }
  if (op !== expected) throw corruptXpress(`produced ${op} of the ${expected} declared bytes`)
  return out
}

function corruptXpress(why: string): FsError { return new FsError('ECORRUPT', `XPRESS-compressed ESE value is damaged: ${why}`) }
