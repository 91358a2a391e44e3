// What changed between two restore points of a VM, from their catalogs: files added, removed,
// changed (size or modification time) and renamed (same file id and size on the same volume, another
// path), grouped by folder with byte totals. Volumes are matched by id (disk key + partition).
import { compareEntries, type CatalogEntry } from './format.ts';

export interface FileRef { volume: string; path: string; size: number; mtime?: number; entropy?: number }
export interface ChangedFile { volume: string; path: string; before: { size: number; mtime?: number; entropy?: number }; after: { size: number; mtime?: number; entropy?: number } }
export interface RenamedFile { volume: string; from: string; to: string; size: number; mtime?: number; entropy?: number; entropyBefore?: number }

export interface FolderChanges {
  volume: string;
  folder: string;
  added: number; removed: number; changed: number; renamed: number;
  addedBytes: number; removedBytes: number;
  /** Size after minus size before of the changed files. */
  changedBytes: number;
}

export interface CatalogDiff {
  added: FileRef[];
  removed: FileRef[];
  changed: ChangedFile[];
  renamed: RenamedFile[];
  folders: FolderChanges[];
  totals: { added: number; removed: number; changed: number; renamed: number; addedBytes: number; removedBytes: number; changedBytes: number };
}

export interface DiffSide { volumes: { id: string }[]; entries: Iterable<CatalogEntry> }

const dirOf = (p: string): string => { const i = p.lastIndexOf('/'); return i < 0 ? '' : p.slice(0, i); };
const ref = (v: string, e: CatalogEntry): FileRef => ({ volume: v, path: e.path, size: e.size, ...(e.mtime !== undefined ? { mtime: e.mtime } : {}), ...(e.entropy !== undefined ? { entropy: e.entropy } : {}) });

/** Files only (directories, links and others are structure, not content). */
function files(side: DiffSide): { volume: string; e: CatalogEntry }[] {
  const out: { volume: string; e: CatalogEntry }[] = [];
  for (const e of side.entries) {
    if (e.type !== 'file') continue;
    const volume = side.volumes[e.volume]?.id ?? String(e.volume);
    out.push({ volume, e });
  }
  return out.sort((a, b) => (a.volume < b.volume ? -1 : a.volume > b.volume ? 1 : compareEntries(a.e, b.e)));
}

export function diffCatalogs(before: DiffSide, after: DiffSide): CatalogDiff {
  const a = files(before);
  const b = files(after);
  const added: { volume: string; e: CatalogEntry }[] = [];
  const removed: { volume: string; e: CatalogEntry }[] = [];
  const changed: ChangedFile[] = [];
  let i = 0, j = 0;
  const cmp = (x: { volume: string; e: CatalogEntry }, y: { volume: string; e: CatalogEntry }) =>
    (x.volume < y.volume ? -1 : x.volume > y.volume ? 1 : x.e.path < y.e.path ? -1 : x.e.path > y.e.path ? 1 : 0);
  while (i < a.length || j < b.length) {
    const c = i >= a.length ? 1 : j >= b.length ? -1 : cmp(a[i]!, b[j]!);
    if (c < 0) removed.push(a[i++]!);
    else if (c > 0) added.push(b[j++]!);
    else {
      const x = a[i++]!.e, y = b[j++]!;
      if (x.size !== y.e.size || x.mtime !== y.e.mtime) {
        changed.push({
          volume: y.volume, path: y.e.path,
          before: { size: x.size, ...(x.mtime !== undefined ? { mtime: x.mtime } : {}), ...(x.entropy !== undefined ? { entropy: x.entropy } : {}) },
          after: { size: y.e.size, ...(y.e.mtime !== undefined ? { mtime: y.e.mtime } : {}), ...(y.e.entropy !== undefined ? { entropy: y.e.entropy } : {}) },
        });
      }
    }
  }
  // Renamed: a removed and an added file with the same id and size on the same volume.
  const gone = new Map<string, { volume: string; e: CatalogEntry }[]>();
  for (const r of removed) { const k = `${r.volume}\0${r.e.fileId}\0${r.e.size}`; (gone.get(k) ?? gone.set(k, []).get(k)!).push(r); }
  const renamed: RenamedFile[] = [];
  const renamedFrom = new Set<{ volume: string; e: CatalogEntry }>();
  const stillAdded = added.filter((n) => {
    const list = gone.get(`${n.volume}\0${n.e.fileId}\0${n.e.size}`);
    const r = list?.shift();
    if (!r) return true;
    renamedFrom.add(r);
    renamed.push({
      volume: n.volume, from: r.e.path, to: n.e.path, size: n.e.size, ...(n.e.mtime !== undefined ? { mtime: n.e.mtime } : {}),
      ...(n.e.entropy !== undefined ? { entropy: n.e.entropy } : {}), ...(r.e.entropy !== undefined ? { entropyBefore: r.e.entropy } : {}),
    });
    return false;
  });
  const stillRemoved = removed.filter((r) => !renamedFrom.has(r));

  const folders = new Map<string, FolderChanges>();
  const folder = (volume: string, path: string): FolderChanges => {
    const f = dirOf(path);
    const k = `${volume}\0${f}`;
    return folders.get(k) ?? folders.set(k, { volume, folder: f, added: 0, removed: 0, changed: 0, renamed: 0, addedBytes: 0, removedBytes: 0, changedBytes: 0 }).get(k)!;
  };
  for (const n of stillAdded) { const f = folder(n.volume, n.e.path); f.added++; f.addedBytes += n.e.size; }
  for (const r of stillRemoved) { const f = folder(r.volume, r.e.path); f.removed++; f.removedBytes += r.e.size; }
  for (const c of changed) { const f = folder(c.volume, c.path); f.changed++; f.changedBytes += c.after.size - c.before.size; }
  for (const r of renamed) folder(r.volume, r.to).renamed++;
  const sum = (k: keyof FolderChanges) => [...folders.values()].reduce((n, f) => n + (f[k] as number), 0);
  return {
    added: stillAdded.map((n) => ref(n.volume, n.e)),
    removed: stillRemoved.map((r) => ref(r.volume, r.e)),
    changed, renamed,
    folders: [...folders.values()].sort((x, y) => (x.volume < y.volume ? -1 : x.volume > y.volume ? 1 : x.folder < y.folder ? -1 : x.folder > y.folder ? 1 : 0)),
    totals: {
      added: stillAdded.length, removed: stillRemoved.length, changed: changed.length, renamed: renamed.length,
      addedBytes: sum('addedBytes'), removedBytes: sum('removedBytes'), changedBytes: sum('changedBytes'),
    },
  };
}
