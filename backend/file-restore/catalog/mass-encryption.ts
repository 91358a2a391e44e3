// The mass-encryption check: comparing a new restore point with the VM's previous one, how many of
// the previous point's files were rewritten with random-looking content or replaced by files with a
// new, unknown extension (report.xlsx → report.xlsx.locked). Ransomware does both to most files at
// once; a normal day changes a few files, and new archives or media are high-entropy by nature.
//
// Thresholds (documented in the README of this folder and tested in test/file-restore):
//   - content is "high-entropy" at ≥ HIGH_ENTROPY bits/byte (sampled head and tail both), "low" below
//     LOW_ENTROPY; a changed file counts when it went from low (or unknown) to high, unless its
//     extension is a compressed format (zip, docx, jpg, mp4, …) whose content is high-entropy anyway;
//   - a file counts as renamed to an unknown extension when it disappeared and a file appeared at its
//     path plus a new extension, or with its stem and another extension, or with its file id, whose
//     extension is neither a known format nor present in the previous point, and whose content is
//     high-entropy (or could not be sampled);
//   - the warning is raised when the affected files are at least MIN_FILES and at least MIN_SHARE of
//     the previous point's sampled-size files, or at least MANY_FILES whatever the share.
import { bitsPerByte, MIN_SAMPLED_SIZE } from './entropy.ts';
import type { CatalogDiff } from './diff.ts';
import type { CatalogEntry } from './format.ts';

export const HIGH_ENTROPY = 7.5;
export const LOW_ENTROPY = 7.0;
export const MIN_FILES = 10;
export const MIN_SHARE = 0.25;
export const MANY_FILES = 2000;

/** Formats whose content is compressed or encrypted by design: high entropy says nothing. */
export const COMPRESSED_EXTENSIONS = new Set([
  'zip', '7z', 'rar', 'gz', 'tgz', 'bz2', 'xz', 'zst', 'lz4', 'lzma', 'cab', 'jar', 'war', 'apk', 'msi', 'deb', 'rpm', 'iso', 'dmg',
  'docx', 'xlsx', 'pptx', 'docm', 'xlsm', 'pptm', 'odt', 'ods', 'odp', 'epub', 'pdf', 'vsdx',
  'jpg', 'jpeg', 'png', 'gif', 'webp', 'heic', 'avif', 'mp3', 'aac', 'ogg', 'opus', 'flac', 'm4a', 'mp4', 'm4v', 'mkv', 'mov', 'avi', 'webm', 'wmv',
  'pst', 'ost', 'kdbx', 'gpg', 'pgp', 'p12', 'pfx', 'vhdx', 'vmdk', 'qcow2', 'wim', 'esd', 'bak',
]);

/** Everyday extensions: a rename to one of these is not suspicious by its name. */
const KNOWN_EXTENSIONS = new Set([
  ...COMPRESSED_EXTENSIONS,
  'txt', 'log', 'csv', 'tsv', 'json', 'xml', 'yaml', 'yml', 'ini', 'conf', 'cfg', 'md', 'rst', 'html', 'htm', 'css', 'js', 'ts', 'py', 'sh', 'ps1', 'bat', 'cmd',
  'doc', 'xls', 'ppt', 'rtf', 'old', 'orig', 'tmp', 'temp', 'swp', 'lock', 'pid', 'db', 'sqlite', 'mdb', 'accdb', 'dat', 'bin', 'exe', 'dll', 'sys', 'so', 'o', 'a',
  'bmp', 'tif', 'tiff', 'svg', 'ico', 'wav', 'eml', 'msg', 'ics', 'vcf', 'lnk', 'url', '1', '2', '3', 'gz.1',
]);

export interface MassEncryptionAssessment {
  warning: boolean;
  /** Files of the previous point large enough to judge (≥ MIN_SAMPLED_SIZE bytes). */
  filesBefore: number;
  rewrittenHighEntropy: number;
  renamedUnknownExtension: number;
  /** Distinct previous files affected by either. */
  affected: number;
  share: number;
  /** The new extensions seen most, e.g. { locked: 240 }. */
  newExtensions: Record<string, number>;
  examples: string[];
  thresholds: { highEntropy: number; lowEntropy: number; minFiles: number; minShare: number; manyFiles: number };
  /** One line for the run and the vCenter event. */
  summary: string;
}

export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1) : '';
}

const stemOf = (path: string): string => { const dot = path.lastIndexOf('.'); return dot > path.lastIndexOf('/') + 1 ? path.slice(0, dot) : path; };
const high = (code: number | undefined): boolean => code !== undefined && bitsPerByte(code) >= HIGH_ENTROPY;
const lowOrUnknown = (code: number | undefined): boolean => code === undefined || bitsPerByte(code) < LOW_ENTROPY;

export function assessMassEncryption(before: Iterable<CatalogEntry>, diff: CatalogDiff): MassEncryptionAssessment {
  let filesBefore = 0;
  const knownBefore = new Set<string>();
  for (const e of before) {
    if (e.type !== 'file') continue;
    knownBefore.add(extensionOf(e.path));
    if (e.size >= MIN_SAMPLED_SIZE) filesBefore++;
  }
  const unknownExt = (ext: string): boolean => ext !== '' && !KNOWN_EXTENSIONS.has(ext) && !knownBefore.has(ext);
  const affected = new Set<string>();
  const examples: string[] = [];
  const newExtensions: Record<string, number> = {};
  let rewritten = 0;
  for (const c of diff.changed) {
    if (c.after.size < MIN_SAMPLED_SIZE || COMPRESSED_EXTENSIONS.has(extensionOf(c.path))) continue;
    if (high(c.after.entropy) && lowOrUnknown(c.before.entropy)) {
      rewritten++;
      affected.add(`${c.volume}\0${c.path}`);
      if (examples.length < 5) examples.push(`${c.path} (rewritten, ${bitsPerByte(c.after.entropy!).toFixed(2)} bits/byte)`);
    }
  }
  let renamedUnknown = 0;
  const suspiciousTarget = (path: string, entropy: number | undefined): string | undefined => {
    const ext = extensionOf(path);
    return unknownExt(ext) && (entropy === undefined || high(entropy)) ? ext : undefined;
  };
  const count = (volume: string, from: string, to: string, ext: string) => {
    renamedUnknown++;
    affected.add(`${volume}\0${from}`);
    newExtensions[ext] = (newExtensions[ext] ?? 0) + 1;
    if (examples.length < 5) examples.push(`${from} → ${to.slice(to.lastIndexOf('/') + 1)}`);
  };
  for (const r of diff.renamed) {
    const ext = suspiciousTarget(r.to, r.entropy);
    if (ext && r.size >= MIN_SAMPLED_SIZE) count(r.volume, r.from, r.to, ext);
  }
  // Written anew under another name (another file id): the removed file's path + ".ext", or its stem + ".ext".
  const removedByPath = new Map(diff.removed.map((r) => [`${r.volume}\0${r.path}`, r]));
  const removedByStem = new Map(diff.removed.map((r) => [`${r.volume}\0${stemOf(r.path)}`, r]));
  for (const n of diff.added) {
    const ext = suspiciousTarget(n.path, n.entropy);
    if (!ext) continue;
    const withoutExt = n.path.slice(0, n.path.length - ext.length - 1);
    const was = removedByPath.get(`${n.volume}\0${withoutExt}`) ?? removedByStem.get(`${n.volume}\0${withoutExt}`);
    if (was && was.size >= MIN_SAMPLED_SIZE && !affected.has(`${n.volume}\0${was.path}`)) count(n.volume, was.path, n.path, ext);
  }
  const share = filesBefore ? affected.size / filesBefore : 0;
  const warning = affected.size >= MIN_FILES && (share >= MIN_SHARE || affected.size >= MANY_FILES);
  const exts = Object.entries(newExtensions).sort((x, y) => y[1] - x[1]).slice(0, 5).map(([e, n]) => `.${e} (${n})`);
  const summary = warning
    ? `Possible mass encryption: ${affected.size} of ${filesBefore} files (${Math.round(share * 100)}%) changed like ransomware does since the previous restore point — ` +
      `${rewritten} rewritten with random-looking content, ${renamedUnknown} replaced by files with a new extension${exts.length ? ` ${exts.join(', ')}` : ''}. ` +
      'Check the VM now, and restore from a restore point before the change if it is an attack.'
    : `No sign of mass encryption: ${affected.size} of ${filesBefore} files changed like encryption would (${Math.round(share * 100)}%).`;
  return {
    warning, filesBefore, rewrittenHighEntropy: rewritten, renamedUnknownExtension: renamedUnknown, affected: affected.size, share, newExtensions, examples,
    thresholds: { highEntropy: HIGH_ENTROPY, lowEntropy: LOW_ENTROPY, minFiles: MIN_FILES, minShare: MIN_SHARE, manyFiles: MANY_FILES },
    summary,
  };
}
