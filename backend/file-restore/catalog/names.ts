// The name dictionary of one VM's catalogs: every distinct lower-cased file name seen in any of its
// restore points, NUL-separated (no filesystem allows NUL in a name), append-only so ids stay stable.
// A glob is matched against these names once per search, however many restore points there are.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, ftruncateSync, writeSync } from 'node:fs';
import type { FileGlob } from './glob.ts';

export class NameDictionary {
  readonly #file: string;
  readonly names: string[] = [];
  readonly #ids = new Map<string, number>();
  #loadedBytes = 0;
  #pending: string[] = [];

  constructor(file: string) { this.#file = file; }

  get size(): number { return this.names.length; }

  /** Reads names appended since the last load (another build may have added some). */
  refresh(): this {
    if (!existsSync(this.#file)) return this;
    const fd = openSync(this.#file, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#loadedBytes) return this;
      const b = Buffer.alloc(size - this.#loadedBytes);
      let got = 0;
      while (got < b.length) { const n = readSync(fd, b, got, b.length - got, this.#loadedBytes + got); if (n <= 0) break; got += n; }
      const end = b.lastIndexOf(0, got - 1);
      // A name cut by a crash mid-append is dropped, so the next append starts clean.
      if (end < got - 1) ftruncateSync(fd, this.#loadedBytes + end + 1);
      if (end < 0) return this;
      for (const name of b.toString('utf8', 0, end).split('\0')) this.#add(name);
      this.#loadedBytes += end + 1;
    } finally { closeSync(fd); }
    return this;
  }

  #add(name: string): number {
    const id = this.names.length;
    this.names.push(name);
    this.#ids.set(name, id);
    return id;
  }

  idOf(lowerName: string): number | undefined { return this.#ids.get(lowerName); }

  /** The name's id, adding it (written by flush()). */
  intern(lowerName: string): number {
    const id = this.#ids.get(lowerName);
    if (id !== undefined) return id;
    this.#pending.push(lowerName);
    return this.#add(lowerName);
  }

  /** Writes interned names durably: before any catalog that uses their ids. */
  flush(): void {
    if (!this.#pending.length) return;
    const data = Buffer.from(this.#pending.map((n) => `${n}\0`).join(''), 'utf8');
    const fd = openSync(this.#file, 'a', 0o600);
    try { writeSync(fd, data); fsyncSync(fd); } finally { closeSync(fd); }
    this.#loadedBytes += data.length;
    this.#pending = [];
  }

  /** Sorted ids of the names a glob's name part matches. */
  match(glob: FileGlob): number[] {
    if (glob.exact !== undefined) {
      const id = this.#ids.get(glob.exact);
      return id === undefined ? [] : [id];
    }
    const out: number[] = [];
    for (let i = 0; i < this.names.length; i++) if (glob.name.test(this.names[i]!)) out.push(i);
    return out;
  }
}
