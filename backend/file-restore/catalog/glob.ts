// File-name globs for "find report.xlsx in every restore point": `*` (any run of characters but
// '/'), `?` (one character), `**` (any run, '/' included), case-insensitive. A pattern without '/'
// matches the file name; one with '/' matches the whole path (volume-relative, no leading slash).
import { InvalidRequest } from '../../common/errors.ts';

export interface FileGlob {
  /** Matches the lower-cased file name. */
  name: RegExp;
  /** The name part as an unanchored regular expression that never crosses a NUL (names.ts scans NUL-separated names). */
  nameSource: string;
  /** Matches the lower-cased whole path, when the pattern named folders. */
  path?: RegExp;
  /** The exact lower-cased name, when the name part has no wildcard (a dictionary lookup suffices). */
  exact?: string;
}

const MAX_PATTERN = 1024;
const MAX_STARS = 16;

function source(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') {
      if (p[i + 1] === '*') { re += '[^\\0]*'; i++; } else re += '[^/\\0]*';
    } else if (c === '?') re += '[^/\\0]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return re;
}

const toRegExp = (p: string): RegExp => new RegExp(`^${source(p)}$`, 's');

export function parseGlob(pattern: string): FileGlob {
  const p = pattern.trim().replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase();
  if (!p) throw new InvalidRequest('Give a file name or a glob, e.g. report.xlsx or *.docx.');
  if (p.length > MAX_PATTERN) throw new InvalidRequest(`The pattern is longer than ${MAX_PATTERN} characters: shorten it.`);
  if ((p.match(/\*/g) ?? []).length > MAX_STARS) throw new InvalidRequest(`The pattern has more than ${MAX_STARS} '*': use fewer.`);
  const slash = p.lastIndexOf('/');
  const namePart = p.slice(slash + 1) || '*';
  const wild = /[*?]/.test(namePart);
  const name = namePart.replace(/\*\*/g, '*');
  return {
    name: toRegExp(name), nameSource: source(name),
    ...(slash >= 0 ? { path: toRegExp(p) } : {}),
    ...(wild ? {} : { exact: namePart }),
  };
}
