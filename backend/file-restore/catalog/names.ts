// The name dictionary of one VM's catalogs: every distinct lower-cased file name seen in any of its
// restore points, NUL-separated (no filesystem allows NUL in a name), append-only so ids stay stable.
// A search matches the glob once against these names (one regular-expression scan over the text),
// however many restore points there are; an exact name is one byte search.
//
// Loading is one read into one Buffer: a search must not pay for 100,000 names turned into objects.
// The name offsets (a Uint32Array), the decoded text (for a glob) and the id map (for a build) are
// made only when something needs them; an exact name's id is the count of NULs before it.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, ftruncateSync, writeSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import type { FileGlob } from './glob.ts';

export class NameDictionary {
  readonly #file: string;
  /** NUL + every name followed by NUL (the file's bytes behind a leading NUL). */
  #bytes: Buffer = Buffer.from([0]);
  /** Names in #bytes (counted on first use). */
  #count: number | undefined = 0;
  /** Where each name starts in #bytes (its id is the index), made on first use. */
  #starts: Uint32Array | undefined;
  /** #bytes decoded, for a glob; #ascii: string offsets are byte offsets. */
  #text: string | undefined;
  #ascii = true;
  #loadedBytes = 0;
  #ids: Map<string, number> | undefined;
  /** Interned, not yet flushed: ids from this.#names() on. */
  #pending: string[] = [];

  constructor(file: string) { this.#file = file; }

  #names(): number {
    if (this.#count === undefined) {
      const b = this.#bytes;
      let n = 0;
      for (let i = b.length - 1; i > 0; i--) if (b[i] === 0) n++;
      this.#count = n;
    }
    return this.#count;
  }

  get size(): number { return this.#names() + this.#pending.length; }

  #offsets(): Uint32Array {
    if (!this.#starts) {
      const b = this.#bytes;
      const s = new Uint32Array(this.#names());
      let k = 0;
      for (let i = 0, end = b.length - 1; i < end; i++) if (b[i] === 0) s[k++] = i + 1;
      this.#starts = s;
    }
    return this.#starts;
  }

  name(id: number): string | undefined {
    const n = this.#names();
    if (id >= n) return this.#pending[id - n];
    const s = this.#offsets()[id];
    return s === undefined ? undefined : this.#bytes.toString('utf8', s, this.#bytes.indexOf(0, s));
  }

  /** Reads names appended since the last load (a build may have added some). */
  refresh(): this {
    if (!existsSync(this.#file)) return this;
    const fd = openSync(this.#file, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#loadedBytes) return this;
      // The first load reads straight behind the leading NUL (no copy of a large dictionary).
      const first = this.#loadedBytes === 0 && this.#bytes.length === 1 && !this.#ids;
      const lead = first ? 1 : 0;
      const b = Buffer.allocUnsafe(lead + size - this.#loadedBytes);
      b[0] = 0;
      let got = 0;
      while (got < b.length - lead) { const n = readSync(fd, b, lead + got, b.length - lead - got, this.#loadedBytes + got); if (n <= 0) break; got += n; }
      const end = got ? b.lastIndexOf(0, lead + got - 1) - lead : -1;
      // A name cut by a crash mid-append is dropped, so the next append starts clean.
      if (end < got - 1) ftruncateSync(fd, this.#loadedBytes + end + 1);
      if (end < 0) return this;
      if (first) {
        this.#bytes = b.subarray(0, end + 2);
        this.#count = undefined;
        this.#starts = undefined;
        this.#text = undefined;
      } else this.#appendBytes(b.subarray(0, end + 1));
      this.#loadedBytes += end + 1;
    } finally { closeSync(fd); }
    return this;
  }

  /** Adds names given as "a\0b\0" (after any pending ones: only flush() and refresh() call it). */
  #appendBytes(chunk: Buffer): void {
    this.#bytes = Buffer.concat([this.#bytes, chunk]);
    if (this.#ids) {
      let id = this.#names();
      for (let from = 0, i = chunk.indexOf(0); i >= 0; from = i + 1, i = chunk.indexOf(0, from)) {
        const n = chunk.toString('utf8', from, i);
        if (!this.#ids.has(n)) this.#ids.set(n, id);
        id++;
      }
    }
    this.#count = undefined;
    this.#starts = undefined;
    this.#text = undefined;
  }

  /** The id of the name starting at byte `start` of #bytes: the NULs before it. */
  #idAtByte(start: number): number {
    const b = this.#bytes;
    let n = 0;
    for (let i = 1; i < start; i++) if (b[i] === 0) n++;
    return n;
  }

  idOf(lowerName: string): number | undefined {
    if (this.#ids) return this.#ids.get(lowerName);
    if (lowerName.includes('\0')) return undefined;
    const p = this.#bytes.indexOf(Buffer.from(`\0${lowerName}\0`, 'utf8'));
    return p < 0 ? undefined : this.#idAtByte(p + 1);
  }

  /** The name's id, adding it (written by flush()). */
  intern(lowerName: string): number {
    if (!this.#ids) {
      const ids = new Map<string, number>();
      const b = this.#bytes;
      let id = 0;
      for (let from = 1, i = b.indexOf(0, 1); i >= 0; from = i + 1, i = b.indexOf(0, from)) ids.set(b.toString('utf8', from, i), id++);
      this.#count = id;
      this.#pending.forEach((n, k) => ids.set(n, id + k));
      this.#ids = ids;
    }
    const id = this.#ids.get(lowerName);
    if (id !== undefined) return id;
    if (lowerName.includes('\0')) throw new Error('a file name with a NUL character');
    this.#pending.push(lowerName);
    const next = this.size - 1;
    this.#ids.set(lowerName, next);
    return next;
  }

  /** Writes interned names durably (before any catalog that uses their ids); drops the id map unless a build still interns. */
  flush(keepIds = false): void {
    if (this.#pending.length) {
      const data = Buffer.from(`${this.#pending.join('\0')}\0`, 'utf8');
      const fd = openSync(this.#file, 'a', 0o600);
      try { writeSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
      this.#pending = [];
      const ids = this.#ids;
      this.#ids = undefined;
      this.#appendBytes(data);
      this.#ids = ids;
      this.#loadedBytes += data.length;
    }
    if (!keepIds) this.#ids = undefined;
  }

  /** Sorted ids of the names a glob's name part matches. */
  match(glob: FileGlob): number[] {
    if (glob.exact !== undefined) {
      const id = this.idOf(glob.exact);
      return id === undefined ? [] : [id];
    }
    if (this.#text === undefined) {
      this.#ascii = isAscii(this.#bytes);
      this.#text = this.#bytes.toString(this.#ascii ? 'latin1' : 'utf8');
    }
    const text = this.#text;
    const out: number[] = [];
    const re = new RegExp(`\\0(?:${glob.nameSource})(?=\\0)`, 'gs');
    if (this.#ascii) {
      const starts = this.#offsets();
      for (const m of text.matchAll(re)) {
        const at = m.index + 1;
        let lo = 0, hi = starts.length - 1;
        while (lo < hi) { const k = (lo + hi + 1) >>> 1; if (starts[k]! <= at) lo = k; else hi = k - 1; }
        out.push(lo);
      }
    } else {
      // String offsets differ from byte offsets: count NULs from one match to the next.
      let id = 0, pos = 0;
      for (const m of text.matchAll(re)) {
        for (let i = text.indexOf('\0', pos + 1); i >= 0 && i <= m.index; i = text.indexOf('\0', i + 1)) { id++; pos = i; }
        out.push(id);
      }
    }
    const n = this.#names();
    const one = new RegExp(`^(?:${glob.nameSource})$`, 's');
    this.#pending.forEach((name, k) => { if (one.test(name)) out.push(n + k); });
    return out;
  }
}
