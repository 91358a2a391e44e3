// A user's own vCenter session (standalone login or cloned from the plugin token). What the user may
// see is what vCenter returns to this session: we never widen it with the service account.
import type { UserSession } from '../api/auth.ts';
import type { VSphere } from '../vsphere/index.ts';

const VISIBLE_TTL_MS = 15_000;

/** Bumped when Stillpoint itself changes the inventory (a restored VM), so no cache hides the change. */
export const inventoryEpoch = { value: 0 };

export function userSession(vs: VSphere, username: string): UserSession & { vsphere: VSphere } {
  let cached: { at: number; epoch: number; ids: Promise<Set<string>> } | undefined;
  return {
    username,
    vsphere: vs,
    visibleVmIds() {
      if (!cached || Date.now() - cached.at > VISIBLE_TTL_MS || cached.epoch !== inventoryEpoch.value) {
        const ids = vs.pc.retrieveAllOfType('VirtualMachine', ['name']).then((list) => new Set(list.map((v) => v.ref.value)));
        cached = { at: Date.now(), epoch: inventoryEpoch.value, ids };
        cached.ids.catch(() => { cached = undefined; });
      }
      return cached.ids;
    },
    logout: () => vs.close(),
  };
}
