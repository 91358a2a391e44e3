// Input schemas of the API, named so the OpenAPI document shows them as components.
import { ENTITY_NAME_FORMAT, ref, type Schema } from './schema.ts';
import { ENTITY_NAME_FORBIDDEN, ENTITY_NAME_MAX } from '../model/names.ts';

const vmId: Schema = { type: 'string', pattern: '^(?:[a-z][a-z0-9-]{0,31}:)?vm-\\d{1,12}$', description: 'a VM id: its managed object id such as vm-42, at a site other than the primary <site>:vm-42' };
const uuid: Schema = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'a UUID' };
const count = (max: number): Schema => ({ type: 'integer', minimum: 0, maximum: max });
/** A name that becomes a datastore folder and file names (backend/model/names.ts has the rules). */
const vmName: Schema = {
  type: 'string', minLength: 1, maxLength: ENTITY_NAME_MAX, format: ENTITY_NAME_FORMAT,
  description: `the new VM's name, also its folder on the datastore: at most ${ENTITY_NAME_MAX} characters, none of ${ENTITY_NAME_FORBIDDEN}, no control characters, not '.' or '..', no leading or trailing spaces`,
};

export const ScriptSchema = ref('Script', {
  type: 'object', additionalProperties: false, required: ['content', 'timeoutSec'],
  properties: {
    content: { type: 'string', minLength: 1, maxLength: 65_536 },
    interpreter: { type: 'string', minLength: 1, maxLength: 260 },
    timeoutSec: { type: 'integer', minimum: 1, maximum: 3600 },
  },
});

export const AppAwareSchema = ref('AppAwareSettings', {
  type: 'object', additionalProperties: false, required: ['quiesce', 'onQuiesceFailure', 'vssBackupType'],
  properties: {
    quiesce: { type: 'boolean' },
    onQuiesceFailure: { type: 'string', enum: ['fail', 'fallback'] },
    vssBackupType: { type: 'string', enum: ['copy', 'full'] },
    preFreeze: ScriptSchema,
    postThaw: ScriptSchema,
    guestCredentialId: uuid,
  },
});

export const RetentionSchema = ref('RetentionPolicy', {
  type: 'object', additionalProperties: false,
  properties: { keepLast: count(1000), daily: count(366), weekly: count(520), monthly: count(240), yearly: count(100) },
});

export const JobInputSchema = ref('JobInput', {
  type: 'object', additionalProperties: false,
  required: ['name', 'vmIds', 'schedule', 'retention', 'appAware', 'concurrency', 'enabled'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    kind: { type: 'string', enum: ['backup'], description: 'what the job does; this route makes backup jobs' },
    vmIds: { type: 'array', items: vmId, maxItems: 5000, uniqueItems: true },
    folderIds: { type: 'array', items: { type: 'string', pattern: '^(?:[a-z][a-z0-9-]{0,31}:)?[a-z]+-[a-z]?\\d{1,12}$', description: 'a VM folder id such as group-v3 (dr:group-v3 at site dr)' }, maxItems: 100, uniqueItems: true },
    schedule: {
      type: 'object', additionalProperties: false, required: ['cron'],
      properties: { cron: { oneOf: [{ type: 'string', minLength: 1, maxLength: 128 }, { type: 'null' }] } },
    },
    retention: RetentionSchema,
    appAware: AppAwareSchema,
    concurrency: { type: 'integer', minimum: 1, maximum: 8 },
    enabled: { type: 'boolean' },
    notify: {
      type: 'object', additionalProperties: false, required: ['recipients'], description: 'who gets this job\'s run reports besides the global recipients',
      properties: { recipients: { type: 'array', items: { type: 'string', pattern: '^[^\\s@<>(),;:"]+@[^\\s@<>(),;:"]+$', maxLength: 254 }, maxItems: 50, uniqueItems: true } },
    },
  },
});

export const BackupRequestSchema = ref('BackupRequest', {
  type: 'object', additionalProperties: false, required: ['vmIds'],
  properties: { vmIds: { type: 'array', items: vmId, minItems: 1, maxItems: 500, uniqueItems: true }, jobId: uuid },
});

export const VmIdsSchema: Schema = {
  type: 'object', additionalProperties: false, required: ['vmIds'],
  properties: { vmIds: { type: 'array', items: vmId, minItems: 1, maxItems: 5000, uniqueItems: true } },
};

export const RestoreRequestSchema = ref('RestoreRequest', {
  type: 'object', additionalProperties: false, required: ['target'],
  properties: {
    target: {
      oneOf: [
        {
          type: 'object', additionalProperties: false, required: ['kind', 'name', 'host', 'datastore', 'powerOn'],
          properties: {
            kind: { type: 'string', enum: ['new'] },
            name: vmName,
            host: { type: 'string', minLength: 1, maxLength: 256 },
            datastore: { type: 'string', minLength: 1, maxLength: 256 },
            powerOn: { type: 'boolean' },
          },
        },
        {
          type: 'object', additionalProperties: false, required: ['kind', 'confirm', 'powerOn'],
          properties: { kind: { type: 'string', enum: ['original'] }, confirm: { type: 'boolean' }, powerOn: { type: 'boolean' } },
        },
      ],
      discriminator: 'kind',
    },
  },
});

export const CredentialInputSchema = ref('GuestCredentialInput', {
  type: 'object', additionalProperties: false, required: ['name', 'username', 'password'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    username: { type: 'string', minLength: 1, maxLength: 256 },
    password: { type: 'string', maxLength: 1024 },
  },
});

export const LimitQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
};

/** GET /runs: the runs behind a dashboard figure (status, kind, time window). */
export const RunsQuery: Schema = {
  type: 'object', additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    status: { type: 'string', enum: ['success', 'warning', 'failed', 'cancelled'], description: 'runs with at least one VM (or, without VMs, the run) of this outcome' },
    kind: { type: 'string', enum: ['backup', 'restore', 'file-restore', 'replicate', 'replication', 'copy', 'verify', 'retention', 'gc', 'catalog', 'ad-restore', 'exchange-restore', 'exchange-send'] },
    since: { type: 'string', maxLength: 40, pattern: '^(\\d+[hd]|\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z)$', description: 'runs started since: an ISO time (…Z) or a span back from now, e.g. 24h, 7d' },
    until: { type: 'string', maxLength: 40, pattern: '^\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z$', description: 'runs started before this ISO time' },
  },
};
