// What a restore point really is, decided from what vSphere reports after the snapshot — never from
// what was asked for (vSphere silently takes a crash-consistent snapshot when Tools cannot quiesce).
//   crash       — the snapshot is not quiesced.
//   filesystem  — quiesced: file systems flushed and frozen, applications not involved.
//   application — quiesced and the applications took part: on Windows, VSS writers are listed in the
//                 vss-manifest.zip VMware Tools left; elsewhere, the user's pre-freeze script (which
//                 quiesces the application) ran in the guest and exited 0.
import type { Consistency } from '../../model/consistency.ts';
import { readZip } from './zip.ts';

export interface VssManifest {
  backupType?: string;
  /** Friendly names of the VSS writers that took part. */
  writers: string[];
}

export function parseVssManifest(zip: Buffer): VssManifest {
  const entries = readZip(zip);
  const bc = entries.find((e) => e.name.toLowerCase() === 'backupcomponents.xml');
  if (!bc) throw new Error('vss-manifest.zip has no backupComponents.xml');
  const text = bc.data.toString('utf8');
  const backupType = /backupType="([^"]+)"/.exec(text)?.[1];
  const writers = new Set<string>();
  for (const e of entries) {
    if (e === bc || !e.name.toLowerCase().endsWith('.xml')) continue;
    const name = /friendlyName="([^"]+)"/.exec(e.data.toString('utf8'))?.[1];
    if (name) writers.add(name);
  }
  // Writer components listed in the backup components document count too (some Tools versions put
  // only these into the archive).
  if (writers.size === 0) for (const m of text.matchAll(/<WRITER_COMPONENTS[^>]*>[\s\S]*?componentName="([^"]+)"/g)) writers.add(m[1]!);
  return { ...(backupType ? { backupType } : {}), writers: [...writers] };
}

export interface ConsistencyFacts {
  quiesced: boolean;
  guestFamily: 'windows' | 'linux' | 'other';
  vss?: VssManifest;
  /** The user's pre-freeze script ran and exited 0 before the snapshot. */
  preFreezeSucceeded: boolean;
}

export function classify(f: ConsistencyFacts): { consistency: Consistency; reason: string } {
  if (!f.quiesced) return { consistency: 'crash', reason: 'vSphere did not quiesce the guest (snapshot not quiesced)' };
  if (f.guestFamily === 'windows' && f.vss && f.vss.writers.length > 0) {
    return { consistency: 'application', reason: `VSS writers took part: ${f.vss.writers.join(', ')}` };
  }
  if (f.preFreezeSucceeded) return { consistency: 'application', reason: 'quiesced, and the pre-freeze script quiesced the application' };
  if (f.guestFamily === 'windows') return { consistency: 'filesystem', reason: f.vss ? 'quiesced, but no VSS writer took part' : 'quiesced, but VMware Tools left no VSS manifest' };
  return { consistency: 'filesystem', reason: 'file systems quiesced by VMware Tools' };
}
