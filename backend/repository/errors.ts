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
