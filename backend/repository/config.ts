// A repository folder's storage, config.json and keys: what every way of opening it reads first,
// apart from the LevelDB index (so commands that need no index, like `repo ls`, load no LevelDB).
import { FORMAT_VERSION } from './format.ts';
import { openKeyBlock, type KeyBlock, type RepoKeys } from './crypto.ts';
import { RepositoryError, notARepository, needPassphrase } from './errors.ts';
import { LocalStorage } from './storage/local.ts';
import { isNotFound, type Storage } from './storage/storage.ts';

export interface RepoConfig {
  format: 'stillpoint-repository';
  version: number;
  id: string;
  createdAt: string;
  chunkSize: number;
  packSize: number;
  compression: { algorithm: 'zstd'; level: number };
  encryption: KeyBlock | null;
}

export async function openStorage(dir: string): Promise<LocalStorage> {
  try {
    return await LocalStorage.open(dir);
  } catch (e) {
    throw notARepository(dir, isNotFound(e) ? 'the folder does not exist' : 'not a folder');
  }
}

export async function readConfig(storage: Storage, dir: string): Promise<RepoConfig> {
  let text: string;
  try { text = (await storage.read('config.json')).toString('utf8'); } catch { throw notARepository(dir, 'no config.json'); }
  let cfg: RepoConfig;
  try { cfg = JSON.parse(text) as RepoConfig; } catch { throw notARepository(dir, 'config.json is not valid JSON'); }
  if (cfg.format !== 'stillpoint-repository') throw notARepository(dir, 'config.json is not a Stillpoint repository config');
  if (cfg.version > FORMAT_VERSION) throw new RepositoryError('EVERSION', `${dir} has repository format ${cfg.version}; this Stillpoint understands up to ${FORMAT_VERSION}. Upgrade Stillpoint.`);
  return cfg;
}

/** A folder's repository config without opening it (no lock, no passphrase, no index): e.g. to learn whether it is encrypted. */
export async function inspectRepository(dir: string): Promise<RepoConfig> {
  return readConfig(await openStorage(dir), dir);
}

/** The repository's storage and configuration, and its keys when it is encrypted (ENEEDPASS, EPASSPHRASE). */
export async function unlock(dir: string, passphrase: string | undefined): Promise<{ storage: LocalStorage; cfg: RepoConfig; keys: RepoKeys | undefined }> {
  const storage = await openStorage(dir);
  const cfg = await readConfig(storage, dir);
  if (!cfg.encryption) return { storage, cfg, keys: undefined };
  if (passphrase === undefined) throw needPassphrase(dir);
  return { storage, cfg, keys: await openKeyBlock(dir, cfg.encryption, passphrase) };
}
