// Service configuration: a JSON file (STILLPOINT_CONFIG, default <dataDir>/config.json) overlaid by
// environment variables. Passwords written into the file in clear are sealed on first start and the
// file rewritten, so no secret stays on disk in clear.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { SecretBox } from './common/secrets.ts';

export interface Config {
  dataDir: string;
  listen: { host: string; port: number };
  /** Externally reachable base URL of this server (what vCenter downloads the manifest from). */
  publicUrl?: string;
  vcenter: {
    url: string;             // https://vcenter.example.com/sdk
    username?: string;
    password?: string;       // clear in memory only
    thumbprint?: string;     // SHA-256, "AA:BB:…"; without it the system CAs must trust vCenter
    /** Instead of user/password: a one-time clone ticket (SessionManager.AcquireCloneTicket) of an existing session. */
    cloneTicket?: string;
    wsdl: 'builtin' | 'server';
  };
  /**
   * chunkKiB applies when the repository is created: smaller chunks store less for scattered guest
   * writes at some cost in full-backup speed (bench/backup: 256 KiB stores 2.8× less than 1 MiB for
   * scattered 64 KiB changes, full backup ~10% slower). Default: the repository's own (1 MiB).
   */
  repository: { path: string; passphrase?: string; chunkKiB?: number };
  tls: { certFile?: string; keyFile?: string };
  /** Serves the dev host and the htmlClientSdk stand-in (demo and tests only). */
  devHost: boolean;
}

interface FileConfig {
  dataDir?: string;
  listen?: Partial<Config['listen']>;
  publicUrl?: string;
  vcenter?: Partial<Config['vcenter']> & { passwordSealed?: string };
  repository?: { path?: string; passphrase?: string; passphraseSealed?: string; chunkKiB?: number };
  tls?: Config['tls'];
  devHost?: boolean;
}

export function defaultDataDir(): string {
  return process.env.STILLPOINT_DATA_DIR ?? join(homedir(), '.stillpoint');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: FileConfig = {}): Config {
  const dataDir = resolve(overrides.dataDir ?? env.STILLPOINT_DATA_DIR ?? defaultDataDir());
  const file = env.STILLPOINT_CONFIG ?? join(dataDir, 'config.json');
  let fc: FileConfig = {};
  if (existsSync(file)) {
    try {
      fc = JSON.parse(readFileSync(file, 'utf8')) as FileConfig;
    } catch (e) {
      throw new Error(`Cannot read the configuration ${file}: ${(e as Error).message}. Fix the JSON or remove the file to start with defaults.`);
    }
    sealSecretsInFile(file, fc, dataDir);
  }
  const box = SecretBox.forDataDir(dataDir);
  const merged: FileConfig = { ...fc, ...overrides, vcenter: { ...fc.vcenter, ...overrides.vcenter }, repository: { ...fc.repository, ...overrides.repository } };
  const vcPassword = env.STILLPOINT_VCENTER_PASSWORD ?? merged.vcenter?.password ??
    (merged.vcenter?.passwordSealed ? box.open(merged.vcenter.passwordSealed) : undefined);
  const repoPass = env.STILLPOINT_PASSPHRASE ?? merged.repository?.passphrase ??
    (merged.repository?.passphraseSealed ? box.open(merged.repository.passphraseSealed) : undefined);
  const port = Number(env.STILLPOINT_PORT ?? merged.listen?.port ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Port ${env.STILLPOINT_PORT ?? merged.listen?.port} is not a TCP port (0-65535).`);
  const url = env.STILLPOINT_VCENTER_URL ?? merged.vcenter?.url ?? '';
  return {
    dataDir,
    listen: { host: env.STILLPOINT_HOST ?? merged.listen?.host ?? '127.0.0.1', port },
    publicUrl: env.STILLPOINT_PUBLIC_URL ?? merged.publicUrl,
    vcenter: {
      url: url && !/\/sdk\/?$/.test(url) ? url.replace(/\/?$/, '/sdk') : url,
      username: env.STILLPOINT_VCENTER_USER ?? merged.vcenter?.username,
      password: vcPassword,
      thumbprint: env.STILLPOINT_VCENTER_THUMBPRINT ?? merged.vcenter?.thumbprint,
      cloneTicket: env.STILLPOINT_VCENTER_CLONE_TICKET ?? merged.vcenter?.cloneTicket,
      wsdl: (env.STILLPOINT_VCENTER_WSDL ?? merged.vcenter?.wsdl ?? 'builtin') === 'server' ? 'server' : 'builtin',
    },
    repository: {
      path: resolve(env.STILLPOINT_REPOSITORY ?? merged.repository?.path ?? join(dataDir, 'repository')), passphrase: repoPass,
      ...(chunkKiB(env.STILLPOINT_REPOSITORY_CHUNK_KIB ?? merged.repository?.chunkKiB) ?? {}),
    },
    tls: merged.tls ?? {},
    devHost: (env.STILLPOINT_DEVHOST ?? String(merged.devHost ?? false)) === 'true',
  };
}

function chunkKiB(v: string | number | undefined): { chunkKiB: number } | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4 || n > 16384 || n % 4 !== 0) {
    throw new Error(`Repository chunk size ${v} KiB is not usable: give a multiple of 4 between 4 and 16384 (e.g. 256 or 1024).`);
  }
  return { chunkKiB: n };
}

function sealSecretsInFile(file: string, fc: FileConfig, dataDir: string): void {
  let changed = false;
  const box = SecretBox.forDataDir(fc.dataDir ? resolve(fc.dataDir) : dataDir);
  if (fc.vcenter?.password) {
    fc.vcenter.passwordSealed = box.seal(fc.vcenter.password);
    delete fc.vcenter.password;
    changed = true;
  }
  if (fc.repository?.passphrase) {
    fc.repository.passphraseSealed = box.seal(fc.repository.passphrase);
    delete fc.repository.passphrase;
    changed = true;
  }
  if (changed) writeFileSync(file, JSON.stringify(fc, null, 2) + '\n', { mode: 0o600 });
}
