// The repository's size on disk per day, for the growth chart. Summing the restore points' "newly
// stored" bytes made the chart contradict the repository card: pruning a point removed its bytes from
// the sum at once, while they stay on disk until garbage collection, and the surviving points' new
// bytes never add up to the size. The size is sampled whenever the dashboard is read (the last sample
// of a day wins), so each day shows what the card showed then.
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../common/durable.ts';

const KEEP_DAYS = 400;

export interface GrowthDay { date: string; storedBytes: number }

export class GrowthHistory {
  readonly #file: string;
  readonly #days: Map<string, number>;

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'repository-growth.json');
    const saved = readJson<{ days?: Record<string, number> }>(this.#file)?.days ?? {};
    this.#days = new Map(Object.entries(saved).filter(([d, n]) => /^\d{4}-\d{2}-\d{2}$/.test(d) && Number.isFinite(n)));
  }

  /** Records the size now as today's; written only when it changed. */
  record(storedBytes: number, at = new Date()): void {
    const day = at.toISOString().slice(0, 10);
    if (this.#days.get(day) === storedBytes) return;
    this.#days.set(day, storedBytes);
    for (const d of [...this.#days.keys()].sort().slice(0, Math.max(0, this.#days.size - KEEP_DAYS))) this.#days.delete(d);
    writeFileDurable(this.#file, JSON.stringify({ days: Object.fromEntries([...this.#days].sort(([a], [b]) => a.localeCompare(b))) }) + '\n');
  }

  /**
   * The recorded days, preceded by `before` (days estimated from restore points, for the time before the
   * first sample) capped at the first recorded size: an estimate never shows more than was measured.
   */
  series(before: GrowthDay[] = []): GrowthDay[] {
    const recorded = [...this.#days].sort(([a], [b]) => a.localeCompare(b)).map(([date, storedBytes]) => ({ date, storedBytes }));
    const first = recorded[0];
    const earlier = first ? before.filter((d) => d.date < first.date).map((d) => ({ date: d.date, storedBytes: Math.min(d.storedBytes, first.storedBytes) })) : before;
    return [...earlier, ...recorded];
  }
}
