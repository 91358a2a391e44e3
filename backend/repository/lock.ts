// One process per repository: a lock file with pid, host and a heartbeat. A stale holder (dead pid on
// this host, or a heartbeat older than STALE_MS from another host) is taken over with a log line.
import { open, readFile, unlink, writeFile, rename } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { childLog } from '../common/log.ts';
import { RepositoryError } from './errors.ts';


export const HEARTBEAT_MS = 10_000;
export const STALE_MS = 90_000;

export interface LockInfo { pid: number; host: string; startedAt: string; heartbeat: string; token: string; command?: string }

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export function isStale(info: LockInfo, now = Date.now()): boolean {
  if (info.host === hostname()) return info.pid !== process.pid ? !alive(info.pid) : false;
  return now - Date.parse(info.heartbeat) > STALE_MS;
}

export class RepoLock {
  #path: string;
  #info: LockInfo;
  #timer: NodeJS.Timeout | undefined;

  private constructor(path: string, info: LockInfo) { this.#path = path; this.#info = info; }

  static async acquire(dir: string, command?: string): Promise<RepoLock> {
    const path = `${dir}/lock`;
    const now = new Date().toISOString();
    const info: LockInfo = { pid: process.pid, host: hostname(), startedAt: now, heartbeat: now, token: randomBytes(8).toString('hex'), command };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, 'wx');
        try { await fh.writeFile(JSON.stringify(info)); await fh.sync(); } finally { await fh.close(); }
        const l = new RepoLock(path, info);
        l.#startHeartbeat();
        return l;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let held: LockInfo | undefined;
      try { held = JSON.parse(await readFile(path, 'utf8')) as LockInfo; } catch { held = undefined; }
      if (held && !isStale(held)) {
        throw new RepositoryError('ELOCKED', `the repository ${dir} is in use by pid ${held.pid} on ${held.host}` +
          `${held.command ? ` (${held.command})` : ''} since ${held.startedAt}. Wait for it to finish, stop it, ` +
          'or ask the Stillpoint service (which keeps its repositories open) instead.');
      }
      childLog('repository.lock').warn({ dir, holder: held ? { pid: held.pid, host: held.host, heartbeat: held.heartbeat } : 'unreadable' },
        'taking over a stale repository lock');
      // Replace atomically, then check we won a possible race with another taker.
      const tmp = `${path}.${process.pid}.${info.token}`;
      await writeFile(tmp, JSON.stringify(info));
      await rename(tmp, path);
      await new Promise((r) => setTimeout(r, 20));
      const now2 = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
      if (now2.token === info.token) {
        const l = new RepoLock(path, info);
        l.#startHeartbeat();
        return l;
      }
    }
    throw new RepositoryError('ELOCKED', `could not take the lock of ${dir}; another process is competing for it. Try again.`);
  }

  #startHeartbeat(): void {
    this.#timer = setInterval(() => {
      this.#info.heartbeat = new Date().toISOString();
      readFile(this.#path, 'utf8')
        .then(async (cur) => {
          if ((JSON.parse(cur) as LockInfo).token !== this.#info.token) {
            childLog('repository.lock').error({ path: this.#path }, 'repository lock was taken over by another process');
            clearInterval(this.#timer);
            return;
          }
          await writeFile(`${this.#path}.hb`, JSON.stringify(this.#info));
          await rename(`${this.#path}.hb`, this.#path);
        })
        .catch((e) => childLog('repository.lock').warn({ err: e }, 'lock heartbeat failed'));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    try {
      const cur = JSON.parse(await readFile(this.#path, 'utf8')) as LockInfo;
      if (cur.token === this.#info.token) await unlink(this.#path);
    } catch { /* already gone */ }
  }
}

/** Who holds the lock, if anyone (for error messages and the CLI). */
export async function lockHolder(dir: string): Promise<LockInfo | undefined> {
  try { return JSON.parse(await readFile(`${dir}/lock`, 'utf8')) as LockInfo; } catch { return undefined; }
}
