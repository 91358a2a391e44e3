// Worker thread: hashes, compresses and encrypts chunks for writing, and decrypts, decompresses and
// checks chunks for reading. Buffers arrive and leave as transferred ArrayBuffers (no copies).
import { parentPort, workerData } from 'node:worker_threads';
import zlib from 'node:zlib';
import { chunkId, sealChunk } from './crypto.ts';
import { decodePayload } from './codec.ts';
import { FLAG_COMPRESSED, FLAG_ENCRYPTED } from './format.ts';

const encKey: Buffer | undefined = workerData?.encKey ? Buffer.from(workerData.encKey) : undefined;
const idKey: Buffer | undefined = workerData?.idKey ? Buffer.from(workerData.idKey) : undefined;
const level: number = workerData?.level ?? 2;
const zeros = Buffer.alloc(workerData?.chunkSize ?? 1 << 20);

export interface EncodeReq { op: 'encode'; seq: number; buf: ArrayBuffer; len: number; expect?: Uint8Array }
export interface EncodeRes {
  seq: number; buf: ArrayBuffer; kind: 'zero' | 'known' | 'data'; id?: Uint8Array;
  flags?: number; payload?: ArrayBuffer; payloadOffset?: number; payloadLength?: number;
}
export interface DecodeReq { op: 'decode'; seq: number; payload: ArrayBuffer; flags: number; rawLength: number; id: Uint8Array; check: boolean }
export interface DecodeRes { seq: number; data?: ArrayBuffer; error?: string }

function encode(m: EncodeReq): { res: EncodeRes; transfer: ArrayBuffer[] } {
  const data = Buffer.from(m.buf, 0, m.len);
  if (data.equals(zeros.subarray(0, m.len))) return { res: { seq: m.seq, buf: m.buf, kind: 'zero' }, transfer: [m.buf] };
  const id = chunkId(data, idKey);
  if (m.expect && id.equals(m.expect)) return { res: { seq: m.seq, buf: m.buf, kind: 'known', id }, transfer: [m.buf] };
  let flags = 0;
  let out: Buffer = data;
  const z = zlib.zstdCompressSync(data, { chunkSize: m.len + 65536, params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
  if (z.length < data.length) { out = z; flags |= FLAG_COMPRESSED; }
  if (encKey) { out = sealChunk(out, encKey, id); flags |= FLAG_ENCRYPTED; }
  let payload: ArrayBuffer;
  if (out === data) {
    payload = new ArrayBuffer(out.length); // the input buffer goes back to the pool, so copy raw chunks
    Buffer.from(payload).set(out);
    return { res: { seq: m.seq, buf: m.buf, kind: 'data', id, flags, payload, payloadOffset: 0, payloadLength: out.length }, transfer: [m.buf, payload] };
  }
  payload = out.buffer as ArrayBuffer;
  const transferable = out.byteOffset === 0 && out.byteLength === payload.byteLength;
  if (!transferable) { payload = new ArrayBuffer(out.length); Buffer.from(payload).set(out); }
  return { res: { seq: m.seq, buf: m.buf, kind: 'data', id, flags, payload, payloadOffset: 0, payloadLength: out.length }, transfer: [m.buf, payload] };
}

function decode(m: DecodeReq): { res: DecodeRes; transfer: ArrayBuffer[] } {
  try {
    const out = decodePayload(Buffer.from(m.payload), m.flags, m.rawLength, Buffer.from(m.id), m.check, { encKey, idKey });
    let ab = out.buffer as ArrayBuffer;
    if (out.byteOffset !== 0 || out.byteLength !== ab.byteLength || ab === m.payload) { ab = new ArrayBuffer(out.length); Buffer.from(ab).set(out); }
    return { res: { seq: m.seq, data: ab }, transfer: [ab] };
  } catch (e) {
    return { res: { seq: m.seq, error: (e as Error).message }, transfer: [] };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (m: EncodeReq | DecodeReq) => {
    const r = m.op === 'encode' ? encode(m) : decode(m);
    port.postMessage(r.res, r.transfer);
  });
}
