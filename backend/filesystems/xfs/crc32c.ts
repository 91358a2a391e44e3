/** CRC-32C (Castagnoli), as XFS v5 stamps it into every metadata block. */

const TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[i] = c >>> 0
  }
  return t
})()

function update(crc: number, b: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) crc = TABLE[(crc ^ b[i]) & 0xff] ^ (crc >>> 8)
  return crc
}

/** CRC-32C of `b` with the 4 bytes at `skip` read as zeros (where the stored checksum lives). */
export function crc32cSkipping(b: Buffer, skip: number): number {
  let crc = update(0xffffffff, b, 0, skip)
  for (let i = 0; i < 4; i++) crc = TABLE[crc & 0xff] ^ (crc >>> 8)
  crc = update(crc, b, skip + 4, b.length)
  return (crc ^ 0xffffffff) >>> 0
}

/** XFS stores the checksum little-endian at `at`; true when it matches. */
export function xfsCrcOk(b: Buffer, at: number): boolean {
  return b.length >= at + 4 && b.readUInt32LE(at) === crc32cSkipping(b, at)
}

/** Stamps a fresh checksum (used by tests that damage metadata and want the parser, not the CRC, to meet it). */
export function xfsCrcStamp(b: Buffer, at: number): void {
  b.writeUInt32LE(crc32cSkipping(b, at), at)
}
