// Replica health: RPO compliance is the age of the newest recovery point divided by the RPO target
// (vSphere Replication's "RPO violation", Acronis' compliance ratio): at most 1× is met, over 1× a
// warning, over 2× an error. The monitor raises a vCenter event on the replica and on its source VM
// whenever a replica's level changes, so vCenter alarms can catch it.
import { childLog } from '../common/log.ts';
import { EVENT_TYPES } from '../model/vcenter-tasks.ts';
import type { MoRef, VSphere } from '../vsphere/index.ts';

const log = childLog('replication-health');

export type RpoLevel = 'ok' | 'warning' | 'error';

export interface RpoCompliance {
  rpoMinutes: number;
  /** Minutes since the newest recovery point's data was taken; undefined when the replica has no point. */
  ageMinutes?: number;
  /** ageMinutes ÷ rpoMinutes (no point: Infinity is reported as level error without a ratio). */
  ratio?: number;
  level: RpoLevel;
}

/** The compliance of a replica whose newest point's data was taken at `newestAt` (ISO), at `now`. */
export function rpoCompliance(newestAt: string | undefined, rpoMinutes: number, now: Date): RpoCompliance {
  if (!newestAt) return { rpoMinutes, level: 'error' };
  const ageMinutes = Math.max(0, (now.getTime() - Date.parse(newestAt)) / 60_000);
  const ratio = ageMinutes / rpoMinutes;
  return { rpoMinutes, ageMinutes: Math.round(ageMinutes * 10) / 10, ratio: Math.round(ratio * 100) / 100, level: ratio > 2 ? 'error' : ratio > 1 ? 'warning' : 'ok' };
}

export interface WatchedReplica {
  /** Site-qualified replica VM id: the monitor's memory of its last level. */
  id: string;
  name: string;
  sourceName: string;
  replicaVs: VSphere;
  replica: MoRef;
  /** The source VM in its own vCenter, when it is known there. */
  source?: { vs: VSphere; ref: MoRef };
  compliance: RpoCompliance;
}

/** The text of the event raised when a replica's RPO level changes. */
export function rpoEventText(w: Pick<WatchedReplica, 'name' | 'sourceName' | 'compliance'>): string {
  const c = w.compliance;
  const age = c.ageMinutes === undefined ? 'it has no recovery point' : `its newest recovery point is ${formatMinutes(c.ageMinutes)} old, ${c.ratio}× the RPO of ${formatMinutes(c.rpoMinutes)}`;
  if (c.level === 'ok') return `Stillpoint: RPO met again for replica '${w.name}' of VM '${w.sourceName}': ${age}.`;
  return `Stillpoint RPO ${c.level}: replica '${w.name}' of VM '${w.sourceName}': ${age}. ` +
    (c.level === 'error' ? 'Replication is not keeping up: check the replication job\'s last runs and run it now.' : 'Check that the replication job runs often enough for its RPO.');
}

function formatMinutes(m: number): string {
  if (m < 120) return `${Math.round(m)} min`;
  if (m < 48 * 60) return `${Math.round(m / 6) / 10} h`;
  return `${Math.round(m / 144) / 10} d`;
}

/**
 * Remembers each replica's last RPO level and raises a vCenter event when it changes (the first
 * evaluation raises one only for a warning or an error). Events are best effort: a vCenter that does
 * not answer is logged, and the change is raised again at the next check.
 */
export class RpoMonitor {
  readonly #levels = new Map<string, RpoLevel>();

  async observe(replicas: WatchedReplica[]): Promise<{ raised: string[] }> {
    const raised: string[] = [];
    for (const w of replicas) {
      const prev = this.#levels.get(w.id);
      const level = w.compliance.level;
      if (prev === level || (prev === undefined && level === 'ok')) { this.#levels.set(w.id, level); continue; }
      const text = rpoEventText(w);
      const eventTypeId = level === 'ok' ? EVENT_TYPES.replicaRpoMet : EVENT_TYPES.replicaRpoExceeded;
      const severity = level === 'ok' ? 'info' : level;
      // An extension event (alarms can trigger on it); a plain user event where the extension is not registered.
      const raise = (vs: VSphere, ref: MoRef, name: string) => vs.events.post({ eventTypeId, entity: { ref, name }, message: text, severity })
        .catch(() => vs.events.logUserEvent(ref, text));
      try {
        await raise(w.replicaVs, w.replica, w.name);
        if (w.source) await raise(w.source.vs, w.source.ref, w.sourceName);
        this.#levels.set(w.id, level);
        raised.push(text);
      } catch (e) {
        log.warn({ replica: w.id, err: (e as Error).message }, 'could not raise the RPO event; retried at the next check');
      }
    }
    return { raised };
  }
}
