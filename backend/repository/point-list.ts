// Restore points listed from their objects alone (`stillpoint repo ls`): no LevelDB loaded or opened and no
// lock taken, like `restic snapshots` reading snapshot files. So it answers at once, and also while the
// service holds the repository. A point whose commit crashed between its index batch and its object is
// not listed until the next writable open writes that object (its backup never reported success either).
import { byNewest, type RestorePoint } from './catalog.ts';
import { unlock } from './config.ts';
import { decodePoint, pointName, pointObjects, pointsCompleteMarked } from './point-object.ts';

/**
 * Newest first. Undefined where the objects may not tell the whole truth — a repository from before point
 * objects that no writable open has completed yet, or an object that cannot be read — so the caller lists
 * through the index instead (which also reports what is damaged). Passphrase errors are thrown.
 */
export async function listFromPointObjects(dir: string, passphrase: string | undefined, filter: { vmId?: string } = {}): Promise<RestorePoint[] | undefined> {
  const { storage, keys } = await unlock(dir, passphrase);
  try {
    if (!(await pointsCompleteMarked(storage))) return undefined;
    const ids = [...(await pointObjects(storage))];
    const points = await Promise.all(ids.map(async (id) => {
      try { return decodePoint(await storage.read(pointName(id)), id, keys).rp; } catch { return undefined; }
    }));
    if (points.some((rp) => rp === undefined)) return undefined;
    return (points as RestorePoint[]).filter((rp) => !filter.vmId || rp.vm.id === filter.vmId).sort(byNewest);
  } finally {
    await storage.close();
  }
}
