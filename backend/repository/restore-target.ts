// A restore into a file is written under a temporary name next to it and renamed only when every
// chunk is in place and durable: a refused restore (damaged chunk, cancel, full disk) never leaves a
// full-size file with partial data under the name asked for. Devices are written in place (they
// cannot be renamed, and what they held is gone either way).
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function intoFileSafely<T>(target: string, write: (path: string) => Promise<T>): Promise<T> {
  const st = await stat(target).catch(() => undefined);
  if (st && (st.isBlockDevice() || st.isCharacterDevice())) return write(target);
  const temp = join(dirname(target), `.${basename(target)}.stillpoint-${randomBytes(4).toString('hex')}.partial`);
  let result: T;
  try {
    result = await write(temp);
    await rename(temp, target);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(target), 'r');
  try { await dir.sync(); } finally { await dir.close(); }
  return result;
}
