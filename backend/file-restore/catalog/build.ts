// Building the catalog of one restore point: every volume of its disks (volumes/volumes.ts: partitions,
// whole disks, LVM; the filesystem by its own signature) is walked in an isolated worker (scan.ts) with a
// time and heap bound; a damaged volume is recorded with its error and the others still catalogued.
// When the VM's previous point has a catalog, the new one is compared with it (diff + mass-encryption
// check) and unchanged files keep their entropy sample instead of being read again.
import { openVolumes } from '../../volumes/volumes.ts';
import type { DiskImage, Repository, RestorePoint } from '../../repository/repository.ts';
import { runIsolated } from '../isolation.ts';
import { compareEntries, writeCatalog, type CatalogEntry, type CatalogFile, type CatalogHeader, type CatalogVolume } from './format.ts';
import type { ScanRequest, ScanResult } from './scan.ts';
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
  const volumes: CatalogVolume[] = [];
  const entries: CatalogEntry[] = [];
  const prev = o.previous?.catalog;
  try {
    // Kept open for the whole build: the repository's GC leaves their packs alone meanwhile.
    for (const d of rp.disks) images.push({ key: d.key, label: d.label, img: await repo.openDiskImage(rp.id, d.key) });
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
      const req: ScanRequest = { disks, volumeId: v.id, ...(prev && prevIndex >= 0 ? { previous: { file: store.path(o.previous!.rp.vm.id, o.previous!.rp.id), volume: prevIndex } } : {}) };
      try {
        const r = await runIsolated<ScanResult>(SCAN, 'scanVolume', [req], {
          timeoutMs: o.volumeTimeoutMs ?? 30 * 60_000, maxHeapMb: o.maxHeapMb ?? 1024, transfer: disks.map((d) => d.image.table),
          label: `Cataloguing ${v.name}`, ...(o.signal ? { signal: o.signal } : {}),
        });
        if (r.fsType) vol.fsType = r.fsType;
        if (r.label) vol.label = r.label;
        if (r.consistency) vol.consistency = r.consistency;
        if (r.truncated) vol.error = `catalogued the first ${r.entries.length} entries only`;
        vol.sampled = r.sampled;
        for (const e of r.entries) {
          e.volume = i;
          if (e.type === 'file') { vol.files++; vol.bytes += e.size; } else if (e.type === 'dir') vol.dirs++;
          entries.push(e);
        }
      } catch (e) {
        if (o.signal?.aborted) throw e;
        vol.error = (e as Error).message;
      }
    }
  } finally {
    await Promise.all(images.map((d) => d.img.close()));
  }
  o.signal?.throwIfAborted();
  o.progress?.(92, 'writing the catalog');
  entries.sort(compareEntries);
  let diff: CatalogDiff | undefined;
  let massEncryption: MassEncryptionAssessment | undefined;
  if (prev) {
    const before = [...prev.all()];
    diff = diffCatalogs({ volumes: prev.header.volumes, entries: before }, { volumes, entries });
    massEncryption = assessMassEncryption({ volumes: prev.header.volumes, entries: before }, diff);
  }
  const names = store.names(rp.vm.id);
  for (const e of entries) names.intern(e.path.slice(e.path.lastIndexOf('/') + 1).toLowerCase());
  names.flush(true);
  const header = writeCatalog(store.pathForWrite(rp.vm.id, rp.id), {
    rpId: rp.id, vmId: rp.vm.id, vmName: rp.vm.name, createdAt: rp.createdAt, builtAt: new Date().toISOString(), buildMs: Date.now() - t0, ...(o.runId ? { runId: o.runId } : {}),
    volumes, names: names.size,
    ...(o.previous && diff && massEncryption ? { comparedWith: { rpId: o.previous.rp.id, summary: { ...diff.totals }, massEncryption } } : {}),
  }, entries, (n) => names.intern(n));
  names.flush();
  store.clearFailure(rp.vm.id, rp.id);
  o.progress?.(100, 'catalogue ready');
  return { header, ...(diff ? { diff } : {}), ...(massEncryption ? { massEncryption } : {}) };
}

