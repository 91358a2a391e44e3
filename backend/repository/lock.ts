// One process per repository: a `lock` object with pid, host and a heartbeat. A stale holder (dead pid
// on this host, or a heartbeat older than STALE_MS from another host) is taken over with a log line.
// Created with storage.createIfAbsent (never seen half written), refreshed with storage.replace.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { childLog } from '../common/log.ts';
import { RepositoryError } from './errors.ts';
import type { Storage } from './storage/storage.ts';

export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 90_000;
const NAME = 'lock';

export interface LockInfo { pid: number; host: string; startedAt: string; heartbeat: string; token: string; command?: string }

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function isStale(info: LockInfo, now = Date.now()): boolean {
  if (info.host === hostname()) return info.pid !== process.pid ? !alive(info.pid) : false;
  return now - Date.parse(info.heartbeat) > STALE_MS;
}

async function readLock(storage: Storage): Promise<LockInfo | undefined> {
  try { return JSON.parse((await storage.read(NAME)).toString('utf8')) as LockInfo; } catch { return undefined; }
}

const encode = (info: LockInfo): Buffer => Buffer.from(JSON.stringify(info));

/** ELOCKED: the repository `where` is held by the process `held` describes. */
export function lockedError(where: string, held: LockInfo): RepositoryError {
  return new RepositoryError('ELOCKED', `the repository ${where} is in use by pid ${held.pid} on ${held.host}` +
    `${held.command ? ` (${held.command})` : ''} since ${held.startedAt}. Wait for it to finish, stop it, ` +
    'or ask the Stillpoint service (which keeps its repositories open) instead.');
}

export class RepoLock {
  #storage: Storage;
  #info: LockInfo;
  #timer: NodeJS.Timeout | undefined;

  private constructor(storage: Storage, info: LockInfo) { this.#storage = storage; this.#info = info; }

  /** `where`: the repository as named in messages (its folder). */
  static async acquire(storage: Storage, where: string, command?: string): Promise<RepoLock> {
    const now = new Date().toISOString();
    const info: LockInfo = { pid: process.pid, host: hostname(), startedAt: now, heartbeat: now, token: randomBytes(8).toString('hex'), command };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await storage.createIfAbsent(NAME, encode(info))) {
        const l = new RepoLock(storage, info);
        l.#startHeartbeat();
        return l;
      }
      const held = await readLock(storage);
      if (held && !isStale(held)) throw lockedError(where, held);
      childLog('repository.lock').warn({ dir: where, holder: held ? { pid: held.pid, host: held.host, heartbeat: held.heartbeat } : 'unreadable' },
        'taking over a stale repository lock');
      // Replace atomically, then check we won a possible race with another taker.
      await storage.replace(NAME, encode(info));
      await new Promise((r) => setTimeout(r, 20));
      if ((await readLock(storage))?.token === info.token) {
        const l = new RepoLock(storage, info);
        l.#startHeartbeat();
        return l;
      }
    }
    throw new RepositoryError('ELOCKED', `could not take the lock of ${where}; another process is competing for it. Try again.`);
  }

  #startHeartbeat(): void {
    this.#timer = setInterval(() => {
      this.#info.heartbeat = new Date().toISOString();
      readLock(this.#storage)
        .then(async (cur) => {
          if (cur?.token !== this.#info.token) {
            childLog('repository.lock').error({ storage: this.#storage.location }, 'repository lock was taken over by another process');
            clearInterval(this.#timer);
            return;
          }
          await this.#storage.replace(NAME, encode(this.#info));
        })
        .catch((e) => childLog('repository.lock').warn({ err: e }, 'lock heartbeat failed'));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    try {
      const cur = await readLock(this.#storage);
      if (cur?.token === this.#info.token) await this.#storage.delete(NAME);
    } catch { /* already gone */ }
  }
}

/** Who holds the lock, if anyone (for error messages and the CLI). */
export async function lockHolder(storage: Storage): Promise<LockInfo | undefined> {
  return readLock(storage);
}
