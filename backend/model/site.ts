// Sites: each configured vCenter is a site. Every VM, host and datastore the service handles is
// addressed together with its site, because managed object ids (vm-42) repeat across vCenters.
//
// Wire form of a qualified id: "<site>:<moref>", e.g. "dr:vm-42". The primary (first configured)
// site may leave its prefix out, so "vm-42" means the primary site's vm-42.

export interface SiteRef {
  /** Short id from the configuration, e.g. "prod", "dr". */
  site: string;
  /** Managed object id, e.g. "vm-42". */
  moref: string;
}

const SITE_ID = /^[a-z][a-z0-9-]{0,31}$/;

export function isValidSiteId(id: string): boolean { return SITE_ID.test(id); }

export function formatSiteRef(r: SiteRef, primary: string): string {
  return r.site === primary ? r.moref : `${r.site}:${r.moref}`;
}

/** Undefined when the text names no managed object (or a site that does not look like one). */
export function parseSiteRef(text: string, primary: string): SiteRef | undefined {
  const i = text.indexOf(':');
  const site = i < 0 ? primary : text.slice(0, i);
  const moref = i < 0 ? text : text.slice(i + 1);
  if (!isValidSiteId(site) || !/^[A-Za-z][\w.-]{0,79}$/.test(moref)) return undefined;
  return { site, moref };
}
