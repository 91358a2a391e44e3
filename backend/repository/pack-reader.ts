// Reads chunk records from packs through the repository's storage (which keeps read handles open).
import { RECORD_HEADER, headerMatches, packName, type ChunkEntry } from './format.ts';
import { damaged } from './errors.ts';
import { isNotFound, type Storage } from './storage/storage.ts';

export class PackReader {
  #storage: Storage;

  constructor(storage: Storage) { this.#storage = storage; }

  /**
   * Reads one record's payload into a fresh ArrayBuffer (transferable to a worker) and checks the
   * record header against the index entry. Missing or short packs give a clear EDAMAGED error.
   */
  async read(id: Buffer, e: ChunkEntry): Promise<ArrayBuffer> {
    const ab = new ArrayBuffer(RECORD_HEADER + e.length);
    await this.readInto(id, e, ab);
    return ab.slice(RECORD_HEADER);
  }

  /** Reads header + payload into `ab` (payload at RECORD_HEADER) and checks the header. */
  async readInto(id: Buffer | Uint8Array, e: ChunkEntry, ab: ArrayBuffer): Promise<void> {
    await readRecord(this.#storage, id, e, ab);
  }

  /** Nothing to release: the storage owns the handles (kept for callers of the old API). */
  async close(): Promise<void> {}
}

/** Reads a record (header + payload, payload at RECORD_HEADER of `ab`) and checks its header; EDAMAGED if missing, short or wrong. */
export async function readRecord(storage: Storage, id: Buffer | Uint8Array, e: ChunkEntry, ab: ArrayBuffer): Promise<void> {
  const hex = () => Buffer.from(id).toString('hex').slice(0, 16);
  if (ab.byteLength < RECORD_HEADER + e.length) throw damaged(`chunk ${hex()}… has an impossible length ${e.length} in the index`);
  const b = Buffer.from(ab, 0, RECORD_HEADER + e.length);
  let got: number;
  try { got = await storage.readInto(packName(e.pack), e.offset, b); } catch (err) {
    if (isNotFound(err)) throw damaged(`pack ${e.pack} is missing (chunk ${hex()}…)`);
    throw err;
  }
  if (got < b.length) throw damaged(`pack ${e.pack} is truncated: chunk ${hex()}… at offset ${e.offset} needs ${b.length} bytes, ${got} present`);
  if (!headerMatches(b, id, e.length)) {
    throw damaged(`pack ${e.pack} has a bad record header at offset ${e.offset} (chunk ${hex()}…)`);
  }
}
