// Persistent jobs and run history. Jobs live in one durable JSON file; each run in its own file
// (rewritten as it progresses), so a crash loses at most the last progress update of a run and
// history survives restarts. Guest credentials are kept apart, sealed with the installation key.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CredentialScope, GuestCredential, GuestCredentialInput } from '../model/credential.ts';
import { DEFAULT_TARGET, type Job, type Run } from '../model/job.ts';
import { NotFound, Conflict } from '../common/errors.ts';
import { readJson, removeFileDurable, writeFileDurable } from '../common/durable.ts';
import type { SecretBox } from '../common/secrets.ts';
import { count } from '../common/units.ts';

interface SealedCredential extends GuestCredential { passwordSealed: string }
/** credentials.json as older versions wrote it: no owner, no scope. */
type StoredCredential = Omit<SealedCredential, 'owner' | 'scope'> & { owner?: string; scope?: CredentialScope };

/** The service account's user name: credentials stored before they had owners become its private ones. */
export const LEGACY_CREDENTIAL_OWNER = 'stillpoint-service-account';

/** What a new job is made of; the store adds id and creation time. */
export type JobDraft = Omit<Job, 'id' | 'createdAt' | 'nextRun' | 'lastRun'>;

/** A job as jobs.json may hold it: files written before jobs had kinds and targets used GFS names without "keep". */
type StoredJob = Omit<Job, 'kind' | 'target' | 'folderIds'> & Partial<Pick<Job, 'kind' | 'target' | 'folderIds'>> & {
  retention: Job['retention'] & { daily?: number; weekly?: number; monthly?: number; yearly?: number };
};

function upgradeJob(j: StoredJob): Job {
  const { daily, weekly, monthly, yearly, ...rest } = j.retention ?? {};
  const retention = { ...rest, ...(daily ? { keepDaily: daily } : {}), ...(weekly ? { keepWeekly: weekly } : {}), ...(monthly ? { keepMonthly: monthly } : {}), ...(yearly ? { keepYearly: yearly } : {}) };
  return { ...j, kind: j.kind ?? 'backup', target: j.target ?? { ...DEFAULT_TARGET }, folderIds: j.folderIds ?? [], retention };
}

export class JobStore {
  readonly #dir: string;
  readonly #box: SecretBox;
  #jobs: Job[];
  #credentials: SealedCredential[];
  #runs = new Map<string, Run>();

  /** `serviceAccount`: the configured vCenter user, owner of credentials stored before credentials had owners. */
  constructor(dataDir: string, box: SecretBox, opts: { serviceAccount?: string } = {}) {
    this.#dir = dataDir;
    this.#box = box;
    this.#jobs = (readJson<StoredJob[]>(join(dataDir, 'jobs.json')) ?? []).map(upgradeJob);
    const stored = readJson<StoredCredential[]>(join(dataDir, 'credentials.json')) ?? [];
    this.#credentials = stored.map((c) => ({ ...c, owner: c.owner ?? opts.serviceAccount ?? LEGACY_CREDENTIAL_OWNER, scope: c.scope ?? 'private' }));
    if (stored.some((c) => !c.owner || !c.scope)) this.#saveCredentials();
    let names: string[] = [];
    try { names = readdirSync(join(dataDir, 'runs')); } catch { /* first start */ }
    for (const n of names.filter((n) => n.endsWith('.json'))) {
      const r = readJson<Run>(join(dataDir, 'runs', n));
      if (r) this.#runs.set(r.id, r);
    }
  }

  // --- jobs
  jobs(): Job[] { return this.#jobs.map((j) => structuredClone(j)); }
  job(id: string): Job {
    const j = this.#jobs.find((x) => x.id === id);
    if (!j) throw new NotFound('Job', id, 'it may have been deleted; list jobs with GET /api/jobs.');
    return structuredClone(j);
  }
  createJob(input: JobDraft): Job {
    if (this.#jobs.some((j) => j.name === input.name)) throw new Conflict(`A job named '${input.name}' exists already: choose another name.`);
    const job: Job = { ...structuredClone(input), id: randomUUID(), createdAt: new Date().toISOString() };
    this.#jobs.push(job);
    this.#saveJobs();
    return structuredClone(job);
  }
  updateJob(id: string, change: Partial<Job>): Job {
    const i = this.#jobs.findIndex((x) => x.id === id);
    if (i < 0) throw new NotFound('Job', id);
    if (change.name && this.#jobs.some((j) => j.name === change.name && j.id !== id)) {
      throw new Conflict(`A job named '${change.name}' exists already: choose another name.`);
    }
    this.#jobs[i] = { ...this.#jobs[i]!, ...structuredClone(change), id };
    this.#saveJobs();
    return structuredClone(this.#jobs[i]!);
  }
  deleteJob(id: string): void {
    this.job(id);
    this.#jobs = this.#jobs.filter((j) => j.id !== id);
    this.#saveJobs();
  }

  // --- guest credentials
  /** Every credential (who may see or use which is the API's business: model/credential.ts). */
  credentials(): GuestCredential[] { return this.#credentials.map(({ id, name, username, owner, scope }) => ({ id, name, username, owner, scope })); }
  credential(id: string): GuestCredential | undefined { return this.credentials().find((c) => c.id === id); }
  addCredential(input: GuestCredentialInput, owner: string): GuestCredential {
    const c: SealedCredential = {
      id: randomUUID(), name: input.name, username: input.username, owner, scope: input.scope ?? 'private', passwordSealed: this.#box.seal(input.password),
    };
    this.#credentials.push(c);
    this.#saveCredentials();
    return { id: c.id, name: c.name, username: c.username, owner: c.owner, scope: c.scope };
  }
  /** Ids of the jobs that use a credential. */
  credentialUsers(id: string): string[] { return this.#jobs.filter((j) => j.appAware.guestCredentialId === id).map((j) => j.id); }
  deleteCredential(id: string): void {
    if (!this.#credentials.some((c) => c.id === id)) throw new NotFound('Guest credential', id);
    // No job names here: the caller may not see those jobs (the API names the ones it may see).
    const users = this.credentialUsers(id);
    if (users.length) throw new Conflict(`Guest credential is used by ${count(users.length, 'job')}: change ${users.length === 1 ? 'that job' : 'those jobs'} first.`);
    this.#credentials = this.#credentials.filter((c) => c.id !== id);
    this.#saveCredentials();
  }
  /** The clear password, for the guest operations call only. */
  credentialSecret(id: string): { username: string; password: string } {
    const c = this.#credentials.find((x) => x.id === id);
    if (!c) throw new NotFound('Guest credential', id, 'the job refers to a credential that was deleted; pick another one in the job.');
    return { username: c.username, password: this.#box.open(c.passwordSealed) };
  }

  // --- runs
  saveRun(run: Run): void {
    this.#runs.set(run.id, structuredClone(run));
    writeFileDurable(join(this.#dir, 'runs', `${run.id}.json`), JSON.stringify(run));
  }
  run(id: string): Run {
    const r = this.#runs.get(id);
    if (!r) throw new NotFound('Run', id);
    return structuredClone(r);
  }
  runs(filter: { vmId?: string; jobId?: string; limit?: number } = {}): Run[] {
    let list = [...this.#runs.values()];
    if (filter.vmId) list = list.filter((r) => r.vms.some((v) => v.vmId === filter.vmId));
    if (filter.jobId) list = list.filter((r) => r.jobId === filter.jobId);
    list.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    return list.slice(0, filter.limit ?? 100).map((r) => structuredClone(r));
  }
  deleteRun(id: string): void {
    this.#runs.delete(id);
    removeFileDurable(join(this.#dir, 'runs', `${id}.json`));
  }

  #saveJobs(): void { writeFileDurable(join(this.#dir, 'jobs.json'), JSON.stringify(this.#jobs, null, 1)); }
  #saveCredentials(): void { writeFileDurable(join(this.#dir, 'credentials.json'), JSON.stringify(this.#credentials, null, 1)); }
}
