// Where catalogs live: <dataDir>/catalogs/<vm>/<rpId>.spcat, the VM's name dictionary beside them,
// and <rpId>.failed.json when a build failed. Browsing and cataloguing never write into the
// repository. Open catalog files (header and postings) are cached: they never change once written.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogFile } from './format.ts';
import { NameDictionary } from './names.ts';

const RP_ID = /^rp-[0-9A-Za-z-]{1,64}$/;
const CACHED_FILES = 256;

export interface BuildFailure { at: string; message: string }

/** A folder name for a (site-qualified) VM id: letters, digits and '-' kept, anything else hex-escaped. */
export function vmFolder(vmId: string): string {
  return vmId.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class CatalogStore {
  readonly dir: string;
  readonly #names = new Map<string, NameDictionary>();
  readonly #files = new Map<string, CatalogFile>();

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'catalogs');
  }

  #vmDir(vmId: string, create = false): string {
    const d = join(this.dir, vmFolder(vmId));
    if (create) mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  path(vmId: string, rpId: string): string {
    if (!RP_ID.test(rpId)) throw new Error(`'${rpId}' is not a restore point id`);
    return join(this.#vmDir(vmId), `${rpId}.spcat`);
  }

  /** For a build: the VM folder exists afterwards. */
  pathForWrite(vmId: string, rpId: string): string {
    this.#vmDir(vmId, true);
    return this.path(vmId, rpId);
  }

  has(vmId: string, rpId: string): boolean { return existsSync(this.path(vmId, rpId)); }

  /** The catalog, or undefined when none has been built. */
  open(vmId: string, rpId: string): CatalogFile | undefined {
    const p = this.path(vmId, rpId);
    if (!existsSync(p)) { this.#files.delete(p); return undefined; }
    const hit = this.#files.get(p);
    if (hit) { this.#files.delete(p); this.#files.set(p, hit); return hit; }
    const f = new CatalogFile(p);
    this.#files.set(p, f);
    if (this.#files.size > CACHED_FILES) this.#files.delete(this.#files.keys().next().value!);
    return f;
  }

  names(vmId: string): NameDictionary {
    let d = this.#names.get(vmId);
    if (!d) { d = new NameDictionary(join(this.#vmDir(vmId, true), 'names.bin')); this.#names.set(vmId, d); }
    return d.refresh();
  }

  failure(vmId: string, rpId: string): BuildFailure | undefined {
    try { return JSON.parse(readFileSync(this.path(vmId, rpId).replace(/\.spcat$/, '.failed.json'), 'utf8')) as BuildFailure; } catch { return undefined; }
  }

  recordFailure(vmId: string, rpId: string, message: string): void {
    writeFileSync(this.pathForWrite(vmId, rpId).replace(/\.spcat$/, '.failed.json'), JSON.stringify({ at: new Date().toISOString(), message } satisfies BuildFailure), { mode: 0o600 });
  }

  clearFailure(vmId: string, rpId: string): void {
    rmSync(this.path(vmId, rpId).replace(/\.spcat$/, '.failed.json'), { force: true });
  }

  /** Removes the catalog of one restore point (and its recorded failure); true when there was one. */
  remove(vmId: string, rpId: string): boolean {
    const p = this.path(vmId, rpId);
    const had = existsSync(p);
    rmSync(p, { force: true });
    rmSync(p.replace(/\.spcat$/, '.failed.json'), { force: true });
    this.#files.delete(p);
    return had;
  }

  /** Removes catalogs (and failure records) of restore points not in `keep`, in every VM's folder; the catalogs removed. */
  pruneAll(keep: Set<string>): number {
    let n = 0;
    let folders: string[];
    try { folders = readdirSync(this.dir); } catch { return 0; }
    for (const folder of folders) {
      let names: string[];
      try { names = readdirSync(join(this.dir, folder)); } catch { continue; }
      for (const f of names) {
        const m = /^(rp-[0-9A-Za-z-]+)\.(spcat|failed\.json)$/.exec(f);
        if (m && !keep.has(m[1]!)) { rmSync(join(this.dir, folder, f), { force: true }); this.#files.delete(join(this.dir, folder, f)); if (m[2] === 'spcat') n++; }
      }
    }
    return n;
  }

  /** Removes catalogs of restore points that no longer exist (retention, deletion). */
  prune(vmId: string, keep: Set<string>): number {
    let n = 0;
    let names: string[];
    try { names = readdirSync(this.#vmDir(vmId)); } catch { return 0; }
    for (const f of names) {
      const m = /^(rp-[0-9A-Za-z-]+)\.(spcat|failed\.json)$/.exec(f);
      if (m && !keep.has(m[1]!)) { rmSync(join(this.#vmDir(vmId), f), { force: true }); this.#files.delete(join(this.#vmDir(vmId), f)); n++; }
    }
    return n;
  }
}
