// Building the catalog of one restore point: every volume of its disks (volumes/volumes.ts: partitions,
// whole disks, LVM; the filesystem by its own signature) is listed in one isolated worker (scan.ts) with a
// time bound per call and a heap bound; a damaged volume is recorded with its error and the others still
// catalogued. NTFS is one linear pass: this thread reads $MFT in large pieces (decoded on the repository's
// threads) and hands them to the worker, which parses them as they come; the entries come back as columns
// and are written in one go (names interned once, blocks compressed through one zstd context).
// When the VM's previous point has a catalog, the new one is compared with it (diff + mass-encryption
// check) and unchanged files keep their entropy sample instead of being read again.
import { openVolumes } from '../../volumes/volumes.ts';
import type { DiskImage, Repository, RestorePoint } from '../../repository/repository.ts';
import { IsolatedWorker } from '../isolation.ts';
import { entryAt, nameIds, writeCatalog, type CatalogFile, type CatalogHeader, type CatalogVolume, type EntryColumns } from './format.ts';
import { unpack, type FeedPlan, type PackedScan, type ScanColumns, type ScanRequest } from './scan.ts';
import type { ReadAt } from '../../filesystems/types.ts';
import { diffCatalogs, type CatalogDiff } from './diff.ts';
import { assessMassEncryption, type MassEncryptionAssessment } from './mass-encryption.ts';
import type { CatalogStore } from './store.ts';

const SCAN = new URL('./scan.ts', import.meta.url);

export interface BuildLimits {
  /** Time bound of one volume's walk (default 30 min). */
  volumeTimeoutMs?: number;
  /** Heap of the worker walking a volume (default 1024 MiB). */
  maxHeapMb?: number;
}

export interface BuildOptions extends BuildLimits {
  /** The VM's previous point, whose catalog this one is compared with (and takes unchanged samples from). */
  previous?: { rp: RestorePoint; catalog: CatalogFile };
  progress?(percent: number, phase: string): void;
  signal?: AbortSignal;
  /** The catalog run building it (kept in the header). */
  runId?: string;
}

export interface BuildResult {
  header: CatalogHeader;
  diff?: CatalogDiff;
  massEncryption?: MassEncryptionAssessment;
}

export async function buildCatalog(repo: Repository, store: CatalogStore, rp: RestorePoint, o: BuildOptions = {}): Promise<BuildResult> {
  const t0 = Date.now();
  o.progress?.(0, 'reading partition tables');
  const images: { key: string; label: string; img: DiskImage }[] = [];
  const previousImages: { key: string; label: string; img: DiskImage }[] = [];
  const volumes: CatalogVolume[] = [];
  const parts: { volume: number; table: ScanColumns }[] = [];
  const sampledBefore = new Map<string, number>();
  const prev = o.previous?.catalog;
  // One isolated worker for the build, started now: its modules load while the disks are opened here.
  const scanner = new IsolatedWorker(SCAN, 'catalogScanner', [], { timeoutMs: o.volumeTimeoutMs ?? 30 * 60_000, maxHeapMb: o.maxHeapMb ?? 1024, label: `Cataloguing ${rp.id}` });
  scanner.call('ready', [], { timeoutMs: 60_000 }).catch(() => { /* a failed start shows on the first scan */ });
  const onAbort = () => { void scanner.close(); };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // Kept open for the whole build: the repository's GC leaves their packs alone meanwhile.
    // Read once, in order: a small cache (its chunk buffers reused instead of fresh memory per chunk);
    // compressed chunks are checked by their zstd checksum (encrypted ones by their GCM tag) as a
    // restore checks them, raw ones by their hash: hashing every decoded MiB again cost the build CPU.
    for (const d of rp.disks) images.push({ key: d.key, label: d.label, img: await repo.openDiskImage(rp.id, d.key, { verify: false, cacheBytes: BUILD_CACHE }) });
    // The previous point's disks: a changed file whose earlier version the previous catalog did not sample is sampled there.
    if (prev) {
      for (const d of o.previous!.rp.disks) {
        const img = await repo.openDiskImage(o.previous!.rp.id, d.key).catch(() => undefined);
        if (img) previousImages.push({ key: d.key, label: d.label, img });
      }
    }
    const planned = await openVolumes(images.map((d) => ({ key: d.key, label: d.label, reader: { size: d.img.capacity, readAt: (at: number, n: number) => d.img.readAt(at, n), readInto: (at: number, out: Uint8Array) => d.img.readInto(at, out) } })));
    for (const [i, v] of planned.entries()) {
      o.signal?.throwIfAborted();
      o.progress?.((90 * i) / planned.length, `cataloguing ${v.name}`);
      const vol: CatalogVolume = {
        id: v.id, name: v.name, diskKey: v.diskKey, diskLabel: v.diskLabel, ...(v.partition ? { partition: v.partition.index } : {}), size: v.size,
        ...(v.fsType ? { fsType: v.fsType } : {}), files: 0, dirs: 0, bytes: 0, sampled: 0,
      };
      volumes.push(vol);
      if (!v.fsType) { if (v.problem) vol.error = v.problem; continue; }
      const prevIndex = prev?.header.volumes.findIndex((x) => x.id === v.id) ?? -1;
      const disks = images.map((d) => ({ key: d.key, label: d.label, image: d.img.descriptor() }));
      const prevDisks = previousImages.map((d) => ({ key: d.key, label: d.label, image: d.img.descriptor() }));
      const req: ScanRequest = {
        disks, volumeId: v.id,
        ...(prev && prevIndex >= 0 ? { previous: { file: store.path(o.previous!.rp.vm.id, o.previous!.rp.id), volume: prevIndex, ...(prevDisks.length ? { disks: prevDisks } : {}) } } : {}),
      };
      try {
        // The worker parses; where it can be fed (NTFS $MFT), the bytes are read here, where chunks decode on
        // the repository's threads while the worker parses the piece before.
        const plan = await scanner.call<FeedPlan | null>('open', [req], { transfer: [...disks, ...prevDisks].map((d) => d.image.table) });
        const fed = plan !== null && planFits(plan, v.reader.size) && await feed(scanner, v.reader, plan);
        const r = unpack(await scanner.call<PackedScan>('finish', [fed]));
        if (r.fsType) vol.fsType = r.fsType;
        if (r.label) vol.label = r.label;
        if (r.consistency) vol.consistency = r.consistency;
        if (r.truncated) vol.error = `catalogued the first ${r.table.count} entries only`;
        vol.sampled = r.sampled;
        const t = r.table;
        for (let k = 0; k < t.count; k++) {
          const type = t.types[k];
          if (type === 0) { vol.files++; vol.bytes += t.sizes[k]!; } else if (type === 1) vol.dirs++;
        }
        for (const b of r.before) sampledBefore.set(`${v.id}\0${b.path}`, b.entropy);
        parts.push({ volume: i, table: t });
      } catch (e) {
        o.signal?.throwIfAborted();
        vol.error = (e as Error).message;
      }
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await scanner.close();
    await Promise.all([...images, ...previousImages].map((d) => d.img.close()));
  }
  o.signal?.throwIfAborted();
  o.progress?.(92, 'writing the catalog');
  // Each volume's entries come sorted by path: in volume order they are sorted by (volume, path).
  const entries = concatColumns(parts);
  let diff: CatalogDiff | undefined;
  let massEncryption: MassEncryptionAssessment | undefined;
  if (prev) {
    const before = [...prev.all()];
    const after = Array.from({ length: entries.count }, (_, i) => entryAt(entries, i));
    diff = diffCatalogs({ volumes: prev.header.volumes, entries: before }, { volumes, entries: after });
    for (const c of diff.changed) {
      const e = c.before.entropy === undefined ? sampledBefore.get(`${c.volume}\0${c.path}`) : undefined;
      if (e !== undefined) c.before.entropy = e;
    }
    massEncryption = assessMassEncryption({ volumes: prev.header.volumes, entries: before }, diff);
  }
  const names = store.names(rp.vm.id);
  const ids = nameIds(entries, (n) => names.intern(n));
  names.flush();
  const header = writeCatalog(store.pathForWrite(rp.vm.id, rp.id), {
    rpId: rp.id, vmId: rp.vm.id, vmName: rp.vm.name, createdAt: rp.createdAt, builtAt: new Date().toISOString(), buildMs: Date.now() - t0, ...(o.runId ? { runId: o.runId } : {}),
    volumes, names: names.size,
    ...(o.previous && diff && massEncryption ? { comparedWith: { rpId: o.previous.rp.id, summary: { ...diff.totals }, massEncryption } } : {}),
  }, entries, ids);
  store.clearFailure(rp.vm.id, rp.id);
  o.progress?.(100, 'catalogue ready');
  return { header, ...(diff ? { diff } : {}), ...(massEncryption ? { massEncryption } : {}) };
}

/** The volumes' tables one after the other, as one set of catalog columns. */
function concatColumns(parts: { volume: number; table: ScanColumns }[]): EntryColumns {
  const n = parts.reduce((s, p) => s + p.table.count, 0);
  const c: EntryColumns = {
    count: n, volumes: new Uint32Array(n), paths: [], types: new Uint8Array(n), sizes: new Float64Array(n),
    mtimes: new Float64Array(n), fileIds: new Float64Array(n), entropy: new Int16Array(n),
  };
  let at = 0;
  for (const { volume, table: t } of parts) {
    c.volumes.fill(volume, at, at + t.count);
    c.types.set(t.types, at); c.sizes.set(t.sizes, at); c.mtimes.set(t.mtimes, at); c.fileIds.set(t.fileIds, at); c.entropy.set(t.entropy, at);
    c.paths = parts.length === 1 ? t.paths : c.paths.concat(t.paths);
    at += t.count;
  }
  return c;
}

/** Bytes fed to the worker per call. */
const FEED_PIECE = 16 << 20;
/** Decoded-chunk cache of the build's disk images: the feed's read-ahead, not more. */
const BUILD_CACHE = 24 << 20;

/** A plan the worker made from guest bytes, checked before anything is read for it: units inside the volume. */
function planFits(p: FeedPlan, volumeSize: number): boolean {
  const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!isPow2(p.unit) || p.unit < 256 || p.unit > 65536 || !Number.isSafeInteger(p.units) || p.units < 0 || p.units * p.unit > volumeSize) return false;
  if (!Array.isArray(p.extents) || p.extents.length > 65536) return false;
  let sum = 0;
  for (const e of p.extents) {
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length <= 0 || e.offset + e.length > volumeSize) return false;
    sum += e.length;
  }
  return sum === p.units * p.unit;
}

/**
 * Reads the plan's units in pieces and feeds them to the worker in order, the next piece read while
 * the worker parses the current one. Each piece moves to the worker (no copy) and comes back when
 * parsed, to be read into again: fresh memory for every piece cost page faults and garbage
 * collections in both threads. true when all were fed.
 */
async function feed(scanner: IsolatedWorker, reader: ReadAt, plan: FeedPlan): Promise<boolean> {
  const total = plan.units * plan.unit;
  const per = Math.max(1, Math.floor(FEED_PIECE / plan.unit)) * plan.unit;
  const starts: number[] = [];
  for (let at = 0, k = 0; k < plan.extents.length; at += plan.extents[k]!.length, k++) starts.push(at);
  const spare: ArrayBuffer[] = [];
  /** Bytes [at, at + len) of the extents laid end to end, in a buffer of their own (a whole ArrayBuffer of `per` bytes, or of len). */
  const read = async (at: number): Promise<Buffer> => {
    const len = Math.min(per, total - at);
    let k = starts.length - 1;
    while (starts[k]! > at) k--;
    const e = plan.extents[k]!;
    const inFirst = at - starts[k]!;
    if (inFirst + len <= e.length && reader.readInto) {
      const b = Buffer.from(spare.pop() ?? new ArrayBuffer(per), 0, len);
      if (await reader.readInto(e.offset + inFirst, b) !== len) throw new Error(`short read of the volume at ${e.offset + inFirst}`);
      return b;
    }
    if (inFirst + len <= e.length) {
      const b = await reader.readAt(e.offset + inFirst, len);
      if (b.length !== len) throw new Error(`short read of the volume at ${e.offset + inFirst}`);
      return b.byteOffset === 0 && b.buffer.byteLength === len ? b : Buffer.from(b);
    }
    const out = Buffer.from(spare.pop() ?? new ArrayBuffer(per), 0, len);
    for (let got = 0; got < len; k++) {
      const x = plan.extents[k]!;
      const from = at + got - starts[k]!;
      const n = Math.min(x.length - from, len - got);
      const b = await reader.readAt(x.offset + from, n);
      if (b.length !== n) throw new Error(`short read of the volume at ${x.offset + from}`);
      b.copy(out, got);
      got += n;
    }
    return out;
  };
  let next: Promise<Buffer> | undefined = total > 0 ? read(0) : undefined;
  next?.catch(() => { /* seen when awaited */ });
  for (let at = 0; at < total; at += per) {
    const buf = await next!;
    next = at + per < total ? read(at + per) : undefined;
    next?.catch(() => { /* seen when awaited */ });
    const back = await scanner.call<Uint8Array | undefined>('feed', [buf, at / plan.unit, buf.length / plan.unit], { transfer: [buf.buffer as ArrayBuffer] });
    if (back?.buffer instanceof ArrayBuffer && back.buffer.byteLength === per && spare.length < 2) spare.push(back.buffer);
  }
  return true;
}
