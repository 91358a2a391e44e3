// Worker thread: hashes, compresses and encrypts chunks for writing, and decrypts, decompresses and
// checks chunks for reading. All buffers come from the caller's pools and go back as transferred
// ArrayBuffers, so steady-state backups and restores allocate nothing per chunk on the main thread.
// Image reads (backup) and pack reads + target writes (restore) happen here too, with positional
// synchronous I/O on descriptors the main thread owns: no extra copy or hop through the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { readSync, writeSync, openSync, closeSync } from 'node:fs';
import { ChunkFiller, type StoredChunk } from './fill.ts';
import v8 from 'node:v8';
import vm from 'node:vm';
import { chunkId, sealChunk } from './crypto.ts';
import { decodePayload, rawChunkProblem } from './codec.ts';
import { FRAME_END_ROOM, ZstdCompressor, ZstdDecompressor, rawFrameBound } from './zstd.ts';
import { DIRECT_ALIGN, SlotArena, runChunks, writeAsync } from './direct-io.ts';
import { FLAG_COMPRESSED, FLAG_ENCRYPTED, RECORD_HEADER, headerMatches, packPath } from './format.ts';

const encKey: Buffer | undefined = workerData?.encKey ? Buffer.from(workerData.encKey) : undefined;
const idKey: Buffer | undefined = workerData?.idKey ? Buffer.from(workerData.idKey) : undefined;
const level: number = workerData?.level ?? 2;
const dir: string = workerData?.dir ?? '';
const writeLock = new Int32Array(workerData?.writeLock ?? new SharedArrayBuffer(4));
const chunkBytes: number = workerData?.chunkSize ?? 1 << 20;
const zeros = Buffer.alloc(chunkBytes);
const compressor = new ZstdCompressor(level, chunkBytes);
const zstdOut = new ZstdDecompressor();

// zstd/GCM results are fresh native buffers; V8 lets dead ones pile up to ~64 MiB per thread before it
// collects. A young-generation collection every GARBAGE_LIMIT bytes frees them (they die young) and keeps
// the process's peak RSS low; full collections cost ~12% of a restore's CPU in concurrent marking.
const GARBAGE_LIMIT = 24 * 1024 * 1024;
let collectGarbage: ((o: { type: 'minor' }) => void) | undefined;
try {
  v8.setFlagsFromString('--expose-gc');
  collectGarbage = vm.runInNewContext('gc') as (o: { type: 'minor' }) => void;
} catch { /* not available: V8's own heuristics apply */ }
let garbage = 0;
function allocated(bytes: number): void {
  garbage += bytes;
  if (garbage >= GARBAGE_LIMIT && collectGarbage) { garbage = 0; collectGarbage({ type: 'minor' }); }
}

export type { StoredChunk } from './fill.ts';
/** A chunk made of a stored one (or zeros) with `patches` laid over it (offsets within the chunk). */
export interface ChunkPatch { base: StoredChunk | 'zero'; patches: { at: number; data: Uint8Array }[] }
/**
 * `src`: read the chunk from this file descriptor at `pos` into `buf` first (short files read as zeros).
 * `patch`: build the chunk from a stored chunk and patches instead. `buf` has room for len + FRAME_END_ROOM bytes.
 */
export interface EncodeReq {
  op: 'encode'; seq: number; buf: ArrayBuffer; len: number; out: ArrayBuffer; expect?: Uint8Array;
  src?: { fd: number; pos: number }; patch?: ChunkPatch;
}
export interface EncodeRes {
  seq: number; buf: ArrayBuffer; out: ArrayBuffer; kind: 'zero' | 'known' | 'data'; id?: Uint8Array;
  flags?: number; payloadLength?: number; error?: string;
}
export interface DecodeReq {
  op: 'decode'; seq: number; payload: ArrayBuffer; offset: number; length: number; flags: number; rawLength: number;
  /** Omitted for a raw chunk: its bytes stay in `payload` and only its id is checked. */
  id: Uint8Array; check: boolean; out?: ArrayBuffer;
}
export interface DecodeRes { seq: number; payload: ArrayBuffer; out?: ArrayBuffer; error?: string }
/**
 * Reads the records of consecutive chunks from their packs, decodes and checks them, and writes their
 * plaintext to `fd` at `pos` with one write (at most runChunks(chunk size) chunks).
 */
export interface RestoreReq {
  op: 'restore'; seq: number; chunks: Omit<StoredChunk, 'id'>[]; ids: Uint8Array[]; fd: number; pos: number;
  /** The same file opened with O_DIRECT, for block-aligned runs (see direct-io.ts). */
  directFd?: number;
}
/** `damaged`: the stored chunk is missing or bad; otherwise `error` is an I/O error (with its errno `code`). */
export interface RestoreRes { seq: number; error?: string; code?: string; damaged?: boolean }
/** Closes the pack descriptors restore opened. */
export interface ReleaseReq { op: 'release'; seq: number }
/**
 * Reads chunks' records from their packs, checks them and puts each one's plaintext at
 * `into[at, at + rawLength)`, a SharedArrayBuffer another thread reads (a download's block, a disk
 * image's chunk buffer): a raw chunk is read straight there and hashed where it lies; nothing is
 * written past its rawLength bytes. Stops at the first chunk that fails.
 */
export interface FillReq { op: 'fill'; seq: number; chunks: { chunk: StoredChunk; at: number }[]; into: SharedArrayBuffer }
/** `error`: why the chunk's bytes are not there; `damaged`: the stored data is missing or bad (otherwise an I/O error). */
export interface FillRes { seq: number; error?: string; damaged?: boolean }

function readFully(fd: number, b: Uint8Array, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function writeFully(fd: number, b: Uint8Array, pos: number): void {
  for (let w = 0; w < b.length;) w += writeSync(fd, b, w, b.length - w, pos + w);
}

function encode(m: EncodeReq): EncodeRes {
  const data = Buffer.from(m.buf, 0, m.len);
  if (m.src) {
    try {
      const got = readFully(m.src.fd, data, m.len, m.src.pos);
      data.fill(0, got);
    } catch (e) {
      return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', error: (e as Error).message };
    }
  }
  if (m.patch) {
    const why = m.patch.base === 'zero' ? (data.fill(0), undefined) : readStored(m.patch.base, Buffer.from(m.buf), m.len);
    if (why) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', error: why };
    for (const p of m.patch.patches) data.set(p.data, p.at);
  }
  if (data.equals(zeros.subarray(0, m.len))) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'zero' };
  const id = chunkId(data, idKey);
  if (m.expect && id.equals(m.expect)) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'known', id };
  let flags = 0;
  let out: Buffer = data;
  const z = compressor.compress(data);
  // Kept even when it does not shrink the chunk: an incompressible chunk's frame is its bytes in raw
  // blocks (37 bytes more per MiB), and reading it back is checked by the frame's XXH64 checksum, 7×
  // cheaper than recomputing its SHA-256 (which was a third of a download's CPU: bench/items).
  if (z.length <= rawFrameBound(data.length)) { out = z; flags |= FLAG_COMPRESSED; }
  if (encKey) { out = sealChunk(out, encKey, id); flags |= FLAG_ENCRYPTED; allocated(out.length); }
  if (out.length > m.out.byteLength) return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', error: 'payload larger than the output buffer' };
  Buffer.from(m.out).set(out);
  return { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', id, flags, payloadLength: out.length };
}

function decode(m: DecodeReq): DecodeRes {
  if (!m.out) {
    const error = rawChunkProblem(m.payload, m.offset, m.length, m.flags, m.rawLength, m.id, idKey);
    return error === undefined ? { seq: m.seq, payload: m.payload } : { seq: m.seq, payload: m.payload, error };
  }
  try {
    const out = Buffer.from(m.out);
    const into = out.length >= m.rawLength + FRAME_END_ROOM ? { zstd: zstdOut, out } : undefined;
    const data = decodePayload(Buffer.from(m.payload, m.offset, m.length), m.flags, m.rawLength, Buffer.from(m.id), m.check, { encKey, idKey }, into);
    if (!into) { out.set(data); allocated(m.flags ? data.length * 2 : 0); }
    return { seq: m.seq, payload: m.payload, out: m.out };
  } catch (e) {
    return { seq: m.seq, payload: m.payload, out: m.out, error: (e as Error).message };
  }
}

const PACKS_OPEN = 16;
const packFds = new Map<string, number>();
let record = Buffer.allocUnsafeSlow((workerData?.chunkSize ?? 1 << 20) + RECORD_HEADER + 1024);

function packFd(pack: string): number {
  let fd = packFds.get(pack);
  if (fd !== undefined) { packFds.delete(pack); packFds.set(pack, fd); return fd; }
  fd = openSync(packPath(dir, pack), 'r');
  packFds.set(pack, fd);
  if (packFds.size > PACKS_OPEN) {
    const [k, old] = packFds.entries().next().value!;
    packFds.delete(k);
    closeSync(old);
  }
  return fd;
}

const slots = new SlotArena(runChunks(chunkBytes) * chunkBytes + FRAME_END_ROOM, 3);

/** Reads and decodes a stored chunk into `into` (room for len + FRAME_END_ROOM bytes); returns why not, if it could not. */
function readStored(c: StoredChunk, into: Buffer, len: number): string | undefined {
  const chunk = `chunk ${Buffer.from(c.id).toString('hex').slice(0, 16)}…`;
  if (c.rawLength !== len) return `${chunk} of the parent restore point has ${c.rawLength} bytes, not ${len}`;
  try {
    const fd = packFd(c.pack);
    const need = RECORD_HEADER + c.length;
    if (record.length < need) record = Buffer.allocUnsafeSlow(need);
    const got = readFully(fd, record, need, c.offset);
    if (got < need || !headerMatches(record, c.id, c.length)) return `pack ${c.pack} is damaged at ${chunk}; run 'stillpoint repo verify'`;
    decodePayload(record.subarray(RECORD_HEADER, need), c.flags, c.rawLength, Buffer.from(c.id), !(c.flags & 3), { encKey, idKey }, { zstd: zstdOut, out: into });
    return undefined;
  } catch (e) {
    return `${chunk} of the parent restore point could not be read (${(e as Error).message}); run 'stillpoint repo verify'`;
  }
}

/** Reads chunk `c` of a run from its pack and decodes it into `out`; returns why not, if it could not. */
function restoreChunk(c: Omit<StoredChunk, 'id'>, id: Uint8Array, out: Buffer): string | undefined {
  const chunk = `chunk ${Buffer.from(id).toString('hex').slice(0, 16)}…`;
  let fd: number;
  try { fd = packFd(c.pack); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `pack ${c.pack} is missing (${chunk})`;
    throw e;
  }
  const need = RECORD_HEADER + c.length;
  if (record.length < need) record = Buffer.allocUnsafeSlow(need);
  const got = readFully(fd, record, need, c.offset);
  if (got < need) return `pack ${c.pack} is truncated: ${chunk} at offset ${c.offset} needs ${need} bytes, ${got} present`;
  if (!headerMatches(record, id, c.length)) return `pack ${c.pack} has a bad record header at offset ${c.offset} (${chunk})`;
  try {
    // Compressed/encrypted chunks are checked by the zstd frame checksum / GCM tag; raw chunks are hashed.
    decodePayload(record.subarray(RECORD_HEADER, need), c.flags, c.rawLength, Buffer.from(id), !(c.flags & 3), { encKey, idKey }, { zstd: zstdOut, out });
  } catch (e) {
    return `${chunk} in pack ${c.pack} is damaged (${(e as Error).message})`;
  }
  if (c.flags & FLAG_ENCRYPTED) allocated(c.rawLength);
  return undefined;
}

let filler: ChunkFiller | undefined;

async function fill(m: FillReq): Promise<FillRes> {
  filler ??= new ChunkFiller(dir, { encKey, idKey });
  const why = await filler.fill(m.chunks, m.into);
  return why ? { seq: m.seq, error: why, damaged: true } : { seq: m.seq };
}

async function restore(m: RestoreReq): Promise<RestoreRes> {
  const slot = await slots.take();
  try {
    const len = m.chunks.reduce((n, c) => n + c.rawLength, 0);
    if (len > slots.size - FRAME_END_ROOM) return { seq: m.seq, error: `restore run of ${len} bytes is larger than a slot` };
    const out = slots.view(slot);
    // Decoded in order: each chunk's spare output byte is overwritten by the next one.
    for (let k = 0, at = 0; k < m.chunks.length; at += m.chunks[k].rawLength, k++) {
      const why = restoreChunk(m.chunks[k], m.ids[k], out.subarray(at));
      if (why) return { seq: m.seq, damaged: true, error: why };
    }
    const data = out.subarray(0, len);
    const dfd = m.directFd;
    if (dfd !== undefined && m.pos % DIRECT_ALIGN === 0 && len % DIRECT_ALIGN === 0 && slots.direct(dfd)) {
      try {
        await writeAsync(dfd, data, m.pos);
        return { seq: m.seq };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        slots.refuse(dfd); // the data is still in the slot: write it the ordinary way
      }
    }
    while (Atomics.compareExchange(writeLock, 0, 0, 1) !== 0) Atomics.wait(writeLock, 0, 1);
    try { writeFully(m.fd, data, m.pos); } finally { Atomics.store(writeLock, 0, 0); Atomics.notify(writeLock, 0, 1); }
    return { seq: m.seq };
  } catch (e) {
    return { seq: m.seq, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code };
  } finally {
    slots.give(slot);
  }
}

function release(): void {
  void filler?.close();
  filler = undefined;
  for (const fd of packFds.values()) closeSync(fd);
  packFds.clear();
  slots.forget();
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (m: EncodeReq | DecodeReq | RestoreReq | ReleaseReq | FillReq) => {
    if (m.op === 'encode') {
      let r: EncodeRes;
      try { r = encode(m); } catch (e) { r = { seq: m.seq, buf: m.buf, out: m.out, kind: 'data', error: (e as Error).message }; }
      port.postMessage(r, [r.buf, r.out]);
    } else if (m.op === 'decode') { const r = decode(m); port.postMessage(r, r.out ? [r.payload, r.out] : [r.payload]); }
    else if (m.op === 'restore') void restore(m).then((r) => port.postMessage(r));
    else if (m.op === 'fill') void fill(m).catch((e) => ({ seq: m.seq, error: (e as Error).message })).then((r) => port.postMessage(r));
    else { release(); port.postMessage({ seq: m.seq }); }
  });
}
