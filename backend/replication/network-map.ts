// A replication job's network mapping as stored (source network name → DR network name) and as the
// replication code and the API use it (a list of pairs).
import { InvalidRequest } from '../common/errors.ts';
import type { NetworkMapping } from './replica-vm.ts';

export function mappingToRecord(list: NetworkMapping[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of list ?? []) {
    if (!m.source?.trim() || !m.target?.trim()) throw new InvalidRequest('Each network mapping needs a source and a DR network name.');
    if (Object.hasOwn(out, m.source)) throw new InvalidRequest(`Network '${m.source}' is mapped twice: map each source network once.`);
    out[m.source] = m.target;
  }
  return out;
}

export function mappingFromRecord(map: Record<string, string> | undefined): NetworkMapping[] {
  return Object.entries(map ?? {}).map(([source, target]) => ({ source, target }));
}
