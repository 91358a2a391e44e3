// Active Directory objects of a restore point (contracts/active-directory.ts): browse, search, show
// and LDIF from the ntds.dit the point's VSS manifest names; compare with the live DC and restore into
// it over LDAPS with the user's own directory credentials (never stored, never logged). Every route
// first checks that the user sees the VM and holds the fileRestore privileges on it.
import type { Request } from 'express';
import type { AdCompareRequest, AdDatabaseInfo, AdRestoreReport, AdRestoreRequest, JobRun, RestorePoint } from '../contract.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref as named, type Schema } from '../schema.ts';
import { param, UUID_ID } from '../http.ts';
import { InvalidRequest, NotFound, StillpointError } from '../../common/errors.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { FsError } from '../../filesystems/types.ts';
import { IsolationError } from '../../file-restore/isolation.ts';
import type { PointDirectories, PointDirectory } from '../../active-directory/point-directory.ts';
import { connectLive, LiveDirectoryError } from '../../active-directory/live.ts';
import { compareWithLive } from '../../active-directory/compare.ts';
import { exportLdif } from '../../active-directory/ldif.ts';
import { objectsOf } from '../../active-directory/compare.ts';
import { directoryError, type AdRestoreReports } from '../../active-directory/restore-run.ts';
import { RP_ID, requireOnVms, requireVisible } from './operations.ts';

export interface ActiveDirectoryDeps {
  directories: PointDirectories;
  reports: AdRestoreReports;
  restorePoint(id: string): Promise<RestorePoint | undefined>;
  /** Starts the 'ad-restore' run (the passwords are held in memory, not in the run). */
  start(rp: RestorePoint, req: AdRestoreRequest, user: UserContext): Promise<JobRun>;
}

const isFsError = (e: unknown): e is FsError => e instanceof FsError || ((e as Error)?.name === 'FsError' && typeof (e as FsError).code === 'string');

/** Backup-side problems (no NTDS writer, a damaged ntds.dit) and directory refusals as HTTP answers. */
function translate(e: unknown): unknown {
  if (e instanceof LiveDirectoryError) return directoryError(e);
  // The ntds.dit is read in an isolated worker: running over its time or memory means a damaged or hostile file.
  if (e instanceof IsolationError) return new StillpointError('invalid', 'ntds_damaged', `The ntds.dit in this restore point cannot be read here: ${e.message} (${e.code}). Try another restore point.`);
  if (isFsError(e)) {
    if (e.code === 'ENOENT') return new StillpointError('not_found', 'not_found', `${e.message}.`);
    if (e.code === 'ENOTSUP') return new StillpointError('invalid', 'not_an_ntds', `${e.message}.`);
    return new StillpointError('invalid', 'ntds_damaged', `The ntds.dit in this restore point cannot be read here: ${e.message} (${e.code}). Try another restore point.`);
  }
  if (e instanceof RangeError) return new InvalidRequest(e.message);
  return e;
}
const guarded = async <T>(f: () => Promise<T> | T): Promise<T> => { try { return await f(); } catch (e) { throw translate(e); } };

const DN: Schema = { type: 'string', minLength: 1, maxLength: 2048, description: 'a DN, an objectGUID or a DNT from a listing' };
const BOOL: Schema = { type: 'boolean' };

export const AdConnectionSchema = named('AdConnection', {
  type: 'object', additionalProperties: false, required: ['url', 'username', 'password'],
  properties: {
    url: { type: 'string', minLength: 8, maxLength: 512, pattern: '^ldaps://', description: 'ldaps://dc01.corp.example:636' },
    username: { type: 'string', minLength: 1, maxLength: 512, description: 'your own directory account: user@corp.example, CORP\\user or a DN' },
    password: { type: 'string', minLength: 1, maxLength: 1024, description: 'used for this request only; never stored or logged' },
    caPem: { type: 'string', maxLength: 65536, description: "PEM of the CA that issued the DC's certificate" },
    serverName: { type: 'string', maxLength: 255, description: 'name the certificate must carry when url holds an address' },
  },
});

const AdCompareRequestSchema = named('AdCompareRequest', {
  type: 'object', additionalProperties: false, required: ['ref', 'connection'],
  properties: { ref: DN, subtree: BOOL, connection: AdConnectionSchema },
});

const AdRestoreRequestSchema = named('AdRestoreRequest', {
  type: 'object', additionalProperties: false, required: ['objects', 'connection'],
  properties: {
    objects: { type: 'array', minItems: 1, maxItems: 10_000, items: DN },
    subtree: { type: 'boolean', description: 'each object with everything under it (parents first)' },
    connection: AdConnectionSchema,
    options: {
      type: 'object', additionalProperties: false,
      properties: {
        attributes: { oneOf: [{ type: 'string', enum: ['all'] }, { type: 'array', maxItems: 2000, items: { type: 'string', minLength: 1, maxLength: 256 } }] },
        memberships: BOOL,
        password: {
          type: 'object', additionalProperties: false, required: ['mode'],
          properties: { mode: { type: 'string', enum: ['none', 'new', 'must-change'] }, value: { type: 'string', maxLength: 1024 }, mustChange: BOOL },
        },
        accountState: { type: 'string', enum: ['keep', 'enabled', 'disabled'] },
        targetContainer: { type: 'string', maxLength: 2048 },
        recreate: BOOL,
        permissions: { type: 'boolean', description: 'write back owner, group and explicit ACEs from the backup (default: for reanimated and recreated objects)' },
      },
    },
  },
});

const ChildrenQuery: Schema = { type: 'object', additionalProperties: false, properties: { dn: { type: 'string', maxLength: 2048 }, deleted: BOOL, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } };
const SearchQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: {
    text: { type: 'string', maxLength: 256, description: 'part of the name, sAMAccountName, displayName or UPN' },
    sAMAccountName: { type: 'string', maxLength: 256 }, objectClass: { type: 'string', maxLength: 256 },
    attribute: { type: 'string', maxLength: 256 }, value: { type: 'string', maxLength: 1024, description: "with attribute: equal to it, '*' = present" },
    base: { type: 'string', maxLength: 2048 }, deleted: BOOL, limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
};
const ObjectQuery: Schema = { type: 'object', additionalProperties: false, required: ['ref'], properties: { ref: DN } };
const LdifQuery: Schema = { type: 'object', additionalProperties: false, required: ['ref'], properties: { ref: DN, subtree: BOOL, importable: BOOL } };

export function activeDirectoryRoutes(d: ActiveDirectoryDeps): RouteDef[] {
  async function authorize(user: UserContext, req: Request): Promise<RestorePoint> {
    const id = param(req, 'id', RP_ID, 'restore point');
    const rp = await d.restorePoint(id);
    if (!rp) throw new NotFound('Restore point', id);
    await requireVisible(user, [rp.vmId]);
    await requireOnVms(user, [rp.vmId], 'Restoring Active Directory objects from a restore point', PRIVILEGES.fileRestore);
    return rp;
  }
  const directory = async (user: UserContext, req: Request): Promise<PointDirectory> => {
    const rp = await authorize(user, req);
    return guarded(() => d.directories.open(rp.id));
  };

  return [
    {
      method: 'get', path: '/restore-points/:id/ad', tag: 'active-directory',
      summary: "The restore point's ntds.dit (from its VSS manifest's NTDS writer): where, its state, logs, objects, Recycle Bin, naming contexts",
      handler: async ({ req, user }): Promise<AdDatabaseInfo> => {
        const { located, ad, restorePointId } = await directory(user, req);
        return {
          restorePointId, path: located.path, volumeId: located.volume, sizeBytes: located.file.size,
          ...(located.logDir ? { logDir: located.logDir } : {}),
          logs: located.logs.map((l) => ({ name: l.name, size: l.size, ...(l.mtime ? { mtime: l.mtime } : {}) })),
          consistency: ad.consistency, objectCount: ad.objectCount,
          recycleBin: (await guarded(() => ad.recycleBin())).result, roots: (await guarded(() => ad.roots())).result,
        };
      },
    },
    {
      method: 'get', path: '/restore-points/:id/ad/children', tag: 'active-directory', query: ChildrenQuery,
      summary: 'Objects right under a DN (the naming contexts without dn)',
      handler: async ({ req, user, query }) => {
        const { ad } = await directory(user, req);
        return guarded(() => (query.dn ? ad.children(query.dn, { includeDeleted: !!query.deleted, limit: query.limit ?? 5000 }) : ad.roots()));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/ad/search', tag: 'active-directory', query: SearchQuery,
      summary: 'Search objects by name, sAMAccountName, class or any attribute (secrets cannot be searched)',
      handler: async ({ req, user, query }) => {
        const { ad } = await directory(user, req);
        if ((query.attribute === undefined) !== (query.value === undefined)) throw new InvalidRequest('Invalid request: give attribute and value together.');
        return guarded(() => ad.search({
          ...(query.text ? { text: query.text } : {}), ...(query.sAMAccountName ? { sAMAccountName: query.sAMAccountName } : {}),
          ...(query.objectClass ? { objectClass: query.objectClass } : {}), ...(query.base ? { base: query.base } : {}),
          ...(query.attribute ? { attribute: { name: query.attribute, value: query.value } } : {}),
          includeDeleted: !!query.deleted, limit: query.limit ?? 1000,
        }));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/ad/object', tag: 'active-directory', query: ObjectQuery,
      summary: 'One object with all its attributes (password hashes and other secrets withheld)',
      handler: async ({ req, user, query }) => {
        const { ad } = await directory(user, req);
        return guarded(() => ad.get(/^\d+$/.test(query.ref) ? Number(query.ref) : query.ref));
      },
    },
    {
      method: 'get', path: '/restore-points/:id/ad/ldif', tag: 'active-directory', query: LdifQuery,
      summary: 'LDIF export of an object (or its subtree); secrets are never in it',
      handler: async ({ req, res, user, query }) => {
        const { ad } = await directory(user, req);
        const text = await guarded(async () => exportLdif(ad, await objectsOf(ad, query.ref, !!query.subtree), { importable: !!query.importable }));
        res.status(200).type('text/plain; charset=utf-8').setHeader('content-disposition', 'attachment; filename="objects.ldif"');
        res.end(text);
        return undefined;
      },
    },
    {
      method: 'post', path: '/restore-points/:id/ad/compare', tag: 'active-directory', body: AdCompareRequestSchema,
      summary: 'Compare an object (or subtree) of the backup with the live directory over LDAPS, with your own directory credentials',
      handler: async ({ req, user, body }) => {
        const { ad } = await directory(user, req);
        const r = body as AdCompareRequest;
        return guarded(async () => {
          const live = await connectLive(r.connection);
          try { return await compareWithLive(ad, live, r.ref, { subtree: !!r.subtree }); } finally { await live.close(); }
        });
      },
    },
    {
      method: 'post', path: '/restore-points/:id/ad/restore', tag: 'active-directory', status: 202, body: AdRestoreRequestSchema,
      summary: 'Restore objects into the live directory over LDAPS with your own directory credentials (reanimate, recreate, attributes, memberships, password, account state), as a run',
      handler: async ({ req, user, body }) => {
        const rp = await authorize(user, req);
        const r = body as AdRestoreRequest;
        if (r.options?.password?.mode === 'new' && !r.options.password.value) throw new InvalidRequest('Invalid request: body.options.password.value is needed for mode "new".');
        const { ad } = await guarded(() => d.directories.open(rp.id));
        // Names are checked now: an unknown object is a 404 before anything is written.
        for (const o of r.objects) await guarded(() => ad.get(o));
        // The credentials are checked now too (a wrong password is a 400, not a failed run).
        await guarded(async () => { const live = await connectLive(r.connection); await live.close(); });
        return d.start(rp, r, user);
      },
    },
    {
      method: 'get', path: '/ad-restores/:runId', tag: 'active-directory',
      summary: 'What an AD restore run did, object by object, or the directory answer that stopped it',
      handler: async ({ req, user }): Promise<AdRestoreReport> => {
        const runId = param(req, 'runId', UUID_ID, 'run');
        const rep = d.reports.get(runId);
        if (!rep) throw new NotFound('AD restore run', runId, 'reports are kept in memory until the service restarts.');
        const rp = await d.restorePoint(rep.restorePointId);
        if (!rp) throw new NotFound('Restore point', rep.restorePointId);
        await requireVisible(user, [rp.vmId]);
        await requireOnVms(user, [rp.vmId], 'Reading an AD restore report', PRIVILEGES.fileRestore);
        return rep;
      },
    },
  ];
}
