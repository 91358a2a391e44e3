// The long-lived zstd context (backend/repository/zstd.ts) must produce exactly what the public API
// produces, frame after frame, for compressible, incompressible and odd-sized chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { ZstdCompressor, ZstdDecompressor, frameLength } from '../../backend/repository/zstd.ts';

test('ZstdCompressor: each frame decodes on its own and equals zstdCompressSync output', () => {
  const C = zlib.constants;
  const chunk = 1 << 20;
  const z = new ZstdCompressor(2, chunk);
  const text = Buffer.from('restore point chunk pack index '.repeat(40_000)).subarray(0, chunk);
  const inputs = [text, randomBytes(chunk), Buffer.alloc(chunk, 7), randomBytes(12_345), Buffer.concat([randomBytes(chunk / 2), text.subarray(0, chunk / 2)]), text];
  const frames: Buffer[] = [];
  for (const input of inputs) {
    const frame = Buffer.from(z.compress(input)); // a view of the scratch buffer: copy before the next call
    const expected = zlib.zstdCompressSync(input, { params: { [C.ZSTD_c_compressionLevel]: 2, [C.ZSTD_c_checksumFlag]: 1 } });
    assert.ok(frame.equals(expected), `frame for a ${input.length}-byte input matches the public API's`);
    frames.push(frame);
  }
  // Decoded out of order: no frame depends on the one before it.
  for (const k of [3, 0, 5, 1, 4, 2]) assert.ok(zlib.zstdDecompressSync(frames[k]!).equals(inputs[k]!));
  assert.ok(frames[0]!.length < chunk / 10, 'text compresses');
  assert.ok(frames[1]!.length > chunk, 'random data does not (the caller stores it raw)');
});

test('ZstdDecompressor: whole frames only; damage, truncation and trailing bytes throw, the next frame still decodes', () => {
  const z = new ZstdCompressor(2, 1 << 20);
  const input = Buffer.concat([Buffer.from('chunk '.repeat(100_000)), randomBytes(300_000)]);
  const frame = Buffer.from(z.compress(input));
  assert.equal(frameLength(frame), frame.length);
  const d = new ZstdDecompressor();
  const out = Buffer.alloc(input.length + 1);
  assert.ok(d.decompress(frame, out, input.length).equals(input));

  const flipped = Buffer.from(frame);
  flipped[Math.floor(frame.length / 2)]! ^= 0x10;
  const cases: [string, Buffer, number][] = [
    ['flipped byte', flipped, input.length],
    ['checksum cut off', frame.subarray(0, frame.length - 4), input.length],
    ['trailing byte', Buffer.concat([frame, Buffer.from([0])]), input.length],
    ['two frames', Buffer.concat([frame, frame]), input.length],
    ['wrong length', frame, input.length - 1],
    ['not zstd', randomBytes(1000), 1000],
  ];
  for (const [label, bad, len] of cases) {
    assert.throws(() => d.decompress(bad, out, len), Error, label);
    out.fill(0);
    assert.ok(d.decompress(frame, out, input.length).equals(input), `a good frame decodes after: ${label}`);
  }
  assert.equal(frameLength(zlib.zstdCompressSync(input)), -1, 'frames without a content checksum are refused');
});
