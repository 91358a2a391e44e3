// Which restore points a policy keeps, per VM: keep-last N plus GFS buckets (newest point of each
// of the N newest days/ISO weeks/months/years, in UTC), like restic and borg.
export interface RetentionPolicy {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export function hasRetention(p: RetentionPolicy): boolean {
  return Object.values(p).some((n) => typeof n === 'number' && n > 0);
}
