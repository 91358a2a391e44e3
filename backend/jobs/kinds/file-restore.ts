// The file-restore kind: files and folders of a restore point put back into the running VM through
// guest operations (sinks/guest-files.ts), as a run with progress and history and a vCenter task on
// the VM. The run's VM entry is the VM the files go into; its message says what was written, skipped
// and renamed. The files are read through a browse session of the restore point (backend/file-restore),
// named by volume id + entry ref, never by a path a client sent.
import type { Readable } from 'node:stream';
import { childLog } from '../../common/log.ts';
import { NotFound } from '../../common/errors.ts';
import type { GuestFamily } from '../../model/guest.ts';
import { TASK_TYPES } from '../../model/vcenter-tasks.ts';
import {
  writeFilesToGuest, GuestUnusableError, type ExistingChoice, type GuestFileItem, type GuestFileOps, type GuestFileSource, type GuestFilesResult, type GuestTarget,
} from '../../sinks/guest-files.ts';
import type { GuestCredentials, MoRef, VcTask } from '../../vsphere/index.ts';
import type { VmContext, VmKind, VmOutcome } from '../kinds.ts';
import { say, sayList } from '../../common/service-text.ts';

const log = childLog('file-restore-run');

export interface FileItemRef { volumeId: string; ref: string }

export interface FileRestoreParams {
  restorePointId: string;
  items: FileItemRef[];
  target: GuestTarget;
  existing: ExistingChoice;
  credentialId: string;
}

/** An entry as the browse session reports it (filesystems/types.ts FsEntry). */
export interface PointEntry {
  ref: string; name: string; type: string; size: number;
  mtime?: string; atime?: string; btime?: string; mode?: number; uid?: number; gid?: number; attributes?: string[];
}

/** What the kind reads through: a browse session of the restore point (file-restore/sessions.ts PointSession). */
export interface PointFiles {
  stat(volumeId: string, ref: string): Promise<PointEntry>;
  /** Everything under a folder (or the one file), paths relative to it, depth first. */
  walk(volumeId: string, ref: string): AsyncIterable<PointEntry & { path: string }>;
  lookup(volumeId: string, path: string): Promise<PointEntry>;
  list(volumeId: string, ref: string | undefined, offset: number, limit: number): Promise<{ dir: PointEntry }>;
  fileStream(volumeId: string, ref: string, start: number, end: number): Readable;
  /** Keeps the session open while the run uses it; call the result when done. */
  hold(): () => void;
}

export interface FileRestoreKindDeps {
  openPoint(restorePointId: string): Promise<PointFiles>;
  /** The VM in its own vCenter: guest operations, the bare moref, its guest family, a vCenter task on it. */
  guestOf(vmId: string): Promise<{ guest: GuestFileOps; vm: MoRef; family: GuestFamily; task(initiatedBy: string): Promise<VcTask | undefined> }>;
  /** The stored guest credential's secret (throws NotFound when it was deleted since). */
  credential(id: string): GuestCredentials;
}

/** Walks of the volume root to find where an entry is are bounded (the original-location target). */
const MAX_WALK_FOR_PATH = 500_000;

const has = (e: PointEntry, attr: string) => (e.attributes ? e.attributes.includes(attr) : undefined);
const date = (s: string | undefined) => (s ? new Date(s) : undefined);

function fileItem(files: PointFiles, volumeId: string, e: PointEntry, relativePath: string, originalPath: string | undefined): GuestFileItem {
  const mtime = date(e.mtime); const atime = date(e.atime); const btime = date(e.btime);
  const hidden = has(e, 'hidden'); const readOnly = has(e, 'readonly');
  return {
    relativePath, type: e.type === 'dir' ? 'dir' : 'file', size: e.type === 'dir' ? 0 : e.size,
    ...(originalPath ? { originalPath } : {}), ...(mtime ? { mtime } : {}), ...(atime ? { atime } : {}), ...(btime ? { btime } : {}),
    ...(e.mode !== undefined ? { mode: e.mode } : {}), ...(e.uid !== undefined ? { uid: e.uid } : {}), ...(e.gid !== undefined ? { gid: e.gid } : {}),
    ...(hidden !== undefined ? { hidden } : {}), ...(readOnly !== undefined ? { readOnly } : {}),
    open: () => files.fileStream(volumeId, e.ref, 0, e.size),
  };
}

/** Folders that mark the volume a guest starts from: Windows' system volume (C:\), Linux's root filesystem (/). */
const SYSTEM_VOLUME_MARKS: Record<'windows' | 'linux', { mount: string; any: string[] }> = {
  windows: { mount: 'C:\\', any: ['Windows/System32', 'Users'] },
  linux: { mount: '/', any: ['etc/fstab', 'etc/os-release', 'etc/hostname'] },
};

/**
 * Where a volume is in the guest, when the restore point shows it: the Windows system volume is C:\,
 * the Linux root filesystem is /. Other volumes' mount points are not known (restore to a folder).
 */
async function mountPoint(files: PointFiles, volumeId: string, family: GuestFamily): Promise<string | undefined> {
  const marks = family === 'other' ? undefined : SYSTEM_VOLUME_MARKS[family];
  if (!marks) return undefined;
  for (const m of marks.any) if (await files.lookup(volumeId, m).then(() => true, () => false)) return marks.mount;
  return undefined;
}

/** Paths from the volume root of the entries `refs` name, by one bounded walk of the volume. */
async function pathsFromRoot(files: PointFiles, volumeId: string, refs: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const root = (await files.list(volumeId, undefined, 0, 1)).dir;
  let seen = 0;
  for await (const e of files.walk(volumeId, root.ref)) {
    if (refs.has(e.ref)) found.set(e.ref, e.path);
    if (found.size === refs.size || ++seen >= MAX_WALK_FOR_PATH) break;
  }
  return found;
}

/** The selected entries, each file and folder under the selected folders, as the sink takes them. */
export async function pointFileSource(files: PointFiles, items: FileItemRef[], target: GuestTarget, family: GuestFamily): Promise<GuestFileSource> {
  const tops = await Promise.all(items.map(async (i) => ({ ...i, entry: await files.stat(i.volumeId, i.ref) })));
  const origin = new Map<string, string | undefined>(); // volumeId:ref → absolute guest path of the top entry
  // Some filesystems keep names only in folders (ext: an inode has none), so an entry stat'ed by its ref
  // may come without its name; its path from the volume root gives both the name and the original place.
  const nameless = (e: PointEntry) => !e.name || e.name === e.ref;
  for (const volumeId of new Set(items.map((i) => i.volumeId))) {
    const mine = tops.filter((t) => t.volumeId === volumeId);
    if (target.kind !== 'original' && !mine.some((t) => nameless(t.entry))) continue;
    const mount = target.kind === 'original' ? await mountPoint(files, volumeId, family) : undefined;
    const paths = await pathsFromRoot(files, volumeId, new Set(mine.map((t) => t.ref)));
    const sep = family === 'windows' ? '\\' : '/';
    for (const t of mine) {
      const p = paths.get(t.ref);
      if (p === undefined) continue;
      if (nameless(t.entry)) t.entry = { ...t.entry, name: p.split('/').at(-1)! };
      if (mount) origin.set(`${volumeId}:${t.ref}`, mount + p.split('/').join(sep));
    }
  }
  // Totals for progress: one walk of each selected folder (metadata only) before any byte is read.
  let totalBytes = 0;
  let totalFiles = 0;
  for (const t of tops) {
    if (t.entry.type === 'file') { totalBytes += t.entry.size; totalFiles++; }
    if (t.entry.type === 'dir') for await (const e of files.walk(t.volumeId, t.ref)) if (e.path && e.type === 'file') { totalBytes += e.size; totalFiles++; }
  }
  const problem = (e: PointEntry, path: string): string | undefined => (e.type === 'file' || e.type === 'dir' ? undefined
    : `'${path}' is a ${e.type === 'symlink' ? 'symbolic link' : e.type === 'reparse' ? 'reparse point (junction or link)' : 'special file'}: only files and folders are put into the guest.`);
  async function* walkAll(): AsyncGenerator<GuestFileItem> {
    for (const t of tops) {
      const base = origin.get(`${t.volumeId}:${t.ref}`);
      const name = t.entry.name || t.volumeId;
      if (nameless(t.entry)) {
        yield { ...fileItem(files, t.volumeId, t.entry, name, base), problem: `The name of entry ${t.ref} on volume ${t.volumeId} was not found (its folder could not be walked): pick it from its folder again.` };
        continue;
      }
      const p = problem(t.entry, name);
      if (p || t.entry.type === 'file') { yield { ...fileItem(files, t.volumeId, t.entry, name, base), ...(p ? { problem: p } : {}) }; continue; }
      yield fileItem(files, t.volumeId, t.entry, name, base);
      const sep = family === 'windows' ? '\\' : '/';
      for await (const e of files.walk(t.volumeId, t.ref)) {
        if (!e.path) continue;
        const item = fileItem(files, t.volumeId, e, `${name}/${e.path}`, base && `${base}${sep}${e.path.split('/').join(sep)}`);
        const p = problem(e, item.relativePath);
        yield p ? { ...item, problem: p } : item;
      }
    }
  }
  return { items: walkAll(), totalFiles, totalBytes };
}

function summary(r: GuestFilesResult, vmName: string): string {
  const mb = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} bytes`);
  const parts: string[] = [];
  const renamed = r.written.filter((w) => w.renamed);
  if (renamed.length) parts.push(say('putBack.renamed', { n: renamed.length, example: renamed[0]!.to }));
  if (r.skipped.length) parts.push(say('putBack.skipped', { n: r.skipped.length }));
  if (r.folders.length) parts.push(say('putBack.folders', { n: r.folders.length }));
  if (r.failed.length) parts.push(say('putBack.failed', { n: r.failed.length }));
  return say('putBack.result', { n: r.written.length, size: mb(r.bytes), vm: vmName, more: parts.length ? say('putBack.more', { items: sayList(parts) }) : '' });
}

export class FileRestoreKind implements VmKind<FileRestoreParams> {
  readonly kind = 'file-restore' as const;
  readonly #d: FileRestoreKindDeps;
  constructor(deps: FileRestoreKindDeps) { this.#d = deps; }

  async processVm(ctx: VmContext<FileRestoreParams>): Promise<VmOutcome> {
    const p = ctx.params;
    ctx.progress({ phase: say('phase.openingRestorePoint'), percent: 0 });
    const { guest, vm, family, task: openTask } = await this.#d.guestOf(ctx.vmId);
    const task = await openTask(ctx.initiatedBy);
    try {
      let creds: GuestCredentials;
      try { creds = this.#d.credential(p.credentialId); } catch (e) {
        if (e instanceof NotFound) throw new Error('The guest credential was deleted after the restore was started: store it again and restart the restore.');
        throw e;
      }
      const files = await this.#d.openPoint(p.restorePointId);
      const release = files.hold();
      try {
        const source = await pointFileSource(files, p.items, p.target, family);
        let lastTask = 0;
        const r = await writeFilesToGuest(source, {
          guest, vm, creds, family, target: p.target, existing: p.existing, signal: ctx.signal,
          onProgress: (pr) => {
            const percent = pr.totalBytes ? Math.min(99, (100 * pr.bytesDone) / pr.totalBytes) : pr.totalFiles ? Math.min(99, (100 * pr.filesDone) / pr.totalFiles) : undefined;
            ctx.progress({ phase: pr.current ? say('phase.writingFile', { file: pr.current }) : say('phase.writingFilesIntoGuest'), bytesRead: pr.bytesDone, ...(percent !== undefined ? { percent } : {}) });
            if (task && percent !== undefined && Date.now() - lastTask > 1000) { lastTask = Date.now(); void task.progress(percent).catch(() => undefined); }
          },
        });
        const message = summary(r, ctx.vmName);
        const warnings = r.failed.map((f) => `${f.from}: ${f.message}`);
        if (r.failed.length && !r.written.length && !r.skipped.length) throw new Error(`${message} ${warnings.slice(0, 5).join(' ')}`);
        await task?.succeed(message).catch(() => undefined);
        log.info({ run: ctx.runId, vm: ctx.vmId, written: r.written.length, skipped: r.skipped.length, failed: r.failed.length }, 'files restored into the guest');
        return { status: warnings.length ? 'warning' : 'success', message, restorePointId: p.restorePointId, bytesRead: r.bytes, bytesStored: 0, warnings };
      } finally { release(); }
    } catch (e) {
      const err = e instanceof GuestUnusableError ? new Error(`${e.message} ${e.hint}`) : e as Error;
      await task?.fail(err.message).catch(() => undefined);
      throw err;
    }
  }
}
