// Building the catalog of one restore point: every volume of its disks (volumes/volumes.ts: partitions,
// whole disks, LVM; the filesystem by its own signature) is walked in an isolated worker (scan.ts) with a
// time and heap bound; a damaged volume is recorded with its error and the others still catalogued.
// When the VM's previous point has a catalog, the new one is compared with it (diff + mass-encryption
// check) and unchanged files keep their entropy sample instead of being read again.
import { openVolumes } from '../../volumes/volumes.ts';
import type { DiskImage, Repository, RestorePoint } from '../../repository/repository.ts';
import { IsolatedWorker } from '../isolation.ts';
import { entryAt, nameIds, writeCatalog, type CatalogFile, type CatalogHeader, type CatalogVolume, type EntryColumns } from './format.ts';
import { unpack, type PackedScan, type ScanColumns, type ScanRequest } from './scan.ts';
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
    for (const d of rp.disks) images.push({ key: d.key, label: d.label, img: await repo.openDiskImage(rp.id, d.key) });
    // The previous point's disks: a changed file whose earlier version the previous catalog did not sample is sampled there.
    if (prev) {
      for (const d of o.previous!.rp.disks) {
        const img = await repo.openDiskImage(o.previous!.rp.id, d.key).catch(() => undefined);
        if (img) previousImages.push({ key: d.key, label: d.label, img });
      }
    }
    const planned = await openVolumes(images.map((d) => ({ key: d.key, label: d.label, reader: { size: d.img.capacity, readAt: (at: number, n: number) => d.img.readAt(at, n) } })));
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
        const r = unpack(await scanner.call<PackedScan>('scan', [req], { transfer: [...disks, ...prevDisks].map((d) => d.image.table) }));
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
