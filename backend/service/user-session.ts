// A user's own vCenter sessions (standalone login or cloned from the plugin token), one per site
// the user could log in to. What the user may see is what each vCenter returns to the user's
// session there: we never widen it with the service account. A site the user has no session at
// shows nothing to this user.
import type { UserSession } from '../api/auth.ts';
import type { VSphere } from '../vsphere/index.ts';
import { formatSiteRef } from '../model/site.ts';

const VISIBLE_TTL_MS = 15_000;

/** Bumped when Stillpoint itself changes the inventory (a restored VM), so no cache hides the change. */
export const inventoryEpoch = { value: 0 };

export interface SiteSession { site: string; vs: VSphere }

/**
 * One user's sessions at one or more sites; `primary` is the site whose VM ids carry no prefix.
 * The single-site form `userSession(vs, username)` is a session at the primary site only.
 */
export function userSession(vs: VSphere | SiteSession[], username: string, primary = 'primary'): UserSession & { vsphere: VSphere; sites: SiteSession[] } {
  const sessions: SiteSession[] = Array.isArray(vs) ? vs : [{ site: primary, vs }];
  if (!sessions.length) throw new Error('a user session needs at least one site');
  let cached: { at: number; epoch: number; ids: Promise<Set<string>> } | undefined;
  return {
    username,
    vsphere: (sessions.find((s) => s.site === primary) ?? sessions[0]!).vs,
    sites: sessions,
    siteIds: sessions.map((s) => s.site),
    visibleVmIds() {
      if (!cached || Date.now() - cached.at > VISIBLE_TTL_MS || cached.epoch !== inventoryEpoch.value) {
        // A site that does not answer shows none of its VMs (never more); when none answers, the error.
        const ids = Promise.allSettled(sessions.map(async ({ site, vs: v }) =>
          (await v.pc.retrieveAllOfType('VirtualMachine', ['name'])).map((x) => formatSiteRef({ site, moref: x.ref.value }, primary))))
          .then((results) => {
            const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
            if (!ok.length) throw (results[0] as PromiseRejectedResult).reason;
            return new Set(ok.flat());
          });
        cached = { at: Date.now(), epoch: inventoryEpoch.value, ids };
        cached.ids.catch(() => { cached = undefined; });
      }
      return cached.ids;
    },
    logout: async () => { await Promise.all(sessions.map((s) => s.vs.close().catch(() => undefined))); },
  };
}
