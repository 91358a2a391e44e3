// The service's transporters: pairings (a helper VM at a site and the SHA-256 of its one token, kept in
// <dataDir>/transporters.json; the token itself is shown once), the transporters registered now (in
// memory: a transporter renews its registration, so a restarted service knows it again within
// seconds), and the choice of a transporter for a run: one whose helper VM's host mounts the
// replica's datastore and that answers.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../../common/durable.ts';
import { childLog } from '../../common/log.ts';
import { NotFound, Unauthorized } from '../../common/errors.ts';
import type { MoRef, VSphere } from '../../vsphere/index.ts';
import { TransporterLink, type TransporterAddress } from './link.ts';
import type { VcenterAccess } from './transporter.ts';

const log = childLog('replication.transporters');

export interface Pairing { id: string; name: string; site: string; helperVm: string; tokenSha256: string; pairedAt: string; pairedBy: string }

export interface TransporterInfo {
  id: string; name: string; site: string; helperVm: string; pairedAt: string; pairedBy: string;
  online: boolean; url?: string; version?: string; lastSeen?: string;
}

interface Online { address: TransporterAddress; version: string; lastSeen: number }

/** A registration older than this without renewal counts as gone. */
const STALE_MS = 90_000;

const sha = (t: string) => createHash('sha256').update(t).digest('hex');

export class TransporterHub {
  readonly #file: string;
  readonly #online = new Map<string, Online>();
  #pairings: Pairing[];

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'transporters.json');
    this.#pairings = readJson<Pairing[]>(this.#file) ?? [];
  }

  /** A new pairing for a helper VM; the token is returned once and only its hash is kept. */
  pair(p: { name: string; site: string; helperVm: string; by: string }): { pairing: Pairing; token: string } {
    const token = `sptp_${randomBytes(32).toString('base64url')}`;
    const pairing: Pairing = { id: randomUUID(), name: p.name, site: p.site, helperVm: p.helperVm, tokenSha256: sha(token), pairedAt: new Date().toISOString(), pairedBy: p.by };
    this.#pairings = [...this.#pairings.filter((x) => !(x.site === p.site && x.helperVm === p.helperVm)), pairing];
    this.#save();
    for (const id of this.#online.keys()) if (!this.#pairings.some((x) => x.id === id)) this.#online.delete(id);
    return { pairing, token };
  }

  unpair(id: string): void {
    if (!this.#pairings.some((p) => p.id === id)) throw new NotFound('Transporter', id, 'list them with `stillpoint transporter list`.');
    this.#pairings = this.#pairings.filter((p) => p.id !== id);
    this.#online.delete(id);
    this.#save();
  }

  list(): TransporterInfo[] {
    return this.#pairings.map((p) => {
      const o = this.#live(p.id);
      return {
        id: p.id, name: p.name, site: p.site, helperVm: p.helperVm, pairedAt: p.pairedAt, pairedBy: p.pairedBy, online: !!o,
        ...(o ? { url: o.address.url, version: o.version, lastSeen: new Date(o.lastSeen).toISOString() } : {}),
      };
    });
  }

  /** A transporter presenting its token: records where it listens; returns its pairing. */
  register(token: string, at: { url: string; key: string; thumbprint: string; version: string }): Pairing {
    const want = Buffer.from(sha(token), 'hex');
    const p = this.#pairings.find((x) => timingSafeEqual(Buffer.from(x.tokenSha256, 'hex'), want));
    if (!p) throw new Unauthorized('This pairing token is unknown (or was replaced by a newer pairing of the same VM): pair the transporter again with `stillpoint transporter pair`.');
    const known = this.#online.get(p.id);
    if (!known || known.address.url !== at.url || known.address.key !== at.key) log.info({ transporter: p.name, url: at.url }, 'transporter registered');
    this.#online.set(p.id, { address: { id: p.id, name: p.name, url: at.url, key: at.key, thumbprint: at.thumbprint, helperVm: p.helperVm }, version: at.version, lastSeen: Date.now() });
    return p;
  }

  /**
   * A transporter at this site that can write to `datastore`: its helper VM's host mounts it and it
   * answers now; without one (no link) the run uses the full upload, `skipped` says why paired ones were passed over.
   */
  async forDatastore(vs: VSphere, site: string, datastore: MoRef): Promise<{ link?: TransporterLink; skipped: string[] }> {
    const skipped: string[] = [];
    for (const p of this.#pairings.filter((x) => x.site === site)) {
      const o = this.#live(p.id);
      if (!o) { skipped.push(`transporter '${p.name}' is not running`); continue; }
      try {
        const { runtime } = await vs.pc.retrieveOne<{ runtime?: { host?: MoRef } }>({ type: 'VirtualMachine', value: p.helperVm }, ['runtime']);
        const host = runtime?.host;
        const mounted = host ? (await vs.pc.retrieveOne<{ datastore?: MoRef[] }>(host, ['datastore'])).datastore ?? [] : [];
        if (!mounted.some((d) => d.value === datastore.value)) { skipped.push(`transporter '${p.name}': its host does not mount the replica's datastore`); continue; }
      } catch (e) {
        skipped.push(`transporter '${p.name}': its VM ${p.helperVm} cannot be read (${(e as Error).message})`);
        continue;
      }
      const link = new TransporterLink(o.address);
      try {
        await link.status();
        return { link, skipped };
      } catch (e) {
        link.destroy();
        skipped.push((e as Error).message);
      }
    }
    return { skipped };
  }

  #live(id: string): Online | undefined {
    const o = this.#online.get(id);
    return o && Date.now() - o.lastSeen < STALE_MS ? o : undefined;
  }

  #save(): void { writeFileDurable(this.#file, JSON.stringify(this.#pairings, null, 2)); }
}

/** vCenter access for a transporter: a one-time clone ticket of the service's session. */
export async function vcenterAccess(vs: VSphere): Promise<VcenterAccess> {
  const thumbprint = vs.client.agent.thumbprint;
  return { url: vs.client.url, ticket: await vs.acquireCloneTicket(), ...(thumbprint ? { thumbprint } : {}) };
}
