// Raises the conditions behind Stillpoint's vCenter alarms that are not a single backup's outcome:
// a VM in a scheduled job without a good point within the protection window (RPO exceeded), the
// repository nearly full, verify finding damage. Each is an extension event (EventEx) posted when the
// condition changes, so the alarms (alarms/definitions.ts) turn red and back to green; the events
// also show in vCenter's Events. vCenter problems are logged and never fail anything.
import { childLog } from '../common/log.ts';
import { EVENT_TYPES } from '../model/vcenter-tasks.ts';
import type { Job, Run } from '../model/job.ts';
import { formatBytes } from '../common/units.ts';
import type { VSphere } from '../vsphere/index.ts';
import type { ExtensionEvent } from '../vsphere/events.ts';

const log = childLog('alarms');

/** Used share of the repository's file system above which it counts as nearly full, and below which it is fine again. */
export const NEARLY_FULL = 0.9;
export const SPACE_OK = 0.85;

export interface MonitorDeps {
  /** Each site's vCenter (service account), by site id; the first is the primary. */
  sites(): string[];
  vs(site: string): Promise<VSphere>;
  /** site and bare moref of a (qualified) VM id. */
  parseVm(vmId: string): { site: string; moref: string };
  jobs(): Job[];
  jobVms(job: Job): Promise<string[]>;
  lastProtected(): Promise<Map<string, string>>;
  vmName(vmId: string): Promise<string>;
  windowHours: number;
  space(): Promise<{ totalBytes: number; freeBytes: number } | undefined>;
}

type Level = 'bad' | 'ok';

export class AlarmMonitor {
  readonly #d: MonitorDeps;
  readonly #rpo = new Map<string, Level>();
  #space: Level | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();

  constructor(d: MonitorDeps) { this.#d = d; }

  /** Checks the RPO and the repository's space every 10 minutes. */
  start(): void {
    this.#timer = setInterval(() => void this.check(), 10 * 60_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> { clearInterval(this.#timer); await this.#busy; }

  /** The runner's run-finished hook. */
  runFinished(run: Run): void {
    if (run.kind === 'verify') {
      const damaged = run.status === 'failed' && /damaged chunk/.test(run.message ?? '');
      if (damaged || run.status === 'success') {
        void this.#atDatacenters({
          eventTypeId: damaged ? EVENT_TYPES.verifyDamage : EVENT_TYPES.verifyClean,
          message: damaged ? `Stillpoint: verifying the repository found damage. ${run.message}` : 'Stillpoint: verifying the repository found no damage.',
          severity: damaged ? 'error' : 'info',
        });
      }
      return;
    }
    if (run.kind === 'backup' || run.kind === 'retention' || run.kind === 'gc' || run.kind === 'replication' || run.kind === 'replicate') void this.check();
  }

  /** One pass over the RPO of scheduled jobs' VMs and the repository's space (serialised). */
  check(): Promise<void> {
    this.#busy = this.#busy.then(() => this.#check()).catch((e) => log.warn({ err: (e as Error).message }, 'alarm conditions could not be checked'));
    return this.#busy;
  }

  async #check(): Promise<void> {
    await this.#checkSpace();
    const now = Date.now();
    const windowMs = this.#d.windowHours * 3_600_000;
    const good = await this.#d.lastProtected();
    const watched = new Map<string, string>(); // vmId -> job name
    for (const j of this.#d.jobs()) {
      // A job gets one window to make its first points before its VMs count as late.
      if (!j.enabled || j.schedule.cron === null || Date.parse(j.createdAt) > now - windowMs) continue;
      if (j.kind !== 'backup' && j.kind !== 'replication') continue;
      for (const id of await this.#d.jobVms(j).catch(() => j.vmIds)) if (!watched.has(id)) watched.set(id, j.name);
    }
    for (const [vmId, jobName] of watched) {
      const at = good.get(vmId);
      const level: Level = at && Date.parse(at) >= now - windowMs ? 'ok' : 'bad';
      const before = this.#rpo.get(vmId);
      this.#rpo.set(vmId, level);
      if (before === level || (before === undefined && level === 'ok')) continue;
      const name = await this.#d.vmName(vmId).catch(() => vmId);
      await this.#atVm(vmId, name, level === 'bad' ? {
        eventTypeId: EVENT_TYPES.rpoExceeded, severity: 'error',
        message: `Stillpoint: ${name} (job '${jobName}') has no good restore point or replica from the last ${this.#d.windowHours} h${at ? `; the newest is from ${at}` : ''}. Check the job's last runs.`,
      } : { eventTypeId: EVENT_TYPES.rpoMet, severity: 'info', message: `Stillpoint: ${name} is protected again (good point from ${at}).` });
    }
  }

  async #checkSpace(): Promise<void> {
    const s = await this.#d.space().catch(() => undefined);
    if (!s || !s.totalBytes) return;
    const used = 1 - s.freeBytes / s.totalBytes;
    const level: Level | undefined = used >= NEARLY_FULL ? 'bad' : used < SPACE_OK ? 'ok' : this.#space;
    if (!level || level === this.#space || (this.#space === undefined && level === 'ok')) { this.#space = level; return; }
    this.#space = level;
    await this.#atDatacenters(level === 'bad' ? {
      eventTypeId: EVENT_TYPES.repositoryNearlyFull, severity: 'error',
      message: `Stillpoint: the backup repository is ${Math.round(used * 100)} % full (${formatBytes(s.freeBytes)} free of ${formatBytes(s.totalBytes)}). Shorten retention, run garbage collection or give it more space.`,
    } : { eventTypeId: EVENT_TYPES.repositorySpaceOk, severity: 'info', message: `Stillpoint: the backup repository has room again (${formatBytes(s.freeBytes)} free).` });
  }

  async #atVm(vmId: string, name: string, e: Omit<ExtensionEvent, 'entity'>): Promise<void> {
    try {
      const { site, moref } = this.#d.parseVm(vmId);
      await (await this.#d.vs(site)).events.post({ ...e, entity: { ref: { type: 'VirtualMachine', value: moref }, name } });
    } catch (err) {
      log.warn({ vm: vmId, event: e.eventTypeId, err: (err as Error).message }, 'could not post the vCenter event');
    }
  }

  /** Repository-wide conditions go to every datacenter of every site (the alarms watch datacenters). */
  async #atDatacenters(e: Omit<ExtensionEvent, 'entity'>): Promise<void> {
    for (const site of this.#d.sites()) {
      try {
        const vs = await this.#d.vs(site);
        for (const dc of await vs.inventory.datacenters()) await vs.events.post({ ...e, entity: { ref: dc.ref, name: dc.name } });
      } catch (err) {
        log.warn({ site, event: e.eventTypeId, err: (err as Error).message }, 'could not post the vCenter event');
      }
    }
  }
}
