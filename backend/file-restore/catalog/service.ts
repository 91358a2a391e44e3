// The catalog service: builds catalogs in the background after each backup (as 'catalog' runs of
// the job runner: progress and history like any run, never the backup's failure), on demand for
// points without one (older points, a moved repository), one build at a time; answers file-version
// searches across a VM's restore points, changes between two points and each volume's consistency.
// A build that finds signs of mass encryption ends as a warning and logs a vCenter event on the VM.
import { childLog } from '../../common/log.ts';
import { Conflict } from '../../common/errors.ts';
import type { Repository, RestorePoint } from '../../repository/repository.ts';
import type { VmContext, VmKind, VmOutcome } from '../../jobs/kinds.ts';
import type { Run } from '../../model/job.ts';
import { buildCatalog, type BuildLimits } from './build.ts';
import { diffCatalogs, type CatalogDiff } from './diff.ts';
import { assessMassEncryption, type MassEncryptionAssessment } from './mass-encryption.ts';
import { parseGlob } from './glob.ts';
import type { CatalogFile, CatalogVolume } from './format.ts';
import { CatalogStore } from './store.ts';

const log = childLog('catalog');

export interface CatalogServiceDeps {
  dataDir: string;
  repo(): Promise<Repository>;
  /** Starts a 'catalog' run for the point's VM (runner.start); returns the run. */
  startRun(rp: RestorePoint, initiatedBy: string): Promise<Run>;
  /** A line in the VM's vCenter events (Monitor > Events). */
  vmEvent?(vmId: string, text: string): Promise<void>;
  limits?: BuildLimits;
}

export type CatalogState = 'ready' | 'queued' | 'building' | 'failed' | 'missing';

export interface CatalogStatus {
  restorePointId: string;
  state: CatalogState;
  progress?: number;
  phase?: string;
  runId?: string;
  message?: string;
  builtAt?: string;
  files?: number;
  volumes?: CatalogVolume[];
  comparedWith?: { restorePointId: string; summary: Record<string, number>; massEncryption: MassEncryptionAssessment };
}

export interface FileMatch { restorePointId: string; createdAt: string; volume: string; path: string; size: number; mtime?: string }
export interface FileVersion { volume: string; path: string; size: number; mtime?: string; restorePoints: string[]; firstSeen: string; lastSeen: string }
export interface VersionsResult {
  pattern: string;
  /** Every restore point of the VM, newest first, with its catalog's state. */
  restorePoints: { id: string; createdAt: string; catalog: CatalogState }[];
  matches: FileMatch[];
  versions: FileVersion[];
  truncated: boolean;
  searchMs: number;
}

interface InFlight { state: 'queued' | 'building'; progress: number; phase: string; runId?: string; done: Promise<void>; resolve(): void }

export interface CatalogParams { restorePointId: string }

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export class CatalogService {
  readonly store: CatalogStore;
  readonly #d: CatalogServiceDeps;
  readonly #inflight = new Map<string, InFlight>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(d: CatalogServiceDeps) {
    this.#d = d;
    this.store = new CatalogStore(d.dataDir);
  }

  /** The run kind the runner registers: one VM, one restore point. */
  kind(): VmKind<CatalogParams> {
    return { kind: 'catalog', processVm: (ctx) => this.#process(ctx) };
  }

  /** After a backup: build the new point's catalog in the background. Never throws. */
  afterBackup(rp: RestorePoint): void {
    this.request(rp, 'Stillpoint (after the backup)').catch((e: Error) => log.warn({ rp: rp.id, err: e.message }, 'could not start the catalog build'));
    // Catalogs of the VM's points that retention or a user removed since.
    this.prune(rp.vm.id).catch((e: Error) => log.debug({ err: e.message }, 'could not prune catalogs'));
  }

  /** Starts a build unless the catalog is ready or being built; returns the status. */
  async request(rp: RestorePoint, initiatedBy: string, rebuild = false): Promise<CatalogStatus> {
    const running = this.#inflight.get(rp.id);
    if (running) return this.status(rp);
    if (!rebuild && this.store.has(rp.vm.id, rp.id)) return this.status(rp);
    let resolve!: () => void;
    const done = new Promise<void>((r) => { resolve = r; });
    const f: InFlight = { state: 'queued', progress: 0, phase: 'queued', done, resolve };
    this.#inflight.set(rp.id, f);
    try {
      f.runId = (await this.#d.startRun(rp, initiatedBy)).id;
    } catch (e) {
      this.#inflight.delete(rp.id);
      resolve();
      throw e;
    }
    return this.status(rp);
  }

  /** Waits for a build that is queued or running (tests, CLI). */
  async settled(rpId: string): Promise<void> { await this.#inflight.get(rpId)?.done; }

  status(rp: RestorePoint): CatalogStatus {
    const f = this.#inflight.get(rp.id);
    if (f) return { restorePointId: rp.id, state: f.state, progress: Math.round(f.progress), phase: f.phase, ...(f.runId ? { runId: f.runId } : {}) };
    const c = this.store.open(rp.vm.id, rp.id);
    if (c) {
      const h = c.header;
      return {
        restorePointId: rp.id, state: 'ready', progress: 100, builtAt: h.builtAt, ...(h.runId ? { runId: h.runId } : {}), files: h.volumes.reduce((n, v) => n + v.files, 0), volumes: h.volumes,
        ...(h.comparedWith ? { comparedWith: { restorePointId: h.comparedWith.rpId, summary: h.comparedWith.summary, massEncryption: h.comparedWith.massEncryption as MassEncryptionAssessment } } : {}),
      };
    }
    const failed = this.store.failure(rp.vm.id, rp.id);
    if (failed) return { restorePointId: rp.id, state: 'failed', message: failed.message };
    return { restorePointId: rp.id, state: 'missing' };
  }

  async #process(ctx: VmContext<CatalogParams>): Promise<VmOutcome> {
    const rpId = ctx.params.restorePointId;
    let f = this.#inflight.get(rpId);
    if (!f) {
      // Started by the runner directly (not through request()): track it all the same.
      let resolve!: () => void;
      const done = new Promise<void>((r) => { resolve = r; });
      f = { state: 'queued', progress: 0, phase: 'queued', done, resolve };
      this.#inflight.set(rpId, f);
    }
    const fl = f;
    fl.runId = ctx.runId;
    const report = (percent: number, phase: string) => { fl.progress = percent; fl.phase = phase; ctx.progress({ phase, percent }); };
    let rp: RestorePoint | undefined;
    try {
      const repo = await this.#d.repo();
      const point = rp = await repo.getRestorePoint(rpId);
      report(0, 'waiting for another catalog build');
      const mine = this.#queue.then(async () => {
        fl.state = 'building';
        return this.#build(repo, point, report, ctx.signal, ctx.runId);
      });
      this.#queue = mine.catch(() => undefined);
      return await mine;
    } catch (e) {
      if (rp && !ctx.signal.aborted) this.store.recordFailure(rp.vm.id, rp.id, (e as Error).message);
      throw e;
    } finally {
      this.#inflight.delete(rpId);
      fl.resolve();
    }
  }

  /** The VM's latest point before this one, with its catalog (built first when it has none and it can be). */
  async #previous(repo: Repository, rp: RestorePoint, report: (p: number, s: string) => void, signal: AbortSignal): Promise<{ rp: RestorePoint; catalog: CatalogFile } | undefined> {
    const older = (await repo.listRestorePoints({ vmId: rp.vm.id })).filter((p) => p.createdAt < rp.createdAt || (p.createdAt === rp.createdAt && p.id < rp.id))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const p = older[0];
    if (!p) return undefined;
    let catalog = this.store.open(p.vm.id, p.id);
    if (!catalog && !this.store.failure(p.vm.id, p.id) && !this.#inflight.has(p.id)) {
      report(0, `cataloguing the previous restore point ${p.id} first (to compare)`);
      try {
        await buildCatalog(repo, this.store, p, { ...this.#d.limits, signal });
        catalog = this.store.open(p.vm.id, p.id);
      } catch (e) {
        if (signal.aborted) throw e;
        this.store.recordFailure(p.vm.id, p.id, (e as Error).message);
      }
    }
    return catalog ? { rp: p, catalog } : undefined;
  }

  async #build(repo: Repository, rp: RestorePoint, report: (p: number, s: string) => void, signal: AbortSignal, runId: string): Promise<VmOutcome> {
    const previous = await this.#previous(repo, rp, report, signal);
    const r = await buildCatalog(repo, this.store, rp, { ...this.#d.limits, ...(previous ? { previous } : {}), progress: report, signal, runId });
    const vols = r.header.volumes;
    const files = vols.reduce((n, v) => n + v.files, 0);
    const warnings: string[] = [];
    for (const v of vols) {
      const where = v.name;
      if (v.error) warnings.push(`${where}: ${v.error}`);
      else if (v.consistency && !v.consistency.clean) warnings.push(`${where}: ${v.consistency.summary} (a restore of its files is as after a crash)`);
    }
    if (r.massEncryption?.warning) {
      warnings.unshift(r.massEncryption.summary);
      log.warn({ rp: rp.id, vm: rp.vm.id, assessment: { ...r.massEncryption, examples: undefined } }, 'possible mass encryption');
      await this.#d.vmEvent?.(rp.vm.id, `Stillpoint warning: ${r.massEncryption.summary} (restore point ${rp.id}, compared with ${previous!.rp.id})`)
        .catch((e: Error) => log.warn({ err: e.message }, 'could not log the vCenter event'));
    }
    const fsSummary = vols.filter((v) => v.consistency).map((v) => v.consistency!.summary).join('; ');
    const changes = r.diff ? ` Since ${previous!.rp.id}: ${r.diff.totals.added} added, ${r.diff.totals.removed} removed, ${r.diff.totals.changed} changed, ${r.diff.totals.renamed} renamed.` : '';
    return {
      status: warnings.length ? 'warning' : 'success',
      message: `Catalogued ${files} file(s) on ${vols.filter((v) => v.fsType).length} of ${vols.length} volume(s) of ${rp.id}${fsSummary ? ` (${fsSummary})` : ''}.${changes}`,
      restorePointId: rp.id, bytesRead: 0, bytesStored: 0, warnings,
    };
  }

  /** A ready catalog, or 409 naming what to do (building it on demand when it is missing). */
  async #ready(rp: RestorePoint, initiatedBy: string): Promise<CatalogFile> {
    const c = this.store.open(rp.vm.id, rp.id);
    if (c) return c;
    const s = this.status(rp);
    if (s.state === 'failed') throw new Conflict(`The file catalog of ${rp.id} could not be built: ${s.message}. Rebuild it (POST /api/restore-points/${rp.id}/catalog) once the cause is fixed.`);
    const now = s.state === 'missing' ? await this.request(rp, initiatedBy) : s;
    throw new Conflict(`The file catalog of ${rp.id} is being built (${now.progress ?? 0}%, run ${now.runId ?? 'starting'}): try again when it is ready.`);
  }

  /** Every version of the files a name or glob matches, across the VM's restore points (catalogs missing are built on demand). */
  async versions(vmId: string, pattern: string, initiatedBy: string, limit = 1000): Promise<VersionsResult> {
    const t0 = performance.now();
    const glob = parseGlob(pattern);
    const points = (await (await this.#d.repo()).listRestorePoints({ vmId })).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    const names = this.store.names(vmId);
    const ids = names.match(glob);
    const matches: FileMatch[] = [];
    const restorePoints: VersionsResult['restorePoints'] = [];
    let truncated = false;
    const missing: { p: RestorePoint; at: number }[] = [];
    for (const p of points) {
      const c = this.store.open(vmId, p.id);
      if (!c) {
        const s = this.status(p);
        if (s.state === 'missing') missing.push({ p, at: restorePoints.length });
        restorePoints.push({ id: p.id, createdAt: p.createdAt, catalog: s.state });
        continue;
      }
      restorePoints.push({ id: p.id, createdAt: p.createdAt, catalog: 'ready' });
      if (truncated || !ids.length) continue;
      const vols = c.header.volumes;
      for (const e of c.entriesAt(c.entriesNamed(ids))) {
        if (e.type !== 'file' || (glob.path && !glob.path.test(e.path.toLowerCase()))) continue;
        if (matches.length >= limit) { truncated = true; break; }
        const mtime = iso(e.mtime);
        matches.push({ restorePointId: p.id, createdAt: p.createdAt, volume: vols[e.volume]?.id ?? String(e.volume), path: e.path, size: e.size, ...(mtime ? { mtime } : {}) });
      }
    }
    const searchMs = Math.round((performance.now() - t0) * 10) / 10;
    // Oldest first: each on-demand build then finds its predecessor's catalog to compare with.
    for (const m of missing.reverse()) restorePoints[m.at]!.catalog = (await this.request(m.p, initiatedBy).catch(() => ({ state: 'missing' as const }))).state;
    return { pattern, restorePoints, matches, versions: groupVersions(matches), truncated, searchMs };
  }

  /** What changed from `before` to `after` (any order of age), with the mass-encryption check. */
  async changes(before: RestorePoint, after: RestorePoint, initiatedBy: string): Promise<{ diff: CatalogDiff; massEncryption: MassEncryptionAssessment }> {
    if (before.vm.id !== after.vm.id) throw new Conflict(`${before.id} and ${after.id} are restore points of different VMs: compare points of one VM.`);
    const [a, b] = await Promise.all([this.#ready(before, initiatedBy), this.#ready(after, initiatedBy)]);
    const entriesBefore = [...a.all()];
    const diff = diffCatalogs({ volumes: a.header.volumes, entries: entriesBefore }, { volumes: b.header.volumes, entries: b.all() });
    return { diff, massEncryption: assessMassEncryption({ volumes: a.header.volumes, entries: entriesBefore }, diff) };
  }

  /** A restore point was deleted (retention, a user): its catalog goes with it. */
  forget(vmId: string, rpId: string): void {
    if (this.store.remove(vmId, rpId)) log.debug({ rp: rpId }, 'catalog of a deleted restore point removed');
  }

  /** Removes the catalogs of every point the repository no longer has, whatever deleted it (e.g. `stillpoint repo prune` on the folder). */
  async pruneAll(): Promise<number> {
    const keep = new Set((await (await this.#d.repo()).listRestorePoints()).map((p) => p.id));
    for (const id of this.#inflight.keys()) keep.add(id);
    return this.store.pruneAll(keep);
  }

  /** Removes catalogs of points the repository no longer has. */
  async prune(vmId: string): Promise<number> {
    const keep = new Set((await (await this.#d.repo()).listRestorePoints({ vmId })).map((p) => p.id));
    for (const id of this.#inflight.keys()) keep.add(id);
    return this.store.prune(vmId, keep);
  }
}

/** Consecutive points (oldest first) where a file has the same size and mtime are one version. */
export function groupVersions(matches: FileMatch[]): FileVersion[] {
  const byFile = new Map<string, FileMatch[]>();
  for (const m of matches) { const k = `${m.volume}\0${m.path}`; (byFile.get(k) ?? byFile.set(k, []).get(k)!).push(m); }
  const out: FileVersion[] = [];
  for (const list of byFile.values()) {
    list.sort((x, y) => x.createdAt.localeCompare(y.createdAt));
    let cur: FileVersion | undefined;
    for (const m of list) {
      if (cur && cur.size === m.size && cur.mtime === m.mtime) { cur.restorePoints.push(m.restorePointId); cur.lastSeen = m.createdAt; continue; }
      cur = { volume: m.volume, path: m.path, size: m.size, ...(m.mtime ? { mtime: m.mtime } : {}), restorePoints: [m.restorePointId], firstSeen: m.createdAt, lastSeen: m.createdAt };
      out.push(cur);
    }
  }
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : y.lastSeen.localeCompare(x.lastSeen)));
}

