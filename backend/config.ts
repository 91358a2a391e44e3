// Service configuration: a JSON file (STILLPOINT_CONFIG, default <dataDir>/config.json) overlaid by
// environment variables. Passwords written into the file in clear are sealed on first start and the
// file rewritten, so no secret stays on disk in clear.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { SecretBox } from './common/secrets.ts';
import { isValidSiteId } from './model/site.ts';

/** One vCenter and the service account Stillpoint uses there. */
export interface VcenterConfig {
  url: string;             // https://vcenter.example.com/sdk
  username?: string;
  password?: string;       // clear in memory only
  thumbprint?: string;     // SHA-256, "AA:BB:…"; without it the system CAs must trust vCenter
  /** Instead of user/password: a one-time clone ticket (SessionManager.AcquireCloneTicket) of an existing session. */
  cloneTicket?: string;
  wsdl: 'builtin' | 'server';
}

/** A site: one configured vCenter, named by a short id that prefixes the ids of its objects ("dr:vm-42"). */
export interface SiteConfig extends VcenterConfig {
  id: string;
  name?: string;
}

export interface Config {
  dataDir: string;
  listen: { host: string; port: number };
  /** Externally reachable base URL of this server (what vCenter downloads the manifest from). */
  publicUrl?: string;
  /** The primary site's vCenter (the same object as vcenters[0]). */
  vcenter: SiteConfig;
  /**
   * Every configured vCenter, the primary first. Its VMs, hosts and datastores keep their bare
   * managed object ids ("vm-42"); the others' carry their site ("dr:vm-42"), see model/site.ts.
   */
  vcenters: SiteConfig[];
  /**
   * chunkKiB applies when the repository is created: smaller chunks store less for scattered guest
   * writes at some cost in full-backup speed (bench/backup: 256 KiB stores 2.8× less than 1 MiB for
   * scattered 64 KiB changes, full backup ~10% slower). Default: the repository's own (1 MiB).
   */
  repository: { path: string; passphrase?: string; chunkKiB?: number };
  tls: { certFile?: string; keyFile?: string };
  /**
   * The NBD server for published restore-point disks (publish/): it listens only once something is
   * published. urlHost is the name clients use in nbd:// addresses (default: publicUrl's host, else the listen host).
   */
  publish: { host: string; port: number; urlHost?: string };
  /** Serves the dev host and the htmlClientSdk stand-in (demo and tests only). */
  devHost: boolean;
}

interface FileConfig {
  dataDir?: string;
  listen?: Partial<Config['listen']>;
  publicUrl?: string;
  vcenter?: FileVcenter;
  vcenters?: FileVcenter[];
  repository?: { path?: string; passphrase?: string; passphraseSealed?: string; chunkKiB?: number };
  tls?: Config['tls'];
  publish?: Partial<Config['publish']>;
  devHost?: boolean;
}

type FileVcenter = Partial<SiteConfig> & { passwordSealed?: string };

export function defaultDataDir(): string {
  return process.env.STILLPOINT_DATA_DIR ?? join(homedir(), '.stillpoint');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: FileConfig = {}): Config {
  const givenDir = overrides.dataDir ?? env.STILLPOINT_DATA_DIR;
  const file = env.STILLPOINT_CONFIG ?? join(resolve(givenDir ?? defaultDataDir()), 'config.json');
  let fc: FileConfig = {};
  if (existsSync(file)) {
    try {
      fc = JSON.parse(readFileSync(file, 'utf8')) as FileConfig;
    } catch (e) {
      throw new Error(`Cannot read the configuration ${file}: ${(e as Error).message}. Fix the JSON or remove the file to start with defaults.`);
    }
  }
  // One data folder decides both where the data lives and which key seals the secrets: the override or
  // STILLPOINT_DATA_DIR, else the file's own dataDir (a STILLPOINT_CONFIG kept outside it), else the default.
  const dataDir = resolve(givenDir ?? fc.dataDir ?? defaultDataDir());
  if (existsSync(file)) sealSecretsInFile(file, fc, dataDir);
  const box = SecretBox.forDataDir(dataDir);
  const merged: FileConfig = {
    ...fc, ...overrides, vcenter: { ...fc.vcenter, ...overrides.vcenter }, repository: { ...fc.repository, ...overrides.repository },
    ...(overrides.vcenters ?? fc.vcenters ? { vcenters: overrides.vcenters ?? fc.vcenters } : {}),
  };
  const repoPass = env.STILLPOINT_PASSPHRASE ?? merged.repository?.passphrase ??
    (merged.repository?.passphraseSealed ? box.open(merged.repository.passphraseSealed) : undefined);
  const port = Number(env.STILLPOINT_PORT ?? merged.listen?.port ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Port ${env.STILLPOINT_PORT ?? merged.listen?.port} is not a TCP port (0-65535).`);
  const vcenters = sites(env, merged, box);
  return {
    dataDir,
    listen: { host: env.STILLPOINT_HOST ?? merged.listen?.host ?? '127.0.0.1', port },
    publicUrl: env.STILLPOINT_PUBLIC_URL ?? merged.publicUrl,
    vcenter: vcenters[0]!,
    vcenters,
    repository: {
      path: resolve(env.STILLPOINT_REPOSITORY ?? merged.repository?.path ?? join(dataDir, 'repository')), passphrase: repoPass,
      ...(chunkKiB(env.STILLPOINT_REPOSITORY_CHUNK_KIB ?? merged.repository?.chunkKiB) ?? {}),
    },
    tls: merged.tls ?? {},
    publish: publishConfig(env, merged, env.STILLPOINT_HOST ?? merged.listen?.host ?? '127.0.0.1', env.STILLPOINT_PUBLIC_URL ?? merged.publicUrl),
    devHost: (env.STILLPOINT_DEVHOST ?? String(merged.devHost ?? false)) === 'true',
  };
}

/**
 * The sites: the `vcenter` block (with the STILLPOINT_VCENTER_* variables over it) is the primary
 * when it names a vCenter, then the `vcenters` list; without a `vcenter` block the list's first is
 * the primary and the variables apply to it.
 */
function sites(env: NodeJS.ProcessEnv, merged: FileConfig, box: SecretBox): SiteConfig[] {
  const single = merged.vcenter ?? {};
  const hasSingle = Object.values(single).some((v) => v !== undefined) || !!env.STILLPOINT_VCENTER_URL;
  if (merged.vcenters !== undefined && !Array.isArray(merged.vcenters)) {
    throw new Error('The configuration\'s "vcenters" must be a list of vCenters: [{ "id": "prod", "url": "https://vc.example.com/sdk", "username": "…", "password": "…" }].');
  }
  const list: FileVcenter[] = [...(hasSingle || !merged.vcenters?.length ? [single] : []), ...(merged.vcenters ?? [])];
  if (!list.length) throw new Error('No vCenter configured: list at least one in "vcenters" (or set "vcenter" / STILLPOINT_VCENTER_URL).');
  const out = list.map((f, i): SiteConfig => {
    const primary = i === 0;
    const e = (name: string) => (primary ? env[`STILLPOINT_VCENTER_${name}`] : undefined);
    const id = (primary ? env.STILLPOINT_SITE_ID : undefined) ?? f.id ?? (primary ? 'primary' : '');
    const where = `vCenter ${i + 1} of the configuration${f.url ? ` (${f.url})` : ''}`;
    if (!id) throw new Error(`${where} has no "id": give it a short site id such as "dr" (lower-case letters, digits and '-', starting with a letter).`);
    if (!isValidSiteId(id)) throw new Error(`Site id '${id}' of ${where} is not usable: use 1-32 lower-case letters, digits and '-', starting with a letter (e.g. "prod", "dr-east").`);
    const url = e('URL') ?? f.url ?? '';
    if (!url && !primary) throw new Error(`Site '${id}' has no "url": give its vCenter's SDK address, e.g. "https://vc.example.com/sdk".`);
    const password = e('PASSWORD') ?? f.password ?? (f.passwordSealed ? box.open(f.passwordSealed) : undefined);
    const username = e('USER') ?? f.username;
    const thumbprint = e('THUMBPRINT') ?? f.thumbprint;
    const cloneTicket = e('CLONE_TICKET') ?? f.cloneTicket;
    return {
      id, ...(f.name ? { name: f.name } : {}),
      url: url && !/\/sdk\/?$/.test(url) ? url.replace(/\/?$/, '/sdk') : url,
      username, password, thumbprint, cloneTicket,
      wsdl: (e('WSDL') ?? f.wsdl ?? 'builtin') === 'server' ? 'server' : 'builtin',
    };
  });
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.id)) throw new Error(`Site id '${s.id}' is used by two vCenters in the configuration: give each vCenter its own "id".`);
    seen.add(s.id);
  }
  return out;
}

/** NBD publishing: STILLPOINT_NBD_PORT (default 10809, the NBD port) and STILLPOINT_NBD_HOST (default the service's bind address). */
function publishConfig(env: NodeJS.ProcessEnv, merged: FileConfig, listenHost: string, publicUrl: string | undefined): Config['publish'] {
  const port = Number(env.STILLPOINT_NBD_PORT ?? merged.publish?.port ?? 10809);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`NBD port ${env.STILLPOINT_NBD_PORT ?? merged.publish?.port} is not a TCP port (0-65535): fix publish.port or STILLPOINT_NBD_PORT.`);
  let urlHost = merged.publish?.urlHost;
  if (!urlHost && publicUrl) { try { urlHost = new URL(publicUrl).hostname.replace(/^\[|\]$/g, ''); } catch { /* publicUrl is checked where it is used */ } }
  return { host: env.STILLPOINT_NBD_HOST ?? merged.publish?.host ?? listenHost, port, ...(urlHost ? { urlHost } : {}) };
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
  const box = SecretBox.forDataDir(dataDir);
  for (const vc of [fc.vcenter, ...(Array.isArray(fc.vcenters) ? fc.vcenters : [])]) {
    if (vc?.password) {
      vc.passwordSealed = box.seal(vc.password);
      delete vc.password;
      changed = true;
    }
  }
  if (fc.repository?.passphrase) {
    fc.repository.passphraseSealed = box.seal(fc.repository.passphrase);
    delete fc.repository.passphrase;
    changed = true;
  }
  if (changed) { writeFileSync(file, JSON.stringify(fc, null, 2) + '\n', { mode: 0o600 }); chmodSync(file, 0o600); } // mode: applies only to a new file
}
