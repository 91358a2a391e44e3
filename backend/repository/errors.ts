// Error types of the backup repository. Every message says what happened and what to do next.

/** Base class: `code` is stable for callers and the CLI (`--json` prints it). */
export class RepositoryError extends Error {
  code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepositoryError';
    this.code = code;
  }
}

export function notARepository(dir: string, why: string): RepositoryError {
  return new RepositoryError('ENOTREPO', `${dir} is not a Stillpoint repository (${why}). ` +
    `Check the path, or create one with \`stillpoint repo init ${dir}\`.`);
}

export function wrongPassphrase(dir: string): RepositoryError {
  return new RepositoryError('EPASSPHRASE', `wrong passphrase for the encrypted repository ${dir}. ` +
    'Set STILLPOINT_PASSPHRASE to the passphrase given at `repo init` and try again.');
}

export function needPassphrase(dir: string): RepositoryError {
  return new RepositoryError('ENEEDPASS', `the repository ${dir} is encrypted and needs a passphrase. ` +
    'Set STILLPOINT_PASSPHRASE or run the command from a terminal to be asked for it.');
}

/** Wraps an ENOSPC/EDQUOT from the file system into an error that explains the repository state. */
export function diskFull(dir: string, cause: unknown): RepositoryError {
  return new RepositoryError('ENOSPC', `the disk holding the repository ${dir} is full; the backup was ` +
    'abandoned and the repository is unchanged (earlier restore points are intact). Free space ' +
    '(e.g. `stillpoint repo prune` then run GC) or move the repository, then run the backup again.', { cause });
}

export function isNoSpace(e: unknown): boolean {
  const c = (e as { code?: string } | null)?.code;
  return c === 'ENOSPC' || c === 'EDQUOT' || /No space left|ENOSPC|quota/i.test(String((e as Error)?.message ?? ''));
}

export function damaged(what: string): RepositoryError {
  return new RepositoryError('EDAMAGED', `${what}. Run \`stillpoint repo verify <dir>\` to list the affected ` +
    'restore points; restore from another restore point or copy of the repository.');
}

/** The index cannot be used: says so and names the command that rebuilds it. */
export function indexDamaged(dir: string, what: string, cause?: unknown): RepositoryError {
  return new RepositoryError('EINDEX', `the index of the repository ${dir} is damaged (${what}). Rebuild it from the packs and ` +
    `restore points with \`stillpoint repo rebuild-index ${dir}\` (the damaged index is moved aside, not deleted), then check ` +
    `the repository with \`stillpoint repo verify ${dir}\`.`, { cause });
}

function levelText(e: unknown): string {
  const m = (x: unknown) => String((x as Error | undefined)?.message ?? '');
  return `${m(e)} ${m((e as { cause?: unknown } | null)?.cause)}`.trim();
}

function levelCodes(e: unknown): string[] {
  const c = (x: unknown) => String((x as { code?: string } | null)?.code ?? '');
  return [c(e), c((e as { cause?: unknown } | null)?.cause)];
}

/**
 * A LevelDB error as a RepositoryError: damage (corruption, a truncated or missing file) → EINDEX naming
 * `repo rebuild-index`; held by another process → ELOCKED; a full disk → ENOSPC; no permission →
 * EINDEX saying so. Anything that is not a LevelDB error is returned unchanged.
 */
export function indexFailure(dir: string, e: unknown, holder?: string): unknown {
  if (e instanceof RepositoryError) return e;
  const codes = levelCodes(e);
  if (!codes.some((c) => c.startsWith('LEVEL_'))) return e;
  const text = levelText(e);
  if (codes.includes('LEVEL_LOCKED') || /\block\b/i.test(text) && !/Corruption/.test(text)) {
    return new RepositoryError('ELOCKED', `the index of ${dir} is open in another process${holder ?? ''}. Wait for it to finish or stop it.`, { cause: e });
  }
  if (isNoSpace(e) || /No space left/i.test(text)) return diskFull(dir, e);
  if (/Permission denied|EACCES|Read-only file system/i.test(text)) {
    return new RepositoryError('EINDEX', `cannot use the index of ${dir}: ${text}. Check the folder's permissions.`, { cause: e });
  }
  if (codes.includes('LEVEL_CORRUPTION') || codes.includes('LEVEL_IO_ERROR') || /Corruption|Invalid argument|No such file|does not exist|missing files|bad magic|checksum/i.test(text)) {
    return indexDamaged(dir, text.replace(/^Database failed to open\s*/, ''), e);
  }
  return new RepositoryError('EINDEX', `cannot use the index of ${dir}: ${text}.`, { cause: e });
}
