// The mass-encryption check: comparing a new restore point with the VM's previous one, how many of
// the previous point's files were rewritten with random-looking content or replaced by files with a
// new, unknown extension (report.xlsx → report.xlsx.locked). Ransomware does both to most files at
// once; a normal day changes a few files, and new archives or media are high-entropy by nature.
//
// Thresholds (tested in test/file-restore/catalog.test.ts):
//   - content is "high-entropy" at ≥ HIGH_ENTROPY bits/byte (sampled head and tail both), "low" below
//     LOW_ENTROPY; a changed file counts when it went from low to high, unless its extension is a
//     compressed format (zip, docx, jpg, mp4, …) whose content is high-entropy anyway. The earlier
//     version's sample comes from the previous catalog, or the build reads it from the previous point
//     (scan.ts); one still unknown is not counted (a rewritten archive or media file is high before
//     and after: counting unknown as low raised false warnings);
//   - a file counts as renamed to an unknown extension when it disappeared and a file appeared at its
//     path plus a new extension, or with its stem and another extension, or with its file id, whose
//     extension is neither a known format nor present in the previous point, and whose content is
//     high-entropy (or could not be sampled);
//   - a build samples at most MAX_SAMPLES new or changed files per volume (scan.ts), evenly over the
//     walk; past that, the rewritten count is the sampled ones' share times the changed files;
//   - the warning is raised when, on one volume, the affected files are at least MIN_FILES and at least
//     MIN_SHARE of that volume's files of judgeable size in the previous point, or when at least
//     MANY_FILES are affected over the whole VM whatever the share.
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

export interface VolumeAssessment {
  volume: string;
  /** Files of the previous point on this volume large enough to judge (≥ MIN_SAMPLED_SIZE bytes). */
  filesBefore: number;
  rewrittenHighEntropy: number;
  renamedUnknownExtension: number;
  /** Distinct previous files affected by either. */
  affected: number;
  share: number;
}

export interface MassEncryptionAssessment extends Omit<VolumeAssessment, 'volume'> {
  warning: boolean;
  /** Per volume (ransomware often spares system volumes: a share over the whole VM would dilute it). */
  volumes: VolumeAssessment[];
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
const low = (code: number | undefined): boolean => code !== undefined && bitsPerByte(code) < LOW_ENTROPY;
const pct = (x: number): string => `${Math.round(x * 100)}%`;

/** `before`: the previous point's catalog (its volumes name the entries' volume indexes). */
export function assessMassEncryption(before: { volumes: { id: string; name?: string }[]; entries: Iterable<CatalogEntry> }, diff: CatalogDiff): MassEncryptionAssessment {
  const vols = new Map<string, VolumeAssessment>();
  const vol = (id: string): VolumeAssessment => vols.get(id) ?? vols.set(id, { volume: id, filesBefore: 0, rewrittenHighEntropy: 0, renamedUnknownExtension: 0, affected: 0, share: 0 }).get(id)!;
  const knownBefore = new Set<string>();
  for (const e of before.entries) {
    if (e.type !== 'file') continue;
    knownBefore.add(extensionOf(e.path));
    if (e.size >= MIN_SAMPLED_SIZE) vol(before.volumes[e.volume]?.id ?? String(e.volume)).filesBefore++;
  }
  const unknownExt = (ext: string): boolean => ext !== '' && !KNOWN_EXTENSIONS.has(ext) && !knownBefore.has(ext);
  const affected = new Set<string>();
  const examples: string[] = [];
  const newExtensions: Record<string, number> = {};
  const hit = (volume: string, path: string): boolean => {
    const k = `${volume}\0${path}`;
    if (affected.has(k)) return false;
    affected.add(k);
    vol(volume).affected++;
    return true;
  };
  // Changed files judgeable by content per volume, and how many of them were judged (both versions
  // sampled; scan.ts samples at most MAX_SAMPLES per volume, evenly over the volume): the rewritten
  // count is extrapolated from the judged share when the cap left some unjudged.
  const judgeable = new Map<string, { all: number; sampled: number }>();
  for (const c of diff.changed) {
    if (c.after.size < MIN_SAMPLED_SIZE || COMPRESSED_EXTENSIONS.has(extensionOf(c.path))) continue;
    const j = judgeable.get(c.volume) ?? judgeable.set(c.volume, { all: 0, sampled: 0 }).get(c.volume)!;
    j.all++;
    // Judged: both versions sampled.
    if (c.after.entropy !== undefined && c.before.entropy !== undefined) j.sampled++;
    if (high(c.after.entropy) && low(c.before.entropy) && hit(c.volume, c.path)) {
      vol(c.volume).rewrittenHighEntropy++;
      if (examples.length < 5) examples.push(`${c.path} (rewritten, ${bitsPerByte(c.after.entropy!).toFixed(2)} bits/byte)`);
    }
  }
  const suspiciousTarget = (path: string, entropy: number | undefined): string | undefined => {
    const ext = extensionOf(path);
    return unknownExt(ext) && (entropy === undefined || high(entropy)) ? ext : undefined;
  };
  const count = (volume: string, from: string, to: string, ext: string) => {
    if (!hit(volume, from)) return;
    vol(volume).renamedUnknownExtension++;
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
    if (was && was.size >= MIN_SAMPLED_SIZE) count(n.volume, was.path, n.path, ext);
  }
  for (const [id, j] of judgeable) {
    const v = vols.get(id);
    if (!v || !j.sampled || j.sampled >= j.all || !v.rewrittenHighEntropy) continue;
    const extra = Math.round((v.rewrittenHighEntropy * j.all) / j.sampled) - v.rewrittenHighEntropy;
    v.rewrittenHighEntropy += extra;
    v.affected += extra;
  }
  const list = [...vols.values()].map((v) => ({ ...v, share: v.filesBefore ? v.affected / v.filesBefore : 0 }));
  const sum = (k: 'filesBefore' | 'rewrittenHighEntropy' | 'renamedUnknownExtension' | 'affected') => list.reduce((n, v) => n + v[k], 0);
  const total = { filesBefore: sum('filesBefore'), rewrittenHighEntropy: sum('rewrittenHighEntropy'), renamedUnknownExtension: sum('renamedUnknownExtension'), affected: sum('affected') };
  const share = total.filesBefore ? total.affected / total.filesBefore : 0;
  const flagged = list.filter((v) => v.affected >= MIN_FILES && v.share >= MIN_SHARE).sort((x, y) => y.share - x.share);
  const warning = flagged.length > 0 || total.affected >= MANY_FILES;
  const worst = flagged[0];
  const name = (id: string) => before.volumes.find((v) => v.id === id)?.name ?? `volume ${id}`;
  const exts = Object.entries(newExtensions).sort((x, y) => y[1] - x[1]).slice(0, 5).map(([e, n]) => `.${e} (${n})`);
  const what = worst
    ? `${worst.affected} of ${worst.filesBefore} files (${pct(worst.share)}) on ${name(worst.volume)}`
    : `${total.affected} of ${total.filesBefore} files (${pct(share)})`;
  const how = worst ?? total;
  const summary = warning
    ? `Possible mass encryption: ${what} changed like ransomware does since the previous restore point — ` +
      `${how.rewrittenHighEntropy} rewritten with random-looking content, ${how.renamedUnknownExtension} replaced by files with a new extension${exts.length ? ` ${exts.join(', ')}` : ''}. ` +
      'Check the VM now, and restore from a restore point before the change if it is an attack.'
    : `No sign of mass encryption: ${total.affected} of ${total.filesBefore} files changed like encryption would (${pct(share)}).`;
  return {
    warning, ...total, share, volumes: list, newExtensions, examples,
    thresholds: { highEntropy: HIGH_ENTROPY, lowEntropy: LOW_ENTROPY, minFiles: MIN_FILES, minShare: MIN_SHARE, manyFiles: MANY_FILES },
    summary,
  };
}
