// Shannon entropy of sampled file bytes, in bits per byte (0 for constant data, 8 for uniformly
// random bytes). Encrypted or compressed content is near 8; text and most documents stay below 6.
// Kept as a small integer (bits × 32) in the catalog: 0..256.

/** Bytes sampled at the start and at the end of a file. */
export const SAMPLE_BYTES = 4096;
/** Files smaller than this are not sampled: too few bytes for a meaningful entropy. */
export const MIN_SAMPLED_SIZE = 1024;

export function shannonEntropy(b: Uint8Array): number {
  if (b.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < b.length; i++) counts[b[i]!]!++;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c) { const p = c / b.length; h -= p * Math.log2(p); }
  }
  return h;
}

/** The entropy code kept in the catalog: the lower of head and tail (encryption raises both), × 32. */
export function entropyCode(head: Uint8Array, tail?: Uint8Array): number {
  const h = shannonEntropy(head);
  const t = tail && tail.length ? shannonEntropy(tail) : h;
  return Math.round(Math.min(h, t) * 32);
}

export const bitsPerByte = (code: number): number => code / 32;
