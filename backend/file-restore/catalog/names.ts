// The name dictionary of one VM's catalogs: every distinct lower-cased file name seen in any of its
// restore points, NUL-separated (no filesystem allows NUL in a name), append-only so ids stay stable.
// A search matches the glob once against these names (one regular-expression scan over the text),
// however many restore points there are; an exact name is one substring search. The id map that
// building needs is made only while a build interns names.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, ftruncateSync, writeSync } from 'node:fs';
import type { FileGlob } from './glob.ts';

export class NameDictionary {
  readonly #file: string;
  /** '\0' + every name followed by '\0'. */
  #text = '\0';
  /** Where each name starts in #text (its id is the index). */
  #starts: number[] = [];
  #loadedBytes = 0;
  #ids: Map<string, number> | undefined;
  #pending: string[] = [];

  constructor(file: string) { this.#file = file; }

  get size(): number { return this.#starts.length; }

  name(id: number): string | undefined {
    const s = this.#starts[id];
    return s === undefined ? undefined : this.#text.slice(s, this.#text.indexOf('\0', s));
  }

  /** Reads names appended since the last load (a build may have added some). */
  refresh(): this {
    if (!existsSync(this.#file)) return this;
    const fd = openSync(this.#file, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#loadedBytes) return this;
      const b = Buffer.allocUnsafe(size - this.#loadedBytes);
      let got = 0;
      while (got < b.length) { const n = readSync(fd, b, got, b.length - got, this.#loadedBytes + got); if (n <= 0) break; got += n; }
      const end = b.lastIndexOf(0, got - 1);
      // A name cut by a crash mid-append is dropped, so the next append starts clean.
      if (end < got - 1) ftruncateSync(fd, this.#loadedBytes + end + 1);
      if (end < 0) return this;
      this.#append(b.toString('utf8', 0, end + 1));
      this.#loadedBytes += end + 1;
    } finally { closeSync(fd); }
    return this;
  }

  /** Adds names given as "a\0b\0". */
  #append(chunk: string): void {
    const at = this.#text.length;
    this.#text += chunk;
    for (let i = chunk.indexOf('\0'), from = 0; i >= 0; from = i + 1, i = chunk.indexOf('\0', from)) {
      this.#starts.push(at + from);
      if (this.#ids) this.#ids.set(chunk.slice(from, i), this.#starts.length - 1);
    }
  }

  #idAt(start: number): number {
    let lo = 0, hi = this.#starts.length - 1;
    while (lo < hi) { const m = (lo + hi + 1) >>> 1; if (this.#starts[m]! <= start) lo = m; else hi = m - 1; }
    return lo;
  }

  idOf(lowerName: string): number | undefined {
    if (this.#ids) return this.#ids.get(lowerName);
    if (lowerName.includes('\0')) return undefined;
    const p = this.#text.indexOf(`\0${lowerName}\0`);
    return p < 0 ? undefined : this.#idAt(p + 1);
  }

  /** The name's id, adding it (written by flush()). */
  intern(lowerName: string): number {
    if (!this.#ids) {
      this.#ids = new Map();
      this.#starts.forEach((s, id) => this.#ids!.set(this.#text.slice(s, this.#text.indexOf('\0', s)), id));
    }
    const id = this.#ids.get(lowerName);
    if (id !== undefined) return id;
    if (lowerName.includes('\0')) throw new Error('a file name with a NUL character');
    this.#pending.push(lowerName);
    this.#append(`${lowerName}\0`);
    return this.#starts.length - 1;
  }

  /** Writes interned names durably (before any catalog that uses their ids) and drops the id map. */
  flush(): void {
    if (this.#pending.length) {
      const data = Buffer.from(this.#pending.map((n) => `${n}\0`).join(''), 'utf8');
      const fd = openSync(this.#file, 'a', 0o600);
      try { writeSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
      this.#loadedBytes += data.length;
      this.#pending = [];
    }
    this.#ids = undefined;
  }

  /** Sorted ids of the names a glob's name part matches. */
  match(glob: FileGlob): number[] {
    if (glob.exact !== undefined) {
      const id = this.idOf(glob.exact);
      return id === undefined ? [] : [id];
    }
    const out: number[] = [];
    const re = new RegExp(`\\0(?:${glob.nameSource})(?=\\0)`, 'gs');
    for (const m of this.#text.matchAll(re)) out.push(this.#idAt(m.index + 1));
    return out;
  }
}
