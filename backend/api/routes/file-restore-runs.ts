// Restored files put back into the running VM (contracts/file-restore-runs.ts): checked here with the
// user's own vCenter session, then started as a 'file-restore' run that the service account carries out.
import type { FileRestoreRequest, JobRun, RestorePoint, VmSummary } from '../contract.ts';
import { Conflict, InvalidRequest, NotFound } from '../../common/errors.ts';
import { param } from '../http.ts';
import type { RouteDef } from '../routes.ts';
import type { UserContext } from '../auth.ts';
import { ref as named, type Schema } from '../schema.ts';
import { PRIVILEGES } from '../../model/privileges.ts';
import { credentialVisibleTo, type GuestCredential } from '../../model/credential.ts';
import { guestFolder, GuestPathError } from '../../sinks/guest-files.ts';
import { RP_ID, requireOnVms, requireVisible } from './operations.ts';

export interface FileRestoreRunDeps {
  restorePoint(id: string): Promise<RestorePoint | undefined>;
  credential(id: string): GuestCredential | undefined;
  /** The VM now (its guest family decides the folder rules), if it still exists. */
  vm(vmId: string): Promise<Pick<VmSummary, 'name' | 'guestFamily' | 'powerState' | 'toolsRunning'> | undefined>;
  start(rp: RestorePoint, req: FileRestoreRequest, user: UserContext): Promise<JobRun>;
}

const id = (what: string, max: number): Schema => ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[\\x21-\\x7e]+$', description: what });

export const FileRestoreRequestSchema = named('FileRestoreRequest', {
  type: 'object', additionalProperties: false, required: ['items', 'target', 'existing', 'credentialId'],
  properties: {
    items: {
      type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true,
      items: {
        type: 'object', additionalProperties: false, required: ['volumeId', 'ref'],
        properties: { volumeId: id('a volume id from GET /restore-points/:id/volumes', 64), ref: id('an entry ref from a listing', 256) },
      },
    },
    target: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { type: 'string', enum: ['original'] } } },
        {
          type: 'object', additionalProperties: false, required: ['kind', 'path'],
          properties: { kind: { type: 'string', enum: ['folder'] }, path: { type: 'string', minLength: 1, maxLength: 1024, description: 'an absolute guest folder: C:\\Restore or /srv/restore' } },
        },
      ],
      discriminator: 'kind',
    },
    existing: { type: 'string', enum: ['skip', 'overwrite', 'keep-both'], description: "a file that exists in the guest: 'skip' it, 'overwrite' it, or 'keep-both' (the restored one as 'name (1).ext')" },
    credentialId: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'a stored guest credential (GET /api/credentials)' },
  },
});

export function fileRestoreRunRoutes(d: FileRestoreRunDeps): RouteDef[] {
  return [{
    method: 'post', path: '/restore-points/:id/files/restore', tag: 'restore', status: 202, body: FileRestoreRequestSchema,
    summary: 'Put files and folders of a restore point back into the running VM (guest operations, a stored guest credential)',
    handler: async ({ req, user, body }) => {
      const rpId = param(req, 'id', RP_ID, 'restore point');
      const r = body as FileRestoreRequest;
      const rp = await d.restorePoint(rpId);
      if (!rp) throw new NotFound('Restore point', rpId);
      await requireVisible(user, [rp.vmId]);
      // Another user's private credential is answered as not existing, as for jobs.
      const cred = d.credential(r.credentialId);
      if (!cred || !credentialVisibleTo(cred, user.username)) {
        throw new InvalidRequest(`Invalid request: body.credentialId '${r.credentialId}' is not a stored guest credential; list yours with GET /api/credentials.`);
      }
      await requireOnVms(user, [rp.vmId], 'Restoring files into the guest', [...PRIVILEGES.fileRestore, ...PRIVILEGES.guestFileWrite]);
      const vm = await d.vm(rp.vmId);
      if (!vm) throw new NotFound('VM', rp.vmId, 'the VM of this restore point no longer exists: restore the whole VM, or download the files.');
      // Files are written by VMware Tools in the running guest.
      if (vm.powerState !== 'poweredOn') throw new Conflict(`VM '${vm.name}' is ${vm.powerState === 'suspended' ? 'suspended' : 'powered off'}: power it on to put files into its guest, or download the files instead.`);
      if (!vm.toolsRunning) throw new Conflict(`VMware Tools is not running in VM '${vm.name}': start it (or install it) to put files into its guest, or download the files instead.`);
      if (r.target.kind === 'folder') {
        try { guestFolder(r.target.path, vm.guestFamily); } catch (e) {
          if (e instanceof GuestPathError) throw new InvalidRequest(`Invalid request: body.target.path: ${e.message}`);
          throw e;
        }
      }
      return d.start(rp, r, user);
    },
  }];
}
