import type { FileEntry, FileVolume } from '@contract';
import type { I18n } from '../../core/i18n';

/** Key of an entry in a selection: volume and ref (refs are unique per volume only). */
export const entryKey = (e: { volumeId: string; ref: string }): string => `${e.volumeId}\u0000${e.ref}`;

/** Attributes worth showing: the reader's flags without the ones the type column already says. */
const HIDDEN_ATTRS = new Set(['directory', 'normal']);

/** Windows/ext attributes in the UI's language (unknown flags as the reader names them), and POSIX mode bits. */
export function attributesText(e: FileEntry, i18n: I18n): string {
  const parts = (e.attributes ?? []).filter((a) => !HIDDEN_ATTRS.has(a)).map((a) => {
    const key = `fileRestore.attr.${a}`;
    return i18n.has(key) ? i18n.t(key) : a;
  });
  if (e.mode !== undefined) parts.unshift(modeString(e));
  return parts.join(', ');
}

/** `drwxr-xr-x` from the POSIX mode bits. */
export function modeString(e: FileEntry): string {
  const m = e.mode ?? 0;
  const kind = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-';
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return kind + rwx(m >> 6, !!(m & 0o4000), 's') + rwx(m >> 3, !!(m & 0o2000), 's') + rwx(m, !!(m & 0o1000), 't');
}

/** "Hard disk 1 › 2: data (ext)" — how a volume is named in breadcrumbs and search results. */
export function volumeName(v: FileVolume | undefined, i18n: I18n): string {
  if (!v) return '';
  const part = v.partition !== undefined ? i18n.t('fileRestore.partitionN', { n: v.partition }) : i18n.t('fileRestore.wholeDisk');
  return `${v.diskLabel} › ${part}${v.label ? ' ' + i18n.t('fileRestore.quoted', { text: v.label }) : ''}`;
}

/** Clicks a link to `url` so that the browser downloads it (the service answers with Content-Disposition: attachment). */
export function startDownload(url: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = '';
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
