// Building the catalog of one restore point: every volume of every disk (partition table, then the
// filesystem each volume's own signature announces) is walked in an isolated worker (scan.ts) with a
// time and heap bound; a damaged volume is recorded with its error and the others still catalogued.
// When the VM's previous point has a catalog, the new one is compared with it (diff + mass-encryption
// check) and unchanged files keep their entropy sample instead of being read again.
import { detectFileSystem, PROBE_BYTES } from '../../filesystems/filesystem.ts';
import { readPartitionTable, PARTITION_TABLE_BYTES } from '../../volumes/partition-table.ts';
import type { Repository, RestorePoint } from '../../repository/repository.ts';
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
}

export interface BuildResult {
  header: CatalogHeader;
  diff?: CatalogDiff;
  massEncryption?: MassEncryptionAssessment;
}

interface PlannedVolume { id: string; diskKey: string; diskLabel: string; partition?: number; offset: number; length: number }

async function planVolumes(repo: Repository, rp: RestorePoint): Promise<PlannedVolume[]> {
  const out: PlannedVolume[] = [];
  for (const d of rp.disks) {
    const img = await repo.openDiskImage(rp.id, d.key);
    try {
      const head = await img.readAt(0, PARTITION_TABLE_BYTES);
      const t = await readPartitionTable(head, d.capacity, (o, n) => img.readAt(o, n));
      if (t.partitions.length) for (const p of t.partitions) out.push({ id: `${d.key}:p${p.index}`, diskKey: d.key, diskLabel: d.label, partition: p.index, offset: p.start, length: p.length });
      else out.push({ id: d.key, diskKey: d.key, diskLabel: d.label, offset: 0, length: d.capacity });
    } finally { await img.close(); }
  }
  return out;
}

export async function buildCatalog(repo: Repository, store: CatalogStore, rp: RestorePoint, o: BuildOptions = {}): Promise<BuildResult> {
  const t0 = Date.now();
  o.progress?.(0, 'reading partition tables');
  const planned = await planVolumes(repo, rp);
  const volumes: CatalogVolume[] = [];
  const entries: CatalogEntry[] = [];
  const prev = o.previous?.catalog;
  for (const [i, v] of planned.entries()) {
    o.signal?.throwIfAborted();
    o.progress?.((90 * i) / planned.length, `cataloguing ${v.diskLabel}${v.partition ? ` partition ${v.partition}` : ''}`);
    const vol: CatalogVolume = { ...v, files: 0, dirs: 0, bytes: 0, sampled: 0 };
    volumes.push(vol);
    const img = await repo.openDiskImage(rp.id, v.diskKey);
    try {
      const type = detectFileSystem(await img.readAt(v.offset, Math.min(PROBE_BYTES, Math.max(0, v.length))));
      if (!type) continue;
      vol.fsType = type;
      const prevIndex = prev?.header.volumes.findIndex((x) => x.id === v.id) ?? -1;
      const desc = img.descriptor();
      const req: ScanRequest = { image: desc, offset: v.offset, length: v.length, ...(prev && prevIndex >= 0 ? { previous: { file: prevFile(store, o.previous!.rp), volume: prevIndex } } : {}) };
      const r = await runIsolated<ScanResult>(SCAN, 'scanVolume', [req], {
        timeoutMs: o.volumeTimeoutMs ?? 30 * 60_000, maxHeapMb: o.maxHeapMb ?? 1024, transfer: [desc.table],
        label: `Cataloguing ${v.diskLabel}${v.partition ? ` partition ${v.partition}` : ''}`, ...(o.signal ? { signal: o.signal } : {}),
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
    } finally { await img.close(); }
  }
  o.signal?.throwIfAborted();
  o.progress?.(92, 'writing the catalog');
  entries.sort(compareEntries);
  let diff: CatalogDiff | undefined;
  let massEncryption: MassEncryptionAssessment | undefined;
  if (prev) {
    const before = [...prev.all()];
    diff = diffCatalogs({ volumes: prev.header.volumes, entries: before }, { volumes, entries });
    massEncryption = assessMassEncryption(before, diff);
  }
  const names = store.names(rp.vm.id);
  for (const e of entries) names.intern(e.path.slice(e.path.lastIndexOf('/') + 1).toLowerCase());
  names.flush();
  const header = writeCatalog(store.pathForWrite(rp.vm.id, rp.id), {
    rpId: rp.id, vmId: rp.vm.id, vmName: rp.vm.name, createdAt: rp.createdAt, builtAt: new Date().toISOString(), buildMs: Date.now() - t0,
    volumes, names: names.size,
    ...(o.previous && diff && massEncryption ? { comparedWith: { rpId: o.previous.rp.id, summary: { ...diff.totals }, massEncryption } } : {}),
  }, entries, (n) => names.intern(n));
  store.clearFailure(rp.vm.id, rp.id);
  o.progress?.(100, 'catalogue ready');
  return { header, ...(diff ? { diff } : {}), ...(massEncryption ? { massEncryption } : {}) };
}

function prevFile(store: CatalogStore, rp: RestorePoint): string { return store.path(rp.vm.id, rp.id); }
