// The file catalog of restore points (issue 11): versions of a file across a VM's points, catalog
// state and (re)build, changes between two points with the mass-encryption check, the consistency
// each volume's filesystem reports. Same authorization as browsing files: the user sees the VM
// (404 otherwise) and holds the fileRestore privileges on it (model/privileges.ts).
import type { Request } from 'express';
import type { CatalogChanges, CatalogStatus as CatalogStatusDto, FileVersions, MassEncryptionCheck, VolumeConsistency } from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import type { Schema } from '../schema.ts';
import { param, VM_ID } from '../http.ts';
import { Conflict, NotFound } from '../../common/errors.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import type { RestorePoint } from '../../repository/repository.ts';
import type { CatalogService, CatalogStatus } from '../../file-restore/catalog/service.ts';
import type { CatalogVolume } from '../../file-restore/catalog/format.ts';
import type { MassEncryptionAssessment } from '../../file-restore/catalog/mass-encryption.ts';
import { bitsPerByte } from '../../file-restore/catalog/entropy.ts';
import { RP_ID, requireOnVms, requireVisible } from './operations.ts';

export interface CatalogDeps {
  catalogs: CatalogService;
  /** The restore point as the repository has it, or undefined. */
  restorePoint(id: string): Promise<RestorePoint | undefined>;
}

const VersionsQuery: Schema = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 1024, description: "a file name or glob: 'report.xlsx', '*.docx', 'Users/*/Desktop/*.pdf'; no case" },
    limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
};
const ChangesQuery: Schema = {
  type: 'object', additionalProperties: false, required: ['against'],
  properties: {
    against: { type: 'string', pattern: RP_ID.source, description: 'the other restore point of the same VM (earlier or later)' },
    limit: { type: 'integer', minimum: 0, maximum: 100_000, description: 'most items per list (default 1000); totals and folders are complete' },
  },
};

const iso = (ms: number | undefined) => (ms === undefined ? {} : { mtime: new Date(ms).toISOString() });
const bits = (code: number | undefined) => (code === undefined ? {} : { entropy: Math.round(bitsPerByte(code) * 100) / 100 });

export function volumeDto(v: CatalogVolume): VolumeConsistency {
  return {
    volumeId: v.id, name: v.name, ...(v.fsType ? { filesystem: v.fsType } : {}), ...(v.label ? { label: v.label } : {}),
    ...(v.consistency ? { consistency: { clean: v.consistency.clean, summary: v.consistency.summary, details: v.consistency.details } } : {}),
    ...(v.error ? { problem: v.error } : {}), files: v.files, bytes: v.bytes,
  };
}

const massDto = (m: MassEncryptionAssessment): MassEncryptionCheck => structuredClone(m);

export function catalogStatusDto(s: CatalogStatus): CatalogStatusDto {
  const c = s.comparedWith;
  return {
    restorePointId: s.restorePointId, state: s.state,
    ...(s.progress !== undefined ? { progress: s.progress } : {}), ...(s.phase ? { phase: s.phase } : {}), ...(s.runId ? { runId: s.runId } : {}),
    ...(s.message ? { message: s.message } : {}), ...(s.builtAt ? { builtAt: s.builtAt } : {}), ...(s.files !== undefined ? { files: s.files } : {}),
    ...(s.volumes ? { volumes: s.volumes.map(volumeDto) } : {}),
    ...(c ? { comparedWith: { restorePointId: c.restorePointId, added: c.summary.added ?? 0, removed: c.summary.removed ?? 0, changed: c.summary.changed ?? 0, renamed: c.summary.renamed ?? 0, massEncryption: massDto(c.massEncryption) } } : {}),
  };
}

export function catalogRoutes(d: CatalogDeps): RouteDef[] {
  const granted = new WeakMap<object, Map<string, number>>();
  /** The VM is visible to the user, who may restore files from it (checked with vCenter at most once a minute per VM and session). */
  async function authorizeVm(user: UserContext, vmId: string): Promise<void> {
    await requireVisible(user, [vmId]);
    const seen = granted.get(user.session) ?? new Map<string, number>();
    if ((seen.get(vmId) ?? 0) < Date.now()) {
      await requireOnVms(user, [vmId], 'Searching the files of a VM\'s restore points', PRIVILEGES.fileRestore);
      seen.set(vmId, Date.now() + 60_000);
      granted.set(user.session, seen);
    }
  }
  async function point(user: UserContext, id: string): Promise<RestorePoint> {
    const rp = await d.restorePoint(id);
    if (!rp) throw new NotFound('Restore point', id);
    await authorizeVm(user, rp.vm.id);
    return rp;
  }
  const rpParam = (req: Request) => param(req, 'id', RP_ID, 'restore point');

  return [
    {
      method: 'get', path: '/vms/:id/file-versions', tag: 'files', query: VersionsQuery,
      summary: 'Every version of the files a name or glob matches, across the VM\'s restore points (catalogs missing are built on demand)',
      handler: async ({ req, user, query }): Promise<FileVersions> => {
        const vmId = param(req, 'id', VM_ID, 'VM');
        await authorizeVm(user, vmId);
        const r = await d.catalogs.versions(vmId, query.name as string, user.username, (query.limit as number | undefined) ?? 1000);
        return {
          pattern: r.pattern, restorePoints: r.restorePoints, truncated: r.truncated, searchMs: r.searchMs,
          matches: r.matches.map((m) => ({ restorePointId: m.restorePointId, createdAt: m.createdAt, volumeId: m.volume, path: m.path, size: m.size, ...(m.mtime ? { mtime: m.mtime } : {}) })),
          versions: r.versions.map((v) => ({ volumeId: v.volume, path: v.path, size: v.size, ...(v.mtime ? { mtime: v.mtime } : {}), restorePoints: v.restorePoints, firstSeen: v.firstSeen, lastSeen: v.lastSeen })),
        };
      },
    },
    {
      method: 'get', path: '/restore-points/:id/catalog', tag: 'files', summary: 'The file catalog of a restore point: state (building with progress, ready, failed), volumes and their consistency, the comparison with the previous point',
      handler: async ({ req, user }): Promise<CatalogStatusDto> => catalogStatusDto(d.catalogs.status(await point(user, rpParam(req)))),
    },
    {
      method: 'post', path: '/restore-points/:id/catalog', tag: 'files', status: 202, summary: 'Build (or rebuild) the file catalog of a restore point now, as a catalog run',
      handler: async ({ req, user }): Promise<CatalogStatusDto> => {
        const rp = await point(user, rpParam(req));
        return catalogStatusDto(await d.catalogs.request(rp, user.username, true));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/filesystems', tag: 'files', summary: 'What each volume\'s filesystem says about its own consistency in the restore point (dirty flag, journal, orphans), from its catalog',
      handler: async ({ req, user }): Promise<VolumeConsistency[]> => {
        const rp = await point(user, rpParam(req));
        const s = d.catalogs.status(rp);
        if (s.state === 'ready') return s.volumes!.map(volumeDto);
        const now = s.state === 'missing' ? await d.catalogs.request(rp, user.username) : s;
        if (now.state === 'failed') throw new Conflict(`The file catalog of ${rp.id} could not be built: ${now.message}. Rebuild it (POST /api/restore-points/${rp.id}/catalog) once the cause is fixed.`);
        throw new Conflict(`The file catalog of ${rp.id} is being built (${now.progress ?? 0}%): try again when it is ready.`);
      },
    },
    {
      method: 'get', path: '/restore-points/:id/changes', tag: 'files', query: ChangesQuery,
      summary: 'What changed between two restore points of a VM: files added, removed, changed, renamed, by folder, with the mass-encryption check',
      handler: async ({ req, user, query }): Promise<CatalogChanges> => {
        const a = await point(user, rpParam(req));
        const b = await point(user, query.against as string);
        const [before, after] = a.createdAt <= b.createdAt ? [a, b] : [b, a];
        const { diff, massEncryption } = await d.catalogs.changes(before, after, user.username);
        const limit = (query.limit as number | undefined) ?? 1000;
        const cut = <T>(xs: T[]): T[] => xs.slice(0, limit);
        return {
          from: before.id, to: after.id, totals: diff.totals,
          folders: diff.folders.map(({ volume, ...f }) => ({ volumeId: volume, ...f })),
          added: cut(diff.added).map((x) => ({ volumeId: x.volume, path: x.path, size: x.size, ...iso(x.mtime) })),
          removed: cut(diff.removed).map((x) => ({ volumeId: x.volume, path: x.path, size: x.size, ...iso(x.mtime) })),
          changed: cut(diff.changed).map((x) => ({
            volumeId: x.volume, path: x.path,
            before: { size: x.before.size, ...iso(x.before.mtime), ...bits(x.before.entropy) }, after: { size: x.after.size, ...iso(x.after.mtime), ...bits(x.after.entropy) },
          })),
          renamed: cut(diff.renamed).map((x) => ({ volumeId: x.volume, from: x.from, to: x.to, size: x.size, ...iso(x.mtime) })),
          truncated: [diff.added, diff.removed, diff.changed, diff.renamed].some((l) => l.length > limit),
          massEncryption: massDto(massEncryption),
        };
      },
    },
  ];
}
