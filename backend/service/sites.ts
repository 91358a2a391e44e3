// The configured sites: one vCenter each, with the service account's connection to it. Ids the
// service hands out and accepts carry their site ("dr:vm-42"); the primary's may leave it out
// ("vm-42"), see model/site.ts. Everything that talks to vCenter about an object asks this
// registry for the VSphere of the object's site and uses the bare moref there.
import { InvalidRequest, NotFound } from '../common/errors.ts';
import type { SiteConfig } from '../config.ts';
import { formatSiteRef, parseSiteRef, type SiteRef } from '../model/site.ts';
import type { VSphere } from '../vsphere/index.ts';
import { VcenterConnection } from './vcenter-connection.ts';

export interface SiteStatus { id: string; name?: string; url: string; connected: boolean; message?: string }

export interface Site {
  readonly id: string;
  readonly config: SiteConfig;
  readonly connection: VcenterConnection;
}

export class Sites {
  readonly primary: string;
  readonly #sites = new Map<string, Site>();

  constructor(configs: SiteConfig[]) {
    if (!configs.length) throw new Error('no vCenter configured');
    this.primary = configs[0]!.id;
    for (const config of configs) this.#sites.set(config.id, { id: config.id, config, connection: new VcenterConnection(config) });
  }

  list(): Site[] { return [...this.#sites.values()]; }
  ids(): string[] { return [...this.#sites.keys()]; }
  get multiple(): boolean { return this.#sites.size > 1; }

  site(id: string): Site {
    const s = this.#sites.get(id);
    if (!s) throw new NotFound('Site', id, `configured sites: ${this.ids().join(', ')}.`);
    return s;
  }

  /** The service account's VSphere at a site. */
  vs(site: string): Promise<VSphere> { return this.site(site).connection.get(); }

  /** The site and bare moref of a (possibly site-qualified) id; undefined when it names no configured site. */
  tryParse(id: string): SiteRef | undefined {
    const r = parseSiteRef(id, this.primary);
    return r && this.#sites.has(r.site) ? r : undefined;
  }

  parse(id: string, what = 'object'): SiteRef {
    const r = parseSiteRef(id, this.primary);
    if (!r) throw new InvalidRequest(`'${id}' is not a valid ${what} id (expected a vCenter id such as vm-42, or <site>:vm-42).`);
    if (!this.#sites.has(r.site)) throw new NotFound(what === 'object' ? 'Site' : what, id, `its site '${r.site}' is not configured; configured sites: ${this.ids().join(', ')}.`);
    return r;
  }

  format(site: string, moref: string): string { return formatSiteRef({ site, moref }, this.primary); }

  /** The site of an id and the service account's VSphere there. */
  async resolve(id: string, what = 'object'): Promise<SiteRef & { vs: VSphere }> {
    const r = this.parse(id, what);
    return { ...r, vs: await this.vs(r.site) };
  }

  /**
   * A host or datastore argument (name, moref or qualified id) for an action on `site`: a qualified
   * id of that site becomes its bare moref; one of another site is refused; a name stays a name.
   */
  localArg(site: string, arg: string, what: string): string {
    const i = arg.indexOf(':');
    if (i < 0) return arg;
    const r = parseSiteRef(arg, this.primary);
    if (!r || !this.#sites.has(r.site)) return arg;
    if (r.site !== site) {
      throw new InvalidRequest(`${what} '${arg}' is at site '${r.site}', but the restore point is from site '${site}': restore to a ${what.toLowerCase()} of site '${site}'.`);
    }
    return r.moref;
  }

  /** Each site's connection state (tries to connect). */
  async status(): Promise<SiteStatus[]> {
    return Promise.all(this.list().map(async (s) => ({
      id: s.id, ...(s.config.name ? { name: s.config.name } : {}), url: s.config.url, ...(await s.connection.check()),
    })));
  }

  async close(): Promise<void> {
    await Promise.all(this.list().map((s) => s.connection.close()));
  }
}
