// Transporters for hot-add replication: pairing a helper VM at the DR site (a token shown once),
// listing and removing pairings, and the registration a running transporter makes with its token.
// Pairing hands the transporter vCenter sessions of the service (clone tickets) at every run, so it
// takes a vCenter administrator (Global.Settings on the root folder) who can see the helper VM.
import type { TransporterHub, TransporterInfo } from '../../replication/transport/hub.ts';
import type { Registration, VcenterAccess } from '../../replication/transport/transporter.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { param } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import { ref, type Schema } from '../schema.ts';
import { requirePrivileges, requireVisible, siteSession } from './operations.ts';

export interface TransporterRouteDeps {
  hub: TransporterHub;
  /** A (site-qualified) VM id: its site, its bare moref there and its name. */
  locateVm(vmId: string): Promise<{ site: string; moref: string; name: string }>;
  /** A one-time clone ticket of the service's session at a site, for a transporter. */
  vcenterAccess(site: string): Promise<VcenterAccess>;
}

const PairSchema: Schema = ref('TransporterPairRequest', {
  type: 'object', additionalProperties: false, required: ['vm'],
  properties: { vm: { type: 'string', minLength: 1, maxLength: 256 }, name: { type: 'string', minLength: 1, maxLength: 80 } },
});

const RegisterSchema: Schema = ref('TransporterRegisterRequest', {
  type: 'object', additionalProperties: false, required: ['token', 'url', 'key', 'thumbprint', 'version'],
  properties: {
    token: { type: 'string', minLength: 20, maxLength: 200 },
    url: { type: 'string', minLength: 8, maxLength: 300, pattern: '^https://' },
    key: { type: 'string', minLength: 20, maxLength: 200 },
    thumbprint: { type: 'string', minLength: 59, maxLength: 95 },
    version: { type: 'string', maxLength: 40 },
  },
});

async function requireAdmin(user: Parameters<RouteDef['handler']>[0]['user'], vmId: string, what: string): Promise<void> {
  const { vs } = siteSession(user, vmId);
  await requirePrivileges(vs, what, [{ entity: vs.client.serviceContent.rootFolder, label: 'the root folder', rules: PRIVILEGES.administer, on: 'root' }]);
}

export function transporterRoutes(d: TransporterRouteDeps): RouteDef[] {
  return [
    {
      method: 'post', path: '/transporters/pair', tag: 'replication', body: PairSchema,
      summary: 'Pair a transporter: its helper VM at the DR site; answers the token to start it with (shown once)',
      handler: async ({ user, body }): Promise<{ id: string; name: string; helperVm: string; token: string }> => {
        const b = body as { vm: string; name?: string };
        await requireVisible(user, [b.vm]);
        await requireAdmin(user, b.vm, 'Pairing a transporter');
        const vm = await d.locateVm(b.vm);
        const { pairing, token } = d.hub.pair({ name: b.name ?? vm.name, site: vm.site, helperVm: vm.moref, by: user.username });
        return { id: pairing.id, name: pairing.name, helperVm: b.vm, token };
      },
    },
    {
      method: 'get', path: '/transporters', tag: 'replication', summary: 'Paired transporters and whether each is running now',
      handler: async (): Promise<TransporterInfo[]> => d.hub.list(),
    },
    {
      method: 'delete', path: '/transporters/:id', tag: 'replication', summary: 'Remove a pairing: its token stops working',
      handler: async ({ req, user }) => {
        const id = param(req, 'id', /^[0-9a-f-]{36}$/, 'Transporter');
        await requireAdmin(user, '', 'Removing a transporter');
        d.hub.unpair(id);
        return undefined;
      },
    },
    {
      method: 'post', path: '/transporters/register', tag: 'replication', public: true, body: RegisterSchema,
      summary: 'A running transporter registers with its pairing token (where it listens, its certificate and key)',
      handler: async ({ body }): Promise<Registration> => {
        const b = body as { token: string; url: string; key: string; thumbprint: string; version: string };
        const p = d.hub.register(b.token, { url: b.url, key: b.key, thumbprint: b.thumbprint, version: b.version });
        return { id: p.id, name: p.name, helperVm: p.helperVm, vcenter: await d.vcenterAccess(p.site) };
      },
    },
  ];
}
