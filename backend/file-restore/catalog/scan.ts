// Cataloguing one volume, run inside an isolated worker (file-restore/isolation.ts): guest bytes are
// parsed with a time and heap bound. Opens the restore point's disk from its descriptor (no index, no
// lock), recognises the filesystem, records what it says about its own consistency, lists every
// entry (NTFS: one linear pass over $MFT into columns; others: the walk), sorts them by path, and
// samples the content of new or changed files for entropy (the mass-encryption check) — and of the
// previous point's version of a changed file when the previous catalog has no sample of it.
// The result goes back in columns (typed arrays and one array of paths): one message, no object per entry.
import { DiskImage, type DiskImageDescriptor } from '../../repository/disk-image.ts';
import { openFileSystem, type FileSystem, type FsConsistency, type FsTable, type FsType, type TableFeed } from '../../filesystems/filesystem.ts';
import { openVolumes } from '../../volumes/volumes.ts';
import type { ReadAt } from '../../filesystems/types.ts';
import { CatalogFile } from './format.ts';
import { Transfer } from '../transfer.ts';
import { entropyCode, MIN_SAMPLED_SIZE, SAMPLE_BYTES } from './entropy.ts';

type Disks = { key: string; label: string; image: DiskImageDescriptor }[];

export interface ScanRequest {
  /** Every disk of the restore point (a logical volume may span several). */
  disks: Disks;
  /** The volume to catalogue (volumes/volumes.ts id: "2000", "2000-p1", "lvm-vg-lv"). */
  volumeId: string;
  /**
   * The previous point's catalog and this volume's index in it: unchanged files keep their sample;
   * with its disks, a changed file whose earlier version has no sample gets one from them.
   */
  previous?: { file: string; volume: number; disks?: Disks };
  /** Sample new and changed files (default true). */
  sample?: boolean;
  maxEntries?: number;
  /** At most this many files sampled per volume (default MAX_SAMPLES). */
  maxSamples?: number;
}

/** A volume's entries sorted by path, in columns: entry i is (paths[i], types[i], …). */
export interface ScanColumns {
  count: number;
  paths: string[];
  /** format.ts type index: 0 file, 1 dir, 2 symlink, 3 other. */
  types: Uint8Array;
  sizes: Float64Array;
  /** ms since 1970; NaN: none. */
  mtimes: Float64Array;
  fileIds: Float64Array;
  /** Entropy code (entropy.ts); -1: not sampled. */
  entropy: Int16Array;
}

export interface ScanResult {
  fsType?: FsType;
  label?: string;
  consistency?: FsConsistency;
  table: ScanColumns;
  sampled: number;
  /** Changed files whose previous version had no sample in the previous catalog: sampled from the previous point. */
  before: { path: string; entropy: number }[];
  /** The walk stopped at maxEntries. */
  truncated?: boolean;
}

const DEFAULT_MAX_ENTRIES = 5_000_000;
/** Each sample may decode its own chunk of the disk (~3 ms): 1,000 keep a build's sampling to seconds. */
export const MAX_SAMPLES = 1000;

const TYPE_CODE: Record<string, number> = { file: 0, dir: 1, symlink: 2 };

/** The walk's entries as a table (filesystems without scanTable). */
async function walkTable(fs: FileSystem, limit: number): Promise<FsTable> {
  const paths: string[] = [], types: number[] = [], sizes: number[] = [], mtimes: number[] = [], inodes: number[] = [], refs: string[] = [];
  let truncated = false;
  for await (const { path, entry } of fs.scan ? fs.scan() : fs.walk()) {
    if (paths.length >= limit) { truncated = true; break; }
    paths.push(path);
    types.push(TYPE_CODE[entry.type] ?? 3);
    sizes.push(entry.size);
    mtimes.push(entry.mtime ? Date.parse(entry.mtime) : NaN);
    inodes.push(entry.inode);
    refs.push(entry.ref);
  }
  return {
    count: paths.length, paths, types: Uint8Array.from(types), sizes: Float64Array.from(sizes), mtimes: Float64Array.from(mtimes),
    inodes: Float64Array.from(inodes), truncated, ref: (i) => refs[i]!,
  };
}

/** A disk image as a ReadAt, reading into the caller's buffer where the image can. */
function diskReader(img: DiskImage): ReadAt {
  const into = (img as DiskImage & { readInto?(offset: number, out: Uint8Array): Promise<number> }).readInto;
  return { size: img.capacity, readAt: (o, n) => img.readAt(o, n), ...(into ? { readInto: (o: number, out: Uint8Array) => into.call(img, o, out) } : {}) };
}

async function openVolume(disks: Disks, volumeId: string): Promise<{ fs: FileSystem | undefined; close(): Promise<void> }> {
  const images = disks.map((d) => ({ ...d, img: DiskImage.fromDescriptor(d.image, { cacheBytes: 32 << 20, verify: false }) }));
  const close = async () => { await Promise.all(images.map((d) => d.img.close())); };
  try {
    const volumes = await openVolumes(images.map((d) => ({ key: d.key, label: d.label, reader: diskReader(d.img) })));
    const vol = volumes.find((v) => v.id === volumeId);
    if (!vol) throw new Error(`volume ${volumeId} is not on the restore point's disks any more`);
    return { fs: await openFileSystem(vol.reader), close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function sample(fs: FileSystem, ref: string, size: number): Promise<number> {
  const head = await fs.read(ref, 0, SAMPLE_BYTES);
  const tail = size > 2 * SAMPLE_BYTES ? await fs.read(ref, size - SAMPLE_BYTES, SAMPLE_BYTES) : undefined;
  return entropyCode(head, tail);
}

/** A volume opened for a scan: its filesystem, what it says about itself, the table fed by the caller (NTFS $MFT). */
interface OpenScan {
  req: ScanRequest;
  fs: FileSystem | undefined;
  close(): Promise<void>;
  consistency?: FsConsistency;
  label: string;
  feed?: TableFeed;
}

async function openScan(req: ScanRequest, withFeed: boolean): Promise<OpenScan> {
  const { fs, close } = await openVolume(req.disks, req.volumeId);
  try {
    if (!fs) return { req, fs, close, label: '' };
    const consistency = await fs.consistency();
    const label = await fs.label().catch(() => '');
    const feed = withFeed ? fs.tableFeed?.() : undefined;
    return { req, fs, close, consistency, label, ...(feed ? { feed } : {}) };
  } catch (e) {
    await close();
    throw e;
  }
}

const EMPTY: ScanColumns = { count: 0, paths: [], types: new Uint8Array(0), sizes: new Float64Array(0), mtimes: new Float64Array(0), fileIds: new Float64Array(0), entropy: new Int16Array(0) };

/** The volume's table (fed, or read here), sorted by path, sampled; closes the volume. */
async function finishScan(o: OpenScan, fed: boolean): Promise<ScanResult> {
  const { req, fs } = o;
  let previous: Awaited<ReturnType<typeof openVolume>> | undefined;
  try {
    if (!fs) return { table: EMPTY, sampled: 0, before: [] };
    const max = req.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const t = fed && o.feed ? o.feed.finish(max) : fs.scanTable ? await fs.scanTable(max) : await walkTable(fs, max);
    // Sorted by path (code units, as the catalog orders entries); equal paths keep the scan's order.
    const order = Array.from({ length: t.count }, (_, i) => i);
    const paths = t.paths;
    order.sort((a, b) => { const x = paths[a]!, y = paths[b]!; return x < y ? -1 : x > y ? 1 : a - b; });
    const n = t.count;
    const table: ScanColumns = {
      count: n, paths: new Array<string>(n), types: new Uint8Array(n), sizes: new Float64Array(n), mtimes: new Float64Array(n), fileIds: new Float64Array(n), entropy: new Int16Array(n).fill(-1),
    };
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      table.paths[k] = paths[i]!; table.types[k] = t.types[i]!; table.sizes[k] = t.sizes[i]!; table.mtimes[k] = t.mtimes[i]!; table.fileIds[k] = t.inodes[i]!;
    }
    // Sampling serves only the mass-encryption check, which compares with the previous point: nothing
    // is sampled without one; with one, only new and changed files, at most MAX_SAMPLES of them chosen
    // evenly over the volume (mass-encryption.ts extrapolates the share of the unsampled ones).
    let sampled = 0;
    const before: ScanResult['before'] = [];
    if (req.sample !== false && req.previous) {
      // The previous catalog's files of this volume, sorted by path as ours are: one merge.
      const candidates: { k: number; prevEntropy: number | null | undefined }[] = [];
      const prev = new CatalogFile(req.previous.file).rows();
      let p = prev.next();
      const vol = req.previous.volume;
      for (let k = 0; k < n; k++) {
        if (table.types[k] !== 0 || table.sizes[k]! < MIN_SAMPLED_SIZE) continue;
        const path = table.paths[k]!;
        while (!p.done && (p.value[0] < vol || (p.value[0] === vol && (p.value[2] !== 0 || p.value[1] < path)))) p = prev.next();
        const r = !p.done && p.value[0] === vol && p.value[1] === path ? p.value : undefined;
        const mtime = table.mtimes[k]!;
        if (r && r[3] === table.sizes[k] && (r[4] ?? NaN) === mtime) { if (r[6] !== null) table.entropy[k] = r[6]; }
        else if (r && r[3] === table.sizes[k] && r[4] === null && mtime !== mtime) { if (r[6] !== null) table.entropy[k] = r[6]; }
        else candidates.push({ k, prevEntropy: r ? r[6] : undefined });
      }
      const limit = req.maxSamples ?? MAX_SAMPLES;
      const step = candidates.length > limit ? candidates.length / limit : 1;
      for (let s = 0, m = Math.min(limit, candidates.length); s < m; s++) {
        const c = candidates[Math.floor(s * step)]!;
        const path = table.paths[c.k]!;
        try {
          table.entropy[c.k] = await sample(fs, t.ref(order[c.k]!), table.sizes[c.k]!);
          sampled++;
        } catch { continue; /* unreadable content: listed without a sample */ }
        // A changed file whose earlier version was never sampled: read that version from the previous point.
        if (c.prevEntropy === null && req.previous.disks) {
          try {
            previous ??= await openVolume(req.previous.disks, req.volumeId);
            if (!previous.fs) continue;
            const e = await previous.fs.lookup(path);
            if (e.type === 'file') before.push({ path, entropy: await sample(previous.fs, e.ref, e.size) });
          } catch { /* gone or unreadable there: the comparison does not count it */ }
        }
      }
    }
    return { fsType: fs.type, ...(o.label ? { label: o.label } : {}), ...(o.consistency ? { consistency: o.consistency } : {}), table, sampled, before, ...(t.truncated ? { truncated: true } : {}) };
  } finally {
    await o.close();
    await previous?.close();
  }
}


/** ScanResult as it crosses threads: the paths as one string and where each ends (one copy, not one per path). */
export type PackedScan = Omit<ScanResult, 'table'> & { table: Omit<ScanColumns, 'paths'> & { text: string; ends: Uint32Array } };

function pack(r: ScanResult): Transfer<PackedScan> {
  const { paths, ...columns } = r.table;
  const ends = new Uint32Array(paths.length);
  let at = 0;
  for (let i = 0; i < paths.length; i++) ends[i] = at += paths[i]!.length;
  const table = { ...columns, text: paths.join(''), ends };
  return new Transfer({ ...r, table }, [ends, table.types, table.sizes, table.mtimes, table.fileIds, table.entropy].map((a) => a.buffer as ArrayBuffer));
}

/** The paths back as strings (slices of the one string). */
export function unpack(p: PackedScan): ScanResult {
  const { text, ends, ...columns } = p.table;
  const paths = new Array<string>(ends.length);
  for (let i = 0, from = 0; i < ends.length; i++) { paths[i] = text.slice(from, ends[i]); from = ends[i]!; }
  return { ...p, table: { ...columns, paths } };
}

/**
 * The isolated worker's face (isolation.ts, a long-lived worker): started when a build starts, so its
 * modules load while the build opens the disks; then per volume open(), feed() when open() asked
 * for bytes, and finish().
 */
export function catalogScanner() {
  let cur: OpenScan | undefined;
  const drop = async () => { const c = cur; cur = undefined; await c?.close(); };
  return {
    ready: () => true,
    /**
     * Opens a volume; where its filesystem can be fed (NTFS), says which volume bytes to feed: the
     * caller reads them (its reads decode on the repository's threads while this one parses).
     */
    open: async (req: ScanRequest): Promise<FeedPlan | null> => {
      await drop();
      cur = await openScan(req, true);
      const f = cur.feed;
      return f ? { unit: f.unit, units: f.units, extents: f.extents } : null;
    },
    /** Parses a piece; its buffer goes back to the caller to be read into again (nothing here keeps it). */
    feed: async (bytes: Uint8Array, first: number, n: number): Promise<Transfer<Uint8Array>> => {
      if (!cur?.feed) throw new Error('no volume is open to feed');
      await cur.feed.feed(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), first, n);
      return new Transfer(bytes, [bytes.buffer as ArrayBuffer]);
    },
    /** The open volume's result: `fed` when every unit of the plan was fed, else the table is read here. */
    finish: async (fed: boolean): Promise<Transfer<PackedScan>> => {
      const c = cur;
      cur = undefined;
      if (!c) throw new Error('no volume is open');
      return pack(await finishScan(c, fed));
    },
  };
}

/** What open() asks the caller to read and feed: `units` of `unit` bytes, from these volume ranges in order. */
export interface FeedPlan { unit: number; units: number; extents: { offset: number; length: number }[] }
