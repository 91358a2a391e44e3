// Publishing a restore point's disks read-only over NBD (contracts/publish.ts). The user must see
// the VM and hold the publishDisk privileges on it (model/privileges.ts); publishing and ending a
// publication are logged as events on the VM in vCenter, under the user's own session.
import type { DiskExport, DiskPublication, DiskPublishRequest, RestorePoint } from '../contract.ts';
import { InvalidRequest, NotFound, StillpointError, Unavailable } from '../../common/errors.ts';
import { childLog } from '../../common/log.ts';
import { param } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import type { Schema } from '../schema.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { RP_ID, requireOnVms, requireVisible, siteSession } from './operations.ts';
import { PublicationError, type Publication, type Publications } from '../../publish/publications.ts';

const log = childLog('publish');
const PUBLICATION_ID = /^pub-[0-9a-f]{16}$/;

export interface PublishDeps {
  publications: Publications;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
}

const PublishRequestSchema: Schema = {
  type: 'object', additionalProperties: false, properties: {
    disks: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 2 ** 31 }, minItems: 1, maxItems: 64, uniqueItems: true, description: 'disk keys; default every disk' },
    tls: { type: 'boolean', description: 'serve only over TLS (nbds://); default false' },
    expiresInMinutes: { type: 'integer', minimum: 1, maximum: 43_200, description: 'ends by itself after this long; default: until unpublished' },
    allowFrom: {
      type: 'array', items: { type: 'string', minLength: 2, maxLength: 64 }, minItems: 1, maxItems: 32,
      description: 'client addresses or CIDR blocks allowed to connect; default any',
    },
  },
};

function fail(e: unknown): never {
  if (!(e instanceof PublicationError)) throw e;
  if (e.code === 'EINVAL') throw new InvalidRequest(e.message);
  if (e.code === 'ENOTFOUND') throw new StillpointError('not_found', 'not_found', `${e.message}.`);
  throw new Unavailable('publishing_unavailable', e.message, e);
}

/** Logs on the VM in vCenter with the user's own session; a failure only costs the event. */
async function vmEvent(user: UserContext, vmId: string, msg: string): Promise<void> {
  try {
    const { vs, local } = siteSession(user, vmId);
    await vs.events.logUserEvent({ type: 'VirtualMachine', value: local }, msg);
  } catch (e) {
    log.debug({ vm: vmId, err: (e as Error).message }, 'could not log the vCenter event');
  }
}

export function publishRoutes(d: PublishDeps): RouteDef[] {
  const dto = (p: Publication, user: UserContext): DiskPublication => ({
    id: p.id, restorePointId: p.rpId, vmId: p.vmId, ...(p.vmName ? { vmName: p.vmName } : {}), owner: p.owner, createdAt: p.createdAt,
    ...(p.expiresAt ? { expiresAt: p.expiresAt } : {}), tls: p.tls, ...(p.allowFrom ? { allowFrom: p.allowFrom } : {}),
    exports: p.exports.map((x): DiskExport => ({
      disk: Number(x.disk), ...(x.label ? { label: x.label } : {}), size: x.size,
      // The address is the credential: only its publisher is shown it.
      ...(p.owner === user.username ? { url: x.url } : {}),
      connections: d.publications.connections(p.id, x.disk),
    })),
  });
  /** A publication of a VM the user cannot see does not exist for that user. */
  const visiblePublication = async (user: UserContext, id: string): Promise<Publication> => {
    const p = d.publications.get(id);
    if (!p || !(await user.session.visibleVmIds()).has(p.vmId)) {
      throw new NotFound('Publication', id, 'it may have expired or been unpublished, and publications end when the service restarts; list them with GET /api/publications.');
    }
    return p;
  };
  const diskList = (p: Publication) => p.exports.map((x) => x.label ?? `disk ${x.disk}`).join(', ');

  return [
    {
      method: 'post', path: '/restore-points/:id/publish', tag: 'restore', status: 201, body: PublishRequestSchema,
      summary: 'Publish the disks of a restore point read-only over NBD (nbd:// addresses with a secret token; until unpublished, expired or the service restarts)',
      handler: async ({ req, body, user }) => {
        const id = param(req, 'id', RP_ID, 'restore point');
        const b = body as DiskPublishRequest;
        const rp = await d.restorePoint(id);
        if (!rp) throw new NotFound('Restore point', id, 'list the restore points of the VM and pick one of them.');
        await requireVisible(user, [rp.vmId]);
        await requireOnVms(user, [rp.vmId], 'Publishing the disks of a restore point', PRIVILEGES.publishDisk);
        const unknown = (b.disks ?? []).filter((k) => !rp.disks.some((x) => x.key === k));
        if (unknown.length) {
          throw new InvalidRequest(`Invalid request: body.disks: restore point ${id} has no disk ${unknown.join(', ')} (its disks: ${rp.disks.map((x) => `${x.key} ${x.label}`).join(', ')}).`);
        }
        const disks = rp.disks.filter((x) => !b.disks || b.disks.includes(x.key)).map((x) => ({ key: String(x.key), label: x.label }));
        const pub = await d.publications.publish({
          rpId: rp.id, vmId: rp.vmId, vmName: rp.vmName, disks, owner: user.username, tls: b.tls ?? false,
          ...(b.expiresInMinutes ? { expiresAt: new Date(Date.now() + b.expiresInMinutes * 60_000) } : {}),
          ...(b.allowFrom ? { allowFrom: b.allowFrom } : {}),
        }).catch(fail);
        await vmEvent(user, rp.vmId, `Stillpoint: ${user.username} published ${diskList(pub)} of the restore point of ${rp.createdAt} read-only over NBD` +
          `${pub.tls ? ' (TLS)' : ''}${pub.expiresAt ? ` until ${pub.expiresAt}` : ''} (publication ${pub.id}).`);
        return dto(pub, user);
      },
    },
    {
      method: 'get', path: '/publications', tag: 'restore', summary: 'Published restore-point disks of the VMs you can see (addresses only for your own)',
      handler: async ({ user }) => {
        const visible = await user.session.visibleVmIds();
        return d.publications.list().filter((p) => visible.has(p.vmId)).map((p) => dto(p, user));
      },
    },
    {
      method: 'get', path: '/publications/:id', tag: 'restore', summary: 'One publication',
      handler: async ({ req, user }) => dto(await visiblePublication(user, param(req, 'id', PUBLICATION_ID, 'publication')), user),
    },
    {
      method: 'delete', path: '/publications/:id', tag: 'restore',
      summary: 'End a publication: its clients are disconnected and its addresses stop working (its publisher, or a user with the publishing privileges on the VM)',
      handler: async ({ req, user }) => {
        const p = await visiblePublication(user, param(req, 'id', PUBLICATION_ID, 'publication'));
        if (p.owner !== user.username) await requireOnVms(user, [p.vmId], `Ending ${p.owner}'s publication`, PRIVILEGES.publishDisk);
        await d.publications.unpublish(p.id).catch(fail);
        await vmEvent(user, p.vmId, `Stillpoint: ${user.username} ended the NBD publication ${p.id} (${diskList(p)} of restore point ${p.rpId}).`);
        return undefined;
      },
    },
  ];
}
