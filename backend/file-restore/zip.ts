/**
 * A zip of files and folders of one restore point, written as a stream: entries are added as the
 * walk finds them and each file's bytes are read from the browse worker only when yazl reaches it,
 * so nothing is copied to a temporary file or buffered whole. yazl switches to zip64 by itself for
 * archives or entries past 4 GiB or 65,535 entries.
 */
import yazl from 'yazl';
import type { Readable } from 'node:stream';
import type { PointSession } from './sessions.ts';

export interface ZipItem { volumeId: string; ref: string }

/** Added to a zip when folders could not be read: what is missing, and why. */
export const ERRORS_FILE = 'STILLPOINT-ERRORS.txt';

/** A name from the guest as one safe zip path component (no separators, no '.'/'..', no control characters). */
export function zipName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const s = name.replace(/[\\/\x00-\x1f]/g, '_');
  return s === '' || s === '.' || s === '..' ? '_' : s;
}

const safePath = (p: string) => p.split('/').filter((x) => x !== '').map(zipName).join('/');

/** Makes `name` unique among `taken` ("a.txt", "a (2).txt"). */
function unique(name: string, taken: Set<string>): string {
  let n = name;
  for (let i = 2; taken.has(n.toLowerCase()); i++) {
    const dot = name.lastIndexOf('.');
    n = dot > 0 ? `${name.slice(0, dot)} (${i})${name.slice(dot)}` : `${name} (${i})`;
  }
  taken.add(n.toLowerCase());
  return n;
}

/**
 * The zip stream of `items` (files, or folders with everything under them). Each item sits at the top
 * of the archive under its own name. Folders the walk cannot read are skipped and listed in
 * STILLPOINT-ERRORS.txt at the top of the archive; a file whose data cannot be read fails the
 * archive. `onError` hears a failure while the archive is being written (the
 * stream is then destroyed: the client sees a cut download, never a silently incomplete archive).
 */
export function zipStream(session: PointSession, items: ZipItem[], onError?: (e: Error) => void): Readable {
  const zip = new yazl.ZipFile();
  const release = session.hold();
  const out = zip.outputStream as Readable;
  const fail = (e: Error) => { onError?.(e); out.destroy(e); release(); };
  zip.on('error', fail);
  out.once('close', release);
  out.once('end', release);
  void (async () => {
    const taken = new Set<string>();
    const problems: string[] = [];
    for (const item of items) {
      const top = await session.stat(item.volumeId, item.ref);
      const base = unique(zipName(top.name || item.volumeId), taken);
      if (top.type === 'dir') zip.addEmptyDirectory(base, { mtime: top.mtime ? new Date(top.mtime) : new Date(0) });
      for await (const e of session.walk(item.volumeId, item.ref, (p) => problems.push(`${base}: ${p.message}`))) {
        if (out.destroyed) return;
        const rel = top.type === 'dir' ? `${base}/${safePath(e.path)}` : base;
        const mtime = e.mtime ? new Date(e.mtime) : new Date(0);
        if (e.type === 'dir') { zip.addEmptyDirectory(rel, { mtime }); continue; }
        if (e.type !== 'file') continue; // symlinks, reparse points, devices: nothing to copy
        zip.addReadStreamLazy(rel, { mtime, size: e.size, compress: e.size >= 256 && e.size < 512 * 1024 * 1024, ...(e.mode !== undefined ? { mode: (e.mode & 0o7777) | 0o100000 } : {}) },
          (cb) => cb(null, session.fileStream(item.volumeId, e.ref, 0, e.size)));
      }
    }
    if (problems.length) {
      const report = `Stillpoint could not read everything you asked for from restore point ${session.rpId}: the filesystem is damaged there.\r\n` +
        `These folders are missing from this archive or incomplete:\r\n\r\n${problems.join('\r\n')}\r\n`;
      zip.addBuffer(Buffer.from(report, 'utf8'), unique(ERRORS_FILE, taken), { mtime: new Date() });
    }
    zip.end();
  })().catch(fail);
  return out;
}
