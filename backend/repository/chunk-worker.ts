// Worker thread: hashes, compresses and encrypts chunks for writing, and decrypts, decompresses and
// checks chunks for reading. All buffers come from the caller's pools and go back as transferred
// ArrayBuffers, so steady-state backups and restores allocate nothing per chunk on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import zlib from 'node:zlib';
import v8 from 'node:v8';
import vm from 'node:vm';
import { chunkId, sealChunk } from './crypto.ts';
import { decodePayload } from './codec.ts';
import { FLAG_COMPRESSED, FLAG_ENCRYPTED } from './format.ts';

const encKey: Buffer | undefined = workerData?.encKey ? Buffer.from(workerData.encKey) : undefined;
const idKey: Buffer | undefined = workerData?.idKey ? Buffer.from(workerData.idKey) : undefined;
const level: number = workerData?.level ?? 2;
const zeros = Buffer.alloc(workerData?.chunkSize ?? 1 << 20);
const zopts = {
  params: { [zlib.constants.ZSTD_c_compressionLevel]: level, [zlib.constants.ZSTD_c_checksumFlag]: 1 },
  chunkSize: (workerData?.chunkSize ?? 1 << 20) + 65536,
};

// zstd/GCM results are fresh native buffers; V8 lets dead ones pile up to ~64 MiB per thread before it
// collects. Collecting every GARBAGE_LIMIT bytes keeps the process's peak RSS low (a GC of this tiny heap
// takes about a millisecond).
const GARBAGE_LIMIT = 24 * 1024 * 1024;
let collectGarbage: (() => void) | undefined;
try {
  v8.setFlagsFromString('--expose-gc');
  collectGarbage = vm.runInNewContext('gc') as () => void;
} catch { /* not available: V8's own heuristics apply */ }
let garbage = 0;
function allocated(bytes: number): void {
  garbage += bytes;
  if (garbage >= GARBAGE_LIMIT && collectGarbage) { garbage = 0; collectGarbage(); }
}

export interface EncodeReq { op: 'encode'; seq: number; buf: ArrayBuffer; len: number; out: ArrayBuffer; expect?: Uint8Array }
export interface EncodeRes {
  seq: number; buf: ArrayBuffer; out: ArrayBuffer; kind: 'zero' | 'known' | 'data'; id?: Uint8Array;
  flags?: number; payloadLength?: number; error?: string;
}
export interface DecodeReq {
  op: 'decode'; seq: number; payload: ArrayBuffer; offset: number; length: number; flags: number; rawLength: number;
  id: Uint8Array; check: boolean; out: ArrayBuffer;
}
export interface DecodeRes { seq: number; payload: ArrayBuffer; out: ArrayBuffer; error?: string }

function encode(m: EncodeReq): EncodeRes {
  const data = Buffer.from(m.buf, 0, m.len);
  if (data.equals(zeros.subarray(0, m.len))) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'zero' };
  const id = chunkId(data, idKey);
  if (m.expect && id.equals(m.expect)) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'known', id };
  let flags = 0;
  let out: Buffer = data;
  const z = zlib.zstdCompressSync(data, zopts);
  allocated(zopts.chunkSize);
  if (z.length < data.length) { out = z; flags |= FLAG_COMPRESSED; }
  if (encKey) { out = sealChunk(out, encKey, id); flags |= FLAG_ENCRYPTED; allocated(out.length); }
  if (out.length > m.out.byteLength) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', error: 'payload larger than the output buffer' };
  Buffer.from(m.out).set(out);
  return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', id, flags, payloadLength: out.length };
}

function decode(m: DecodeReq): DecodeRes {
  try {
    const data = decodePayload(Buffer.from(m.payload, m.offset, m.length), m.flags, m.rawLength, Buffer.from(m.id), m.check, { encKey, idKey });
    Buffer.from(m.out).set(data);
    allocated(m.flags ? data.length * 2 : 0);
    return { seq: m.seq, payload: m.payload, out: m.out };
  } catch (e) {
    return { seq: m.seq, payload: m.payload, out: m.out, error: (e as Error).message };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (m: EncodeReq | DecodeReq) => {
    if (m.op === 'encode') { const r = encode(m); port.postMessage(r, [r.buf, r.out]); }
    else { const r = decode(m); port.postMessage(r, [r.payload, r.out]); }
  });
}
