// Reads chunk records from pack files with positional reads, keeping a few file handles open.
import { open, type FileHandle } from 'node:fs/promises';
import { RECORD_HEADER, headerMatches, packPath, type ChunkEntry } from './format.ts';
import { damaged } from './errors.ts';

export class PackReader {
  #dir: string;
  #handles = new Map<string, Promise<FileHandle>>();
  #max: number;

  constructor(dir: string, maxOpen = 16) { this.#dir = dir; this.#max = maxOpen; }

  #handle(pack: string): Promise<FileHandle> {
    let h = this.#handles.get(pack);
    if (h) { this.#handles.delete(pack); this.#handles.set(pack, h); return h; }
    h = open(packPath(this.#dir, pack), 'r');
    h.catch(() => this.#handles.delete(pack));
    this.#handles.set(pack, h);
    if (this.#handles.size > this.#max) {
      const [k, old] = this.#handles.entries().next().value!;
      this.#handles.delete(k);
      old.then((f) => f.close()).catch(() => {});
    }
    return h;
  }

  /** Forgets a pack's handle (after GC deleted or replaced it). */
  forget(pack: string): void {
    const h = this.#handles.get(pack);
    this.#handles.delete(pack);
    h?.then((f) => f.close()).catch(() => {});
  }

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
  async readInto(id: Buffer, e: ChunkEntry, ab: ArrayBuffer): Promise<void> {
    if (ab.byteLength < RECORD_HEADER + e.length) throw damaged(`chunk ${id.toString('hex').slice(0, 16)}… has an impossible length ${e.length} in the index`);
    let fh: FileHandle;
    try { fh = await this.#handle(e.pack); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw damaged(`pack ${e.pack} is missing (chunk ${id.toString('hex').slice(0, 16)}…)`);
      throw err;
    }
    const b = Buffer.from(ab, 0, RECORD_HEADER + e.length);
    const { bytesRead } = await fh.read(b, 0, b.length, e.offset);
    if (bytesRead < b.length) throw damaged(`pack ${e.pack} is truncated: chunk ${id.toString('hex').slice(0, 16)}… at offset ${e.offset} needs ${b.length} bytes, ${bytesRead} present`);
    if (!headerMatches(b, id, e.length)) {
      throw damaged(`pack ${e.pack} has a bad record header at offset ${e.offset} (chunk ${id.toString('hex').slice(0, 16)}…)`);
    }
  }

  async close(): Promise<void> {
    const hs = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(hs.map(async (h) => (await h).close()));
  }
}
