// Writes a stream of restored files into a running guest through vSphere guest operations: folders
// are made where missing (MakeDirectoryInGuest), each file is streamed with
// InitiateFileTransferToGuest + PUT, with its attributes where the guest API carries them (posix:
// mode, owner, times; windows: hidden, read-only, times). What happens to a file that exists already
// is the caller's choice: skip it, overwrite it, or keep both (the restored one gets "name (1).ext").
//
// Guest paths are built here, from a target folder the user gave (or the file's original location)
// and the file's path relative to it, one checked segment at a time: a name from the backup can never
// climb out of the target ('..', separators, drive letters and control characters are refused).
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { GuestFamily } from '../model/guest.ts';
import {
  FileFaultError, GuestOperationsError, InvalidArgumentError, InvalidStateError, VSphereError,
  type GuestCredentials, type GuestFileAttributes, type GuestFileInfo, type GuestUploadOptions, type MoRef,
} from '../vsphere/index.ts';

export type ExistingChoice = 'skip' | 'overwrite' | 'keep-both';

/** One file (or folder) to put into the guest. */
export interface GuestFileItem {
  /** Path below the target folder, '/'-separated (e.g. "Users/Public/report.docx"). */
  relativePath: string;
  /** The absolute guest path it had, for the 'original' target (guest syntax, e.g. "C:\Users\a.txt"). */
  originalPath?: string;
  type?: 'file' | 'dir';
  size: number;
  mtime?: Date;
  atime?: Date;
  /** Creation time (Windows guests keep it). */
  btime?: Date;
  mode?: number;
  uid?: number;
  gid?: number;
  hidden?: boolean;
  readOnly?: boolean;
  /** The file's bytes: exactly `size` of them. Called only when the file is going to be written. */
  open(): Promise<Readable> | Readable;
  /** Why this entry cannot be put into the guest (e.g. a symbolic link): it is reported as failed. */
  problem?: string;
}

export interface GuestFileSource {
  items: AsyncIterable<GuestFileItem>;
  /** For progress, when known in advance. */
  totalFiles?: number;
  totalBytes?: number;
}

export type GuestTarget = { kind: 'original' } | { kind: 'folder'; path: string };

/** The guest operations the sink needs (backend/vsphere/guest.ts). */
export interface GuestFileOps {
  uploadStream(vm: MoRef, creds: GuestCredentials, guestPath: string, data: () => Promise<Readable>, size: number, opts: GuestUploadOptions): Promise<void>;
  listAllFiles(vm: MoRef, creds: GuestCredentials, path: string): Promise<GuestFileInfo[]>;
  makeDirectory(vm: MoRef, creds: GuestCredentials, path: string, createParents: boolean): Promise<void>;
  changeAttributes(vm: MoRef, creds: GuestCredentials, path: string, attributes: GuestFileAttributes): Promise<void>;
}

export interface GuestFilesProgress { filesDone: number; bytesDone: number; totalFiles?: number; totalBytes?: number; current?: string }

export interface GuestFilesRequest {
  guest: GuestFileOps;
  vm: MoRef;
  creds: GuestCredentials;
  family: GuestFamily;
  target: GuestTarget;
  existing: ExistingChoice;
  /** Apply owner ids (posix); a guest user that may not chown would be refused. Default true. */
  keepOwner?: boolean;
  signal?: AbortSignal;
  onProgress?(p: GuestFilesProgress): void;
}

export interface GuestFilesResult {
  /** Files written, where to, and whether under another name (keep both). */
  written: { from: string; to: string; bytes: number; renamed: boolean }[];
  skipped: { from: string; to: string; reason: string }[];
  failed: { from: string; message: string }[];
  folders: string[];
  bytes: number;
}

/** A file or path that cannot be written (bad name, a folder in the way): that item fails, the rest go on. */
export class GuestPathError extends Error {
  override readonly name = 'GuestPathError';
}

/** The guest cannot be used at all (credentials, Tools, power state): the whole restore stops with this. */
export class GuestUnusableError extends Error {
  override readonly name = 'GuestUnusableError';
  readonly hint: string;
  constructor(message: string, hint: string, cause: unknown) {
    super(message, { cause });
    this.hint = hint;
  }
}

const MAX_SEGMENT = 255;
const MAX_PATH = 4096;
const KEEP_BOTH_TRIES = 1000;
// Windows refuses these characters and names in a path segment.
const WINDOWS_BAD = /[<>:"|?*\\/\x00-\x1f]/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

export function isWindows(family: GuestFamily): boolean { return family === 'windows'; }

/** Checks one path segment for the guest family; throws GuestPathError naming the problem. */
export function checkSegment(seg: string, family: GuestFamily, whole: string): void {
  if (seg === '' || seg === '.' || seg === '..') throw new GuestPathError(`'${whole}' has an empty, '.' or '..' part: it cannot be placed in the guest.`);
  if (seg.length > MAX_SEGMENT) throw new GuestPathError(`'${whole}' has a name longer than ${MAX_SEGMENT} characters.`);
  if (/[\x00-\x1f\x7f]/.test(seg)) throw new GuestPathError(`'${whole}' has a control character in a name.`);
  if (isWindows(family)) {
    if (WINDOWS_BAD.test(seg)) throw new GuestPathError(`'${whole}' has a name with a character Windows does not allow (<>:"|?*\\/): restore it to a Linux guest or download it instead.`);
    if (WINDOWS_RESERVED.test(seg) || /[. ]$/.test(seg)) throw new GuestPathError(`'${whole}' has a name Windows reserves or cannot keep ('${seg}').`);
  } else if (seg.includes('/')) {
    throw new GuestPathError(`'${whole}' has a name with '/'.`);
  }
}

/** Normalises an absolute guest folder for the family, or throws GuestPathError. */
export function guestFolder(path: string, family: GuestFamily): string {
  if (isWindows(family)) {
    const m = /^([A-Za-z]):[\\/]?(.*)$/.exec(path);
    if (!m) throw new GuestPathError(`The guest folder '${path}' is not an absolute Windows path such as C:\\Restore.`);
    const parts = m[2]!.split(/[\\/]+/).filter((p) => p !== '');
    for (const p of parts) checkSegment(p, family, path);
    return `${m[1]!.toUpperCase()}:\\${parts.join('\\')}`;
  }
  if (!path.startsWith('/')) throw new GuestPathError(`The guest folder '${path}' is not an absolute path such as /srv/restore.`);
  const parts = path.split('/').filter((p) => p !== '');
  for (const p of parts) checkSegment(p, family, path);
  return `/${parts.join('/')}`;
}

/** target folder + relative path, segment by segment; never leaves the folder. */
export function joinGuest(folder: string, relativePath: string, family: GuestFamily): string {
  const parts = relativePath.split('/').filter((p) => p !== '');
  if (!parts.length) throw new GuestPathError(`'${relativePath}' names no file.`);
  for (const p of parts) checkSegment(p, family, relativePath);
  const out = inGuestDir(folder, parts.join(isWindows(family) ? '\\' : '/'), family);
  if (out.length > MAX_PATH) throw new GuestPathError(`'${relativePath}' is too long for the guest.`);
  return out;
}

export function splitGuest(path: string, family: GuestFamily): { dir: string; name: string } {
  const sep = isWindows(family) ? '\\' : '/';
  const i = path.lastIndexOf(sep);
  const dir = path.slice(0, i);
  return { dir: dir === '' ? '/' : /^[A-Za-z]:$/.test(dir) ? `${dir}\\` : dir, name: path.slice(i + 1) };
}

/** A name in a guest folder (the folder may be a root such as "C:\\" or "/"). */
export function inGuestDir(dir: string, name: string, family: GuestFamily): string {
  const sep = isWindows(family) ? '\\' : '/';
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

/** "report.docx" → "report (n).docx"; ".bashrc" → ".bashrc (n)". */
export function keepBothName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}

/** The attributes the guest API can carry for this family. */
export function attributesFor(item: GuestFileItem, family: GuestFamily, keepOwner: boolean): GuestFileAttributes {
  const times = { ...(item.mtime ? { modificationTime: item.mtime } : {}), ...(item.atime ? { accessTime: item.atime } : {}) };
  if (isWindows(family)) {
    return {
      kind: 'windows', ...times, ...(item.btime ? { createTime: item.btime } : {}),
      ...(item.hidden !== undefined ? { hidden: item.hidden } : {}), ...(item.readOnly !== undefined ? { readOnly: item.readOnly } : {}),
    };
  }
  return {
    kind: 'posix', ...times, ...(item.mode !== undefined ? { permissions: item.mode & 0o7777 } : {}),
    ...(keepOwner && item.uid !== undefined ? { ownerId: item.uid } : {}), ...(keepOwner && item.gid !== undefined ? { groupId: item.gid } : {}),
  };
}

/** Counts what passes and fails the upload if the source yields more or fewer bytes than announced. */
class ExactLength extends Transform {
  readonly #want: number;
  readonly #onBytes: (n: number) => void;
  #seen = 0;
  constructor(want: number, onBytes: (n: number) => void) { super(); this.#want = want; this.#onBytes = onBytes; }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#want) { cb(new GuestPathError(`the restored file is longer than the ${this.#want} bytes its entry announced`)); return; }
    this.#onBytes(chunk.length);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(this.#seen === this.#want ? null : new GuestPathError(`the restored file ended after ${this.#seen} of ${this.#want} bytes`));
  }
}

/** The guest refuses this one path (its user may not write there): that file fails, the others go on. */
const deniedHere = (e: unknown): boolean => e instanceof GuestOperationsError && e.fault === 'GuestPermissionDenied';
/** The transfer of this one file was refused after the guest accepted it (e.g. attributes it may not set). */
const transferFailed = (e: unknown): boolean => e instanceof VSphereError && e.fault === 'GuestFileTransferFailed';

function unusable(e: unknown): GuestUnusableError | undefined {
  if (e instanceof GuestOperationsError && !deniedHere(e)) {
    const what = e.fault === 'InvalidGuestLogin' ? 'the guest refused the guest credential (wrong user name or password)' : e.message;
    return new GuestUnusableError(`Cannot use the guest: ${what}.`, e.hint, e);
  }
  if (e instanceof InvalidStateError) return new GuestUnusableError(`Cannot use the guest: ${e.message}.`, 'Power the VM on and make sure VMware Tools runs in it.', e);
  return undefined;
}

const isFault = (e: unknown, fault: string): boolean => e instanceof FileFaultError && e.fault === fault;

/** Writes the source's files into the guest. Per-file problems are collected; an unusable guest throws GuestUnusableError. */
export async function writeFilesToGuest(source: GuestFileSource, req: GuestFilesRequest): Promise<GuestFilesResult> {
  const { guest, vm, creds, family } = req;
  const keepOwner = req.keepOwner ?? true;
  const target = req.target.kind === 'folder' ? guestFolder(req.target.path, family) : undefined;
  const result: GuestFilesResult = { written: [], skipped: [], failed: [], folders: [], bytes: 0 };
  const fold = (s: string) => (isWindows(family) ? s.toLowerCase() : s);
  /** Folder (folded) → names in it (folded), for the folders this restore looked at. */
  const listings = new Map<string, Set<string>>();
  const folderAttributes: { from: string; to: string; attributes: GuestFileAttributes }[] = [];
  let filesDone = 0;
  const progress = (current?: string) => req.onProgress?.({
    filesDone, bytesDone: result.bytes, ...(source.totalFiles !== undefined ? { totalFiles: source.totalFiles } : {}),
    ...(source.totalBytes !== undefined ? { totalBytes: source.totalBytes } : {}), ...(current ? { current } : {}),
  });
  const guard = async <T>(f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (e) { throw unusable(e) ?? e; }
  };

  /** The names in a folder, making it (and its parents) when it is missing. */
  const folder = async (dir: string): Promise<Set<string>> => {
    const known = listings.get(fold(dir));
    if (known) return known;
    let names: Set<string>;
    try {
      const entries = await guard(() => guest.listAllFiles(vm, creds, dir));
      const self = entries.find((f) => f.path === '.');
      if (!self && entries.length === 1 && entries[0]!.type !== 'directory') throw new GuestPathError(`'${dir}' is a file in the guest, not a folder.`);
      names = new Set(entries.filter((f) => f.path !== '.' && f.path !== '..').map((f) => fold(f.path)));
    } catch (e) {
      if (!isFault(e, 'FileNotFound')) throw e;
      await guard(() => guest.makeDirectory(vm, creds, dir, true)).catch((err: unknown) => { if (!isFault(err, 'FileAlreadyExists')) throw err; });
      result.folders.push(dir);
      names = new Set();
    }
    listings.set(fold(dir), names);
    return names;
  };

  const writeOne = async (item: GuestFileItem, to: string): Promise<void> => {
    const { dir, name } = splitGuest(to, family);
    const names = await folder(dir);
    if (item.type === 'dir') {
      const existed = listings.has(fold(to)) || names.has(fold(name));
      await folder(to);
      names.add(fold(name));
      // A folder's times change while files are written into it: its attributes are set at the end.
      if (!existed || req.existing === 'overwrite') folderAttributes.push({ from: item.relativePath, to, attributes: attributesFor(item, family, keepOwner) });
      return;
    }
    let dest = to;
    let n = 0;
    if (names.has(fold(name))) {
      if (req.existing === 'skip') { result.skipped.push({ from: item.relativePath, to, reason: 'exists in the guest' }); return; }
      if (req.existing === 'keep-both') {
        do { n++; dest = inGuestDir(dir, keepBothName(name, n), family); } while (n < KEEP_BOTH_TRIES && names.has(fold(keepBothName(name, n))));
      }
    }
    const attributes = attributesFor(item, family, keepOwner);
    for (;;) {
      req.signal?.throwIfAborted();
      let sent = 0;
      try {
        await guard(() => guest.uploadStream(vm, creds, dest, async () => {
          const body = await item.open();
          const counted = new ExactLength(item.size, (k) => { sent += k; result.bytes += k; progress(item.relativePath); });
          // A file the restore point cannot give (damaged on the volume, a reader that timed out) fails alone.
          body.on('error', (err) => counted.destroy(new GuestPathError(`'${item.relativePath}' could not be read from the restore point: ${err.message}`)));
          return body.pipe(counted);
        }, item.size, { overwrite: req.existing === 'overwrite', attributes, ...(req.signal ? { signal: req.signal } : {}) }));
      } catch (e) {
        result.bytes -= sent;
        if (!isFault(e, 'FileAlreadyExists')) throw e;
        // It appeared since the folder was listed (or is a folder): decide again.
        names.add(fold(splitGuest(dest, family).name));
        if (req.existing === 'skip') { result.skipped.push({ from: item.relativePath, to: dest, reason: 'exists in the guest' }); return; }
        if (req.existing !== 'keep-both' || n >= KEEP_BOTH_TRIES) throw new GuestPathError(`'${dest}' exists in the guest and cannot be replaced (is it a folder?).`);
        n++;
        dest = inGuestDir(dir, keepBothName(name, n), family);
        continue;
      }
      names.add(fold(splitGuest(dest, family).name));
      result.written.push({ from: item.relativePath, to: dest, bytes: item.size, renamed: dest !== to });
      return;
    }
  };

  progress();
  for await (const item of source.items) {
    req.signal?.throwIfAborted();
    let to = item.relativePath;
    try {
      if (item.problem) throw new GuestPathError(item.problem);
      if (target) to = joinGuest(target, item.relativePath, family);
      else if (item.originalPath) to = isWindows(family) ? item.originalPath.replace(/\//g, '\\') : item.originalPath;
      else throw new GuestPathError(`The original location of '${item.relativePath}' in the guest is not known: restore it to a folder instead.`);
      if (!target) {
        const { dir, name } = splitGuest(to, family);
        checkSegment(name, family, to);
        to = joinGuest(guestFolder(dir, family), name, family);
      }
      await writeOne(item, to);
    } catch (e) {
      if (e instanceof GuestUnusableError || req.signal?.aborted) throw e;
      if (deniedHere(e)) result.failed.push({ from: item.relativePath, message: `the guest user may not write ${to}: ${(e as Error).message}` });
      else if (e instanceof GuestPathError || e instanceof FileFaultError || e instanceof InvalidArgumentError || transferFailed(e)) result.failed.push({ from: item.relativePath, message: (e as Error).message });
      else throw e;
    }
    filesDone++;
    progress();
  }
  // Deepest first, so setting a folder's times does not change its parent's afterwards.
  for (const f of folderAttributes.sort((a, b) => b.to.length - a.to.length)) {
    req.signal?.throwIfAborted();
    const { kind, ...given } = f.attributes;
    if (!Object.keys(given).length) continue;
    try {
      await guard(() => guest.changeAttributes(vm, creds, f.to, { kind, ...given }));
    } catch (e) {
      if (e instanceof GuestUnusableError || req.signal?.aborted) throw e;
      if (!(deniedHere(e) || e instanceof FileFaultError || e instanceof InvalidArgumentError)) throw e;
      result.failed.push({ from: f.from, message: `the folder ${f.to} was restored, but its attributes could not be set: ${(e as Error).message}` });
    }
  }
  return result;
}
