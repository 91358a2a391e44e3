// Failback reads a failed-over replica's disks through a transporter at the DR site: they are snapshot
// chains (its recovery points, the delta it ran on), which no datastore read of one file shows whole (on
// ESXi a delta is vmfsSparse/SEsparse). Found before anything changes, so a failback without one is
// refused while the replica still runs.
import { InvalidRequest } from '../../common/errors.ts';
import type { DiskInfo, MoRef, VSphere } from '../../vsphere/index.ts';
import type { TransporterFinder } from '../replicate-vm.ts';
import type { TransporterLink } from '../transport/link.ts';

/** The distinct datastores of these disks. */
export function datastoresOf(disks: DiskInfo[]): MoRef[] {
  return [...new Map(disks.filter((d) => d.datastore).map((d) => [d.datastore!.value, d.datastore!])).values()];
}

/** A running transporter whose helper VM's host mounts the replica's datastore; refuses saying what to do when there is none. */
export async function drTransporterFor(vs: VSphere, transporters: TransporterFinder | undefined, replicaDisks: DiskInfo[]): Promise<TransporterLink> {
  const datastores = datastoresOf(replicaDisks);
  const skipped: string[] = [];
  if (datastores.length > 1) {
    skipped.push(`the replica's disks are on ${datastores.length} datastores (one transporter reads one datastore's disks)`);
  } else if (transporters && datastores.length === 1) {
    const found = await transporters.forDatastore(vs, datastores[0]!);
    if (found.link) return found.link;
    skipped.push(...found.skipped);
  }
  throw new InvalidRequest(`No transporter at the DR site can read the replica's disks${skipped.length ? ` (${skipped.join('; ')})` : ''}: ` +
    'failback reads them through one (they are snapshot chains, which no datastore read of one file shows whole). ' +
    'Run `stillpoint transporter run` on a helper VM whose host mounts the replica\'s datastore (pair it first with `stillpoint transporter pair`), then fail back again.');
}
