// Where the CLI finds its service when no variable says: a small file written by whoever started
// the service for this user (`npm run demo` writes it), so `stillpoint vms` works with no set-up.
// It holds no secrets: the address, the certificate to trust, and the data folder whose sealed
// session file (cli-session.json, sealed with that folder's secret.key) the CLI uses.
//   $STILLPOINT_CLI_CONFIG, else $XDG_CONFIG_HOME/stillpoint/cli.json, else ~/.config/stillpoint/cli.json
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileDurable } from '../common/durable.ts';

export interface CliConfig {
  /** The service's address, e.g. https://127.0.0.1:8443 (STILLPOINT_URL). */
  url: string;
  /** The certificate to trust for it (STILLPOINT_CA). */
  ca?: string;
  /** The folder the CLI keeps its sealed session in (the service's data folder for the demo). */
  dataDir?: string;
  /** Who wrote the file: `npm run demo` replaces and removes only its own. */
  writtenBy?: string;
}

export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.STILLPOINT_CLI_CONFIG ?? join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'stillpoint', 'cli.json');
}

/** The file's settings, or undefined when there is none (a damaged file is named, not ignored). */
export function readCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig | undefined {
  const file = cliConfigPath(env);
  if (!existsSync(file)) return undefined;
  let c: Partial<CliConfig>;
  try { c = JSON.parse(readFileSync(file, 'utf8')) as Partial<CliConfig>; } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): fix it or delete it`);
  }
  if (typeof c.url !== 'string') throw new Error(`${file} has no "url": fix it or delete it`);
  return c as CliConfig;
}

export function writeCliConfig(c: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = cliConfigPath(env);
  writeFileDurable(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

export function removeCliConfig(env: NodeJS.ProcessEnv = process.env): void {
  rmSync(cliConfigPath(env), { force: true });
}
