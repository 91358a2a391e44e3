// How consistent a restore point (or replica recovery point) is, and why: always what vSphere
// reported after the snapshot, never what was asked for.
export type Consistency = 'application' | 'filesystem' | 'crash';

export const CONSISTENCIES: readonly Consistency[] = ['application', 'filesystem', 'crash'];

export interface ConsistencyVerdict {
  consistency: Consistency;
  /** One sentence for the admin, e.g. "VSS writers took part: NTDS, Exchange". */
  reason: string;
}
