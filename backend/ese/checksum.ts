/**
 * ESE page checksums. Old pages: XOR of the 32-bit words from byte 4, seeded 0x89abcdef. New-format
 * pages (flag 0x2000): a 32-bit XOR seeded with the page number from byte 8, plus a 32-bit ECC
 * (single-bit-error correcting code) at byte 4. Pages of 16/32 KiB carry four such 64-bit checksums,
 * one per quarter of the page (offsets 0, 40, 48, 56). Algorithm learned from libesedb's notes and
 * Microsoft's published ESE source; this is our own implementation.
 */

export const HEADER_SEED = 0x89abcdef

export function xor32(buf: Buffer, start: number, end: number, seed: number): number {
  let x = seed >>> 0
  const words = wordsOf(buf)
  for (let i = start; i + 4 <= end; i += 4) x ^= words ? words[i >> 2] : buf.readUInt32LE(i)
  return x >>> 0
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** The buffer as 32-bit words when that view reads them as readUInt32LE would (aligned, little-endian host). */
function wordsOf(buf: Buffer): Uint32Array | undefined {
  return LITTLE_ENDIAN && buf.byteOffset % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2) : undefined
}

function parity(v: number): number {
  v ^= v >>> 16; v ^= v >>> 8; v ^= v >>> 4; v ^= v >>> 2; v ^= v >>> 1
  return v & 1
}

/** XOR-32 and ECC-32 of `buf[start..end)` where `start` is within the first 16-byte row (0, 4 or 8). */
export function eccXor32(buf: Buffer, start: number, end: number, seed: number): { xor: number; ecc: number } {
  const size = end - (start - (start % 16))
  let ecc = 0, mask = 0xff800000, row = 0, col = start % 16
  const vert = [0, 0, 0, 0]
  const words = wordsOf(buf)
  let i = start
  const step = () => {
    const v = words ? words[i >> 2] : buf.readUInt32LE(i)
    vert[col >> 2] ^= v
    row ^= v
    col += 4
    if (col >= 16) {
      if (parity(row)) ecc ^= mask
      mask = (mask - 0x007fff80) >>> 0
      col = 0; row = 0
    }
    i += 4
  }
  while (col !== 0 && i + 4 <= end) step()
  if (words) {
    // Whole 16-byte rows, four words at a time (the same arithmetic as step()).
    let v0 = 0, v1 = 0, v2 = 0, v3 = 0
    for (; i + 16 <= end; i += 16) {
      const w = i >> 2
      const a = words[w], b = words[w + 1], c = words[w + 2], d = words[w + 3]
      v0 ^= a; v1 ^= b; v2 ^= c; v3 ^= d
      if (parity(a ^ b ^ c ^ d)) ecc ^= mask
      mask = (mask - 0x007fff80) >>> 0
    }
    vert[0] ^= v0; vert[1] ^= v1; vert[2] ^= v2; vert[3] ^= v3
  }
  while (i + 4 <= end) step()
  if (row !== 0 && parity(row)) ecc ^= mask
  if (parity(vert[0] ^ vert[1])) ecc ^= 0x00400000
  if (parity(vert[0] ^ vert[2])) ecc ^= 0x00200000
  if (parity(vert[1] ^ vert[3])) ecc ^= 0x00000020
  if (parity(vert[2] ^ vert[3])) ecc ^= 0x00000040
  const all = (vert[0] ^ vert[1] ^ vert[2] ^ vert[3]) >>> 0
  let finalMask = 0, bm = 0xffff0000
  for (let bit = 0; bit < 32; bit++) {
    if (all & (1 << bit)) finalMask = (finalMask ^ bm) >>> 0
    bm = (bm - 0x0000ffff) >>> 0
  }
  ecc >>>= 0
  if (size < 8192) ecc = (ecc & (0xffffffff ^ (size << 19))) >>> 0
  ecc = (ecc ^ ((ecc ^ finalMask) & 0x001f001f)) >>> 0
  return { xor: (seed ^ all) >>> 0, ecc }
}

export type PageChecksum = 'ok' | 'bad' | 'blank'

/** Verifies a database page (not the header pages) as stored at physical page `pgno`. */
export function verifyPage(page: Buffer, pgno: number, extendedHeader: boolean): PageChecksum {
  if (page.readUInt32LE(0) === 0 && page.readUInt32LE(4) === 0 && isZero(page)) return 'blank'
  const flags = page.readUInt32LE(36)
  if (extendedHeader) {
    const block = page.length / 4
    const at = [0, 40, 48, 56]
    for (let b = 0; b < 4; b++) {
      const s = b * block
      const { xor, ecc } = eccXor32(page, b === 0 ? 8 : s, s + block, pgno)
      if (page.readUInt32LE(at[b]) !== xor || page.readUInt32LE(at[b] + 4) !== ecc) return 'bad'
    }
    return 'ok'
  }
  if (flags & 0x2000) {
    const { xor, ecc } = eccXor32(page, 8, page.length, pgno)
    return page.readUInt32LE(0) === xor && page.readUInt32LE(4) === ecc ? 'ok' : 'bad'
  }
  return page.readUInt32LE(0) === xor32(page, 4, page.length, HEADER_SEED) ? 'ok' : 'bad'
}

function isZero(b: Buffer): boolean { for (let i = 0; i < b.length; i += 64) if (b[i] !== 0) return false; return true }
