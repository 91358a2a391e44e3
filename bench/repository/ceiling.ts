// What this machine allows at most: a backup must read the whole image, SHA-256 every non-zero chunk
// (first and re-backups) and zstd-compress every new one (first backup). This measures reading the
// image from the page cache and hashing/compressing a sample of its own chunks, on all cores at once
// (cores slow each other down: measured 1.5× for zstd on this VM), and turns them into upper bounds on
// throughput. The only other cost counted is `startSecs`, what the caller measured for starting the
// command and opening the repository (a `repo ls`); index, pack writes and pipelining count as free.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { ZstdCompressor } from '../../backend/repository/zstd.ts';

const CHUNK = 1 << 20;

export interface Ceiling {
  startSecs: number; readSecs: number; hashMBps: number; hashZstdMBps: number; nonZeroBytes: number; firstBackupMBps: number; rebackupMBps: number; cores: number;
}

/** Chunk offsets of the image that are not all zero (the ones a backup hashes). */
function nonZeroChunks(image: string): { offsets: number[]; size: number } {
  const fd = openSync(image, 'r');
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(CHUNK);
  const zero = Buffer.alloc(CHUNK);
  const offsets: number[] = [];
  for (let pos = 0; pos < size; pos += CHUNK) {
    const n = readSync(fd, buf, 0, CHUNK, pos);
    if (!buf.subarray(0, n).equals(zero.subarray(0, n))) offsets.push(pos);
  }
  closeSync(fd);
  return { offsets, size };
}

function work(image: string, offsets: number[], compress: boolean | 'read'): number {
  const fd = openSync(image, 'r');
  if (compress === 'read') {
    const b = Buffer.alloc(CHUNK);
    const t0 = performance.now();
    for (const o of offsets) readSync(fd, b, 0, CHUNK, o);
    closeSync(fd);
    return (performance.now() - t0) / 1000;
  }
  const bufs = offsets.map((o) => { const b = Buffer.alloc(CHUNK); readSync(fd, b, 0, CHUNK, o); return b; });
  closeSync(fd);
  const z = new ZstdCompressor(2, CHUNK);
  const t0 = performance.now();
  for (const b of bufs) {
    createHash('sha256').update(b).digest();
    if (compress) z.compress(b);
  }
  return (performance.now() - t0) / 1000;
}

if (!isMainThread) {
  const { image, offsets, compress } = workerData as { image: string; offsets: number[]; compress: boolean | 'read' };
  parentPort!.postMessage(work(image, offsets, compress));
}

/** Runs the sample on every core at once; returns the wall seconds. */
async function parallel(image: string, sample: number[], compress: boolean | 'read', cores: number): Promise<number> {
  const secs = await Promise.all(Array.from({ length: cores }, (_, k) => new Promise<number>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { image, offsets: sample.filter((_, i) => i % cores === k), compress } });
    w.once('message', (s: number) => { resolve(s); void w.terminate(); });
    w.once('error', reject);
  })));
  return Math.max(...secs);
}

export async function measureCeiling(image: string, startSecs: number, sampleChunks = 384): Promise<Ceiling> {
  const { offsets, size } = nonZeroChunks(image);
  const step = Math.max(1, Math.floor(offsets.length / sampleChunks));
  const sample = offsets.filter((_, i) => i % step === 0).slice(0, sampleChunks);
  const cores = availableParallelism();
  const all = Array.from({ length: Math.ceil(size / CHUNK) }, (_, i) => i * CHUNK);
  const readSecs = await parallel(image, all, 'read', cores);
  const hashMBps = (sample.length * CHUNK) / (await parallel(image, sample, false, cores)) / 1e6;
  const hashZstdMBps = (sample.length * CHUNK) / (await parallel(image, sample, true, cores)) / 1e6;
  const nonZeroBytes = offsets.length * CHUNK;
  return {
    startSecs, readSecs, hashMBps, hashZstdMBps, nonZeroBytes, cores,
    firstBackupMBps: size / (startSecs + readSecs + nonZeroBytes / (hashZstdMBps * 1e6)) / 1e6,
    rebackupMBps: size / (startSecs + readSecs + nonZeroBytes / (hashMBps * 1e6)) / 1e6,
  };
}
