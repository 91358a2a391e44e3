// What every `stillpoint repo …` command shares: its arguments, the passphrase, opening the repository,
// printing results and errors. Kept apart from repo.ts so that `repo ls` (repo-ls.ts) starts without
// loading the other commands and their modules.
import type { Repository } from '../repository/repository.ts';
import { RepositoryError } from '../repository/errors.ts';
import { log } from '../common/log.ts';

export interface Parsed { pos: string[]; flags: Map<string, string | true> }

export class UsageError extends Error {}

const VALUE_FLAGS = new Set(['name', 'vm-id', 'consistency', 'notes', 'disk', 'keep-last', 'keep-daily', 'keep-weekly',
  'keep-monthly', 'keep-yearly', 'until', 'chunk-size', 'parent', 'compression-level']);

export function parse(args: string[]): Parsed {
  const pos: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (VALUE_FLAGS.has(name)) {
        if (i + 1 >= args.length) throw new UsageError(`--${name} needs a value`);
        flags.set(name, args[++i]!);
      } else flags.set(name, true);
    } else pos.push(a);
  }
  return { pos, flags };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function int(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} needs a whole number, got '${v}'`);
  return n;
}

/** Asks for a passphrase on the terminal (no echo); without a terminal, says how to give it instead. */
export async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new RepositoryError('ENEEDPASS', 'a passphrase is needed: set STILLPOINT_PASSPHRASE (no terminal to ask on).');
  try {
    return await (await import('./prompt.ts')).promptSecret(question);
  } catch (e) {
    throw new RepositoryError('EABORTED', (e as Error).message);
  }
}

/** The repository's passphrase when it is encrypted (from STILLPOINT_PASSPHRASE, else asked for); no LevelDB loaded. */
export async function passphraseFor(dir: string): Promise<string | undefined> {
  try {
    const { inspectRepository } = await import('../repository/config.ts');
    if (!(await inspectRepository(dir)).encryption) return undefined;
  } catch { return undefined; } // open() reports what is wrong
  return process.env.STILLPOINT_PASSPHRASE ?? prompt(`passphrase for ${dir}: `);
}

/** The Repository class, loaded when a command needs it (`--help`, usage errors and most `ls` runs do not). */
export async function repository(): Promise<typeof Repository> {
  return (await import('../repository/repository.ts')).Repository;
}

/**
 * Runs `fn` on the opened repository and closes it, also on Ctrl-C. `readOnly`: for commands that only read
 * (ls, stats): no lock object written, nothing fsynced. `passphrase`: one the command already asked for.
 */
export async function withRepo<T>(dir: string, command: string, fn: (repo: Repository) => Promise<T>, readOnly = false, passphrase?: string): Promise<T> {
  const repo = await (await repository()).open(dir, { passphrase: passphrase ?? await passphraseFor(dir), command: `stillpoint repo ${command}`, readOnly });
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nstillpoint repo: ${sig}, stopping (nothing partial is kept)\n`);
    repo.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try { return await fn(repo); } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!interrupted) await repo.close();
  }
}

export function out(json: boolean, obj: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(obj, null, 2) + '\n' : text);
}

/** Runs one repo command: its usage errors and failures printed (JSON too with --json), the exit code returned. */
export async function runCommand(args: string[], usage: () => Promise<string>, fn: (p: Parsed, json: boolean) => Promise<number>): Promise<number> {
  let json = false;
  try {
    const p = parse(args);
    json = p.flags.has('json');
    // Log records go to stderr; only warnings and errors while a command prints its result (none with --json).
    if (!process.env.STILLPOINT_LOG_LEVEL) log.level = json ? 'error' : 'warn';
    return await fn(p, json);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`stillpoint repo: ${e.message}\n\n${await usage()}`);
      return 2;
    }
    const code = (e as RepositoryError).code ?? 'ERROR';
    const message = (e as Error).message;
    if (json) process.stdout.write(JSON.stringify({ error: { code, message } }, null, 2) + '\n');
    process.stderr.write(`stillpoint repo: ${message}\n`);
    return 1;
  }
}
