// Cataloguing one volume, run inside an isolated worker (file-restore/isolation.ts): guest bytes are
// parsed with a time and heap bound. Opens the restore point's disk from its descriptor (no index, no
// lock), recognises the filesystem, records what it says about its own consistency, walks every
// entry, and samples the content of new or changed files for entropy (the mass-encryption check).
import { DiskImage, type DiskImageDescriptor } from '../../repository/disk-image.ts';
import { openFileSystem, type FsConsistency, type FsType } from '../../filesystems/filesystem.ts';
import { openVolumes } from '../../volumes/volumes.ts';
import { CatalogFile, type CatalogEntry, type EntryType } from './format.ts';
import { entropyCode, MIN_SAMPLED_SIZE, SAMPLE_BYTES } from './entropy.ts';

export interface ScanRequest {
  /** Every disk of the restore point (a logical volume may span several). */
  disks: { key: string; label: string; image: DiskImageDescriptor }[];
  /** The volume to catalogue (volumes/volumes.ts id: "2000", "2000-p1", "lvm-vg-lv"). */
  volumeId: string;
  /** The previous point's catalog and this volume's index in it: unchanged files keep their sample. */
  previous?: { file: string; volume: number };
  /** Sample new and changed files (default true). */
  sample?: boolean;
  maxEntries?: number;
  /** At most this many files sampled per volume (default MAX_SAMPLES). */
  maxSamples?: number;
}

export interface ScanResult {
  fsType?: FsType;
  label?: string;
  consistency?: FsConsistency;
  /** Entries with volume 0 (the caller sets the index). */
  entries: CatalogEntry[];
  sampled: number;
  /** The walk stopped at maxEntries. */
  truncated?: boolean;
}

const DEFAULT_MAX_ENTRIES = 5_000_000;
/** Each sample may decode its own chunk of the disk (~3 ms): 1,000 keep a build's sampling to seconds. */
export const MAX_SAMPLES = 1000;

const typeOf = (t: string): EntryType => (t === 'file' || t === 'dir' || t === 'symlink' ? t : 'other');

export async function scanVolume(req: ScanRequest): Promise<ScanResult> {
  const images = req.disks.map((d) => ({ ...d, img: DiskImage.fromDescriptor(d.image, { cacheBytes: 32 << 20, verify: false }) }));
  try {
    const volumes = await openVolumes(images.map((d) => ({ key: d.key, label: d.label, reader: { size: d.img.capacity, readAt: (o: number, n: number) => d.img.readAt(o, n) } })));
    const vol = volumes.find((v) => v.id === req.volumeId);
    if (!vol) throw new Error(`volume ${req.volumeId} is not on the restore point's disks any more`);
    const fs = await openFileSystem(vol.reader);
    if (!fs) return { entries: [], sampled: 0 };
    const consistency = await fs.consistency();
    const label = await fs.label().catch(() => '');
    const before = new Map<string, CatalogEntry>();
    if (req.previous) {
      for (const e of new CatalogFile(req.previous.file).all()) if (e.volume === req.previous.volume && e.type === 'file') before.set(e.path, e);
    }
    const max = req.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const entries: CatalogEntry[] = [];
    let sampled = 0;
    let truncated = false;
    // Sampling serves only the mass-encryption check, which compares with the previous point: nothing
    // is sampled without one; with one, only new and changed files, at most MAX_SAMPLES of them chosen
    // evenly over the walk (mass-encryption.ts extrapolates the share of the unsampled ones).
    const sampling = req.sample !== false && req.previous !== undefined;
    const candidates: { e: CatalogEntry; ref: string }[] = [];
    // The filesystem's fast scan where it has one (NTFS: $MFT read in order), else the walk.
    for await (const { path, entry } of fs.scan ? fs.scan() : fs.walk()) {
      if (entries.length >= max) { truncated = true; break; }
      const mtime = entry.mtime ? Date.parse(entry.mtime) : NaN;
      const e: CatalogEntry = { volume: 0, path, type: typeOf(entry.type), size: entry.size, ...(Number.isFinite(mtime) ? { mtime } : {}), fileId: entry.inode };
      if (e.type === 'file' && sampling && e.size >= MIN_SAMPLED_SIZE) {
        const prev = before.get(path);
        if (prev && prev.size === e.size && prev.mtime === e.mtime) { if (prev.entropy !== undefined) e.entropy = prev.entropy; }
        else candidates.push({ e, ref: entry.ref });
      }
      entries.push(e);
    }
    const limit = req.maxSamples ?? MAX_SAMPLES;
    const step = candidates.length > limit ? candidates.length / limit : 1;
    for (let k = 0, n = Math.min(limit, candidates.length); k < n; k++) {
      const c = candidates[Math.floor(k * step)]!;
      try {
        const head = await fs.read(c.ref, 0, SAMPLE_BYTES);
        const tail = c.e.size > 2 * SAMPLE_BYTES ? await fs.read(c.ref, c.e.size - SAMPLE_BYTES, SAMPLE_BYTES) : undefined;
        c.e.entropy = entropyCode(head, tail);
        sampled++;
      } catch { /* unreadable content: listed without a sample */ }
    }
    return { fsType: fs.type, ...(label ? { label } : {}), consistency, entries, sampled, ...(truncated ? { truncated } : {}) };
  } finally {
    await Promise.all(images.map((d) => d.img.close()));
  }
}
